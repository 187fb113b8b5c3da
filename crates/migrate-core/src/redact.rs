//! Database URLs without their credentials, for every message: the password of the userinfo, and
//! every query parameter the drivers take a secret in (`password=`, `sslpassword=`, AWS keys and
//! session tokens, MongoDB's `authMechanismProperties`, ...), also inside a URL given as a
//! parameter (`endpoint=http://key:secret@host`).

/// What a hidden value is shown as.
const HIDDEN: &str = "***";

/// `url` with every credential replaced by `***`.
pub fn redact(url: &str) -> String {
    let (base, query, fragment) = split(url);
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(key) => format!("{key}={HIDDEN}"),
                Some((key, value)) if value.contains("://") || value.contains("%3A%2F%2F") => {
                    format!("{key}={}", redact(&percent_decode(value)))
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `text` with every credential of `url` in it replaced by `***`, as written in the URL and
/// percent-decoded: for messages a driver made from what it was given.
pub fn redact_in(text: &str, url: &str) -> String {
    let mut secrets = secrets(url);
    // Longest first, so that a secret containing another is hidden whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.replace(url, &redact(url));
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret.as_str(), HIDDEN);
    }
    out
}

/// Every credential in `url`, raw and percent-decoded.
fn secrets(url: &str) -> Vec<String> {
    let (base, query, _) = split(url);
    let mut found = Vec::new();
    if let Some((_, password)) = userinfo(base).and_then(|u| u.split_once(':')) {
        found.push(password.to_string());
    }
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some((key, value)) if is_secret_key(key) => {
                found.push(value.to_string());
                // MongoDB's `authMechanismProperties=AWS_SESSION_TOKEN:...,KEY:...`.
                let value = percent_decode(value);
                found.extend(
                    value
                        .split(',')
                        .filter_map(|p| p.split_once(':'))
                        .map(|(_, v)| v.to_string()),
                );
            }
            Some((_, value)) if value.contains("://") || value.contains("%3A%2F%2F") => {
                found.extend(secrets(&percent_decode(value)))
            }
            _ => {}
        }
    }
    let decoded: Vec<String> = found.iter().map(|s| percent_decode(s)).collect();
    found.extend(decoded);
    found.retain(|s| !s.is_empty());
    found
}

/// (before `?`, the query, the fragment).
fn split(url: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    match rest.split_once('?') {
        Some((base, query)) => (base, Some(query), fragment),
        None => (rest, None, fragment),
    }
}

/// Where the `user:password` between `://` and the last `@` of the authority is.
fn userinfo_span(base: &str) -> Option<(usize, usize)> {
    let start = base.find("://")? + 3;
    let at = base[start..].rfind('@')? + start;
    Some((start, at))
}

fn userinfo(base: &str) -> Option<&str> {
    userinfo_span(base).map(|(start, at)| &base[start..at])
}

fn redact_userinfo(base: &str) -> String {
    match userinfo_span(base) {
        Some((start, at)) => match base[start..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:{HIDDEN}{}", &base[..start], &base[at..]),
            None => base.to_string(),
        },
        None => base.to_string(),
    }
}

/// Whether a query parameter carries a secret, by its name in any of the drivers' spellings
/// (`sslpassword`, `aws_secret_access_key`, `AWS_SESSION_TOKEN`, `authMechanismProperties`,
/// `tlsCertificateKeyFilePassword`, ...).
fn is_secret_key(key: &str) -> bool {
    let key: String = percent_decode(key)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "credential",
        "accesskey",
        "apikey",
        "authmechanismproperties",
    ]
    .iter()
    .any(|word| key.contains(word))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap() * 16 + hex(l).unwrap()) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each form a credential takes in the URLs the backends accept: redacted, and the secret
    /// hidden from a message that quotes it.
    #[test]
    fn every_credential_form_is_hidden() {
        let cases = [
            // userinfo
            (
                "postgres://bob:s3cret@db:5432/app",
                "postgres://bob:***@db:5432/app",
                "s3cret",
            ),
            ("mysql://root:p%40ss@h/d", "mysql://root:***@h/d", "p@ss"),
            // libpq's password and sslpassword parameters
            (
                "postgres://bob@db/app?password=hunter2&sslmode=require",
                "postgres://bob@db/app?password=***&sslmode=require",
                "hunter2",
            ),
            (
                "postgres://db/app?sslmode=verify-full&sslpassword=keypass",
                "postgres://db/app?sslmode=verify-full&sslpassword=***",
                "keypass",
            ),
            // AWS keys and tokens in a DynamoDB URL, and an endpoint with userinfo
            (
                "dynamodb://us-east-1?aws_access_key_id=AKIAEXAMPLE&aws_secret_access_key=wJalrXUtn",
                "dynamodb://us-east-1?aws_access_key_id=***&aws_secret_access_key=***",
                "wJalrXUtn",
            ),
            (
                "dynamodb://us-east-1?aws_session_token=FwoGZXIvYXdzE",
                "dynamodb://us-east-1?aws_session_token=***",
                "FwoGZXIvYXdzE",
            ),
            (
                "dynamodb://us-east-1?endpoint=http://key:topsecret@127.0.0.1:8000&prefix=app_",
                "dynamodb://us-east-1?endpoint=http://key:***@127.0.0.1:8000&prefix=app_",
                "topsecret",
            ),
            // MongoDB: userinfo, authMechanismProperties (an AWS session token), TLS key password
            (
                "mongodb://u:mpass@h:27017/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok123",
                "mongodb://u:***@h:27017/db?authMechanism=MONGODB-AWS&authMechanismProperties=***",
                "tok123",
            ),
            (
                "mongodb://h/db?tls=true&tlsCertificateKeyFilePassword=pem-pass",
                "mongodb://h/db?tls=true&tlsCertificateKeyFilePassword=***",
                "pem-pass",
            ),
        ];
        for (url, redacted, secret) in cases {
            assert_eq!(redact(url), redacted, "{url}");
            let message = format!("cannot connect to {url}: bad password {secret:?}");
            let hidden = redact_in(&message, url);
            assert!(!hidden.contains(secret), "{hidden}");
            assert!(hidden.contains("cannot connect to"), "{hidden}");
        }
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for url in [
            "sqlite:app.db",
            "sqlite::memory:",
            "mysql://root@127.0.0.1/test",
            "postgres://h/d?sslmode=disable",
            "dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix=app_",
            "mongodb://127.0.0.1:27017/db#frag",
        ] {
            assert_eq!(redact(url), url);
        }
    }
}
