//! What the CLI's end-to-end tests share: the binary, and running it to success or failure.
#![allow(dead_code)]

use assert_cmd::Command;

/// The `toasty` binary, without colors and without a `DATABASE_URL` from the environment.
pub fn toasty() -> Command {
    let mut cmd =
        Command::cargo_bin("toasty").expect("the toasty binary is built with the workspace");
    cmd.env("NO_COLOR", "1").env_remove("DATABASE_URL");
    cmd
}

/// Runs a command that must succeed; returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "failed ({:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    stdout
}

/// Runs a failing command; returns (exit code, stderr).
pub fn fails(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Toasty's runtime over `url` with `models`: what the application would open.
pub async fn db(models: toasty::ModelSet, url: &str) -> toasty::Db {
    toasty::Db::builder()
        .models(models)
        .connect(url)
        .await
        .unwrap()
}
