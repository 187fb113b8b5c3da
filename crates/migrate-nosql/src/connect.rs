//! A refused connection said in one line at once, rather than after a driver's
//! server-selection timeout.

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
