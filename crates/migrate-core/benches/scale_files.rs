//! The scale cases of `scripts/bench-cli`, which times whole `toasty` processes: this writes
//! their schemas, and runs their baseline, Toasty 0.11's own JSON load + diff of the same two
//! schemas, in process.
//!
//! cargo bench -p toasty-migrate --bench scale_files -- write DIR TABLES
//!     DIR/old.json, DIR/new.json: TABLES tables of 20 columns and 3 indexes, 1% changed (the
//!     load + diff benchmark's schemas); DIR/toasty_old.json, DIR/toasty_new.json: the same as
//!     Toasty's `db::Schema`
//! cargo bench -p toasty-migrate --bench scale_files -- baseline DIR
//!     Toasty's load + diff of DIR/toasty_{old,new}.json, 5 times: the median, and this
//!     process's peak resident memory

mod common;

use common::{snapshot, toasty_schema};
use std::path::Path;
use std::time::Instant;
use toasty_core::schema::db;
use toasty_migrate::schema::save_snapshot;

fn main() {
    // `cargo bench` passes `--bench`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write", dir, tables] => write(Path::new(dir), tables.parse().expect("a table count")),
        ["baseline", dir] => baseline(Path::new(dir)),
        _ => panic!("usage: scale_files write DIR TABLES | baseline DIR"),
    }
}

fn write(dir: &Path, tables: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, changed) in [("old", false), ("new", true)] {
        let schema = snapshot(tables, changed);
        save_snapshot(&schema, dir.join(format!("{name}.json"))).unwrap();
        let toasty = serde_json::to_vec_pretty(&toasty_schema(&schema)).unwrap();
        std::fs::write(dir.join(format!("toasty_{name}.json")), toasty).unwrap();
    }
}

fn baseline(dir: &Path) {
    let load = |name: &str| -> db::Schema {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let old = load("toasty_old.json");
            let new = load("toasty_new.json");
            let hints = toasty_core::schema::diff::RenameHints::new();
            let diff = toasty_core::schema::diff::Schema::from(&old, &new, &hints);
            assert!(!diff.tables().is_empty());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map_or("unknown".into(), |kb| kb.trim().to_string());
    println!("{:.1} ms {peak}", times[2] * 1e3);
}
