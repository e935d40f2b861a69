//! Known-answer tests for `rng::hash_drbg::HashDrbg` (SHA-256) from
//! `tests/data/hash_drbg_sha256.json` (NIST ACVP hashDRBG-1.0 sample vectors and NIST CAVP
//! vectors via OpenSSL), following the file's "conventions" block:
//!
//! * instantiate(entropyInput, nonce, persoString);
//! * then for each otherInput in order: `reSeed` -> reseed(entropyInput, additionalInput),
//!   `generate` -> generate(returnedBitsLen bits, additionalInput);
//! * with predResistance, every generate is preceded by
//!   reseed(otherInput.entropyInput, otherInput.additionalInput) and then uses an EMPTY
//!   additional input;
//! * returnedBits is the output of the LAST generate.

use serde_json::Value;
use softcca_card::rng::hash_drbg::HashDrbg;

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    let s = v
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string field {key}"));
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex in {key}: {e}"))
}

#[test]
fn hash_drbg_sha256_known_answers() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hash_drbg_sha256.json"
    );
    let text = std::fs::read_to_string(path).expect("read vector file");
    let doc: Value = serde_json::from_str(&text).expect("parse vector file");
    assert_eq!(doc["algorithm"], "Hash_DRBG");
    assert_eq!(doc["hash"], "SHA-256");
    assert_eq!(doc["conventions"]["seedlen_bits"], 440);

    let groups = doc["groups"].as_array().expect("groups array");
    let expected_cases: usize = groups
        .iter()
        .map(|g| g["tests"].as_array().expect("tests array").len())
        .sum();
    let mut cases_run = 0usize;
    let mut generates_run = 0usize;

    for (gi, group) in groups.iter().enumerate() {
        let pred_resistance = group["predResistance"].as_bool().expect("predResistance");
        let bits = group["returnedBitsLen"].as_u64().expect("returnedBitsLen");
        assert_eq!(bits % 8, 0);
        let out_len = usize::try_from(bits / 8).expect("fits usize");

        for case in group["tests"].as_array().expect("tests array") {
            let id = format!("group {gi} tcId {}", case["tcId"]);
            let mut drbg = HashDrbg::instantiate(
                &hex_field(case, "entropyInput"),
                &hex_field(case, "nonce"),
                &hex_field(case, "persoString"),
            )
            .unwrap_or_else(|e| panic!("{id}: instantiate: {e}"));

            let mut last: Option<Vec<u8>> = None;
            for other in case["otherInput"].as_array().expect("otherInput array") {
                let entropy = hex_field(other, "entropyInput");
                let additional = hex_field(other, "additionalInput");
                match other["intendedUse"].as_str().expect("intendedUse") {
                    "reSeed" => drbg
                        .reseed(&entropy, &additional)
                        .unwrap_or_else(|e| panic!("{id}: reseed: {e}")),
                    "generate" => {
                        let mut out = vec![0u8; out_len];
                        if pred_resistance {
                            drbg.reseed(&entropy, &additional)
                                .unwrap_or_else(|e| panic!("{id}: PR reseed: {e}"));
                            drbg.generate(&mut out, &[])
                        } else {
                            drbg.generate(&mut out, &additional)
                        }
                        .unwrap_or_else(|e| panic!("{id}: generate: {e}"));
                        generates_run += 1;
                        last = Some(out);
                    }
                    other => panic!("{id}: unknown intendedUse {other}"),
                }
            }

            let expected = hex_field(case, "returnedBits");
            assert_eq!(expected.len(), out_len, "{id}: returnedBits length");
            let got = last.unwrap_or_else(|| panic!("{id}: no generate"));
            assert_eq!(hex::encode(&got), hex::encode(&expected), "{id}");
            cases_run += 1;
        }
    }

    assert!(expected_cases > 0, "vector file has no test cases");
    assert_eq!(
        cases_run, expected_cases,
        "every test case in the file must run"
    );
    // The file as committed: 6 groups, 13 cases, two generates each.
    assert_eq!(groups.len(), 6);
    assert_eq!(cases_run, 13);
    assert_eq!(generates_run, 2 * cases_run);
}
