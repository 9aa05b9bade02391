//! The `forecourt-hsm` binary: init prints components, check opens the store with them.

mod common;

use std::process::{Command, Output};

use common::TempDir;

fn hsm(args: &[&str], env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forecourt-hsm"));
    cmd.args(args).env_remove("FORECOURT_HSM_COMPONENTS");
    if let Some(value) = env {
        cmd.env("FORECOURT_HSM_COMPONENTS", value);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// (components, LMK KCV) from `init`'s output.
fn parse_init(text: &str) -> (Vec<String>, String) {
    let components = text
        .lines()
        .filter(|l| l.starts_with("component "))
        .map(|l| l.split_whitespace().nth(2).unwrap().to_owned())
        .collect();
    let kcv = text.lines().find_map(|l| l.strip_prefix("LMK KCV: ")).unwrap().to_owned();
    (components, kcv)
}

#[test]
fn init_prints_components_and_check_opens_the_store() {
    let dir = TempDir::new();
    let d = dir.path().to_str().unwrap();
    let out = stdout(&hsm(&["init", "--dir", d], None));
    let (components, kcv) = parse_init(&out);
    assert_eq!(components.len(), 3, "default is 3 components:\n{out}");
    assert!(components.iter().all(|c| c.len() == 64));

    let mut args = vec!["check", "--dir", d];
    for c in &components {
        args.extend(["--component", c.as_str()]);
    }
    let out = stdout(&hsm(&args, None));
    assert!(out.contains("status: ok") && out.contains(&format!("LMK KCV: {kcv}")), "{out}");
    assert!(out.contains("keys: 6"), "{out}");

    let out = stdout(&hsm(&["check", "--dir", d], Some(&components.join(","))));
    assert!(out.contains("status: ok"), "{out}");
}

#[test]
fn check_with_a_wrong_component_fails_without_printing_it() {
    let dir = TempDir::new();
    let d = dir.path().to_str().unwrap();
    let (mut components, kcv) =
        parse_init(&stdout(&hsm(&["init", "--dir", d, "--components", "2"], None)));
    assert_eq!(components.len(), 2);
    components[0] = "AB".repeat(32);
    let out = hsm(&["check", "--dir", d], Some(&components.join(",")));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("LMK check value mismatch: expected {kcv}")), "{err}");
    assert!(!err.contains(&components[0]) && !err.contains(&components[1]));
}

#[test]
fn init_refuses_one_component_and_an_existing_store() {
    let dir = TempDir::new();
    let d = dir.path().to_str().unwrap();
    assert!(!hsm(&["init", "--dir", d, "--components", "1"], None).status.success());
    stdout(&hsm(&["init", "--dir", d, "--components", "2"], None));
    let again = hsm(&["init", "--dir", d], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}
