//! Connection failures a person can act on: a refused port said in one line at once, rather
//! than after a driver's server-selection timeout, and an error's causes without the drivers'
//! debug dumps.

use std::time::Duration;

/// Fails at once, saying `cannot connect to HOST:PORT: connection refused`, when nothing
/// listens at `host:port`. Anything else (a slow network, DNS) is left for the driver to report
/// within its own timeout.
pub(crate) async fn refused(host: &str, port: u16) -> Option<String> {
    let attempt = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(format!(
            "cannot connect to {host}:{port}: connection refused"
        )),
        _ => None,
    }
}

/// `error` and each of its sources by their `Display`, joined by `: `, a source whose text is
/// already said left out.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
