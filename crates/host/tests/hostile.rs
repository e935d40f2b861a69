//! Hostile parameter blocks through the host library's `Cca::call`, for every verb name
//! opencryptoki's CCA token resolves: nothing panics, every refusal is a CCA code, and a verb
//! that fails leaves key storage exactly as it was, even when it was given labels.

use std::sync::Arc;

use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Model, rules};
use softcca_host::{Cca, Family, KeyStore};
use softcca_wire::{Param, VerbName, VerbRequest};

/// Every verb name opencryptoki's CCA token resolves (REFERENCES.md), and a few more.
const VERBS: &[&str] = &[
    "CSNBCKI", "CSNBCKM", "CSNBDKX", "CSNBDKM", "CSNBMKP", "CSNBKEX", "CSNBKGN", "CSNBKGN2",
    "CSNBKIM", "CSNBKPI", "CSNBKPI2", "CSNBKSI", "CSNBKRC", "CSNBAKRC", "CSNBKRD", "CSNBKRL",
    "CSNBKRR", "CSNBKRW", "CSNDKRC", "CSNDKRD", "CSNDKRL", "CSNDKRR", "CSNDKRW", "CSNBKYT",
    "CSNBKYTX", "CSNBKTC", "CSNBKTC2", "CSNBKTR", "CSNBKTR2", "CSNBRNG", "CSNBRNGL", "CSNBSAE",
    "CSNBSAD", "CSNBDEC", "CSNBENC", "CSNBMGN", "CSNBMVR", "CSNBKTB", "CSNBKTB2", "CSNDPKG",
    "CSNDPKB", "CSNBOWH", "CSNDPKI", "CSNDDSG", "CSNDDSV", "CSNDKTC", "CSNDPKX", "CSNDSYI",
    "CSNDSYI2", "CSNDSYX", "CSUACFQ", "CSUACFC", "CSNDSBC", "CSNDSBD", "CSUALCT", "CSUAACM",
    "CSUAACI", "CSNDPKH", "CSNDPKR", "CSUAMKD", "CSNDRKD", "CSNDRKL", "CSNDSYG", "CSNBPTR",
    "CSNBCPE", "CSNBCPA", "CSNBPGN", "CSNBPVR", "CSNBDKG", "CSNBEPG", "CSNBCVE", "CSNBCSG",
    "CSNBCSV", "CSNBCVG", "CSNBKTP", "CSNDPKE", "CSNDPKD", "CSNBPEX", "CSNBPEXX", "CSUARNT",
    "CSNBCVT", "CSNBMDG", "CSUACRA", "CSUACRD", "CSNBTRV", "CSNBSKY", "CSNBSPN", "CSNBPCU",
    "CSUAPCV", "CSUAPRB", "CSUADHK", "CSUADHQ", "CSNDTBC", "CSNDRKX", "CSNBKET", "CSNBHMG",
    "CSNBHMV", "CSNBCTT2", "CSUACFV", "CSNDEDH", "CSNBRKA", "CSNBKTP2", "CSNBHMG",
];

/// Keywords the verbs know, so that some calls get past the rule array.
const KEYWORDS: &[&str] = &[
    "DES", "AES", "HMAC", "INTERNAL", "EXTERNAL", "OP", "IM", "EX", "OPEX", "DATA", "CIPHER",
    "MAC", "MACVER", "IMPORTER", "EXPORTER", "AESDATA", "AESTOKEN", "NO-KEY", "KEY", "SINGLE",
    "DOUBLE", "TRIPLE", "KEYLN16", "KEYLN32", "CBC", "ECB", "GCM", "X9.23", "PKCS-PAD", "KEYIDENT",
    "INITIAL", "CONTINUE", "FIRST", "MIDDLE", "LAST", "ONLY", "X9.9-1", "X9.19OPT", "SHA-256",
    "SHA-1", "RTCMK", "GENERATE", "VERIFY", "ENC-ZERO", "KEY-CLR", "ADD-PART", "COMPLETE",
    "RANDOM", "SYM-MK", "AES-MK", "SET", "CLEAR", "MACLEN4", "MACLEN8",
];

/// A small deterministic generator (the test must be reproducible, not unpredictable).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn label(text: &str) -> Vec<u8> {
    let mut l = vec![b' '; 64];
    l[..text.len()].copy_from_slice(text.as_bytes());
    l
}

#[test]
fn hostile_parameter_blocks_change_nothing_in_key_storage() {
    let platform = Platform::in_memory(Box::new(CountingSource::new(3)), Box::new(SystemClock));
    let card = Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cca = Cca::with_card(Arc::clone(&card))
        .with_key_store(KeyStore::open(dir.path()).expect("key storage"));
    for (class, len) in [
        ("SYM-MK", 24),
        ("AES-MK", 32),
        ("ASYM-MK", 24),
        ("APKA-MK", 32),
    ] {
        let _ = cca.master_key_process(&[class, "FIRST"], &vec![0x5B; len]);
        let _ = cca.master_key_process(&[class, "LAST"], &vec![0xC4; len]);
        let _ = cca.master_key_process(&[class, "SET"], &[]);
    }
    let (des, _) = cca
        .multiple_clear_key_import(&["DES"], &[0x0E; 16], &[0; 64])
        .expect("a DES key");
    let (aes, _) = cca
        .multiple_clear_key_import(&["AES"], &[0x0E; 32], &[0; 64])
        .expect("an AES key");
    let (des_label, aes_label) = (label("HOSTILE.DES"), label("HOSTILE.AES"));
    cca.key_record_create(Family::Des, &des_label, &des)
        .expect("DES record");
    cca.key_record_create(Family::Aes, &aes_label, &aes)
        .expect("AES record");
    let labelled: std::collections::HashMap<&str, Vec<usize>> =
        softcca_host::label_parameters().collect();

    // What the records hold: a verb that completes may update a labelled record.
    let (mut des_now, mut aes_now) = (des.clone(), aes.clone());
    let mut rng = Lcg(0x50F7_CCA0);
    let mut completed = 0usize;
    for &verb in VERBS {
        let label_params = labelled.get(verb).cloned().unwrap_or_default();
        for round in 0..200 {
            let rule_array: Vec<[u8; 8]> = (0..rng.below(5))
                .map(|_| {
                    if rng.below(8) == 0 {
                        let mut e = [0u8; 8];
                        e.iter_mut().for_each(|b| *b = rng.next() as u8);
                        e
                    } else {
                        let k = KEYWORDS[rng.below(KEYWORDS.len() as u64) as usize];
                        rules::element(k).expect("keyword fits")
                    }
                })
                .collect();
            let n = rng.below(9) as usize;
            let mut params: Vec<Param> = (0..n)
                .map(|_| match rng.below(4) {
                    0 => Param::Int(rng.next() as i32 - (1 << 30)),
                    1 => Param::Int(rng.below(200) as i32),
                    2 => Param::Bytes(des.clone()),
                    _ => {
                        let len = [0, 1, 8, 16, 32, 63, 64, 65, 128, 300][rng.below(10) as usize];
                        Param::Bytes((0..len).map(|_| rng.next() as u8).collect())
                    }
                })
                .collect();
            for &i in &label_params {
                if i < params.len() && round % 2 == 0 {
                    let l = if rng.below(2) == 0 {
                        &des_label
                    } else {
                        &aes_label
                    };
                    params[i] = Param::Bytes(l.clone());
                }
            }
            let r = cca.call(VerbRequest {
                verb: VerbName::new(verb).expect("verb name"),
                rule_array,
                params,
            });
            assert!(
                matches!(r.return_code, 0 | 4 | 8 | 12 | 16),
                "{verb}: return code {}",
                r.return_code
            );
            if r.return_code >= 8 {
                assert!(r.outputs.is_empty(), "{verb}: outputs with a failure");
                assert_eq!(
                    cca.key_record_read(Family::Des, &des_label).expect("read"),
                    des_now,
                    "{verb} round {round} changed the DES record"
                );
                assert_eq!(
                    cca.key_record_read(Family::Aes, &aes_label).expect("read"),
                    aes_now,
                    "{verb} round {round} changed the AES record"
                );
            } else {
                completed += 1;
                des_now = cca.key_record_read(Family::Des, &des_label).expect("read");
                aes_now = cca.key_record_read(Family::Aes, &aes_label).expect("read");
            }
        }
    }
    // Random blocks rarely make a verb complete; the count only shows the test ran through.
    println!("{completed} hostile calls completed");
}
