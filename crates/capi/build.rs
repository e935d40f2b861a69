//! Links libcsulcca.so with `-z nodelete`: `dlclose` must not unmap a library whose
//! connection thread may still run (opencryptoki unloads and reloads it on every
//! C_Finalize/C_Initialize).

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
