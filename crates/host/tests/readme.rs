//! The Rust example of README.md ("From Rust, the host library is the CCA API"), run against an
//! embedded card, so that the README stays true.

use softcca_host::{Cca, Family, SymmetricRequest};

#[test]
fn the_readme_example_runs() -> Result<(), Box<dyn std::error::Error>> {
    let home = tempfile::tempdir()?;
    let cca = Cca::embedded(home.path(), None)?;
    let part = [0x5Au8; 32];
    let iv = [0x11u8; 16];
    let mut label = [b' '; 64];
    label[..11].copy_from_slice(b"APP.AES.KEY");

    // --- as in README.md ---
    let version = cca.cryptographic_facility_version()?; // CSUACFV
    let state = cca.cryptographic_facility_query(&["STATCCA"])?; // CSUACFQ
    let bytes = cca.random_number_generate_long(&["ODD"], 32)?; // CSNBRNGL
    cca.master_key_process(&["AES-MK", "FIRST"], &part)?; // CSNBMKP
    // (the rest of the ceremony, as `softcca panel` does it)
    cca.master_key_process(&["AES-MK", "LAST"], &[0xC4; 32])?;
    cca.master_key_process(&["AES-MK", "SET"], &[])?;

    let null = [0u8; 64];
    let (skeleton, _) = cca.key_token_build(
        &["INTERNAL", "AES", "NO-KEY", "KEYLN32"],
        "AESTOKEN",
        &[],
        &[],
        &[],
    )?;
    let (token, _, _) = cca.key_generate(
        "OP",
        "",
        ["AESTOKEN", ""],
        [&null, &null],
        [&skeleton, &null],
    )?;
    cca.key_record_create(Family::Aes, &label, &token)?;
    let out = cca.symmetric_algorithm_encipher(&SymmetricRequest {
        rule_array: &["AES", "CBC", "KEYIDENT"],
        key_identifier: &label,
        key_parms_length: 0,
        key_parms: &[],
        block_size: 16,
        initialization_vector: &iv,
        chain_data: &[0; 32],
        text: b"sixteen byte msg",
        output_length: 16,
        optional_data: &[],
    })?;
    // --- end ---

    assert!(!version.version.is_empty());
    assert!(!state.is_empty());
    assert_eq!(bytes.len(), 32);
    assert_eq!(out.text.len(), 16);
    Ok(())
}
