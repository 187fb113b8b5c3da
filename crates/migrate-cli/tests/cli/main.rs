//! The real `toasty` binary, end to end, one test binary in five files:
//!
//! - `evolve.rs`: a Toasty model set that evolves over three versions (add a field, add an
//!   index, make a field optional, drop a field, rename a field) through generate -> up ->
//!   status -> down -> status on SQLite, PostgreSQL and MariaDB, with Toasty's runtime writing
//!   and reading rows in the migrated database along the way;
//! - `input.rs`: bad input, data steps given on the command line, `--help`, and `generate`'s
//!   questions on a terminal;
//! - `nosql.rs`: MongoDB and DynamoDB through the CLI, and runners killed mid-backfill;
//! - `history.rs`: `migrate:check`, `baseline`, `squash` and `rebase` of merged branches.
//!
//! This file holds what they share: the model versions, exporting them, a terminal.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;
use toasty_core::driver::Capability;
use toasty_migrate::schema::{SchemaSnapshot, save_snapshot};
use toasty_migrate_sql::Dialect;

mod v1 {
    #[derive(Debug, toasty::Model)]
    pub struct User {
        #[key]
        #[auto]
        pub id: i64,
        pub name: String,
        pub email: String,
        pub bio: String,
    }
}

mod v2 {
    /// Adds `age` and an index on `email`.
    #[derive(Debug, toasty::Model)]
    pub struct User {
        #[key]
        #[auto]
        pub id: i64,
        pub name: String,
        #[index]
        pub email: String,
        pub bio: String,
        pub age: i64,
    }
}

mod v3 {
    /// `name` optional, `bio` dropped, `email` renamed to `mail`.
    #[derive(Debug, toasty::Model)]
    pub struct User {
        #[key]
        #[auto]
        pub id: i64,
        pub name: Option<String>,
        #[index]
        pub mail: String,
        pub age: i64,
    }
}

fn capability(dialect: Dialect) -> &'static Capability {
    match dialect {
        Dialect::Sqlite => &Capability::SQLITE,
        Dialect::Postgres => &Capability::POSTGRESQL,
        Dialect::Mysql => &Capability::MYSQL,
    }
}

/// What an application does to hand its schema to the CLI: two lines.
fn export(models: toasty::ModelSet, dialect: Dialect, path: &Path) {
    let snapshot = SchemaSnapshot::from_models(models, capability(dialect)).unwrap();
    save_snapshot(&snapshot, path).unwrap();
}

/// One test per SQL database for each of `$test(dialect)`: `sqlite::evolve`, `mariadb::evolve`...
macro_rules! on_each_sql_database {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Dialect::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Dialect::Postgres).await })*
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Dialect::Mysql).await })*
        }
    };
}

/// `generate` on a terminal (a pseudo-terminal from util-linux's `script`), answering its
/// questions from `answers`. Returns what the terminal showed.
fn on_terminal(dir: &Path, args: &str, answers: &str) -> String {
    let toasty = Path::new(env!("CARGO_BIN_EXE_toasty"));
    let out = std::process::Command::new("script")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["-qec", &format!("{} {args}", toasty.display()), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(answers.as_bytes())?;
            child.wait_with_output()
        })
        .expect("util-linux `script` runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

mod evolve;
mod history;
mod input;
#[cfg(any(feature = "mongodb", feature = "dynamodb"))]
mod nosql;
