//! Where the application's desired schema comes from, for `migrate:generate` and
//! `migrate:check`: `--schema FILE`; else toasty.toml's `models_bin`, a binary of the
//! application that prints the schema its models build (`toasty_migrate::export`), built and run
//! through cargo with its output shown only on failure; else toasty.toml's `schema` file; else
//! `schema.json`.

use crate::config;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use toasty_migrate::schema::{SchemaSnapshot, load_snapshot, snapshot_from_json};

/// Where the schema came from, as messages name it.
pub enum Source {
    File(PathBuf),
    Binary(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Binary(bin) => write!(f, "the models (cargo run --bin {bin})"),
        }
    }
}

/// Where the desired schema comes from, given `--schema`.
pub fn source(flag: Option<&Path>) -> Source {
    let config = config::get();
    match (flag, &config.models_bin, config.schema()) {
        (Some(path), _, _) => Source::File(path.to_path_buf()),
        (None, Some(bin), _) => Source::Binary(bin.clone()),
        (None, None, Some(path)) => Source::File(path),
        (None, None, None) => Source::File(PathBuf::from("schema.json")),
    }
}

/// The schema `source` gives.
pub fn load(source: &Source) -> Result<SchemaSnapshot> {
    match source {
        Source::File(path) => load_snapshot(path).with_context(|| {
            format!(
                "reading the desired schema {} (`toasty migrate:init` sets up a project so that \
                 generate builds it from the models; or export it with \
                 SchemaSnapshot::from_models and save_snapshot)",
                path.display()
            )
        }),
        Source::Binary(bin) => run_models_binary(bin),
    }
}

/// Builds and runs the application's models binary for toasty.toml's flavor; cargo's output is
/// shown only if it fails.
fn run_models_binary(bin: &str) -> Result<SchemaSnapshot> {
    let config = config::get();
    let Some(flavor) = &config.flavor else {
        bail!(
            "{} names models_bin but no flavor (which database the schema is built for)",
            config::FILE
        );
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(config.root())
        .args(["run", "--quiet", "--bin", bin, "--", "--flavor", flavor])
        .output()
        .context("running cargo (is it installed and on PATH?)")?;
    if !out.status.success() {
        bail!(
            "building or running the models binary failed (cargo run --bin {bin} -- --flavor \
             {flavor}):\n{}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let json = String::from_utf8(out.stdout).context("the models binary printed non-UTF-8")?;
    Ok(snapshot_from_json(
        &json,
        Path::new(&format!("<output of cargo run --bin {bin}>")),
    )?)
}
