//! API tests of Symmetric_Key_Export (CSNDSYX) and Symmetric_Key_Import (CSNDSYI) through
//! [`Card::execute`]: a key exported under an RSA key and imported again is the same token
//! (the card's symmetric wrapping is deterministic), CSNDPKD of an exported key gives the clear
//! key that CSNBCKM enciphered, a key enciphered by CSNDPKE imports; every refusal carries
//! IBM's code (written as literals) and outputs nothing.

use std::sync::OnceLock;

use softcca_card::Card;
use softcca_card::mk::{Class, MasterKey};
use softcca_card::tokens::des::DesToken;
use softcca_card::tokens::{KeyLength, wrap};
use softcca_wire::{Param, VerbResponse};

mod rsa_support;
use rsa_support::*;

fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = u8::try_from(i).expect("short pattern");
            i.wrapping_mul(73).wrapping_add(tag.wrapping_mul(151)) ^ 0x5A
        })
        .collect()
}

fn with_odd_parity(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
    bytes
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn mkp(card: &Card, class: &str, process: &str, part: &[u8]) {
    let r = call(
        card,
        "CSNBMKP",
        &[class, process],
        vec![Param::Bytes(part.to_vec())],
    );
    assert_eq!(codes(&r), (0, 0), "CSNBMKP {class} {process}");
}

/// Loads a SYM master key from two known odd-parity parts and sets it; returns the key the
/// card now holds (LAST adjusts the combined key to odd parity).
fn load_sym(card: &Card) -> MasterKey {
    let p1 = with_odd_parity(pattern(31, 24));
    let p2 = with_odd_parity(pattern(32, 24));
    mkp(card, "SYM-MK", "FIRST", &p1);
    mkp(card, "SYM-MK", "LAST", &p2);
    mkp(card, "SYM-MK", "SET", &[]);
    let mk = MasterKey::from_bytes(&with_odd_parity(xor(&p1, &p2)));
    assert_eq!(
        card.verification_patterns(Class::Sym)[1],
        Some(softcca_card::mk::verification_pattern(Class::Sym, &mk)),
        "the test rebuilt the card's SYM master key"
    );
    mk
}

fn load_aes(card: &Card) -> MasterKey {
    let q1 = pattern(41, 32);
    let q2 = pattern(42, 32);
    mkp(card, "AES-MK", "FIRST", &q1);
    mkp(card, "AES-MK", "LAST", &q2);
    mkp(card, "AES-MK", "SET", &[]);
    let mk = MasterKey::from_bytes(&xor(&q1, &q2));
    assert_eq!(
        card.verification_patterns(Class::Aes)[1],
        Some(softcca_card::mk::verification_pattern(Class::Aes, &mk)),
        "the test rebuilt the card's AES master key"
    );
    mk
}

struct Setup {
    card: Card,
    sym_mk: MasterKey,
    /// A KEY-MGMT RSA key, a second one, and a SIG-ONLY one.
    rsa: Vec<u8>,
    other: Vec<u8>,
    sig_only: Vec<u8>,
}

/// One card with SYM, AES and APKA master keys and three RSA keys (generation is slow in a
/// debug build).
fn shared() -> &'static Setup {
    static SHARED: OnceLock<Setup> = OnceLock::new();
    SHARED.get_or_init(|| {
        let card = new_card(7);
        let sym_mk = load_sym(&card);
        load_aes(&card);
        load_apka(&card, 0x52);
        let rsa = generate(&card, "KEY-MGMT");
        let other = generate(&card, "KEY-MGMT");
        let sig_only = generate(&card, "SIG-ONLY");
        Setup {
            card,
            sym_mk,
            rsa,
            other,
            sig_only,
        }
    })
}

fn ckm(card: &Card, alg: &str, clear: &[u8]) -> Vec<u8> {
    let r = call(
        card,
        "CSNBCKM",
        &[alg],
        vec![Param::Bytes(clear.to_vec()), Param::Bytes(vec![0; 64])],
    );
    bytes_out(&r, "CSNBCKM")
}

fn syx(card: &Card, rules: &[&str], source: &[u8], rsa: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDSYX",
        rules,
        vec![
            Param::Bytes(source.to_vec()),
            Param::Bytes(rsa.to_vec()),
            Param::Int(512),
        ],
    )
}

fn syi(card: &Card, rules: &[&str], enciphered: &[u8], rsa: &[u8], target: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDSYI",
        rules,
        vec![
            Param::Bytes(enciphered.to_vec()),
            Param::Bytes(rsa.to_vec()),
            Param::Bytes(target.to_vec()),
        ],
    )
}

/// A refused import: 8/2054, or — PKCS-1.2 only, whose decryption has implicit rejection
/// (`rsa::decipher_key` turns a value of no key length into a random key) — 0/0 with a token
/// that is not `real`. PKCS-1.2 still answers 8/2054 for a ciphertext that is not below the
/// other key's modulus (refused on its face, before any decryption: public information).
fn pkcs12_rejected(r: &VerbResponse, pkcs12: bool, real: &[u8], what: &str) {
    if pkcs12 && codes(r) == (0, 0) {
        assert_ne!(bytes_out(r, what), real, "{what}: not the real key");
    } else {
        assert_refused(r, (8, 2054), what);
    }
}

#[test]
fn export_then_import_gives_the_same_key() {
    let s = shared();
    let card = &s.card;
    let cases: &[(&str, usize)] = &[
        ("DES", 8),
        ("DES", 16),
        ("DES", 24),
        ("AES", 16),
        ("AES", 24),
        ("AES", 32),
    ];
    let methods: &[(&[&str], &[&str])] = &[
        (&["PKCSOAEP"], &["PKCSOAEP"]),
        (&["PKCSOAEP", "SHA-1"], &["PKCSOAEP", "SHA-1"]),
        (&["PKCSOAEP", "SHA-256"], &["PKCSOAEP", "SHA-256"]),
        (&["PKCS-1.2"], &["PKCS-1.2"]),
    ];
    for &(alg, len) in cases {
        let clear = with_odd_parity(pattern(u8::try_from(len).expect("small"), len));
        let token = ckm(card, alg, &clear);
        for &(method, pk_rules) in methods {
            let what = format!("{alg} {len} {method:?}");
            let mut rules = vec![alg];
            rules.extend_from_slice(method);
            let ct = bytes_out(&syx(card, &rules, &token, &s.rsa), &what);
            assert_eq!(ct.len(), 256, "{what}: one modulus long");
            // The enciphered key is the clear key under the RSA key.
            let recovered = bytes_out(&pkd(card, pk_rules, &s.rsa, &ct), &what);
            assert_eq!(recovered, clear, "{what}: CSNDPKD recovers the clear key");
            // Import gives the same internal token.
            let back = bytes_out(&syi(card, &rules, &ct, &s.rsa, &[0; 64]), &what);
            assert_eq!(back, token, "{what}: same token after the round trip");
            // A key enciphered by CSNDPKE imports too.
            let ct2 = bytes_out(&pke(card, pk_rules, &s.rsa, &clear), &what);
            let back2 = bytes_out(&syi(card, &rules, &ct2, &s.rsa, &[0; 64]), &what);
            assert_eq!(back2, token, "{what}: CSNDPKE output imports");
            // Another RSA key recovers nothing: the one opaque code, or with PKCS-1.2
            // (implicit rejection) possibly 0/0 and a key that is not the one enciphered.
            pkcs12_rejected(
                &syi(card, &rules, &ct, &s.other, &[0; 64]),
                method == ["PKCS-1.2"],
                &token,
                &format!("{what}: wrong RSA key"),
            );
        }
    }
    // DES is the default algorithm.
    let clear = with_odd_parity(pattern(3, 16));
    let token = ckm(card, "DES", &clear);
    let ct = bytes_out(&syx(card, &["PKCSOAEP"], &token, &s.rsa), "default DES");
    let back = bytes_out(
        &syi(card, &["PKCSOAEP"], &ct, &s.rsa, &[0; 64]),
        "default DES",
    );
    assert_eq!(back, token);
}

#[test]
fn refusals_carry_ibms_codes() {
    let s = shared();
    let card = &s.card;
    let des = ckm(card, "DES", &with_odd_parity(pattern(9, 16)));
    let aes = ckm(card, "AES", &pattern(10, 32));
    let ct = bytes_out(&syx(card, &["DES", "PKCSOAEP"], &des, &s.rsa), "export");
    let aes_ct = bytes_out(&syx(card, &["AES", "PKCSOAEP"], &aes, &s.rsa), "export");

    // Rule arrays.
    assert_refused(&syx(card, &[], &des, &s.rsa), (8, 35), "SYX no keyword");
    assert_refused(
        &syx(card, &["DES", "PKCSOAEP", "SHA-1", "SHA-1"], &des, &s.rsa),
        (8, 35),
        "SYX four keywords",
    );
    assert_refused(
        &syx(card, &["DES", "NOSUCH"], &des, &s.rsa),
        (8, 33),
        "SYX bad keyword",
    );
    assert_refused(&syx(card, &["DES"], &des, &s.rsa), (8, 34), "SYX no method");
    assert_refused(
        &syx(card, &["DES", "PKCS-1.2", "SHA-256"], &des, &s.rsa),
        (8, 34),
        "SYX PKCS-1.2 with a hash",
    );
    for method in ["ZERO-PAD", "AESKW"] {
        assert_refused(&syx(card, &["DES", method], &des, &s.rsa), (8, 2), method);
    }
    // The variable-length methods take AES or HMAC keys (tests/syx_var.rs).
    for method in ["PKOAEP2", "CKM-RAKW"] {
        assert_refused(&syx(card, &["DES", method], &des, &s.rsa), (8, 34), method);
    }
    assert_refused(
        &syx(card, &["HMAC", "PKCSOAEP"], &aes, &s.rsa),
        (8, 2),
        "SYX HMAC",
    );
    assert_refused(
        &syx(card, &["PKCSOAEP", "SHA-512"], &des, &s.rsa),
        (8, 2),
        "SYX SHA-512",
    );
    assert_refused(
        &syi(card, &[], &ct, &s.rsa, &[0; 64]),
        (8, 35),
        "SYI no keyword",
    );
    assert_refused(
        &syi(
            card,
            &["DES", "PKCSOAEP", "USECONFG", "ENH-ONLY", "SHA-1", "SHA-1"],
            &ct,
            &s.rsa,
            &[0; 64],
        ),
        (8, 35),
        "SYI six keywords",
    );
    assert_refused(
        &syi(card, &["DES", "FOO"], &ct, &s.rsa, &[0; 64]),
        (8, 33),
        "SYI bad keyword",
    );
    assert_refused(
        &syi(
            card,
            &["DES", "PKCSOAEP", "PKCS-1.2"],
            &ct,
            &s.rsa,
            &[0; 64],
        ),
        (8, 34),
        "SYI two methods",
    );
    for method in ["ZERO-PAD", "PKA92"] {
        assert_refused(
            &syi(card, &["DES", method], &ct, &s.rsa, &[0; 64]),
            (8, 2),
            method,
        );
    }
    assert_refused(
        &syi(
            card,
            &["DES", "PKCSOAEP", "WRAP-ENH"],
            &ct,
            &s.rsa,
            &[0; 64],
        ),
        (8, 2),
        "SYI WRAP-ENH for DES",
    );

    // Key usage: a SIG-ONLY key does not import; a DES key without XPORT-OK does not export.
    let ct_sig = bytes_out(
        &syx(card, &["DES", "PKCSOAEP"], &des, &s.sig_only),
        "export",
    );
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP"], &ct_sig, &s.sig_only, &[0; 64]),
        (8, 39),
        "SIG-ONLY import",
    );
    let mut cv_left = [0u8, 0, 0x7D, 0, 3, 0, 0, 0];
    cv_left[2] = 0x3C; // XPORT-OK (bit 17) off, even parity kept
    let no_export = wrap::wrap_des(
        &s.sym_mk,
        &with_odd_parity(pattern(11, 8)),
        cv_left,
        [0; 8],
        KeyLength::Single,
    )
    .expect("wraps");
    let no_export = DesToken::Internal(no_export).to_bytes();
    assert_refused(
        &syx(card, &["DES", "PKCSOAEP"], &no_export, &s.rsa),
        (8, 39),
        "DES key without XPORT-OK",
    );

    // Decryption failures are the one code: corrupted ciphertext, a key of the wrong
    // length for the algorithm, the wrong hash.
    let mut bad = ct.clone();
    bad[100] ^= 1;
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP"], &bad, &s.rsa, &[0; 64]),
        (8, 2054),
        "corrupted",
    );
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP"], &aes_ct, &s.rsa, &[0; 64]),
        (8, 2054),
        "a 32-byte key as DES",
    );
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP", "SHA-256"], &ct, &s.rsa, &[0; 64]),
        (8, 2054),
        "wrong hash",
    );
    pkcs12_rejected(
        &syi(card, &["DES", "PKCS-1.2"], &ct, &s.rsa, &[0; 64]),
        true,
        &des,
        "wrong padding",
    );

    // Lengths.
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP"], &ct[1..], &s.rsa, &[0; 64]),
        (8, 72),
        "short ciphertext",
    );
    let r = call(
        card,
        "CSNDSYX",
        &["DES", "PKCSOAEP"],
        vec![
            Param::Bytes(des.clone()),
            Param::Bytes(s.rsa.clone()),
            Param::Int(255),
        ],
    );
    assert_refused(&r, (8, 72), "buffer shorter than the modulus");
    let r = call(
        card,
        "CSNDSYX",
        &["DES", "PKCSOAEP"],
        vec![Param::Bytes(des.clone())],
    );
    assert_refused(&r, (8, 72), "SYX parameter block");
    let r = call(
        card,
        "CSNDSYI",
        &["DES", "PKCSOAEP"],
        vec![Param::Bytes(ct.clone())],
    );
    assert_refused(&r, (8, 72), "SYI parameter block");

    // Wrong token types and corrupted tokens.
    assert_refused(
        &syx(card, &["DES", "PKCSOAEP"], &[0; 64], &s.rsa),
        (8, 47),
        "null source",
    );
    let public = {
        let r = call(
            card,
            "CSNDPKX",
            &[],
            vec![Param::Bytes(s.rsa.clone()), Param::Int(8000)],
        );
        bytes_out(&r, "PKX")
    };
    // A public token exports (its key enciphers) but does not import.
    let ct_pub = bytes_out(
        &syx(card, &["DES", "PKCSOAEP"], &des, &public),
        "export under public",
    );
    let back = bytes_out(
        &syi(card, &["DES", "PKCSOAEP"], &ct_pub, &s.rsa, &[0; 64]),
        "import",
    );
    assert_eq!(back, des);
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP"], &ct, &public, &[0; 64]),
        (8, 47),
        "public key imports",
    );
    let r = syx(card, &["DES", "PKCSOAEP"], &des, &des);
    assert_eq!(r.return_code, 8, "DES token as RSA key");
    assert!(r.outputs.is_empty());
    let mut tvv = des.clone();
    tvv[63] ^= 1;
    assert_refused(
        &syx(card, &["DES", "PKCSOAEP"], &tvv, &s.rsa),
        (8, 29),
        "DES TVV",
    );
    let mut aes_mkvp = aes.clone();
    aes_mkvp[8] ^= 1;
    let r = syx(card, &["AES", "PKCSOAEP"], &aes_mkvp, &s.rsa);
    assert_eq!(r.return_code, 8, "AES MKVP changed");
    assert!(r.outputs.is_empty());
    // The RSA token's MKVP unknown: 8/24.
    let mut rsa_mkvp = s.rsa.clone();
    let at = mkvp_offset(&rsa_mkvp);
    rsa_mkvp[at] ^= 1;
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP"], &ct, &rsa_mkvp, &[0; 64]),
        (8, 24),
        "RSA MKVP",
    );
    // The token version of an RSA token.
    let mut version = s.rsa.clone();
    version[1] = 0x7F;
    let r = syi(card, &["DES", "PKCSOAEP"], &ct, &version, &[0; 64]);
    assert_eq!(r.return_code, 8, "RSA token version");
    assert!(r.outputs.is_empty());
    // Algorithm mismatch: an AES token exported as DES.
    let r = syx(card, &["DES", "PKCSOAEP"], &aes, &s.rsa);
    assert_eq!(r.return_code, 8, "AES token as DES");
    assert!(r.outputs.is_empty());
    // A target token that is an external DES token or a label.
    let mut label = [b' '; 64];
    label[..4].copy_from_slice(b"ABCD");
    assert_refused(
        &syi(card, &["DES", "PKCSOAEP"], &ct, &s.rsa, &label),
        (8, 47),
        "label target",
    );
}

/// The offset of the MKVP in a token with an X'31' private section (opencryptoki's offset).
fn mkvp_offset(token: &[u8]) -> usize {
    assert_eq!(token[8], 0x31, "an RSA-AESC token");
    8 + 116
}

fn syg(card: &Card, rules: &[&str], kek: &[u8], rsa: &[u8], capacity: i32) -> VerbResponse {
    call(
        card,
        "CSNDSYG",
        rules,
        vec![
            Param::Bytes(kek.to_vec()),
            Param::Bytes(rsa.to_vec()),
            Param::Bytes(vec![0; 64]),
            Param::Int(capacity),
        ],
    )
}

#[test]
fn generated_keys_import_as_the_same_token() {
    let s = shared();
    let card = &s.card;
    let cases: &[(&[&str], &[&str], usize)] = &[
        (&["PKCSOAEP"], &["DES", "PKCSOAEP"], 8),
        (
            &["DES", "PKCSOAEP", "DOUBLE", "SHA-256"],
            &["DES", "PKCSOAEP", "SHA-256"],
            16,
        ),
        (&["DES", "PKCS-1.2", "TRIPLE"], &["DES", "PKCS-1.2"], 24),
        (&["AES", "PKCSOAEP"], &["AES", "PKCSOAEP"], 32),
        (&["AES", "PKCS-1.2", "KEYLN16"], &["AES", "PKCS-1.2"], 16),
    ];
    for &(rules, import_rules, len) in cases {
        let what = format!("{rules:?}");
        let r = syg(card, rules, &[0; 64], &s.rsa, 512);
        assert_eq!(codes(&r), (0, 0), "{what}");
        let (token, ct) = match r.outputs.as_slice() {
            [Param::Bytes(t), Param::Bytes(c)] => (t.clone(), c.clone()),
            other => panic!("{what}: token and enciphered key expected, got {other:?}"),
        };
        let back = bytes_out(&syi(card, import_rules, &ct, &s.rsa, &[0; 64]), &what);
        assert_eq!(back, token, "{what}: CSNDSYI gives the same token");
        let pk_rules: Vec<&str> = import_rules[1..].to_vec();
        let clear = bytes_out(&pkd(card, &pk_rules, &s.rsa, &ct), &what);
        assert_eq!(clear.len(), len, "{what}: key length");
        if len != 32 && import_rules[0] == "DES" {
            assert!(
                clear.iter().all(|b| b.count_ones() % 2 == 1),
                "{what}: odd parity"
            );
        }
    }
    // Two generations differ.
    let a = syg(card, &["AES", "PKCSOAEP"], &[], &s.rsa, 512);
    let b = syg(card, &["AES", "PKCSOAEP"], &[], &s.rsa, 512);
    assert_ne!(a.outputs, b.outputs);

    assert_refused(&syg(card, &[], &[], &s.rsa, 512), (8, 35), "SYG no keyword");
    assert_refused(
        &syg(card, &["DES", "XYZ"], &[], &s.rsa, 512),
        (8, 33),
        "SYG bad keyword",
    );
    assert_refused(
        &syg(card, &["DES", "PKCSOAEP", "KEYLN16"], &[], &s.rsa, 512),
        (8, 34),
        "AES length with DES",
    );
    assert_refused(
        &syg(card, &["AES", "PKCSOAEP", "DOUBLE"], &[], &s.rsa, 512),
        (8, 34),
        "DES length with AES",
    );
    assert_refused(
        &syg(card, &["DES", "PKA92"], &[], &s.rsa, 512),
        (8, 2),
        "PKA92",
    );
    assert_refused(
        &syg(card, &["DES", "ZERO-PAD"], &[], &s.rsa, 512),
        (8, 2),
        "ZERO-PAD",
    );
    assert_refused(
        &syg(card, &["DES", "PKCSOAEP", "SINGLE-R"], &[], &s.rsa, 512),
        (8, 2),
        "SINGLE-R",
    );
    assert_refused(
        &syg(card, &["DES", "PKCSOAEP"], &[1; 64], &s.rsa, 512),
        (8, 2),
        "a key-encrypting key",
    );
    assert_refused(
        &syg(card, &["DES", "PKCSOAEP"], &[], &s.rsa, 255),
        (8, 72),
        "short buffer",
    );
    assert_refused(
        &syg(card, &["DES", "PKCSOAEP"], &[], &[0; 64], 512),
        (8, 770),
        "null RSA token",
    );
}

/// A symmetric key or RSA key under the OLD master key still works: 0/10001 with the output.
#[test]
fn old_master_keys_give_0_10001() {
    let card = new_card(8);
    load_sym(&card);
    load_aes(&card);
    load_apka(&card, 0x61);
    let rsa = generate(&card, "KEY-MGMT");
    let des = ckm(&card, "DES", &with_odd_parity(pattern(5, 16)));
    // A new SYM master key: the DES token is now under the OLD one.
    mkp(&card, "SYM-MK", "FIRST", &with_odd_parity(pattern(51, 24)));
    mkp(&card, "SYM-MK", "LAST", &with_odd_parity(pattern(52, 24)));
    mkp(&card, "SYM-MK", "SET", &[]);
    let r = syx(&card, &["DES", "PKCSOAEP"], &des, &rsa);
    assert_eq!(
        codes(&r),
        (0, 10001),
        "DES key under the old SYM master key"
    );
    let ct = match r.outputs.as_slice() {
        [Param::Bytes(c)] => c.clone(),
        other => panic!("enciphered key expected, got {other:?}"),
    };
    // A new APKA master key: the RSA key is now under the OLD one; the import is under the
    // new SYM master key.
    load_apka(&card, 0x62);
    let r = syi(&card, &["DES", "PKCSOAEP"], &ct, &rsa, &[0; 64]);
    assert_eq!(
        codes(&r),
        (0, 10001),
        "RSA key under the old APKA master key"
    );
    assert_eq!(r.outputs.len(), 1);
    load_apka(&card, 0x63);
    assert_refused(
        &syi(&card, &["DES", "PKCSOAEP"], &ct, &rsa, &[0; 64]),
        (8, 24),
        "RSA key under neither",
    );
}
