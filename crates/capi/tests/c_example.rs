//! Compiles `examples/c/cca_demo.c` against `include/csulcca.h` with `-Wall -Werror`, links
//! it with the libcsulcca.so cargo built, and runs it against an embedded card in a
//! temporary state directory (also under valgrind when valgrind is installed), and does the
//! same with `tests/c/hostile.c`, the hostile-input program; the hostile program is also
//! built with AddressSanitizer (`-fsanitize=address`) when the compiler has libasan.

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
    compile_with(source, out, &[]);
}

fn compile_with(source: &str, out: &Path, extra: &[&str]) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-Wall", "-Wextra", "-Werror", "-g", "-pthread"])
        .args(extra)
        .arg("-I")
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

/// Whether the C compiler builds and runs an AddressSanitizer program (libasan installed).
fn has_asan(dir: &Path) -> bool {
    let source = dir.join("asan_probe.c");
    let program = dir.join("asan_probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let built = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-fsanitize=address")
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .output()
        .is_ok_and(|o| o.status.success());
    built
        && Command::new(&program)
            .output()
            .is_ok_and(|o| o.status.success())
}

/// The hostile program built with AddressSanitizer: its own memory (the guard pages, the
/// short buffers, the threads' locals) is checked on every access the library's writes
/// land in, and every allocation of the process (the library's too) goes through ASan's
/// allocator. Leak detection is off: the library keeps its connection for the process's
/// life on purpose (and a forked child's inherited one is never freed, see `conn`).
#[test]
fn the_hostile_program_is_clean_under_address_sanitizer() {
    let dir = tempfile::tempdir().expect("tempdir");
    if !has_asan(dir.path()) {
        eprintln!("the C compiler has no AddressSanitizer (libasan): skipped");
        return;
    }
    let program = dir.path().join("hostile-asan");
    compile_with(
        "tests/c/hostile.c",
        &program,
        &["-fsanitize=address", "-fno-omit-frame-pointer"],
    );
    let home = dir.path().join("card");
    let out = Command::new(&program)
        .env("LD_LIBRARY_PATH", library_dir())
        .env("SOFTCCA_HOME", &home)
        .env("SOFTCCA_MODE", "embedded")
        .env_remove("SOFTCCA_SOCKET")
        .env("SOFTCCA_CONF", home.join("none.conf"))
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=0:abort_on_error=0:exitcode=98",
        )
        .output()
        .expect("run the ASan build");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    let code = out.status.code().unwrap_or(-1);
    assert!(!text.contains("ERROR: AddressSanitizer"), "ASan: {text}");
    assert_ne!(code, 98, "AddressSanitizer found errors");
    assert_eq!(code, 0, "hostile (ASan) exit {code}");
}
