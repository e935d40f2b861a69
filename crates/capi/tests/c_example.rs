//! Compiles `examples/c/cca_demo.c` against `include/csulcca.h` with `-Wall -Werror`, links
//! it with the libcsulcca.so cargo built, and runs it against an embedded card in a
//! temporary state directory (also under valgrind when valgrind is installed), and does the
//! same with `tests/c/hostile.c`, the hostile-input program.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the libcsulcca.so built with this test (cargo puts the cdylib next
/// to the test binary, in `deps/`).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps directory").to_path_buf();
    for dir in [
        deps.clone(),
        deps.parent().map(Path::to_path_buf).unwrap_or_default(),
    ] {
        if dir.join("libcsulcca.so").exists() {
            return dir;
        }
    }
    panic!("libcsulcca.so not found next to {}", exe.display());
}

fn compile(source: &str, out: &Path) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-Wall", "-Wextra", "-Werror", "-g", "-pthread", "-I"])
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join(source))
        .arg("-L")
        .arg(&lib)
        .arg("-lcsulcca")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(out)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc {source} failed");
}

fn run(program: &Path, home: &Path, valgrind: bool) -> (i32, String) {
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args(["-q", "--error-exitcode=99"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    // cargo's LD_LIBRARY_PATH may name target/debug, where an older libcsulcca.so can lie:
    // the library built with this test comes first.
    let out = cmd
        .env("LD_LIBRARY_PATH", library_dir())
        .env("SOFTCCA_HOME", home)
        .env("SOFTCCA_MODE", "embedded")
        .env_remove("SOFTCCA_SOCKET")
        .env("SOFTCCA_CONF", home.join("none.conf"))
        .output()
        .expect("run program");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn has_valgrind() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_c_example_runs_against_an_embedded_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("cca_demo");
    compile("examples/c/cca_demo.c", &program);
    let home = dir.path().join("card");
    let (code, text) = run(&program, &home, false);
    println!("{text}");
    assert_eq!(code, 0, "cca_demo exit {code}");
    assert!(text.contains("CSNBOWH SHA-256"));
}

#[test]
fn the_c_programs_are_clean_under_valgrind() {
    if !has_valgrind() {
        eprintln!("valgrind is not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (source, name) in [
        ("examples/c/cca_demo.c", "cca_demo"),
        ("tests/c/hostile.c", "hostile"),
    ] {
        let program = dir.path().join(name);
        compile(source, &program);
        let home = dir.path().join(format!("card-{name}"));
        let (code, text) = run(&program, &home, true);
        println!("{text}");
        assert_ne!(code, 99, "valgrind found errors in {name}");
        assert_eq!(code, 0, "{name} exit {code}");
    }
}

#[test]
fn the_hostile_program_does_not_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("hostile");
    compile("tests/c/hostile.c", &program);
    let home = dir.path().join("card");
    let (code, text) = run(&program, &home, false);
    println!("{text}");
    assert_eq!(code, 0, "hostile exit {code}");
}
