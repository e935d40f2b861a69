//! API tests of One_Way_Hash (CSNBOWH) through [`Card::execute`]: NIST / published known
//! answers for every method, chaining equivalence, and every refusal with IBM's codes.

use std::sync::Arc;

use aws_lc_rs::digest;
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Model, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

const CV_LEN: usize = 128;
const ABC: &[u8] = b"abc";
const M448: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

fn card() -> Card {
    let platform = Platform {
        entropy: Box::new(CountingSource::new(77)),
        clock: Box::new(FixedClock(1_795_740_425)),
        flash: Box::new(Arc::new(MemoryFlash::default())),
        bbram: Box::new(Arc::new(MemoryBatteryRam::default())),
    };
    Card::power_on(platform, Some(Model::Ibm4767))
        .expect("a new card powers on")
        .0
}

fn owh_raw(card: &Card, rule_array: Vec<[u8; 8]>, params: Vec<Param>) -> VerbResponse {
    card.execute(&VerbRequest {
        verb: VerbName::new("CSNBOWH").expect("valid verb name"),
        rule_array,
        params,
    })
}

fn owh(card: &Card, rule_array: &[&str], text: &[u8], cv: &[u8], hash_len: i32) -> VerbResponse {
    let ra = rule_array
        .iter()
        .map(|k| rules::element(k).expect("keyword fits"))
        .collect();
    owh_raw(
        card,
        ra,
        vec![
            Param::Bytes(text.to_vec()),
            Param::Bytes(cv.to_vec()),
            Param::Int(hash_len),
        ],
    )
}

/// Runs a successful call; returns (chaining vector, hash).
fn ok(
    card: &Card,
    rule_array: &[&str],
    text: &[u8],
    cv: &[u8],
    hash_len: i32,
) -> (Vec<u8>, Vec<u8>) {
    let r = owh(card, rule_array, text, cv, hash_len);
    assert_eq!((r.return_code, r.reason_code), (0, 0), "{rule_array:?}");
    assert!(r.rule_array.is_empty());
    match r.outputs.as_slice() {
        [Param::Bytes(cv), Param::Bytes(hash)] => {
            assert_eq!(cv.len(), CV_LEN);
            (cv.clone(), hash.clone())
        }
        other => panic!("unexpected outputs {other:?}"),
    }
}

fn refused(r: &VerbResponse, expected: (i32, i32), what: &str) {
    assert_eq!((r.return_code, r.reason_code), expected, "{what}");
    assert!(r.outputs.is_empty(), "{what}: no outputs");
    assert!(r.rule_array.is_empty(), "{what}: no rule-array output");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const ALL: [&str; 11] = [
    "MD5", "RPMD-160", "SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512", "SHA3-224", "SHA3-256",
    "SHA3-384", "SHA3-512",
];
const CHAINABLE: [&str; 5] = ["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"];
/// Methods whose chain state the card holds (SHA-3's state does not fit the vector; MD5's
/// and RIPEMD-160's libraries expose no state): the vector carries a one-use handle.
const HELD: [&str; 6] = [
    "MD5", "RPMD-160", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512",
];

fn digest_len(m: &str) -> usize {
    match m {
        "MD5" => 16,
        "RPMD-160" | "SHA-1" => 20,
        "SHA-224" | "SHA3-224" => 28,
        "SHA-256" | "SHA3-256" => 32,
        "SHA-384" | "SHA3-384" => 48,
        _ => 64,
    }
}

fn intermediate_len(m: &str) -> usize {
    match m {
        "SHA-224" => 32,
        "SHA-384" => 64,
        other => digest_len(other),
    }
}

fn block(m: &str) -> usize {
    match m {
        "SHA-384" | "SHA-512" => 128,
        "SHA3-224" => 144,
        "SHA3-256" => 136,
        "SHA3-384" => 104,
        "SHA3-512" => 72,
        _ => 64,
    }
}

/// An independent implementation of each method.
fn reference(m: &str, text: &[u8]) -> Vec<u8> {
    use md5::Digest as _;
    let aws = |alg: &'static digest::Algorithm| digest::digest(alg, text).as_ref().to_vec();
    match m {
        "MD5" => md5::Md5::digest(text).to_vec(),
        "RPMD-160" => ripemd::Ripemd160::digest(text).to_vec(),
        "SHA-1" => aws(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        "SHA-224" => aws(&digest::SHA224),
        "SHA-256" => aws(&digest::SHA256),
        "SHA-384" => aws(&digest::SHA384),
        "SHA-512" => aws(&digest::SHA512),
        "SHA3-256" => aws(&digest::SHA3_256),
        "SHA3-384" => aws(&digest::SHA3_384),
        "SHA3-512" => aws(&digest::SHA3_512),
        "SHA3-224" => sha3::Sha3_224::digest(text).to_vec(),
        other => panic!("no reference for {other}"),
    }
}

/// Hashes `text` with FIRST, MIDDLEs and LAST in chunks of `chunk` bytes.
fn chained(card: &Card, m: &str, text: &[u8], chunk: usize) -> Vec<u8> {
    assert!(text.len() > chunk);
    let hl = 64;
    let (mut cv, mut h) = ok(card, &[m, "FIRST"], &text[..chunk], &[0u8; CV_LEN], hl);
    assert_eq!(h.len(), intermediate_len(m));
    let mut at = chunk;
    while text.len() - at > chunk {
        (cv, h) = ok(card, &[m, "MIDDLE"], &text[at..at + chunk], &cv, hl);
        assert_eq!(h.len(), intermediate_len(m));
        at += chunk;
    }
    let (cv, hash) = ok(card, &["LAST", m], &text[at..], &cv, hl);
    assert_eq!(cv, vec![0u8; CV_LEN], "LAST returns the vector zeroed");
    hash
}

#[test]
fn known_answers_abc_and_448_bits() {
    let card = card();
    let abc = [
        ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
        ("RPMD-160", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
        ("SHA-1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "SHA-224",
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
        ),
        (
            "SHA-256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "SHA-384",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            "SHA-512",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            "SHA3-224",
            "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
        ),
        (
            "SHA3-256",
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
        (
            "SHA3-384",
            "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25",
        ),
        (
            "SHA3-512",
            "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
        ),
    ];
    let m448 = [
        ("MD5", "8215ef0796a20bcaaae116d3876c664a"),
        ("RPMD-160", "12a053384a9c0c88e405a06c27dcf49ada62eb2b"),
        ("SHA-1", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        (
            "SHA-224",
            "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525",
        ),
        (
            "SHA-256",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            "SHA-384",
            "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b",
        ),
        (
            "SHA-512",
            "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445",
        ),
        (
            "SHA3-224",
            "8a24108b154ada21c9fd5574494479ba5c7e7ab76ef264ead0fcce33",
        ),
        (
            "SHA3-256",
            "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376",
        ),
        (
            "SHA3-384",
            "991c665755eb3a4b6bbdfb75c78a492e8c56a22c5c4d7e429bfdbc32b9d4ad5aa04a1f076e62fea19eef51acd0657c22",
        ),
        (
            "SHA3-512",
            "04a371e84ecfb5b8b77cb48610fca8182dd457ce6f326a0fd3d7ec2f1e91636dee691fbe0c985302ba1b0d8dc78c086346b533b49c030d99a27daf1139d6e75e",
        ),
    ];
    for (text, table) in [(ABC, abc), (M448, m448)] {
        for (m, want) in table {
            let (cv, h) = ok(&card, &[m], text, &[0x5Au8; CV_LEN], 64);
            assert_eq!(
                hex(&h),
                want,
                "{m} over {:?}",
                String::from_utf8_lossy(text)
            );
            assert_eq!(cv, vec![0x5Au8; CV_LEN], "ONLY leaves the vector as it was");
            let (_, h2) = ok(
                &card,
                &["ONLY", m],
                text,
                &[0u8; CV_LEN],
                digest_len(m) as i32,
            );
            assert_eq!(h2, h);
            let r = reference(m, text);
            if !r.is_empty() {
                assert_eq!(h, r, "{m} against an independent implementation");
            }
        }
    }
}

#[test]
fn one_million_a_through_chained_middle_calls() {
    let card = card();
    let text = vec![b'a'; 1_000_000];
    for (m, hexdigest) in [
        ("MD5", "7707d6ae4e027c70eea2a935c2296f21"),
        ("RPMD-160", "52783243c1697bdbe16d37f97f68f08325dc1528"),
    ] {
        let (_, only) = ok(&card, &[m], &text, &[0u8; CV_LEN], 64);
        assert_eq!(hex(&only), hexdigest, "{m}");
    }
    let want = [
        ("SHA-1", "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
        (
            "SHA-224",
            "20794655980c91d8bbb4c1ea97618a4bf03f42581948b2ee4ee7ad67",
        ),
        (
            "SHA-256",
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        ),
        (
            "SHA-384",
            "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985",
        ),
        (
            "SHA-512",
            "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
        ),
    ];
    for (m, hexdigest) in want {
        // 128,000 bytes is a multiple of every chainable block size: FIRST, six MIDDLEs, LAST.
        let h = chained(&card, m, &text, 128_000);
        assert_eq!(hex(&h), hexdigest, "{m}");
        let (_, only) = ok(&card, &[m], &text, &[0u8; CV_LEN], 64);
        assert_eq!(only, h, "{m}: ONLY equals the chain");
    }
    let (_, h) = ok(&card, &["SHA3-256"], &text, &[0u8; CV_LEN], 32);
    assert_eq!(
        hex(&h),
        "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1"
    );
}

#[test]
fn chaining_equals_only_for_many_splits() {
    let card = card();
    let text: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
    for m in ALL {
        let only = ok(&card, &[m], &text, &[0u8; CV_LEN], 64).1;
        assert_eq!(only, reference(m, &text), "{m}");
        let b = block(m);
        for chunk in [b, 2 * b, 5 * b] {
            // Tails of every length from one byte to a whole block and more.
            for tail in [1usize, b - 1, b, b + 1, 2 * b + 17] {
                let len = chunk * 3 + tail;
                let h = chained(&card, m, &text[..len], chunk);
                assert_eq!(h, reference(m, &text[..len]), "{m} chunk {chunk} len {len}");
            }
        }
        // FIRST then LAST, no MIDDLE.
        let (cv, _) = ok(&card, &[m, "FIRST"], &text[..b], &[0u8; CV_LEN], 64);
        let (_, h) = ok(&card, &[m, "LAST"], &text[b..b + 10], &cv, 64);
        assert_eq!(h, reference(m, &text[..b + 10]));
    }
}

#[test]
fn intermediate_value_is_the_state() {
    let card = card();
    // SHA-256 over one block of zeros: the state after one compression, big-endian.
    let (_, h) = ok(&card, &["SHA-256", "FIRST"], &[0u8; 64], &[0u8; CV_LEN], 32);
    assert_eq!(
        hex(&h),
        "da5698be17b9b46962335799779fbeca8ce5d491c0d26243bafef9ea1837a9d8"
    );
    // SHA-224 and SHA-384 need the full SHA-256 / SHA-512 state in the hash field.
    let r = owh(&card, &["SHA-224", "FIRST"], &[0u8; 64], &[0u8; CV_LEN], 28);
    refused(&r, (8, 72), "SHA-224 FIRST with a 28-byte hash field");
    let (_, h) = ok(&card, &["SHA-224", "FIRST"], &[0u8; 64], &[0u8; CV_LEN], 32);
    assert_eq!(h.len(), 32);
    let r = owh(
        &card,
        &["SHA-384", "MIDDLE"],
        &[0u8; 128],
        &[0u8; CV_LEN],
        48,
    );
    refused(&r, (8, 72), "SHA-384 MIDDLE with a 48-byte hash field");
}

#[test]
fn rule_array_refusals() {
    let card = card();
    let cv = [0u8; CV_LEN];
    refused(&owh(&card, &[], ABC, &cv, 64), (8, 35), "no keyword");
    refused(
        &owh(&card, &["SHA-1", "ONLY", "FIRST"], ABC, &cv, 64),
        (8, 35),
        "three keywords",
    );
    refused(
        &owh(&card, &["SHA-2"], ABC, &cv, 64),
        (8, 33),
        "unknown method",
    );
    refused(&owh(&card, &["sha-1"], ABC, &cv, 64), (8, 33), "lower case");
    refused(
        &owh(&card, &["MD2"], ABC, &cv, 64),
        (8, 33),
        "MD2 (ICSF only)",
    );
    refused(
        &owh(&card, &["SHA-1", "BOGUS"], ABC, &cv, 64),
        (8, 33),
        "unknown flag",
    );
    refused(
        &owh(&card, &["SHA-1", "SHA-256"], ABC, &cv, 64),
        (8, 34),
        "two methods",
    );
    refused(
        &owh(&card, &["SHA-1", "SHA-1"], ABC, &cv, 64),
        (8, 34),
        "duplicate",
    );
    refused(
        &owh(&card, &["ONLY", "LAST"], ABC, &cv, 64),
        (8, 34),
        "two flags",
    );
    refused(&owh(&card, &["ONLY"], ABC, &cv, 64), (8, 34), "no method");
}

#[test]
fn length_refusals() {
    let card = card();
    let cv = [0u8; CV_LEN];
    for m in ALL {
        refused(&owh(&card, &[m], b"", &cv, 64), (8, 25), "empty text");
        refused(
            &owh(&card, &[m], ABC, &cv, digest_len(m) as i32 - 1),
            (8, 72),
            "hash field one byte short",
        );
        refused(
            &owh(&card, &[m], ABC, &cv, -1),
            (8, 72),
            "negative hash_length",
        );
        for bad in [0usize, 64, 127, 129, 256] {
            refused(
                &owh(&card, &[m], ABC, &vec![0u8; bad], 64),
                (8, 72),
                "chaining vector not 128 bytes",
            );
        }
    }
    for m in CHAINABLE {
        let b = block(m);
        for flag in ["FIRST", "MIDDLE"] {
            for len in [0, 1, b - 1, b + 1, 3 * b - 8] {
                refused(
                    &owh(&card, &[m, flag], &vec![1u8; len], &cv, 64),
                    (8, 25),
                    &format!("{m} {flag} text of {len} bytes"),
                );
            }
        }
        refused(
            &owh(&card, &[m, "LAST"], b"", &cv, 64),
            (8, 25),
            "empty LAST",
        );
        refused(
            &owh(
                &card,
                &[m, "FIRST"],
                &vec![1u8; b],
                &cv,
                intermediate_len(m) as i32 - 1,
            ),
            (8, 72),
            "FIRST hash field short",
        );
    }
}

#[test]
fn foreign_or_damaged_chaining_vectors() {
    let card = card();
    let zero = [0u8; CV_LEN];
    for m in CHAINABLE {
        let b = block(m);
        for flag in ["MIDDLE", "LAST"] {
            let text = vec![1u8; b];
            refused(
                &owh(&card, &[m, flag], &text, &zero, 64),
                (8, 72),
                "zeroed vector",
            );
        }
        let (cv, _) = ok(&card, &[m, "FIRST"], &vec![2u8; b], &zero, 64);
        for other in CHAINABLE.iter().filter(|o| **o != m) {
            let text = vec![1u8; block(other)];
            refused(
                &owh(&card, &[other, "MIDDLE"], &text, &cv, 64),
                (8, 72),
                &format!("{m} vector used for {other}"),
            );
            refused(
                &owh(&card, &[other, "LAST"], b"x", &cv, 64),
                (8, 72),
                "foreign vector at LAST",
            );
        }
        for i in [0, 5, 8, 23, 24, 60, 100, 127] {
            let mut bad = cv.clone();
            bad[i] ^= 0x40;
            refused(
                &owh(&card, &[m, "LAST"], b"x", &bad, 64),
                (8, 72),
                "altered vector",
            );
        }
        // A vector ended by LAST cannot be continued.
        let (ended, _) = ok(&card, &[m, "LAST"], b"x", &cv, 64);
        refused(
            &owh(&card, &[m, "LAST"], b"x", &ended, 64),
            (8, 72),
            "ended chain",
        );
    }
}

#[test]
fn held_chains_are_used_once_and_end_with_a_reset() {
    let card = card();
    for m in HELD {
        let text = vec![3u8; 3 * block(m)];
        let (cv, h) = ok(&card, &[m, "FIRST"], &text[..block(m)], &[0u8; CV_LEN], 64);
        assert_eq!(h, vec![0u8; digest_len(m)], "{m}: no intermediate value");
        let (cv2, _) = ok(
            &card,
            &[m, "MIDDLE"],
            &text[block(m)..2 * block(m)],
            &cv,
            64,
        );
        // The first vector was used: continuing from it again (a fork) is refused.
        refused(
            &owh(&card, &[m, "LAST"], &text[..1], &cv, 64),
            (8, 72),
            &format!("{m} reused vector"),
        );
        // Another method cannot continue it.
        let other = if m == "MD5" { "RPMD-160" } else { "MD5" };
        refused(
            &owh(&card, &[other, "LAST"], &text[..1], &cv2, 64),
            (8, 72),
            &format!("{m} vector to {other}"),
        );
        let (_, h) = ok(&card, &[m, "LAST"], &text[2 * block(m)..], &cv2, 64);
        assert_eq!(h, reference(m, &text), "{m}");
        // LAST used it up.
        refused(
            &owh(&card, &[m, "LAST"], &text[..1], &cv2, 64),
            (8, 72),
            &format!("{m} after LAST"),
        );
    }
    // A reset drops the chains the card holds.
    let (cv, _) = ok(&card, &["MD5", "FIRST"], &[1u8; 64], &[0u8; CV_LEN], 64);
    card.reset();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while owh(&card, &["MD5"], b"x", &[0u8; CV_LEN], 64).return_code != 0 {
        assert!(std::time::Instant::now() < deadline, "card ready again");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    refused(
        &owh(&card, &["MD5", "LAST"], b"x", &cv, 64),
        (8, 72),
        "chain held across a reset",
    );
}

#[test]
fn malformed_parameter_blocks() {
    let card = card();
    let ra = vec![rules::element("SHA-1").expect("fits")];
    refused(
        &owh_raw(&card, ra.clone(), vec![]),
        (8, 72),
        "no parameters",
    );
    refused(
        &owh_raw(
            &card,
            ra,
            vec![Param::Int(3), Param::Bytes(vec![0; CV_LEN]), Param::Int(20)],
        ),
        (8, 72),
        "text of the wrong type",
    );
}
