//! Load two snapshot files and diff them, at 10,000 and 20,000 tables (20 columns and 3 indexes
//! each, 1% of tables changed), against Toasty 0.11's own JSON load + `diff::Schema::from` on the
//! same schemas in the same process.
//!
//! cargo bench -p toasty-migrate --bench diff

mod common;

use common::{snapshot, toasty_schema};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::path::Path;
use toasty_core::schema::db;
use toasty_migrate::{
    diff::detect_changes,
    schema::{load_snapshot, save_snapshot},
};

fn load_and_diff(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("load_and_diff");
    group.sample_size(10);
    for tables in [10_000, 20_000] {
        let old = snapshot(tables, false);
        let new = snapshot(tables, true);
        let old_path = dir.path().join(format!("old_{tables}.json"));
        let new_path = dir.path().join(format!("new_{tables}.json"));
        save_snapshot(&old, &old_path).unwrap();
        save_snapshot(&new, &new_path).unwrap();
        let expected = detect_changes(&old, &new).unwrap().changes.len();
        assert_eq!(
            expected,
            tables / 100 * 4,
            "1% of tables changed, 4 changes each"
        );

        group.bench_with_input(
            BenchmarkId::new("toasty_migrate", tables),
            &tables,
            |b, _| {
                b.iter(|| {
                    let old = load_snapshot(&old_path).unwrap();
                    let new = load_snapshot(&new_path).unwrap();
                    detect_changes(&old, &new).unwrap().changes.len()
                })
            },
        );

        let toasty_old = dir.path().join(format!("toasty_old_{tables}.json"));
        let toasty_new = dir.path().join(format!("toasty_new_{tables}.json"));
        std::fs::write(
            &toasty_old,
            serde_json::to_vec_pretty(&toasty_schema(&old)).unwrap(),
        )
        .unwrap();
        std::fs::write(
            &toasty_new,
            serde_json::to_vec_pretty(&toasty_schema(&new)).unwrap(),
        )
        .unwrap();
        let load = |path: &Path| -> db::Schema {
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
        };
        group.bench_with_input(
            BenchmarkId::new("toasty_core_baseline", tables),
            &tables,
            |b, _| {
                b.iter(|| {
                    let old = load(&toasty_old);
                    let new = load(&toasty_new);
                    let hints = toasty_core::schema::diff::RenameHints::new();
                    let diff = toasty_core::schema::diff::Schema::from(&old, &new, &hints);
                    diff.tables().len()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, load_and_diff);
criterion_main!(benches);
