//! Symmetric_Algorithm_Encipher (CSNBSAE) and Symmetric_Algorithm_Decipher (CSNBSAD): AES
//! in ECB, CBC (with chaining across calls), CBC with PKCS padding, and GCM, with a clear key
//! or a fixed-length AES key token.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Symmetric Algorithm Encipher (CSNBSAE)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=data-symmetric-algorithm-encipher-csnbsae>):
//!   keys may be "a cleartext key consisting of only the key bytes", a clear key in an
//!   internal AES token, or a key enciphered under the AES master key; the algorithm keyword
//!   AES; an optional processing rule CBC (the default), ECB, GCM or PKCS-PAD; an optional key
//!   rule KEY-CLR (the default) or KEYIDENT; for CBC and ECB an optional ICV selection INITIAL
//!   (the default) or CONTINUE.
//! - Its parameters (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbsae-parameters>):
//!   rule-array count 1–5; DES is "only valid with keywords A28MACGN, A28MACVR, A28OWFEC, and
//!   A28OWFCL" and then needs a processing rule; CBC places an OCV in the chaining data and
//!   CONTINUE uses the previous OCV as the ICV; ECB and CBC need a multiple of the block
//!   size; GCM text up to 2^32 − 1 bytes; PKCS-PAD pads with 1–16 bytes each valued to their
//!   count. IBM Docs "CCA for Linux", "Symmetric Algorithm Decipher (CSNBSAD)" mirrors it.
//! - How opencryptoki calls the verbs (`usr/lib/cca_stdll/cca_specific.c`, see
//!   `/work/shared/docs/REFERENCES.md`): parameter order `key_identifier_length,
//!   key_identifier, key_parms_length, key_parms, block_size (16), initialization_vector_length,
//!   initialization_vector, chain_data_length, chain_data, text_length, text,
//!   output_length, output, optional_data_length, optional_data`; ECB with `AES ECB KEYIDENT
//!   INITIAL` and no chain data; CBC with `AES KEYIDENT INITIAL`, a 16-byte IV and 32 bytes of
//!   chain data; `AES PKCS-PAD KEYIDENT`; GCM with `AES GCM KEYIDENT ONLY`, the tag in
//!   `key_parms` (its length in `key_parms_length`: 4, 8 or 12–16), the AAD in
//!   `optional_data`, and 104 bytes of chain data.
//!
//! Parameter blocks:
//! - CSNBSAE: params `[Bytes key_identifier, Int key_parms_length, Int block_size, Bytes
//!   initialization_vector, Bytes chain_data, Bytes clear_text, Int cipher_text_length, Bytes
//!   optional_data]` → outputs `[Bytes key_parms (the GCM tag; empty otherwise), Bytes
//!   chain_data, Bytes cipher_text]`. `cipher_text_length` is the size of the caller's output
//!   buffer (too small: 8/72); the other IBM length parameters are the lengths of the byte
//!   strings.
//! - CSNBSAD: params `[Bytes key_identifier, Bytes key_parms (the GCM tag; ignored
//!   otherwise), Int block_size, Bytes initialization_vector, Bytes chain_data, Bytes
//!   cipher_text, Int clear_text_length, Bytes optional_data]` → outputs `[Bytes chain_data,
//!   Bytes clear_text]`.
//!
//! What softcca does (choices where IBM is silent are marked so):
//! - Keys: KEY-CLR takes 16, 24 or 32 clear bytes (8/43 otherwise); KEYIDENT a 64-byte
//!   internal fixed-length AES token (version X'04', clear or under the AES master key; every
//!   such token is a DATA key, usable both ways), or an internal variable-length AES CIPHER
//!   token (version X'05') whose key-usage fields allow ENCRYPT (CSNBSAE) or DECRYPT
//!   (CSNBSAD) and the mode (CBC for CBC and PKCS-PAD, ECB, GCM, or ANY-MODE), 8/39
//!   otherwise; [`operational_key`] is the one place that tells them apart. A DES key token is 8/49
//!   (version byte not X'04') and a null token or a label that reached the card 8/47.
//! - `block_size` must be 16 (8/72). The DES keyword gets 8/34: the A28… keywords it needs are
//!   not supported (they are unknown keywords, 8/33).
//! - CBC and PKCS-PAD: INITIAL needs a 16-byte IV (8/72); CONTINUE takes bytes 0–15 of the
//!   chain data as the ICV. `chain_data` must be at least 32 bytes (8/72); **IBM is silent**
//!   on its layout: softcca returns 32 bytes, the OCV at 0–15 and zeros after. PKCS-PAD pads
//!   every call (encipher) and removes the padding on every call (decipher).
//! - ECB: no IV or chain data is used; the chain data comes back as given.
//! - Text: ECB and CBC need a non-empty multiple of 16 (8/25); PKCS-PAD encipher any length,
//!   decipher a non-empty multiple of 16; GCM any length up to 2^32 − 1 bytes.
//! - GCM: only the ONLY segment (the default with GCM) is supported; FIRST, MIDDLE and LAST
//!   are 8/2. INITIAL/CONTINUE with GCM, or ONLY…LAST without GCM, are 8/34. The IV must be
//!   12 bytes (**softcca limit**: IBM allows other lengths; aws-lc-rs takes 96-bit nonces
//!   only): 8/72 otherwise. Tag lengths 4, 8, 12–16 (8/72 otherwise). A tag that does not
//!   verify and a bad PKCS padding are both [`Failure::DecipheredData`] (8/72, **IBM is
//!   silent**) and return no text.
//! - A key under the OLD AES master key works and gives 0/10001.

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptingKey, DecryptionContext, EncryptingKey,
    EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::iv::FixedLength;
use softcca_wire::Param;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::rules::{self, Grammar, Group};
use crate::tokens::ClearKey;
use crate::verbs::keys::notice_for;
use crate::verbs::{Params, Reply};

const BLOCK: usize = 16;
/// The chain data softcca writes for CBC.
const CHAIN_LEN: usize = 32;
const GCM_NONCE: usize = 12;

const SAE: Grammar = Grammar {
    min: 1,
    max: 5,
    groups: &[
        Group::required(&["AES", "DES"]),
        Group::optional(&["CBC", "ECB", "GCM", "PKCS-PAD"], "CBC"),
        Group::optional(&["KEY-CLR", "KEYIDENT"], "KEY-CLR"),
        Group::optional_none(&["INITIAL", "CONTINUE"]),
        Group::optional_none(&["ONLY", "FIRST", "MIDDLE", "LAST"]),
    ],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Ecb,
    Cbc,
    CbcPad,
    Gcm,
}

#[derive(Debug)]
pub(crate) struct Plan {
    mode: Mode,
    key_ident: bool,
    continue_: bool,
}

fn plan(rule_array: &[rules::Element]) -> Result<Plan, Failure> {
    let chosen = rules::parse(&SAE, rule_array)?;
    if chosen.get(0) == Some("DES") {
        return Err(Failure::KeywordCombination);
    }
    let mode = match chosen.get(1) {
        Some("ECB") => Mode::Ecb,
        Some("GCM") => Mode::Gcm,
        Some("PKCS-PAD") => Mode::CbcPad,
        _ => Mode::Cbc,
    };
    let icv = chosen.get(3);
    let segment = chosen.get(4);
    if mode == Mode::Gcm {
        if icv.is_some() {
            return Err(Failure::KeywordCombination);
        }
        if matches!(segment, Some("FIRST" | "MIDDLE" | "LAST")) {
            return Err(Failure::NotSupported);
        }
    } else if segment.is_some() {
        return Err(Failure::KeywordCombination);
    }
    Ok(Plan {
        mode,
        key_ident: chosen.get(2) == Some("KEYIDENT"),
        continue_: icv == Some("CONTINUE"),
    })
}

/// The AES key a key identifier names, with the notice its use gives. The one place where
/// key forms are told apart: clear bytes (KEY-CLR), a fixed-length X'04' token (a DATA key,
/// usable both ways in every mode), and a variable-length X'05' AES CIPHER token, whose
/// key-usage fields must allow the direction (`encipher`) and the plan's mode (8/39
/// otherwise; an HMAC token is 8/39 too).
pub(crate) fn operational_key(
    card: &Card,
    plan: &Plan,
    identifier: &[u8],
    encipher: bool,
) -> Result<(ClearKey, Option<Notice>), Failure> {
    if !plan.key_ident {
        return match identifier.len() {
            16 | 24 | 32 => Ok((ClearKey::new(identifier), None)),
            _ => Err(Failure::KeyLength),
        };
    }
    if identifier.len() >= 5 && identifier[0] == 0x01 && identifier[4] == 0x05 {
        let k = card.aes_var_key(identifier)?;
        let direction = if encipher {
            k.token.may_encrypt()
        } else {
            k.token.may_decrypt()
        };
        let mode = match plan.mode {
            Mode::Ecb => "ECB",
            Mode::Cbc | Mode::CbcPad => "CBC",
            Mode::Gcm => "GCM",
        };
        if !direction || !k.token.allows_mode(mode) {
            return Err(Failure::ControlVector);
        }
        return Ok((k.key, k.used.and_then(notice_for)));
    }
    let key = card.aes_key(identifier)?;
    Ok((key.key, key.used.and_then(notice_for)))
}

fn cipher_alg(key: &[u8]) -> Result<&'static Algorithm, Failure> {
    match key.len() {
        16 => Ok(&AES_128),
        24 => Ok(&AES_192),
        32 => Ok(&AES_256),
        _ => Err(Failure::KeyLength),
    }
}

fn unbound(key: &[u8]) -> Result<UnboundCipherKey, Failure> {
    UnboundCipherKey::new(cipher_alg(key)?, key).map_err(|_| Failure::KeyLength)
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey, Failure> {
    let alg = match key.len() {
        16 => &AES_128_GCM,
        24 => &AES_192_GCM,
        32 => &AES_256_GCM,
        _ => return Err(Failure::KeyLength),
    };
    UnboundKey::new(alg, key)
        .map(LessSafeKey::new)
        .map_err(|_| Failure::KeyLength)
}

fn nonce(iv: &[u8]) -> Result<Nonce, Failure> {
    Nonce::try_assume_unique_for_key(iv).map_err(|_| Failure::Length)
}

fn tag_len_ok(n: usize) -> bool {
    n == 4 || n == 8 || (12..=16).contains(&n)
}

/// The ICV of a CBC call and a check of the chain data's size.
fn cbc_icv(plan: &Plan, iv: &[u8], chain: &[u8]) -> Result<[u8; BLOCK], Failure> {
    if chain.len() < CHAIN_LEN {
        return Err(Failure::Length);
    }
    let src = if plan.continue_ { &chain[..BLOCK] } else { iv };
    src.try_into().map_err(|_| Failure::Length)
}

fn chain_out(ocv: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; CHAIN_LEN];
    v[..BLOCK].copy_from_slice(ocv);
    v
}

fn block_multiple(text: &[u8]) -> Result<(), Failure> {
    if text.is_empty() || !text.len().is_multiple_of(BLOCK) {
        Err(Failure::TextLength)
    } else {
        Ok(())
    }
}

fn out_len(buffer: i32, needed: usize) -> Result<(), Failure> {
    match usize::try_from(buffer) {
        Ok(b) if b >= needed => Ok(()),
        _ => Err(Failure::Length),
    }
}

fn last_block(data: &[u8]) -> &[u8] {
    &data[data.len().saturating_sub(BLOCK)..]
}

pub(crate) fn csnbsae(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let plan = plan(rule_array)?;
    p.expect_len(8)?;
    let identifier = p.bytes(0)?;
    let tag_len = p.int(1)?;
    if p.int(2)? != BLOCK as i32 {
        return Err(Failure::Length);
    }
    let iv = p.bytes(3)?;
    let chain = p.bytes(4)?;
    let text = p.bytes(5)?;
    let buffer = p.int(6)?;
    let aad = p.bytes(7)?;
    let (tag, chain_data, out, notice) = match plan.mode {
        Mode::Ecb | Mode::Cbc => {
            block_multiple(text)?;
            out_len(buffer, text.len())?;
            let icv = if plan.mode == Mode::Cbc {
                Some(cbc_icv(&plan, iv, chain)?)
            } else {
                None
            };
            let (key, notice) = operational_key(card, &plan, identifier, true)?;
            let mut out = text.to_vec();
            let (k, context) = match icv {
                Some(icv) => (
                    EncryptingKey::cbc(unbound(key.expose())?),
                    EncryptionContext::Iv128(FixedLength::from(icv)),
                ),
                None => (
                    EncryptingKey::ecb(unbound(key.expose())?),
                    EncryptionContext::None,
                ),
            };
            k.and_then(|k| k.less_safe_encrypt(&mut out, context))
                .map_err(|_| Failure::KeyLength)?;
            let chain_data = match icv {
                Some(_) => chain_out(last_block(&out)),
                None => chain.to_vec(),
            };
            (Vec::new(), chain_data, out, notice)
        }
        Mode::CbcPad => {
            let padded = text.len() - text.len() % BLOCK + BLOCK;
            out_len(buffer, padded)?;
            let icv = cbc_icv(&plan, iv, chain)?;
            let (key, notice) = operational_key(card, &plan, identifier, true)?;
            let mut out = Vec::with_capacity(padded);
            out.extend_from_slice(text);
            PaddedBlockEncryptingKey::cbc_pkcs7(unbound(key.expose())?)
                .and_then(|k| {
                    k.less_safe_encrypt(&mut out, EncryptionContext::Iv128(FixedLength::from(icv)))
                })
                .map_err(|_| Failure::KeyLength)?;
            (Vec::new(), chain_out(last_block(&out)), out, notice)
        }
        Mode::Gcm => {
            let tag_len = usize::try_from(tag_len).map_err(|_| Failure::Length)?;
            if !tag_len_ok(tag_len) || iv.len() != GCM_NONCE || text.len() > u32::MAX as usize {
                return Err(Failure::Length);
            }
            out_len(buffer, text.len())?;
            let (key, notice) = operational_key(card, &plan, identifier, true)?;
            let k = gcm_key(key.expose())?;
            let mut out = text.to_vec();
            let tag = k
                .seal_in_place_separate_tag(nonce(iv)?, Aad::from(aad), &mut out)
                .map_err(|_| Failure::Length)?;
            (
                tag.as_ref()[..tag_len].to_vec(),
                chain.to_vec(),
                out,
                notice,
            )
        }
    };
    Ok(Reply {
        notice,
        outputs: vec![
            Param::Bytes(tag),
            Param::Bytes(chain_data),
            Param::Bytes(out),
        ],
        ..Reply::default()
    })
}

pub(crate) fn csnbsad(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let plan = plan(rule_array)?;
    p.expect_len(8)?;
    let identifier = p.bytes(0)?;
    let tag = p.bytes(1)?;
    if p.int(2)? != BLOCK as i32 {
        return Err(Failure::Length);
    }
    let iv = p.bytes(3)?;
    let chain = p.bytes(4)?;
    let text = p.bytes(5)?;
    let buffer = p.int(6)?;
    let aad = p.bytes(7)?;
    let (chain_data, out, notice) = match plan.mode {
        Mode::Ecb | Mode::Cbc | Mode::CbcPad => {
            block_multiple(text)?;
            let icv = if plan.mode == Mode::Ecb {
                None
            } else {
                Some(cbc_icv(&plan, iv, chain)?)
            };
            if plan.mode != Mode::CbcPad {
                out_len(buffer, text.len())?;
            }
            let (key, notice) = operational_key(card, &plan, identifier, false)?;
            let mut out = text.to_vec();
            let chain_data = match icv {
                Some(_) => chain_out(last_block(text)),
                None => chain.to_vec(),
            };
            let kept = match (plan.mode, icv) {
                (Mode::CbcPad, Some(icv)) => {
                    let k = PaddedBlockDecryptingKey::cbc_pkcs7(unbound(key.expose())?)
                        .map_err(|_| Failure::KeyLength)?;
                    k.decrypt(&mut out, DecryptionContext::Iv128(FixedLength::from(icv)))
                        .map_err(|_| Failure::DecipheredData)?
                        .len()
                }
                (_, Some(icv)) => {
                    let k = DecryptingKey::cbc(unbound(key.expose())?)
                        .map_err(|_| Failure::KeyLength)?;
                    k.decrypt(&mut out, DecryptionContext::Iv128(FixedLength::from(icv)))
                        .map_err(|_| Failure::KeyLength)?
                        .len()
                }
                (_, None) => {
                    let k = DecryptingKey::ecb(unbound(key.expose())?)
                        .map_err(|_| Failure::KeyLength)?;
                    k.decrypt(&mut out, DecryptionContext::None)
                        .map_err(|_| Failure::KeyLength)?
                        .len()
                }
            };
            out.truncate(kept);
            if plan.mode == Mode::CbcPad {
                out_len(buffer, out.len())?;
            }
            (chain_data, out, notice)
        }
        Mode::Gcm => {
            if !tag_len_ok(tag.len()) || iv.len() != GCM_NONCE || text.len() > u32::MAX as usize {
                return Err(Failure::Length);
            }
            out_len(buffer, text.len())?;
            let (key, notice) = operational_key(card, &plan, identifier, false)?;
            let k = gcm_key(key.expose())?;
            let out = gcm_open(&k, iv, aad, text, tag)?;
            (chain.to_vec(), out, notice)
        }
    };
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(chain_data), Param::Bytes(out)],
        ..Reply::default()
    })
}

/// GCM decipherment with a full or truncated tag. A full tag goes straight to aws-lc-rs's
/// `open`. For a truncated tag: GCM enciphers in counter mode, so sealing the ciphertext
/// yields the plaintext, and sealing that plaintext with the AAD gives back the ciphertext
/// and its full tag, whose first bytes are compared in constant time. Nothing is returned
/// unless the tag verifies.
fn gcm_open(
    k: &LessSafeKey,
    iv: &[u8],
    aad: &[u8],
    text: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, Failure> {
    if tag.len() == BLOCK {
        let mut buf = Vec::with_capacity(text.len() + BLOCK);
        buf.extend_from_slice(text);
        buf.extend_from_slice(tag);
        let n = k
            .open_in_place(nonce(iv)?, Aad::from(aad), &mut buf)
            .map_err(|_| Failure::DecipheredData)?
            .len();
        buf.truncate(n);
        return Ok(buf);
    }
    let mut plain = text.to_vec();
    // The tag of this pass is over the wrong text and is dropped.
    let _ = k
        .seal_in_place_separate_tag(nonce(iv)?, Aad::empty(), &mut plain)
        .map_err(|_| Failure::DecipheredData)?;
    let mut again = plain.clone();
    let full = k
        .seal_in_place_separate_tag(nonce(iv)?, Aad::from(aad), &mut again)
        .map_err(|_| Failure::DecipheredData)?;
    verify_slices_are_equal(&full.as_ref()[..tag.len()], tag)
        .map_err(|_| Failure::DecipheredData)?;
    Ok(plain)
}
