//! API tests of ECC_Diffie-Hellman's key derivations (CSNDEDH DERIV01 and DERIV02) through
//! [`Card::execute`]: the shared secret Z is computed independently with aws-lc-rs from a
//! peer key the test holds, the KDFs (NIST SP 800-56A concatenation for DERIV01, ANS X9.63
//! for DERIV02) with RustCrypto's `sha2`, and the derived key is read back out of the output
//! token with the master key the test loaded. Then every refusal, each with IBM's code.

use aws_lc_rs::agreement;
use sha2::Digest;
use softcca_card::Card;
use softcca_card::mk::{Class, MasterKey};
use softcca_card::tokens::aes::{AesMaterial, AesToken, InternalAes};
use softcca_card::tokens::des::DesToken;
use softcca_card::tokens::var::{VarToken, unwrap_var};
use softcca_card::tokens::wrap;
use softcca_wire::{Param, VerbResponse};

mod ecc_support;
use ecc_support::*;

const P384: (u8, u16) = (0, 384);
const P521: (u8, u16) = (0, 521);

fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| tag.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

fn odd(mut v: Vec<u8>) -> Vec<u8> {
    for b in &mut v {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
    v
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn mkp(card: &Card, class: &str, process: &str, part: &[u8]) {
    let r = call(card, "CSNBMKP", &[class, process], vec![b(part)]);
    assert_eq!(codes(&r), (0, 0), "CSNBMKP {class} {process}");
}

/// Loads the AES and SYM master keys from known parts; returns them as the card holds them.
fn load_symmetric(card: &Card) -> (MasterKey, MasterKey) {
    let (a1, a2) = (pattern(1, 32), pattern(2, 32));
    mkp(card, "AES-MK", "FIRST", &a1);
    mkp(card, "AES-MK", "LAST", &a2);
    mkp(card, "AES-MK", "SET", &[]);
    let aes = MasterKey::from_bytes(&xor(&a1, &a2));
    let (s1, s2) = (odd(pattern(3, 24)), odd(pattern(4, 24)));
    mkp(card, "SYM-MK", "FIRST", &s1);
    mkp(card, "SYM-MK", "LAST", &s2);
    mkp(card, "SYM-MK", "SET", &[]);
    let sym = MasterKey::from_bytes(&odd(xor(&s1, &s2)));
    assert_eq!(
        card.verification_patterns(Class::Aes)[1],
        Some(softcca_card::mk::verification_pattern(Class::Aes, &aes))
    );
    assert_eq!(
        card.verification_patterns(Class::Sym)[1],
        Some(softcca_card::mk::verification_pattern(Class::Sym, &sym))
    );
    (aes, sym)
}

/// An internal fixed-length AES token with no key (the X'04' skeleton).
fn aes_skeleton() -> Vec<u8> {
    AesToken::Internal(InternalAes {
        cv_present: false,
        material: AesMaterial::NoKey {
            encrypted_flag: false,
        },
    })
    .to_bytes()
    .to_vec()
}

/// CSNDEDH with IBM's parameters: the private key, no private KEK, the public key, no chain
/// data, the party information, the key bit length, five empty reserved parameters, the
/// output KEK and the output skeleton, and a 900-byte output buffer.
fn edh_out(
    card: &Card,
    rules: &[&str],
    (private, public): (&[u8], &[u8]),
    party: &[u8],
    bits: i32,
    kek: &[u8],
    skeleton: &[u8],
) -> VerbResponse {
    let mut params = vec![
        b(private),
        b(&[]),
        b(public),
        b(&[]),
        b(party),
        Param::Int(bits),
    ];
    params.extend((0..5).map(|_| b(&[])));
    params.extend([b(kek), b(skeleton), Param::Int(900)]);
    call(card, "CSNDEDH", rules, params)
}

/// The test's own peer on P-256/384/521: (d, Q).
fn peer(alg: &'static agreement::Algorithm, d: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let k = agreement::PrivateKey::from_private_key(alg, d).expect("peer key");
    let q = k.compute_public_key().expect("peer q").as_ref().to_vec();
    (d.to_vec(), q)
}

fn z_of(alg: &'static agreement::Algorithm, d: &[u8], q: &[u8]) -> Vec<u8> {
    let k = agreement::PrivateKey::from_private_key(alg, d).expect("key");
    agreement::agree(&k, agreement::UnparsedPublicKey::new(alg, q), (), |z| {
        Ok(z.to_vec())
    })
    .expect("agree")
}

/// ANS X9.63 (DERIV02) or SP 800-56A concatenation (DERIV01), with `sha2`.
fn kdf<H: Digest>(x963: bool, z: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut counter = 1u32;
    while out.len() < len {
        let mut h = H::new();
        if x963 {
            h.update(z);
            h.update(counter.to_be_bytes());
        } else {
            h.update(counter.to_be_bytes());
            h.update(z);
        }
        h.update(info);
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

fn aes_key_of(token: &[u8], mk: &MasterKey) -> Vec<u8> {
    let AesToken::Internal(t) = AesToken::parse(token).expect("AES token") else {
        panic!("internal AES token expected");
    };
    let (k, _) = wrap::unwrap_aes(&t, Some(mk), None).expect("unwraps");
    k.expose().to_vec()
}

/// A KEY-MGMT key pair generated under the master key with CSNDPKB ECC-VER1 derivation data.
fn generate_with(card: &Card, curve: (u8, u16), derivation: &[u8]) -> Vec<u8> {
    let skel = the_bytes(
        &pkb_call(
            card,
            &["ECC-PAIR", "KEY-MGMT", "ECC-VER1"],
            &kvs_pair(curve, &[], &[]),
            derivation,
        ),
        "CSNDPKB ECC-VER1",
    );
    the_bytes(&pkg(card, "MASTER", &skel), "CSNDPKG")
}

#[test]
fn deriv01_with_a_clear_key_gives_the_concatenation_kdf_output() {
    let card = new_card(71);
    load_apka(&card, 0x71);
    let (aes, sym) = load_symmetric(&card);
    let alg = &agreement::ECDH_P256;
    let (da, qa) = peer(alg, &pattern(9, 32));
    let (db, qb) = peer(alg, &pattern(10, 32));
    // A clear (external) private key is allowed with DERIV01.
    let private = pkb(&card, &["ECC-PAIR", "KEY-MGMT"], &kvs_pair(P256, &da, &qa));
    let public = pkb(&card, &["ECC-PUBL"], &kvs_publ(P256, &qb));
    let z = z_of(alg, &db, &qa);
    let party = b"party-A|party-B";
    for bits in [128, 192, 256] {
        let r = edh_out(
            &card,
            &["DERIV01"],
            (&private, &public),
            party,
            bits,
            &[],
            &aes_skeleton(),
        );
        let key = aes_key_of(&the_bytes(&r, "DERIV01 AES"), &aes);
        let len = bits as usize / 8;
        assert_eq!(
            key,
            kdf::<sha2::Sha256>(false, &z, party, len),
            "DERIV01 AES-{bits}"
        );
    }
    // KEY-AES names the (absent) transport key's type; it is accepted.
    let r = edh_out(
        &card,
        &["DERIV01", "KEY-AES"],
        (&private, &public),
        &[],
        256,
        &[],
        &aes_skeleton(),
    );
    assert_eq!(
        aes_key_of(&the_bytes(&r, "DERIV01 KEY-AES"), &aes),
        kdf::<sha2::Sha256>(false, &z, &[], 32)
    );
    // A DES DATA token as the skeleton: its CV is kept, the key gets odd parity.
    let des = the_bytes(
        &call(
            &card,
            "CSNBCKM",
            &["DES"],
            vec![b(&odd(pattern(5, 16))), b(&[0; 64])],
        ),
        "CSNBCKM",
    );
    let r = edh_out(
        &card,
        &["DERIV01", "KEY-DES"],
        (&private, &public),
        party,
        128,
        &[],
        &des,
    );
    let out = the_bytes(&r, "DERIV01 DES");
    let DesToken::Internal(t) = DesToken::parse(&out).expect("DES token") else {
        panic!("internal DES token expected");
    };
    let DesToken::Internal(skel) = DesToken::parse(&des).expect("skeleton") else {
        panic!();
    };
    assert_eq!(t.fields.cv_left, skel.fields.cv_left);
    let (k, _) = wrap::unwrap_des(&t, Some(&sym), None).expect("unwraps");
    assert_eq!(
        k.expose()[..16].to_vec(),
        odd(kdf::<sha2::Sha256>(false, &z, party, 16))
    );
}

#[test]
fn deriv02_gives_the_x963_kdf_output_for_each_hash() {
    let card = new_card(72);
    load_apka(&card, 0x72);
    let (aes, _) = load_symmetric(&card);
    for (curve, alg, dlen) in [
        (P256, &agreement::ECDH_P256, 32),
        (P384, &agreement::ECDH_P384, 48),
        (P521, &agreement::ECDH_P521, 66),
    ] {
        // AES DATA, 256 bits (opencryptoki's default derivation data).
        let a = generate_with(&card, curve, &[0x02, 0x01, 0x01, 0x00]);
        let qa = q_of(&pkx(&card, &a));
        let mut d = pattern(11, dlen);
        d[0] = 0x01; // below the order of P-521 as well
        let (db, qb) = peer(alg, &d);
        let public = pkb(&card, &["ECC-PUBL"], &kvs_publ(curve, &qb));
        let z = z_of(alg, &db, &qa);
        let party = pattern(12, 64);
        for hash in ["SHA-224", "SHA-256", "SHA-384", "SHA-512"] {
            let r = edh_out(
                &card,
                &["DERIV02", "KEY-AES", hash],
                (&a, &public),
                &party,
                256,
                &[],
                &aes_skeleton(),
            );
            let key = aes_key_of(&the_bytes(&r, hash), &aes);
            let want = match hash {
                "SHA-224" => kdf::<sha2::Sha224>(true, &z, &party, 32),
                "SHA-256" => kdf::<sha2::Sha256>(true, &z, &party, 32),
                "SHA-384" => kdf::<sha2::Sha384>(true, &z, &party, 32),
                _ => kdf::<sha2::Sha512>(true, &z, &party, 32),
            };
            assert_eq!(key, want, "DERIV02 {hash} on {curve:?}");
        }
        // No hash keyword: SHA-256; no party information.
        let r = edh_out(
            &card,
            &["DERIV02"],
            (&a, &public),
            &[],
            256,
            &[],
            &aes_skeleton(),
        );
        assert_eq!(
            aes_key_of(&the_bytes(&r, "DERIV02"), &aes),
            kdf::<sha2::Sha256>(true, &z, &[], 32)
        );
    }
}

#[test]
fn deriv02_fills_a_variable_length_cipher_skeleton() {
    let card = new_card(73);
    load_apka(&card, 0x73);
    let (aes, _) = load_symmetric(&card);
    let a = generate_with(&card, P256, &[0x02, 0x04, 0x00, 0x80]);
    let bk = generate_with(&card, P256, &[0x02, 0x04, 0x00, 0x80]);
    let skel = the_bytes(
        &call(
            &card,
            "CSNBKTB2",
            &["INTERNAL", "AES", "CIPHER"],
            vec![
                Param::Int(0),
                b(&[]),
                b(&[]),
                b(&[]),
                b(&[]),
                b(&[]),
                Param::Int(725),
            ],
        ),
        "CSNBKTB2",
    );
    let party = pattern(13, 16);
    let ka = the_bytes(
        &edh_out(
            &card,
            &["DERIV02", "SHA-256"],
            (&a, &pkx(&card, &bk)),
            &party,
            128,
            &[],
            &skel,
        ),
        "DERIV02 a",
    );
    let kb = the_bytes(
        &edh_out(
            &card,
            &["DERIV02", "SHA-256"],
            (&bk, &pkx(&card, &a)),
            &party,
            128,
            &[],
            &skel,
        ),
        "DERIV02 b",
    );
    let unwrap = |t: &[u8]| {
        let VarToken::Key(k) = VarToken::parse(t).expect("parses") else {
            panic!("null");
        };
        assert!(k.is_aes_cipher());
        assert_eq!(k.ad.kmf(2), 0x0303, "pedigree: key agreement");
        unwrap_var(&k, Some(&aes), None)
            .expect("unwraps")
            .0
            .expose()
            .to_vec()
    };
    let (xa, xb) = (unwrap(&ka), unwrap(&kb));
    assert_eq!(xa, xb, "both parties derive the same key");
    assert_eq!(xa.len(), 16);
}

#[test]
fn deriv_refusals_carry_ibms_codes() {
    let card = new_card(74);
    load_apka(&card, 0x74);
    load_symmetric(&card);
    let a = generate_with(&card, P256, &[0x02, 0x01, 0x01, 0x00]);
    let bk = generate_with(&card, P256, &[0x02, 0x01, 0x01, 0x00]);
    let pb = pkx(&card, &bk);
    let skel = aes_skeleton();
    let ok = edh_out(&card, &["DERIV02"], (&a, &pb), &[], 256, &[], &skel);
    assert_eq!(codes(&ok), (0, 0));
    let refuse = |rules: &[&str],
                  private: &[u8],
                  public: &[u8],
                  party: &[u8],
                  bits: i32,
                  kek: &[u8],
                  out: &[u8],
                  want: (i32, i32),
                  what: &str| {
        assert_refused(
            &edh_out(&card, rules, (private, public), party, bits, kek, out),
            want,
            what,
        );
    };
    // Rule arrays.
    refuse(
        &["DERIV01", "SHA-256"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 34),
        "DERIV01 with a hash",
    );
    refuse(
        &["DERIV02", "DERIV01"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 34),
        "two schemes",
    );
    refuse(
        &["DERIV02", "QSA-ECDH"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 2),
        "QSA-ECDH",
    );
    refuse(
        &["DERIV02", "SHA-1"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 33),
        "SHA-1",
    );
    refuse(
        &["DERIV02", "KEY-AES", "KEY-DES"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 34),
        "two key types",
    );
    // Lengths and parameters.
    refuse(
        &["DERIV02"],
        &a,
        &pb,
        &[1; 7],
        256,
        &[],
        &skel,
        (8, 72),
        "party info of 7",
    );
    refuse(
        &["DERIV02"],
        &a,
        &pb,
        &[1; 257],
        256,
        &[],
        &skel,
        (8, 72),
        "party info of 257",
    );
    for bits in [0, 64, 100, 255, 512] {
        refuse(
            &["DERIV02"],
            &a,
            &pb,
            &[],
            bits,
            &[],
            &skel,
            (8, 2149),
            "AES key bit length",
        );
    }
    let small = {
        let mut params = vec![b(&a), b(&[]), b(&pb), b(&[]), b(&[]), Param::Int(256)];
        params.extend((0..5).map(|_| b(&[])));
        params.extend([b(&[]), b(&skel), Param::Int(63)]);
        call(&card, "CSNDEDH", &["DERIV02"], params)
    };
    assert_refused(&small, (8, 72), "output buffer of 63");
    let chain = {
        let mut params = vec![b(&a), b(&[]), b(&pb), b(&[1]), b(&[]), Param::Int(256)];
        params.extend((0..5).map(|_| b(&[])));
        params.extend([b(&[]), b(&skel), Param::Int(900)]);
        call(&card, "CSNDEDH", &["DERIV02"], params)
    };
    assert_refused(&chain, (8, 72), "chain data without QSA-ECDH");
    // The output: an external KEK, an external or unusable skeleton.
    refuse(
        &["DERIV02", "KEY-AES"],
        &a,
        &pb,
        &[],
        256,
        &[0x01; 64],
        &skel,
        (8, 2),
        "output KEK",
    );
    let mut external = skel.clone();
    external[0] = 0x02;
    refuse(
        &["DERIV02"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &external,
        (8, 2),
        "external skeleton",
    );
    refuse(
        &["DERIV02"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &[0; 64],
        (8, 47),
        "null skeleton",
    );
    refuse(
        &["DERIV02"],
        &a,
        &pb,
        &[],
        256,
        &[],
        &pattern(3, 64),
        (8, 47),
        "garbage skeleton",
    );
    // The derivation data: type, algorithm and size must match; DERIV02 needs it.
    let des = the_bytes(
        &call(
            &card,
            "CSNBCKM",
            &["DES"],
            vec![b(&odd(pattern(5, 24))), b(&[0; 64])],
        ),
        "CSNBCKM",
    );
    refuse(
        &["DERIV02"],
        &a,
        &pb,
        &[],
        192,
        &[],
        &des,
        (8, 39),
        "AES derivation data, DES output",
    );
    refuse(
        &["DERIV02"],
        &a,
        &pb,
        &[],
        128,
        &[],
        &skel,
        (8, 2149),
        "derivation data says 256",
    );
    let cipher_only = generate_with(&card, P256, &[0x02, 0x04, 0x01, 0x00]);
    refuse(
        &["DERIV02"],
        &cipher_only,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 39),
        "CIPHER derivation data, DATA output",
    );
    let plain = generate(&card, P256, "KEY-MGMT");
    refuse(
        &["DERIV02"],
        &plain,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 39),
        "DERIV02 without derivation data",
    );
    let r = edh_out(&card, &["DERIV01"], (&plain, &pb), &[], 256, &[], &skel);
    assert_eq!(codes(&r), (0, 0), "DERIV01 without derivation data");
    // DES: the key bit length must fit the control vector's length.
    refuse(
        &["DERIV01"],
        &plain,
        &pb,
        &[],
        128,
        &[],
        &des,
        (8, 2149),
        "triple CV, 128 bits",
    );
    refuse(
        &["DERIV01"],
        &plain,
        &pb,
        &[],
        256,
        &[],
        &des,
        (8, 2149),
        "DES 256 bits",
    );
    // Keys: usage, clear keys, imported keys, curves.
    let sig = generate(&card, P256, "SIG-ONLY");
    refuse(
        &["DERIV01"],
        &sig,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 39),
        "SIG-ONLY private",
    );
    refuse(
        &["DERIV01"],
        &plain,
        &sig,
        &[],
        256,
        &[],
        &skel,
        (8, 39),
        "SIG-ONLY peer",
    );
    let clear = the_bytes(
        &pkg(
            &card,
            "CLEAR",
            &the_bytes(
                &pkb_call(
                    &card,
                    &["ECC-PAIR", "KEY-MGMT", "ECC-VER1"],
                    &kvs_pair(P256, &[], &[]),
                    &[0x02, 0x01, 0x01, 0x00],
                ),
                "skeleton",
            ),
        ),
        "CLEAR",
    );
    refuse(
        &["DERIV02"],
        &clear,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 34),
        "clear key with DERIV02",
    );
    let r = edh_out(&card, &["DERIV01"], (&clear, &pb), &[], 256, &[], &skel);
    assert_eq!(codes(&r), (0, 0), "clear key with DERIV01");
    let imported = the_bytes(
        &call(
            &card,
            "CSNDPKI",
            &["ECC"],
            vec![b(&clear), b(&[]), Param::Int(900)],
        ),
        "CSNDPKI",
    );
    refuse(
        &["DERIV02"],
        &imported,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 39),
        "imported key with DERIV02",
    );
    let p384 = generate(&card, P384, "KEY-MGMT");
    refuse(
        &["DERIV01"],
        &plain,
        &pkx(&card, &p384),
        &[],
        256,
        &[],
        &skel,
        (8, 2158),
        "curves differ",
    );
    refuse(
        &["DERIV01"],
        &pb,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 770),
        "public token as private key",
    );
    let mut corrupt = a.clone();
    corrupt[8] = 0x22;
    refuse(
        &["DERIV02"],
        &corrupt,
        &pb,
        &[],
        256,
        &[],
        &skel,
        (8, 770),
        "corrupted private token",
    );
}

/// What opencryptoki's `cca_ec_ecc_key_derivation_info` reads: the section after the public
/// section (offsets from the token's start; each section's length at +2), if it is X'23',
/// and its four bytes after the 4-byte header.
fn derivation_section(token: &[u8]) -> Option<Vec<u8>> {
    let len = |at: usize| usize::from(u16::from_be_bytes([token[at + 2], token[at + 3]]));
    let private = 8;
    let public = private + len(private);
    let after = public + len(public);
    (after < token.len() && token[after] == 0x23).then(|| token[after + 4..after + 8].to_vec())
}

#[test]
fn ecc_ver1_tokens_carry_the_x23_section_opencryptoki_reads() {
    let card = new_card(75);
    load_apka(&card, 0x75);
    load_symmetric(&card);
    let data = [0x02, 0x04, 0x01, 0x00];
    let skeleton = the_bytes(
        &pkb_call(
            &card,
            &["ECC-PAIR", "KEY-MGMT", "ECC-VER1"],
            &kvs_pair(P256, &[], &[]),
            &data,
        ),
        "CSNDPKB ECC-VER1",
    );
    assert_eq!(derivation_section(&skeleton), Some(data.to_vec()));
    let key = the_bytes(&pkg(&card, "MASTER", &skeleton), "CSNDPKG");
    assert_eq!(derivation_section(&key), Some(data.to_vec()));
    // A key built without ECC-VER1 has none; the public token has none.
    assert_eq!(derivation_section(&generate(&card, P256, "KEY-MGMT")), None);
    let public = pkx(&card, &key);
    assert_eq!(
        public.len(),
        8 + usize::from(u16::from_be_bytes([public[10], public[11]]))
    );
    // The section must repeat the private section's data, with version 0.
    let n = key.len();
    for (at, what) in [(n - 1, "size differs"), (n - 7, "version")] {
        let mut bad = key.clone();
        bad[at] ^= 0x01;
        assert_refused(
            &edh_out(
                &card,
                &["DERIV02"],
                (&bad, &public),
                &[],
                256,
                &[],
                &aes_skeleton(),
            ),
            (8, 770),
            what,
        );
    }
}
