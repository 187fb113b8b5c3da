//! The application's side of `toasty migrate:generate` (feature `toasty`): a small binary the
//! application keeps (written once by `toasty migrate:init`) hands its models to
//! [`print_schema`]; the CLI builds and runs it through cargo and diffs what it prints. Nothing is
//! exported by hand, and the schema is never stale.

use crate::snapshot::{SchemaSnapshot, snapshot_to_json};
use crate::{Error, Result};
use toasty_core::driver::Capability;
use toasty_core::schema::app::ModelSet;

/// The database flavors a schema can be built for: the names `toasty.toml` and `--flavor` take.
pub const FLAVORS: &[&str] = &["sqlite", "postgresql", "mysql", "mariadb", "dynamodb"];

/// The capability Toasty builds a schema with for `flavor` (one of [`FLAVORS`]).
pub fn capability(flavor: &str) -> Result<&'static Capability> {
    Ok(match flavor {
        "sqlite" => &Capability::SQLITE,
        "postgresql" => &Capability::POSTGRESQL,
        "mysql" => &Capability::MYSQL,
        "mariadb" => &Capability::MARIADB,
        "dynamodb" => &Capability::DYNAMODB,
        "mongodb" => {
            return Err(Error::Models(
                "Toasty 0.11 has no MongoDB driver, so no model set builds a MongoDB schema; \
                 export one yourself and pass it with --schema"
                    .into(),
            ));
        }
        other => {
            return Err(Error::Models(format!(
                "unknown database flavor {other:?}; expected one of {}",
                FLAVORS.join(", ")
            )));
        }
    })
}

/// The schema Toasty builds for `models` on `flavor`, as snapshot JSON.
pub fn schema_json(models: ModelSet, flavor: &str) -> Result<String> {
    let snapshot = SchemaSnapshot::from_models(models, capability(flavor)?)?;
    Ok(snapshot_to_json(&snapshot))
}

/// The `main` of the application's schema binary: prints the schema Toasty builds for `models`
/// on the flavor given as `--flavor <name>` and exits; a failure is said on stderr, exit 2.
///
/// ```ignore
/// // src/bin/toasty-models.rs, written by `toasty migrate:init`
/// fn main() {
///     toasty_migrate::export::print_schema(toasty::models!(my_app::*));
/// }
/// ```
pub fn print_schema(models: ModelSet) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, flavor] if flag == "--flavor" => schema_json(models, flavor),
        _ => Err(Error::Models(format!(
            "usage: --flavor <{}> (this binary prints the schema for `toasty migrate:generate`)",
            FLAVORS.join("|")
        ))),
    };
    match result {
        Ok(json) => {
            println!("{json}");
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2)
        }
    }
}
