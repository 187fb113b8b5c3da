//! Database URLs: which backend a URL names, and the error for one this build left out.

use toasty_migrate::{Error, Result, backend::redact};

/// The SQL backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite,
    Postgres,
    Mysql,
}

impl DatabaseUrl {
    /// The database's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite => "SQLite",
            DatabaseUrl::Postgres => "PostgreSQL",
            DatabaseUrl::Mysql => "MySQL/MariaDB",
        }
    }

    /// The dialect its statements are written in.
    pub fn dialect(self) -> crate::Dialect {
        match self {
            DatabaseUrl::Sqlite => crate::Dialect::Sqlite,
            DatabaseUrl::Postgres => crate::Dialect::Postgres,
            DatabaseUrl::Mysql => crate::Dialect::Mysql,
        }
    }

    /// The Cargo feature (of toasty-migrate-sql and of the `toasty` CLI) that builds its backend.
    pub fn feature(self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite => "sqlite",
            DatabaseUrl::Postgres => "postgres",
            DatabaseUrl::Mysql => "mysql",
        }
    }

    /// The error for `url` when this build left its backend out.
    pub fn not_built(self, url: &str) -> Error {
        not_built(url, self.name(), self.feature())
    }

    /// Whether this build has the backend (its Cargo feature is on).
    pub fn is_built(self) -> bool {
        match self {
            DatabaseUrl::Sqlite => cfg!(feature = "sqlite"),
            DatabaseUrl::Postgres => cfg!(feature = "postgres"),
            DatabaseUrl::Mysql => cfg!(feature = "mysql"),
        }
    }

    pub fn parse(url: &str) -> Result<Self> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(DatabaseUrl::Sqlite),
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres),
            "mysql" | "mariadb" => Ok(DatabaseUrl::Mysql),
            _ => Err(Error::Unsupported {
                target: redact(url),
                message: format!(
                    "unknown database URL scheme {scheme:?}; the SQL backends take sqlite:, postgres:// and mysql:// URLs"
                ),
            }),
        }
    }
}

/// The error for a URL whose backend (`name`, built by the Cargo feature `feature` of this crate
/// and of the `toasty` CLI) this build left out.
pub fn not_built(url: &str, name: &str, feature: &str) -> Error {
    Error::Unsupported {
        target: redact(url),
        message: format!(
            "this build has no {name} backend; enable the Cargo feature `{feature}` \
             (cargo install toasty-migrate-cli --features {feature})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:x.db").unwrap(),
            DatabaseUrl::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/d").unwrap(),
            DatabaseUrl::Postgres
        );
        let err = DatabaseUrl::parse("oracle://u:pw@h/d")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown database URL scheme \"oracle\""),
            "{err}"
        );
        assert!(!err.contains("pw@"), "{err}");
    }
}
