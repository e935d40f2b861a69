//! Key_Test (CSNBKYT) and Key_Test_Extended (CSNBKYTX): a verification pattern of a DES key
//! or key part, generated or verified, that reveals nothing of the key but equality.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Key Test (CSNBKYT)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-key-test-csnbkyt>): GENERATE
//!   returns, VERIFY takes, two 8-byte variables `value_1` (formerly `random_number`) and
//!   `value_2` (formerly `verification_pattern`); a VERIFY mismatch is 4/1; with ENC-ZERO,
//!   `value_2` holds the 4-byte pattern in its high-order bytes, the low-order 4 bytes
//!   "unspecified", and `value_1` is unused; the default method is for single and double
//!   keys, ENC-ZERO also takes triple keys. Its parameters
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_kytparameters.html>): rule count
//!   2–5; process GENERATE | VERIFY; key rule KEY-CLR, KEY-CLRD, KEY-CLRT, KEY-ENC,
//!   KEY-ENCD, KEY-ENCT, KEY-KM, KEY-NKM, KEY-OKM, CLR-A128, CLR-A192, CLR-A256, TOKEN;
//!   master-key selector; parity adjustment ADJUST | NOADJUST; verification process ENC-ZERO,
//!   MDC-4, SHA-1, SHA-256.
//! - IBM Docs "CCA for Linux", "Key Test Extended (CSNBKYTX)"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_kyt_ext.html>) and its parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbkytx-parameters>): the same,
//!   for internal **and external** keys and key parts, no clear keys (KEY-CLR, KEY-CLRD,
//!   CLR-A128… are not accepted), plus a `kek_key_identifier`.
//! - CCA254 "Key_Test" (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=209>,
//!   p=210): a clear key sits in bytes 0–7 (KEY-CLR) or 0–15 (KEY-CLRD) of `key_identifier`;
//!   `random_number` "must be specified" even with ENC-ZERO.
//! - The DES verification algorithm, IBM Docs "CCA for Linux", "CCA DES-key verification
//!   algorithm" (softcca fact sheet §5): KKR′ = KKR ⊕ RN (KKR = 0 for a single key);
//!   X1 = e_{X'4545454545454545'}(KKL); K2 = X1 ⊕ KKL; VP = e_K2(KKR′) ⊕ KKR′; single DES
//!   throughout.
//! - 4/195, LOZ "Reason codes that accompany return code 4"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_retcode4reasoncodes.html>): "The key
//!   or key-part rule keyword provided does not match the length of the key in the
//!   enciphered key token. The output is based on the length specified".
//!
//! Parameter blocks:
//! - CSNBKYT: rule array 2–5; params `[Bytes key_identifier, Bytes value_1 (8), Bytes
//!   value_2 (8)]`. `key_identifier` is a 64-byte internal token, or the clear key
//!   (at least 8, 16, 24 bytes for KEY-CLR, KEY-CLRD, KEY-CLRT; its leftmost bytes are the
//!   key; with KEY-KM, KEY-NKM, KEY-OKM it is not read). GENERATE → outputs `[Bytes
//!   value_1 (8), Bytes value_2 (8)]`; VERIFY → no outputs, 0/0 or 4/1.
//! - CSNBKYTX: rule array 2–5; params `[Bytes key_identifier (64), Bytes value_1 (8), Bytes
//!   value_2 (8), Bytes kek_key_identifier (64)]`; outputs as CSNBKYT.
//!
//! What softcca does (choices are listed in ARCHITECTURE.md):
//! - DES keys and the master-key registers. The AES key keywords (CLR-A128, CLR-A192,
//!   CLR-A256, TOKEN) and the MDC-4 method are recognized and answered 8/2 for now; a
//!   master-key selector with a DES key rule is 8/34.
//! - Master keys (KEY-KM current, KEY-NKM new — full or partial, KEY-OKM old): IBM Docs "CCA
//!   for Linux", "SHA-1 based master-key verification method"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_c_apdasha.html>): for SYM-MK and
//!   ASYM-MK, SHA-1(X'01' ‖ register) gives `value_1` (bytes 0–7) and `value_2` (bytes
//!   8–15); "SHA-256 based master-key verification method" (topic
//!   verification-sha-256-based-master-key-method): for AES-MK and APKA-MK, the leftmost
//!   eight bytes of SHA-256(X'01' ‖ register) in `value_2`, `value_1` unused (zeros; not
//!   compared by VERIFY). The method keyword may be left out or name the class's method
//!   (SHA-1, SHA-256); ENC-ZERO or the other method is 8/34. Without a selector, IBM tests SYM-MK
//!   and ASYM-MK together, "which must have the same key": softcca tests SYM-MK and answers
//!   8/34 when the two registers differ (**IBM is silent** on the code). An empty register:
//!   12/764 (**IBM is silent**; the "master keys not loaded" code). ADJUST with a master key
//!   is 8/34 (IBM: not valid with AES-MK; softcca refuses it for every register).
//! - Default method: IBM's DES verification algorithm for single and double keys. A triple
//!   key (KEY-CLRT, KEY-ENCT) needs ENC-ZERO: 8/34 otherwise (IBM documents the default
//!   method only for single and double keys).
//! - ENC-ZERO: eight zero bytes enciphered by the key — DES for a single key, TDES-EDE2 for a
//!   double, TDES-EDE3 for a triple — and the left four bytes kept. **IBM is silent** on the
//!   "unspecified" low-order bytes: softcca returns them as zeros and ignores them in VERIFY;
//!   `value_1` is returned as eight zero bytes.
//! - GENERATE draws `value_1` (the random number) from the card's DRBG.
//! - Partial keys (key-part bit on) are accepted, as IBM says. A token under the old master
//!   key gives 0/10001 unless VERIFY fails (4/1 then). A key-rule length that differs from
//!   the token's: 4/195, computed on the length the keyword names — a longer token is cut,
//!   a shorter one is **padded with zero bytes** (IBM is silent on how).
//! - ADJUST sets odd parity on the (clear) key before the computation; NOADJUST (default)
//!   uses the key as it is.
//! - CSNBKYTX: an internal token is deciphered under the master key (the KEK parameter is
//!   then ignored, **IBM is silent**: softcca accepts any 64-byte value there); an external
//!   token under `kek_key_identifier`, an internal DES token of a key-encrypting-key type
//!   (main type B'0100', CV bits 8–11) — another type is 8/39, a partial KEK 8/39. The
//!   external key is deciphered as IBM's "Multiple decipherment" describes: for each key
//!   part, TDES-EDE under KEK_L ⊕ CV, KEK_R ⊕ CV, KEK_L ⊕ CV (KEK_M ⊕ CV in the middle for a
//!   triple KEK), with the left CV half for part A and the right for parts B and C — by
//!   `tokens::wrap::unwrap_under_kek`, the function Key_Import uses (the same **\[I\]**); a
//!   single-length KEK is 8/47 there, as in Key_Import.

use ::des::cipher::generic_array::GenericArray;
use ::des::cipher::{BlockEncrypt, KeyInit};
use ::des::{Des, TdesEde2, TdesEde3};
use aws_lc_rs::digest;
use softcca_wire::Param;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::{Class, MasterKey};
use crate::rules::{self, Grammar, Group};
use crate::tokens::des::DesToken;
use crate::tokens::wrap;
use crate::tokens::{ClearKey, KeyLength};
use crate::verbs::keys::{is_label, notice_for};
use crate::verbs::{Params, Reply};

const KEY_RULES: &[&str] = &[
    "KEY-CLR", "KEY-CLRD", "KEY-CLRT", "KEY-ENC", "KEY-ENCD", "KEY-ENCT", "KEY-KM", "KEY-NKM",
    "KEY-OKM", "CLR-A128", "CLR-A192", "CLR-A256", "TOKEN",
];

const KYT: Grammar = Grammar {
    min: 2,
    max: 5,
    groups: &[
        Group::required(&["GENERATE", "VERIFY"]),
        Group::required(KEY_RULES),
        Group::optional_none(&["SYM-MK", "ASYM-MK", "AES-MK", "APKA-MK"]),
        Group::optional(&["NOADJUST", "ADJUST"], "NOADJUST"),
        Group::optional_none(&["ENC-ZERO", "MDC-4", "SHA-1", "SHA-256"]),
    ],
};

/// The key to test, deciphered, with what the verb reports about it.
struct Tested {
    key: ClearKey,
    notice: Option<Notice>,
}

pub(crate) fn csnbkyt(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    p.expect_len(3)?;
    run(card, rule_array, p, false)
}

pub(crate) fn csnbkytx(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    p.expect_len(4)?;
    run(card, rule_array, p, true)
}

fn run(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
    extended: bool,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KYT, rule_array)?;
    let generate = chosen.get(0) == Some("GENERATE");
    let key_rule = chosen.get(1).unwrap_or("KEY-ENC");
    let adjust = chosen.get(3) == Some("ADJUST");
    let method = chosen.get(4);
    let clear_rule = matches!(key_rule, "KEY-CLR" | "KEY-CLRD" | "KEY-CLRT");
    if extended && (clear_rule || key_rule.starts_with("CLR-A")) {
        return Err(Failure::Keyword);
    }
    let length = match key_rule {
        "KEY-CLR" | "KEY-ENC" => KeyLength::Single,
        "KEY-CLRD" | "KEY-ENCD" => KeyLength::Double,
        "KEY-CLRT" | "KEY-ENCT" => KeyLength::Triple,
        "KEY-KM" | "KEY-NKM" | "KEY-OKM" => {
            return master_key(card, &chosen, p, generate);
        }
        _ => return Err(Failure::NotSupported),
    };
    if chosen.get(2).is_some() {
        // A master-key selector with a DES key rule.
        return Err(Failure::KeywordCombination);
    }
    match method {
        None if length == KeyLength::Triple => return Err(Failure::KeywordCombination),
        None | Some("ENC-ZERO") => {}
        Some(_) => return Err(Failure::KeywordCombination),
    }
    let identifier = p.bytes(0)?;
    let value_1 = p.bytes(1)?;
    let value_2 = p.bytes(2)?;
    if value_1.len() != 8 || value_2.len() != 8 {
        return Err(Failure::Length);
    }
    let tested = if clear_rule {
        if identifier.len() < length.bytes() || identifier.len() > 64 {
            return Err(Failure::Length);
        }
        Tested {
            key: ClearKey::new(&identifier[..length.bytes()]),
            notice: None,
        }
    } else if extended {
        key_from_token_or_external(card, identifier, p.bytes(3)?, length)?
    } else {
        key_from_internal(card, identifier, length)?
    };
    let mut key = Zeroizing::new(tested.key.expose().to_vec());
    if adjust {
        crate::mk::adjust_odd_parity(&mut key);
    }
    let (v1, v2) = match method {
        Some(_) => ([0u8; 8], enc_zero(&key)),
        None => {
            let rn: [u8; 8] = if generate {
                let mut r = [0u8; 8];
                card.random(&mut r)?;
                r
            } else {
                value_1.try_into().map_err(|_| Failure::Length)?
            };
            (rn, des_pattern(&key, &rn))
        }
    };
    if generate {
        return Ok(Reply {
            notice: tested.notice,
            outputs: vec![Param::Bytes(v1.to_vec()), Param::Bytes(v2.to_vec())],
            ..Reply::default()
        });
    }
    let matches = match method {
        Some(_) => v2[..4] == value_2[..4],
        None => v2.as_slice() == value_2,
    };
    Ok(Reply {
        notice: if matches {
            tested.notice
        } else {
            Some(Notice::VerificationFailed)
        },
        ..Reply::default()
    })
}

/// KEY-KM, KEY-NKM, KEY-OKM: the SHA-1 or SHA-256 pattern of a master-key register.
fn master_key(
    card: &Card,
    chosen: &rules::Chosen,
    p: Params,
    generate: bool,
) -> Result<Reply, Failure> {
    let which = match chosen.get(1) {
        Some("KEY-KM") => 0,
        Some("KEY-NKM") => 1,
        _ => 2,
    };
    let class = match chosen.get(2) {
        Some("ASYM-MK") => Class::Asym,
        Some("AES-MK") => Class::Aes,
        Some("APKA-MK") => Class::Apka,
        _ => Class::Sym,
    };
    if chosen.get(3) == Some("ADJUST") {
        return Err(Failure::KeywordCombination);
    }
    let sha1 = matches!(class, Class::Sym | Class::Asym);
    match chosen.get(4) {
        None => {}
        Some("SHA-1") if sha1 => {}
        Some("SHA-256") if !sha1 => {}
        Some("MDC-4") if sha1 => return Err(Failure::NotSupported),
        Some(_) => return Err(Failure::KeywordCombination),
    }
    let value_1 = p.bytes(1)?;
    let value_2 = p.bytes(2)?;
    if value_1.len() != 8 || value_2.len() != 8 {
        return Err(Failure::Length);
    }
    let hash = |mk: Option<&MasterKey>| -> Result<[u8; 16], Failure> {
        let mk = mk.ok_or(Failure::MasterKeyNotLoaded)?;
        let algorithm = if sha1 {
            &digest::SHA1_FOR_LEGACY_USE_ONLY
        } else {
            &digest::SHA256
        };
        let mut ctx = digest::Context::new(algorithm);
        ctx.update(&[0x01]);
        ctx.update(mk.expose());
        let d = ctx.finish();
        let mut out = [0u8; 16];
        if sha1 {
            out.copy_from_slice(&d.as_ref()[..16]);
        } else {
            out[8..].copy_from_slice(&d.as_ref()[..8]);
        }
        Ok(out)
    };
    let h = card.with_register(class, which, hash)?;
    if chosen.get(2).is_none() {
        // No selector: SYM-MK and ASYM-MK must hold the same key.
        let other = card.with_register(Class::Asym, which, hash)?;
        if other != h {
            return Err(Failure::KeywordCombination);
        }
    }
    if generate {
        return Ok(Reply::outputs(vec![
            Param::Bytes(h[..8].to_vec()),
            Param::Bytes(h[8..].to_vec()),
        ]));
    }
    let matches = h[8..] == *value_2 && (!sha1 || h[..8] == *value_1);
    Ok(Reply {
        notice: (!matches).then_some(Notice::VerificationFailed),
        ..Reply::default()
    })
}

/// The key of an internal token, cut or padded to `length` (4/195 when they differ).
fn key_from_internal(card: &Card, identifier: &[u8], length: KeyLength) -> Result<Tested, Failure> {
    let k = card.des_key_or_part(identifier)?;
    Ok(fit(&k.key, length, notice_for(k.used)))
}

fn fit(key: &ClearKey, length: KeyLength, notice: Option<Notice>) -> Tested {
    let have = key.expose();
    if have.len() == length.bytes() {
        return Tested {
            key: key.clone(),
            notice,
        };
    }
    let mut v = Zeroizing::new(vec![0u8; length.bytes()]);
    for (o, b) in v.iter_mut().zip(have) {
        *o = *b;
    }
    Tested {
        key: ClearKey::new(&v),
        notice: Some(Notice::KeyLengthMismatch),
    }
}

/// CSNBKYTX: an internal token under the master key, or an external one under the KEK.
fn key_from_token_or_external(
    card: &Card,
    identifier: &[u8],
    kek_identifier: &[u8],
    length: KeyLength,
) -> Result<Tested, Failure> {
    if is_label(identifier) {
        return Err(Failure::KeyTokenInvalid);
    }
    let external = match DesToken::parse(identifier)? {
        DesToken::Internal(_) => return key_from_internal(card, identifier, length),
        DesToken::Null => return Err(Failure::KeyTokenInvalid),
        DesToken::External(e) => e,
    };
    let kek = card.des_key(kek_identifier)?;
    if !is_kek(&kek.token.fields.cv_left) {
        return Err(Failure::ControlVector);
    }
    let clear = wrap::unwrap_under_kek(&external, &kek.key)?;
    Ok(fit(&clear, length, notice_for(kek.used)))
}

/// Main key type B'0100' (CV bits 8–11): a key-encrypting key.
fn is_kek(cv_left: &[u8; 8]) -> bool {
    cv_left[1] >> 4 == 0b0100
}

fn des_encrypt(key: &[u8], block: &[u8; 8]) -> [u8; 8] {
    let mut b = GenericArray::clone_from_slice(block);
    match key.len() {
        16 => TdesEde2::new(GenericArray::from_slice(key)).encrypt_block(&mut b),
        24 => TdesEde3::new(GenericArray::from_slice(key)).encrypt_block(&mut b),
        _ => Des::new(GenericArray::from_slice(&key[..8])).encrypt_block(&mut b),
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&b);
    out
}

/// ENC-ZERO: the key enciphers eight zero bytes; the left four bytes are the pattern.
fn enc_zero(key: &[u8]) -> [u8; 8] {
    let e = des_encrypt(key, &[0u8; 8]);
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&e[..4]);
    out
}

/// IBM's DES key-verification algorithm for a single (8-byte) or double (16-byte) key.
fn des_pattern(key: &[u8], rn: &[u8; 8]) -> [u8; 8] {
    let mut kkl = [0u8; 8];
    kkl.copy_from_slice(&key[..8]);
    let mut kkr = [0u8; 8];
    if key.len() >= 16 {
        kkr.copy_from_slice(&key[8..16]);
    }
    let mut kkr1 = [0u8; 8];
    for i in 0..8 {
        kkr1[i] = kkr[i] ^ rn[i];
    }
    let x1 = des_encrypt(&[0x45; 8], &kkl);
    let mut k2 = Zeroizing::new([0u8; 8]);
    for i in 0..8 {
        k2[i] = x1[i] ^ kkl[i];
    }
    let e = des_encrypt(k2.as_slice(), &kkr1);
    let mut vp = [0u8; 8];
    for i in 0..8 {
        vp[i] = e[i] ^ kkr1[i];
    }
    kkl.iter_mut().for_each(|b| *b = 0);
    vp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn enc_zero_known_answers() {
        // DES of 8 zero bytes under 0123456789ABCDEF is D5D44FF720683D0D (the classic
        // FIPS 81 / "Applied Cryptography" test key); EDE2 with K1 = K2 equals single DES.
        let k = hex::decode("0123456789ABCDEF").unwrap();
        assert_eq!(hex::encode(enc_zero(&k)), "d5d44ff700000000");
        let kk = [k.clone(), k.clone()].concat();
        assert_eq!(enc_zero(&kk), enc_zero(&k));
        let kkk = [k.clone(), k.clone(), k].concat();
        assert_eq!(
            des_encrypt(&kkk, &[0; 8])[..4],
            hex::decode("d5d44ff7").unwrap()[..]
        );
    }

    #[test]
    fn des_pattern_is_ibm_algorithm_by_hand() {
        let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let rn = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
        // Single DES only, spelled out with the RustCrypto cipher directly.
        let d = |k: &[u8], b: &[u8]| {
            let mut x = GenericArray::clone_from_slice(b);
            Des::new(GenericArray::from_slice(k)).encrypt_block(&mut x);
            x.to_vec()
        };
        let kkr1: Vec<u8> = key[8..].iter().zip(rn).map(|(a, b)| a ^ b).collect();
        let x1 = d(&[0x45; 8], &key[..8]);
        let k2: Vec<u8> = x1.iter().zip(&key[..8]).map(|(a, b)| a ^ b).collect();
        let vp: Vec<u8> = d(&k2, &kkr1)
            .iter()
            .zip(&kkr1)
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(des_pattern(&key, &rn).to_vec(), vp);
        // A single key uses KKR = 0.
        let single = des_pattern(&key[..8], &rn);
        let x: Vec<u8> = d(&k2, &rn).iter().zip(rn).map(|(a, b)| a ^ b).collect();
        assert_eq!(single.to_vec(), x);
    }
}
