//! The verbs of the variable-length symmetric key token (version X'05', AES and HMAC keys):
//! Key_Token_Build2 (CSNBKTB2), Key_Generate2 (CSNBKGN2), Key_Part_Import2 (CSNBKPI2) and
//! Key_Token_Change2 (CSNBKTC2).
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Key Token Build2 (CSNBKTB2)"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_ktb2.html>), its parameters
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_ktb2parameters.html>: token
//!   identifier INTERNAL | EXTERNAL required; key status NO-KEY (default) | KEY-CLR, "AES
//!   CIPHER and HMAC MAC keys only"; algorithm AES | HMAC required; XPRTCPAC | NOEXCPAC
//!   (default), "Only usable with AES keys of key type CIPHER"; key type required) and its
//!   keywords reference (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_ktb2keywords.html>:
//!   V0PYLD the default payload format; "DECRYPT and ENCRYPT are defaults if neither of these
//!   keywords is specified"; each KUF/KMF is a high-order and a low-order byte).
//! - IBM Docs "CCA for Linux", "Key Generate2 (CSNBKGN2)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-key-generate2-csnbkgn2>): an
//!   algorithm keyword and a key-form keyword are required; "AES keys can be 128, 192, or 256
//!   bits", "HMAC keys can be 80 - 2048 bits"; key type TOKEN "indicates that the generated key
//!   token provided as input is to be updated"; "When generating only one copy of the key,
//!   use eight space characters for the second key-type variable".
//! - IBM Docs "CCA for Linux", "Key Part Import2 (CSNBKPI2)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-key-part-import2-csnbkpi2>):
//!   key parts are combined by XOR; FIRST, ADD-PART and COMPLETE are preferred, FIRST, MIDDLE
//!   and LAST remain; "Only when the combined key parts have been marked as complete can the
//!   key token be used in any cryptographic operation"; the partial key may be passed to
//!   Key Token Change2.
//! - IBM Docs "CCA for Linux", "Key Token Change2 (CSNBKTC2)": RTCMK re-enciphers a
//!   variable-length token from the old to the current master key.
//! - How opencryptoki calls them (`usr/lib/cca_stdll/cca_specific.c`): `INTERNAL HMAC MAC
//!   GENERATE` then KGN2 `HMAC OP` with key type `TOKEN` and bit length; `INTERNAL NO-KEY
//!   HMAC MAC GENERATE` then KPI2 `HMAC FIRST MIN1PART` (bit length of the key) and `HMAC
//!   COMPLETE`; the same for `AES CIPHER`; then it uses the GENERATE key for HMAC_Verify too.
//! - The Linux kernel's `drivers/s390/crypto/zcrypt_ccamisc.c` keeps an AES CIPHER skeleton a
//!   card's CSNBKTB2 built (rule array in `tokens::var::usage`); `tests/var.rs` checks that
//!   softcca builds the same bytes.
//!
//! Parameter blocks (IBM's pure length parameters left out where a byte string carries
//! its length; output buffers sized by IBM's length parameter sent as `Int`):
//! - CSNBKTB2: rule array 3–40; params `[Int clear_key_bit_length, Bytes clear_key_value, Bytes
//!   key_name (0 or 64), Bytes user_associated_data (0–255), Bytes token_data (empty), Bytes
//!   verb_data (empty), Int target_key_token_length]` → `[Bytes target_key_token]`.
//! - CSNBKGN2: rule array 2; params `[Int clear_key_bit_length, Bytes key_type_1 (8), Bytes
//!   key_type_2 (8), Bytes key_name_1, Bytes key_name_2, Bytes user_associated_data_1, Bytes
//!   user_associated_data_2, Bytes key_encrypting_key_identifier_1, Bytes
//!   key_encrypting_key_identifier_2, Int generated_key_identifier_1_length, Bytes
//!   generated_key_identifier_1, Int generated_key_identifier_2_length, Bytes
//!   generated_key_identifier_2]` → `[Bytes generated_key_identifier_1, Bytes
//!   generated_key_identifier_2 (empty for OP)]`.
//! - CSNBKPI2: rule array 2–3; params `[Int key_part_bit_length, Bytes key_part, Int
//!   key_identifier_length, Bytes key_identifier]` → `[Bytes key_identifier]`.
//! - CSNBKTC2: rule array 1; params `[Bytes key_identifier]` → `[Bytes key_identifier]`.
//!
//! Key Token Build2 is a host-only verb at IBM ("does not use the cryptographic
//! coprocessor"); softcca runs it in the card's verb table all the same, since it is a pure
//! function of its parameters and the card already owns the token code.
//!
//! What softcca does where IBM is silent (or where softcca could not re-read IBM's full text):
//! - The key-usage and key-management bit values are in [`crate::tokens::var::usage`], several
//!   marked **\[U\]**. MAC keys: GENONLY sets "generate", VERIFY "verify", GENERATE (the
//!   default) both — opencryptoki builds `GENERATE` keys and verifies with them. HMAC keys
//!   with no hash-method keyword allow all five methods. AES CIPHER keys with no mode keyword
//!   are ANY-MODE **\[U\]**.
//! - New tokens carry kuf = 2 and kmf = 3 (IBM's current minimum sizes: 56-byte HMAC
//!   skeleton). KMF1 defaults to XPRT-SYM, XPRTUASY, XPRTAASY and XPRT-RAW set, NOEXCPAC;
//!   KMF3 records the pedigree (skeleton unknown, KEY-CLR clear value, KGN2 random, KPI2 key
//!   parts) **\[U\]**.
//! - The rule-array minimum of CSNBKTB2 is 3 (token identifier, algorithm, key type: the only
//!   required groups); IBM's page says 4, but callers (`zkey`) pass 3 **\[I\]**.
//! - Key types EXPORTER, IMPORTER, PINPROT, PINCALC, PINPRW, DKYGENKY, SECMSG and DESUSECV
//!   are recognized and answered 8/2 until the verbs that use them exist; V1PYLD likewise.
//! - A keyword that does not belong to the algorithm and key type (ENCRYPT on a MAC key, a hash
//!   method on an AES key, XPRTCPAC on a MAC key, KEY-CLR on an AES MAC key) is 8/34.
//! - Bit lengths: AES 128/192/256, HMAC 80–2048 in whole bytes; anything else (and a non-zero
//!   length with NO-KEY) 8/43. A clear key value whose length is not the bit length's bytes is
//!   8/72. A key name of a length other than 0 or 64, user data over 255 bytes, non-empty
//!   token_data or verb_data: 8/72. A `target_key_token_length` (or
//!   `generated_key_identifier_1_length`, `key_identifier_length`) smaller than the token
//!   produced: 8/72, nothing returned.
//! - CSNBKGN2: the key forms OP and OPOP (two operational copies of one key, key types of the
//!   same kind: TOKEN/CIPHER/MAC giving tokens of one key type, 8/34 otherwise) are
//!   implemented; OPEX, OPIM, EX, IM, EXEX, IMEX and IMIM (KEK-wrapped copies) are 8/41 until
//!   AES key-encrypting keys exist. key_type_1 TOKEN
//!   takes the skeleton (or an internal token of the algorithm, whose key is replaced) from
//!   generated_key_identifier_1; CIPHER (AES) or MAC (AES, HMAC) builds IBM's default token.
//!   key_type_2 must be blank for OP and a key type for OPOP (8/33 otherwise). A non-empty key
//!   name or user data replaces the token's. With OP the second copy's parameters are
//!   ignored; both KEK identifiers play no part in OP and OPOP and are ignored. An external token, or a token of the other algorithm: 8/47.
//! - CSNBKPI2: MIN3PART, MIN2PART or MIN1PART go with FIRST (MIN2PART by default **\[U\]**);
//!   FIRST takes an internal skeleton; ADD-PART (MIDDLE) an incomplete token and a part of the
//!   same length (8/43 otherwise); COMPLETE a token whose completeness says "may be completed";
//!   LAST adds a part and completes. A process keyword that does not fit the token's
//!   completeness is 8/34. The running key is kept wrapped under the current AES master key
//!   between calls; a part token under the OLD master key is re-wrapped and answered 0/10001.
//! - CSNBKTC2: RTCMK only (8/33 otherwise; RTNMK is 8/2). A token under the old master key is
//!   re-wrapped under the current one; under the current one it is returned unchanged; a
//!   skeleton or a clear-key token is returned unchanged (nothing is enciphered in it); an
//!   external token 8/47; MKVP unknown 8/24.

use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::mk::Class;
use crate::rules::{self, Chosen, Grammar, Group};
use crate::tokens::var::{
    Algorithm, Associated, KEY_NAME_LEN, KeyState, MAX_LEN, VarKey, VarToken, key_type, unwrap_var,
    usage, wrap_var,
};
use crate::tokens::{ClearKey, MasterKeyUsed};
use crate::verbs::keys::{is_label, notice_for};
use crate::verbs::{Params, Reply};

const KTB2: Grammar = Grammar {
    min: 3,
    max: 40,
    groups: &[
        Group::required(&["INTERNAL", "EXTERNAL"]),
        Group::optional(&["NO-KEY", "KEY-CLR"], "NO-KEY"),
        Group::optional(&["V0PYLD", "V1PYLD"], "V0PYLD"),
        Group::required(&["AES", "HMAC"]),
        Group::required(&[
            "CIPHER", "MAC", "EXPORTER", "IMPORTER", "PINPROT", "PINCALC", "PINPRW", "DKYGENKY",
            "SECMSG", "DESUSECV",
        ]),
        Group::optional_none(&["XPRTCPAC", "NOEXCPAC"]),
        Group::optional_none(&["ENCRYPT"]),
        Group::optional_none(&["DECRYPT"]),
        Group::optional_none(&["C-XLATE"]),
        Group::optional_none(&["GENERATE", "GENONLY", "VERIFY"]),
        Group::optional_none(&["ANY-MODE", "CBC", "ECB", "CFB", "OFB", "GCM", "XTS"]),
        Group::optional_none(&["SHA-1"]),
        Group::optional_none(&["SHA-224"]),
        Group::optional_none(&["SHA-256"]),
        Group::optional_none(&["SHA-384"]),
        Group::optional_none(&["SHA-512"]),
        Group::optional_none(&["CMAC"]),
        Group::optional_none(&["XPRT-SYM", "NOEX-SYM"]),
        Group::optional_none(&["XPRTUASY", "NOEXUASY"]),
        Group::optional_none(&["XPRTAASY", "NOEXAASY"]),
        Group::optional_none(&["XPRT-RAW", "NOEX-RAW"]),
        Group::optional_none(&["NOEX-DES"]),
        Group::optional_none(&["NOEX-AES"]),
        Group::optional_none(&["NOEX-RSA"]),
    ],
};

/// Group indices of [`KTB2`].
mod g {
    pub const TOKEN: usize = 0;
    pub const STATUS: usize = 1;
    pub const PAYLOAD: usize = 2;
    pub const ALGORITHM: usize = 3;
    pub const KEY_TYPE: usize = 4;
    pub const CPACF: usize = 5;
    pub const ENCRYPT: usize = 6;
    pub const DECRYPT: usize = 7;
    pub const C_XLATE: usize = 8;
    pub const MAC_USE: usize = 9;
    pub const MODE: usize = 10;
    pub const SHA: [usize; 5] = [11, 12, 13, 14, 15];
    pub const CMAC: usize = 16;
    pub const XPRT_SYM: usize = 17;
    pub const XPRT_UASY: usize = 18;
    pub const XPRT_AASY: usize = 19;
    pub const XPRT_RAW: usize = 20;
    pub const NOEX_DES: usize = 21;
    pub const NOEX_AES: usize = 22;
    pub const NOEX_RSA: usize = 23;
}

/// The kind of key a token holds, as far as softcca builds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AesCipher,
    AesMac,
    HmacMac,
}

fn kind(algorithm: &str, key_type: &str) -> Result<Kind, Failure> {
    match (algorithm, key_type) {
        ("AES", "CIPHER") => Ok(Kind::AesCipher),
        ("AES", "MAC") => Ok(Kind::AesMac),
        ("HMAC", "MAC") => Ok(Kind::HmacMac),
        ("HMAC", _) => Err(Failure::KeywordCombination),
        _ => Err(Failure::NotSupported),
    }
}

fn algorithm_of(word: &str) -> Algorithm {
    if word == "AES" {
        Algorithm::Aes
    } else {
        Algorithm::Hmac
    }
}

/// The associated data Key Token Build2 writes for `chosen` (also IBM's defaults, for
/// Key Generate2's key types, when `chosen` names only the algorithm and type).
fn build_ad(chosen: &Chosen, kind: Kind) -> Result<Associated, Failure> {
    let has = |i: usize| chosen.get(i).is_some();
    let combination = Err(Failure::KeywordCombination);
    let cipher_only = [g::ENCRYPT, g::DECRYPT, g::C_XLATE, g::MODE];
    if kind != Kind::AesCipher && (cipher_only.iter().any(|&i| has(i)) || has(g::CPACF)) {
        return combination;
    }
    if kind == Kind::AesCipher && has(g::MAC_USE) {
        return combination;
    }
    if kind != Kind::HmacMac && g::SHA.iter().any(|&i| has(i)) {
        return combination;
    }
    if kind != Kind::AesMac && has(g::CMAC) {
        return combination;
    }
    let (kuf1, kuf2) = match kind {
        Kind::AesCipher => {
            let mut u = 0u16;
            if has(g::ENCRYPT) {
                u |= usage::ENCRYPT;
            }
            if has(g::DECRYPT) {
                u |= usage::DECRYPT;
            }
            if u == 0 {
                u = usage::ENCRYPT | usage::DECRYPT;
            }
            if has(g::C_XLATE) {
                u |= usage::C_XLATE;
            }
            let mode_word = chosen.get(g::MODE).unwrap_or("ANY-MODE");
            let mode = usage::MODES
                .iter()
                .find(|(k, _)| *k == mode_word)
                .map_or(0xFF, |(_, v)| *v);
            (u, u16::from(mode) << 8)
        }
        Kind::AesMac | Kind::HmacMac => {
            let u = match chosen.get(g::MAC_USE).unwrap_or("GENERATE") {
                "GENONLY" => usage::GENERATE_BIT,
                "VERIFY" => usage::VERIFY_BIT,
                _ => usage::GENERATE_BIT | usage::VERIFY_BIT,
            };
            let second = if kind == Kind::AesMac {
                usage::CMAC
            } else {
                let bits = [
                    usage::SHA_1,
                    usage::SHA_224,
                    usage::SHA_256,
                    usage::SHA_384,
                    usage::SHA_512,
                ];
                let named = g::SHA
                    .iter()
                    .zip(bits)
                    .filter(|(i, _)| has(**i))
                    .fold(0u16, |a, (_, b)| a | b);
                if named == 0 {
                    bits.iter().fold(0, |a, b| a | b)
                } else {
                    named
                }
            };
            (u, second)
        }
    };
    let mut kmf1 = usage::XPRT_SYM | usage::XPRT_UASY | usage::XPRT_AASY | usage::XPRT_RAW;
    for (group, bit, no) in [
        (g::XPRT_SYM, usage::XPRT_SYM, "NOEX-SYM"),
        (g::XPRT_UASY, usage::XPRT_UASY, "NOEXUASY"),
        (g::XPRT_AASY, usage::XPRT_AASY, "NOEXAASY"),
        (g::XPRT_RAW, usage::XPRT_RAW, "NOEX-RAW"),
    ] {
        if chosen.get(group) == Some(no) {
            kmf1 &= !bit;
        }
    }
    if chosen.get(g::CPACF) == Some("XPRTCPAC") {
        kmf1 |= usage::XPRT_CPAC;
    }
    for (group, bit) in [
        (g::NOEX_DES, usage::NOEX_DES),
        (g::NOEX_AES, usage::NOEX_AES),
        (g::NOEX_RSA, usage::NOEX_RSA),
    ] {
        if has(group) {
            kmf1 |= bit;
        }
    }
    let (algorithm, key_type) = match kind {
        Kind::AesCipher => (Algorithm::Aes, key_type::CIPHER),
        Kind::AesMac => (Algorithm::Aes, key_type::MAC),
        Kind::HmacMac => (Algorithm::Hmac, key_type::MAC),
    };
    Ok(Associated {
        algorithm,
        key_type,
        kuf: vec![kuf1, kuf2],
        kmf: vec![kmf1, 0, usage::PEDIGREE_UNKNOWN],
        key_name: Vec::new(),
        iead: Vec::new(),
        uad: Vec::new(),
    })
}

/// A key bit length IBM accepts for the algorithm: AES 128/192/256, HMAC 80–2048 in whole
/// bytes. Returns the length in bytes.
fn key_bytes(algorithm: Algorithm, bits: i32) -> Result<usize, Failure> {
    let ok = match algorithm {
        Algorithm::Aes => matches!(bits, 128 | 192 | 256),
        Algorithm::Hmac => (80..=2048).contains(&bits) && bits % 8 == 0,
    };
    if ok {
        usize::try_from(bits / 8).map_err(|_| Failure::KeyLength)
    } else {
        Err(Failure::KeyLength)
    }
}

fn check_name_and_uad(name: &[u8], uad: &[u8]) -> Result<(), Failure> {
    if !matches!(name.len(), 0 | KEY_NAME_LEN) || uad.len() > 255 {
        return Err(Failure::Length);
    }
    Ok(())
}

/// The output buffer the caller declared must hold the token.
fn fits(declared: i32, token: &[u8]) -> Result<(), Failure> {
    match usize::try_from(declared) {
        Ok(n) if n >= token.len() => Ok(()),
        _ => Err(Failure::Length),
    }
}

pub(crate) fn csnbktb2(
    _card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KTB2, rule_array)?;
    p.expect_len(7)?;
    let bits = p.int(0)?;
    let clear = p.bytes(1)?;
    let name = p.bytes(2)?;
    let uad = p.bytes(3)?;
    let declared = p.int(6)?;
    if !p.bytes(4)?.is_empty() || !p.bytes(5)?.is_empty() {
        return Err(Failure::Length);
    }
    check_name_and_uad(name, uad)?;
    let algorithm = chosen
        .get(g::ALGORITHM)
        .ok_or(Failure::KeywordCombination)?;
    let key_type = chosen.get(g::KEY_TYPE).ok_or(Failure::KeywordCombination)?;
    let kind = kind(algorithm, key_type)?;
    if chosen.get(g::PAYLOAD) == Some("V1PYLD") {
        return Err(Failure::NotSupported);
    }
    let mut ad = build_ad(&chosen, kind)?;
    ad.key_name = name.to_vec();
    ad.uad = uad.to_vec();
    let internal = chosen.get(g::TOKEN) == Some("INTERNAL");
    let token = if chosen.get(g::STATUS) == Some("KEY-CLR") {
        if kind == Kind::AesMac {
            return Err(Failure::KeywordCombination);
        }
        let n = key_bytes(algorithm_of(algorithm), bits)?;
        if clear.len() != n {
            return Err(Failure::Length);
        }
        ad.kmf[2] = usage::PEDIGREE_CLEAR;
        VarKey::clear(internal, ad, clear)?
    } else {
        if bits != 0 {
            return Err(Failure::KeyLength);
        }
        VarKey::skeleton(internal, ad)
    };
    let bytes = token.to_bytes();
    fits(declared, &bytes)?;
    Ok(Reply::outputs(vec![Param::Bytes(bytes)]))
}

const KGN2: Grammar = Grammar {
    min: 2,
    max: 2,
    groups: &[
        Group::required(&["AES", "HMAC"]),
        Group::required(&[
            "OP", "EX", "IM", "OPOP", "OPEX", "OPIM", "EXEX", "IMEX", "IMIM",
        ]),
    ],
};

/// A key-type parameter: eight bytes, a keyword left-aligned and blank-padded (or all
/// blanks: `None`).
fn key_type_param(bytes: &[u8]) -> Result<Option<String>, Failure> {
    let element: rules::Element = bytes.try_into().map_err(|_| Failure::Length)?;
    if element == [b' '; 8] {
        return Ok(None);
    }
    rules::keyword(&element).map(|k| Some(k.to_owned()))
}

pub(crate) fn csnbkgn2(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KGN2, rule_array)?;
    p.expect_len(13)?;
    let algorithm_word = chosen.get(0).ok_or(Failure::KeywordCombination)?;
    let two = match chosen.get(1) {
        Some("OP") => false,
        Some("OPOP") => true,
        _ => return Err(Failure::KeyForm),
    };
    let n = key_bytes(algorithm_of(algorithm_word), p.int(0)?)?;
    let type_1 = key_type_param(p.bytes(1)?)?;
    let type_2 = key_type_param(p.bytes(2)?)?;
    if type_2.is_some() != two {
        return Err(Failure::Keyword);
    }
    let first = template(
        algorithm_word,
        type_1.as_deref(),
        p.bytes(10)?,
        p.bytes(3)?,
        p.bytes(5)?,
    )?;
    let second = match type_2.as_deref() {
        Some(t) => {
            let second = template(
                algorithm_word,
                Some(t),
                p.bytes(12)?,
                p.bytes(4)?,
                p.bytes(6)?,
            )?;
            if second.ad.key_type != first.ad.key_type {
                return Err(Failure::KeywordCombination);
            }
            Some(second)
        }
        None => None,
    };
    let mut key = zeroize::Zeroizing::new(vec![0u8; n]);
    card.random(&mut key)?;
    let wrap = |t: &VarKey| card.with_current_master_key(Class::Aes, |mk| wrap_var(mk, t, &key));
    let bytes_1 = wrap(&first)?.to_bytes();
    fits(p.int(9)?, &bytes_1)?;
    let bytes_2 = match &second {
        Some(t) => {
            let b = wrap(t)?.to_bytes();
            fits(p.int(11)?, &b)?;
            b
        }
        None => Vec::new(),
    };
    Ok(Reply::outputs(vec![
        Param::Bytes(bytes_1),
        Param::Bytes(bytes_2),
    ]))
}

/// The token Key Generate2 fills for one copy: the skeleton (or internal token of the
/// algorithm) in `target` for key type TOKEN, IBM's default token for CIPHER or MAC; a
/// non-empty key name or user data replaces the token's.
fn template(
    algorithm_word: &str,
    key_type: Option<&str>,
    target: &[u8],
    name: &[u8],
    uad: &[u8],
) -> Result<VarKey, Failure> {
    check_name_and_uad(name, uad)?;
    let algorithm = algorithm_of(algorithm_word);
    let mut template = match key_type {
        Some("TOKEN") => {
            if is_label(target) {
                return Err(Failure::KeyTokenInvalid);
            }
            match VarToken::parse(target)? {
                VarToken::Key(t) if t.internal && t.ad.algorithm == algorithm => t,
                _ => return Err(Failure::KeyTokenInvalid),
            }
        }
        Some(word @ ("CIPHER" | "MAC")) => {
            let kind = kind(algorithm_word, word).map_err(|_| Failure::Keyword)?;
            let defaults: Vec<rules::Element> = ["INTERNAL", algorithm_word, word]
                .iter()
                .filter_map(|k| rules::element(k))
                .collect();
            VarKey::skeleton(true, build_ad(&rules::parse(&KTB2, &defaults)?, kind)?)
        }
        Some(_) | None => return Err(Failure::Keyword),
    };
    if !name.is_empty() {
        template.ad.key_name = name.to_vec();
    }
    if !uad.is_empty() {
        template.ad.uad = uad.to_vec();
    }
    while template.ad.kmf.len() < 3 {
        template.ad.kmf.push(0);
    }
    template.ad.kmf[1] &= !usage::PARTS_TWO_MORE;
    template.ad.kmf[2] = usage::PEDIGREE_RANDOM;
    Ok(template)
}

const KPI2: Grammar = Grammar {
    min: 2,
    max: 3,
    groups: &[
        Group::required(&["AES", "HMAC"]),
        Group::required(&["FIRST", "ADD-PART", "COMPLETE", "MIDDLE", "LAST"]),
        Group::optional_none(&["MIN3PART", "MIN2PART", "MIN1PART"]),
    ],
};

pub(crate) fn csnbkpi2(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KPI2, rule_array)?;
    p.expect_len(4)?;
    let algorithm = algorithm_of(chosen.get(0).ok_or(Failure::KeywordCombination)?);
    let process = chosen.get(1).ok_or(Failure::KeywordCombination)?;
    let minimum = chosen.get(2);
    if minimum.is_some() && process != "FIRST" {
        return Err(Failure::KeywordCombination);
    }
    let bits = p.int(0)?;
    let part = p.bytes(1)?;
    let declared = p.int(2)?;
    let identifier = p.bytes(3)?;
    if is_label(identifier) {
        return Err(Failure::KeyTokenInvalid);
    }
    let token = match VarToken::parse(identifier)? {
        VarToken::Key(t) if t.internal && t.ad.algorithm == algorithm => t,
        _ => return Err(Failure::KeyTokenInvalid),
    };
    if !(token.is_aes_cipher() || token.is_hmac_mac() || is_aes_mac(&token)) {
        return Err(Failure::NotSupported);
    }
    let parts = token.ad.kmf(1) & usage::PARTS_TWO_MORE;
    let (token, notice) = match process {
        "FIRST" => {
            if token.wrapping.state != KeyState::Skeleton {
                return Err(Failure::KeywordCombination);
            }
            let n = key_bytes(algorithm, bits)?;
            if part.len() != n {
                return Err(Failure::Length);
            }
            let mut template = token;
            while template.ad.kmf.len() < 3 {
                template.ad.kmf.push(0);
            }
            let need = match minimum.unwrap_or("MIN2PART") {
                "MIN3PART" => usage::PARTS_TWO_MORE,
                "MIN2PART" => usage::PARTS_ONE_MORE,
                _ => usage::PARTS_COMPLETABLE,
            };
            template.ad.kmf[1] = (template.ad.kmf[1] & !usage::PARTS_TWO_MORE) | need;
            template.ad.kmf[2] = usage::PEDIGREE_PARTS;
            let t = card.with_current_master_key(Class::Aes, |mk| wrap_var(mk, &template, part))?;
            (t, None)
        }
        _ => {
            if token.wrapping.state != KeyState::UnderMk || parts == 0 {
                return Err(Failure::KeywordCombination);
            }
            let (key, used) =
                card.with_master_keys(Class::Aes, |cur, old| unwrap_var(&token, cur, old))?;
            let adds = matches!(process, "ADD-PART" | "MIDDLE" | "LAST");
            let completes = matches!(process, "COMPLETE" | "LAST");
            let mut next = parts;
            let mut value = zeroize::Zeroizing::new(key.expose().to_vec());
            if adds {
                if usize::try_from(bits).ok() != Some(value.len() * 8) {
                    return Err(Failure::KeyLength);
                }
                if part.len() != value.len() {
                    return Err(Failure::Length);
                }
                for (v, q) in value.iter_mut().zip(part) {
                    *v ^= q;
                }
                next = match parts {
                    usage::PARTS_TWO_MORE => usage::PARTS_ONE_MORE,
                    _ => usage::PARTS_COMPLETABLE,
                };
            }
            if completes {
                if next != usage::PARTS_COMPLETABLE {
                    return Err(Failure::KeywordCombination);
                }
                next = 0;
            }
            let mut template = token;
            template.ad.kmf[1] = (template.ad.kmf[1] & !usage::PARTS_TWO_MORE) | next;
            let t = rewrap(card, &template, &ClearKey::new(&value))?;
            (t, used.and_then(notice_for))
        }
    };
    let bytes = token.to_bytes();
    fits(declared, &bytes)?;
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(bytes)],
        ..Reply::default()
    })
}

fn is_aes_mac(t: &VarKey) -> bool {
    t.ad.algorithm == Algorithm::Aes && t.ad.key_type == key_type::MAC
}

fn rewrap(card: &Card, template: &VarKey, key: &ClearKey) -> Result<VarKey, Failure> {
    card.with_current_master_key(Class::Aes, |mk| wrap_var(mk, template, key.expose()))
}

const KTC2: Grammar = Grammar {
    min: 1,
    max: 1,
    groups: &[Group::required(&["RTCMK", "RTNMK"])],
};

pub(crate) fn csnbktc2(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KTC2, rule_array)?;
    if chosen.get(0) != Some("RTCMK") {
        return Err(Failure::NotSupported);
    }
    p.expect_len(1)?;
    let identifier = p.bytes(0)?;
    if is_label(identifier) {
        return Err(Failure::KeyTokenInvalid);
    }
    let token = match VarToken::parse(identifier)? {
        VarToken::Key(t) if t.internal => t,
        _ => return Err(Failure::KeyTokenInvalid),
    };
    if token.wrapping.state != KeyState::UnderMk {
        return Ok(Reply::outputs(vec![Param::Bytes(identifier.to_vec())]));
    }
    let (key, used) = card.with_master_keys(Class::Aes, |cur, old| unwrap_var(&token, cur, old))?;
    let out = if used == Some(MasterKeyUsed::Old) {
        rewrap(card, &token, &key)?.to_bytes()
    } else {
        identifier.to_vec()
    };
    debug_assert!(out.len() <= MAX_LEN);
    Ok(Reply::outputs(vec![Param::Bytes(out)]))
}
