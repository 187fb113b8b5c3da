//! `toasty migrate:init`: the one-time set-up of a Toasty application, so that the loop is
//! "edit a model; `toasty migrate:generate -m ...`; `toasty migrate:up`". It writes
//! `toasty.toml` and `src/bin/toasty-models.rs`, a three-line binary that hands the library's
//! models to `toasty_migrate::export::print_schema`; `migrate:generate` builds and runs it.

use crate::config;
use crate::output::{BOLD, GREEN, YELLOW};
use anstream::println;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};

/// The binary target `init` writes and toasty.toml names.
const MODELS_BIN: &str = "toasty-models";

#[derive(Args)]
pub struct InitArgs {
    /// The database the schema is built for: sqlite, postgresql, mysql, mariadb or dynamodb.
    #[arg(long)]
    flavor: String,
    /// The migrations directory, relative to the project.
    #[arg(long, default_value = "migrations")]
    dir: PathBuf,
    /// The environment variable that holds the database URL.
    #[arg(long, default_value = "DATABASE_URL")]
    url_env: String,
}

pub fn run(args: InitArgs) -> Result<()> {
    toasty_migrate::export::capability(&args.flavor)?;
    let manifest: toml::Table = std::fs::read_to_string("Cargo.toml")
        .context("reading Cargo.toml (run migrate:init in the application's package)")?
        .parse()
        .context("in Cargo.toml")?;
    let lib = library_name(&manifest)?;
    for path in [Path::new(config::FILE), &bin_path()] {
        if path.exists() {
            bail!("{} exists already: this project is set up", path.display());
        }
    }
    let dir = args.dir.display().to_string();
    std::fs::write(
        config::FILE,
        format!(
            "# toasty-migrate's settings (`toasty migrate:init`); flags override them.\n\
             [migrate]\n\
             # The migrations directory.\n\
             dir = {dir:?}\n\
             # The database the schema is built for: a URL for another is refused.\n\
             flavor = {:?}\n\
             # Where the database URL comes from when --url and DATABASE_URL are not given.\n\
             url_env = {:?}\n\
             # The binary that prints the schema the models build (src/bin/{MODELS_BIN}.rs).\n\
             models_bin = {MODELS_BIN:?}\n",
            args.flavor, args.url_env
        ),
    )
    .with_context(|| format!("writing {}", config::FILE))?;
    std::fs::create_dir_all("src/bin").context("creating src/bin")?;
    std::fs::write(
        bin_path(),
        format!(
            "//! Prints the schema this application's models build, for `toasty migrate:generate`\n\
             //! (toasty.toml names this binary). Written by `toasty migrate:init`.\n\
             \n\
             fn main() {{\n    \
                 toasty_migrate::export::print_schema(toasty::models!({lib}::*));\n\
             }}\n"
        ),
    )
    .with_context(|| format!("writing {}", bin_path().display()))?;
    println!(
        "{GREEN}Wrote{GREEN:#} {} and {}",
        config::FILE,
        bin_path().display()
    );
    if !depends_on_migrate_with_toasty(&manifest) {
        println!(
            "{YELLOW}Add{YELLOW:#} the library the binary calls: \
             {BOLD}cargo add toasty-migrate --features toasty{BOLD:#}"
        );
    }
    println!(
        "Then, after each change to the models:\n  \
         toasty migrate:generate -m \"what changed\"\n  \
         toasty migrate:up"
    );
    Ok(())
}

fn bin_path() -> PathBuf {
    Path::new("src/bin").join(format!("{MODELS_BIN}.rs"))
}

/// The package's library crate, where the binary finds the models: `[lib] name`, or the
/// package's name with `-` as `_`. A package without a library is refused: a binary of it
/// could not name the models.
fn library_name(manifest: &toml::Table) -> Result<String> {
    let has_lib = manifest.contains_key("lib") || Path::new("src/lib.rs").exists();
    if !has_lib {
        bail!(
            "this package has no library (src/lib.rs): put the models there, where the binary \
             that prints their schema can name them"
        );
    }
    let named = manifest
        .get("lib")
        .and_then(|lib| lib.get("name"))
        .and_then(|name| name.as_str());
    let package = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|name| name.as_str());
    match named.or(package) {
        Some(name) => Ok(name.replace('-', "_")),
        None => bail!("Cargo.toml has no [package] name"),
    }
}

/// Whether `[dependencies]` has toasty-migrate with its `toasty` feature.
fn depends_on_migrate_with_toasty(manifest: &toml::Table) -> bool {
    let Some(dep) = manifest
        .get("dependencies")
        .and_then(|d| d.get("toasty-migrate"))
    else {
        return false;
    };
    dep.get("features")
        .and_then(|f| f.as_array())
        .is_some_and(|f| f.iter().any(|f| f.as_str() == Some("toasty")))
}
