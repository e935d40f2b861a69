//! Key_Generate (CSNBKGN): a random DES key returned once or twice, each copy enciphered under
//! the SYM master key (OP) or under an IMPORTER (IM) or EXPORTER (EX) key-encrypting key; or a
//! random AES key under the AES master key.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Key Generate (CSNBKGN)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-key-generate-csnbkgn>): "generate
//!   an AES key of type DATA, or either one or two odd parity DES keys of any type"; "For AES,
//!   the verb returns only one copy of the key, enciphered under the AES master key"; its
//!   parameters (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbkgn-parameters>):
//!   key_form is "a 4-byte keyword … The first two characters refer to key_type_1. The next
//!   two characters refer to key_type_2"; the forms OP, IM, EX, OPIM, OPEX, IMEX, EXEX, OPOP,
//!   IMIM; "IM: Return one copy of the key enciphered under an importer KEK with key usage
//!   IMEX", "EX … exporter KEK with key usage EXEX".
//! - CCA254 App. C, p=424 (<https://manualsdump.com/en/manuals/ibm-2model/120553/424>): the
//!   KEK's key-generating usage bits 18–20 ("Without any of the gks bits set to 1, the
//!   Key_Generate verb cannot use the associated key-encrypting key").
//! - CCA254 p=433 (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=433>): "a DATA
//!   key whose CVk contains the value of a default CV for that key type, has a CVk1 equal to
//!   binary zero" outside the node — see [`crate::verbs::transport::external_cv`].
//! - opencryptoki (`cca_specific.c`, REFERENCES.md): CSNBKTB `INTERNAL AES NO-KEY KEYLNnn`,
//!   then CSNBKGN form `OP`, key type `AESTOKEN`, eight blanks as key_length for 256 bits.
//! - Codes: 8/41 key_form, 8/43 key_length, 8/33 key_type, 8/34 pair, 8/39 KEK usage
//!   (CCA254 Fig. A-4, p=364).
//!
//! Parameter blocks: no rule array (8/35 otherwise); params `[Bytes key_form (4), Bytes
//! key_length (8), Bytes key_type_1 (8), Bytes key_type_2 (8), Bytes KEK_key_identifier_1
//! (64), Bytes KEK_key_identifier_2 (64), Bytes generated_key_identifier_1 (64), Bytes
//! generated_key_identifier_2 (64)]` → outputs `[Bytes generated_key_identifier_1 (64), Bytes
//! generated_key_identifier_2 (64)]`. With a one-copy form the second output is the second
//! input, unchanged.
//!
//! What softcca does (choices for ARCHITECTURE.md):
//! - key_length: eight blanks (the default: the key type's shortest defined length; for a
//!   TOKEN key type the token's length; 256 bits for AES), SINGLE/KEYLN8, SINGLE-R (a double
//!   key whose halves are equal, default form 010), DOUBLE/KEYLN16, DOUBLE-O (halves
//!   guaranteed unique: form bits 110/101, halves drawn until they differ ignoring parity),
//!   TRIPLE/KEYLN24, TRIPLE-O (form 111, three distinct parts), KEYLN32 (AES). Anything else,
//!   or a length the key type does not define, is 8/43; a keyword that disagrees with a TOKEN's
//!   length is 8/43 (SINGLE-R, DOUBLE-O and TRIPLE-O only choose the key value then).
//! - Key types: the DES types of [`crate::verbs::keytoken::DES_TYPES`], TOKEN (the CV is taken,
//!   exactly, from the internal or external DES token in generated_key_identifier_n; a null
//!   token is 8/47), AESDATA, AESTOKEN (generated_key_identifier_1 must be an internal AES
//!   token, a skeleton or not; 8/47 otherwise). Unknown: 8/33. AES with a form other than OP:
//!   8/41. key_type_2 is not read for one-copy forms (IBM asks for blanks there).
//! - Pairs softcca accepts for two-copy forms (IBM's table is longer and per form; this is
//!   softcca's reading, the same for every two-copy form): the same type for DATA, DATAC,
//!   CIPHER, ENCIPHER, DECIPHER, MAC, DATAM, CIPHERXI/XL/XO; and the complementary pairs
//!   CIPHER→ENCIPHER, CIPHER→DECIPHER, ENCIPHER↔DECIPHER, MAC→MACVER, DATAM→DATAMV,
//!   IMPORTER↔EXPORTER, IKEYXLAT↔OKEYXLAT, PINGEN→PINVER, IPINENC↔OPINENC. Everything else is
//!   8/34 (IMPORTER/IMPORTER, EXPORTER/EXPORTER, MACVER→MAC, DATA/MAC …).
//! - KEKs: an IM copy needs an importer-class KEK (IMPORTER/IKEYXLAT), an EX copy an
//!   exporter-class one, with the usage bit of the form: OPIM/OPEX bit 18, IMEX (and IM)
//!   bit 19, IMIM/EXEX (and EX) bit 20. Otherwise 8/39. A KEK under the old master key gives
//!   0/10001.
//! - The key: from the card's Hash_DRBG, every byte adjusted to odd parity; a draw with a weak
//!   or semi-weak DES part is drawn again (IBM is silent on weak keys here; a 2^-50 event). External copies of
//!   a DATA key with the default DATA CV carry a zero CV (CCA254 p=433, as Key_Export).
//!   Tokens are WRAP-ECB.

use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::mk::Class;
use crate::rules;
use crate::tokens::aes::AesToken;
use crate::tokens::des::DesToken;
use crate::tokens::{KeyLength, wrap};
use crate::verbs::keys::notice_for;
use crate::verbs::keytoken::{
    DES_TYPES, GEN_IMEX, GEN_OP, GEN_SAME, default_cv, default_length, fix_parity, key_type_of,
    keyword_param, refuse_variable_length, set_form,
};
use crate::verbs::transport::{external_cv, kek};
use crate::verbs::{Params, Reply};

/// Where one copy of the key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Op,
    Im,
    Ex,
}

fn parse_form(bytes: &[u8]) -> Result<(Dest, Option<Dest>), Failure> {
    let f: &[u8; 4] = bytes.try_into().map_err(|_| Failure::Length)?;
    let d = |b: &[u8]| match b {
        b"OP" => Ok(Dest::Op),
        b"IM" => Ok(Dest::Im),
        b"EX" => Ok(Dest::Ex),
        _ => Err(Failure::KeyForm),
    };
    let first = d(&f[..2])?;
    if &f[2..] == b"  " {
        return Ok((first, None));
    }
    let second = d(&f[2..])?;
    match (first, second) {
        (Dest::Op, _) | (Dest::Im, Dest::Ex | Dest::Im) | (Dest::Ex, Dest::Ex) => {
            Ok((first, Some(second)))
        }
        _ => Err(Failure::KeyForm),
    }
}

/// The KEK usage bit a copy's form needs.
fn usage_bit(form: (Dest, Option<Dest>)) -> u8 {
    match form {
        (Dest::Op, _) => GEN_OP,
        (Dest::Im, Some(Dest::Ex)) | (Dest::Im, None) => GEN_IMEX,
        _ => GEN_SAME,
    }
}

fn pair_allowed(t1: &str, t2: &str) -> bool {
    let same = t1 == t2
        && matches!(
            t1,
            "DATA"
                | "DATAC"
                | "CIPHER"
                | "ENCIPHER"
                | "DECIPHER"
                | "MAC"
                | "DATAM"
                | "CIPHERXI"
                | "CIPHERXL"
                | "CIPHERXO"
        );
    same || matches!(
        (t1, t2),
        ("CIPHER", "ENCIPHER" | "DECIPHER")
            | ("ENCIPHER", "DECIPHER")
            | ("DECIPHER", "ENCIPHER")
            | ("MAC", "MACVER")
            | ("DATAM", "DATAMV")
            | ("IMPORTER", "EXPORTER")
            | ("EXPORTER", "IMPORTER")
            | ("IKEYXLAT", "OKEYXLAT")
            | ("OKEYXLAT", "IKEYXLAT")
            | ("PINGEN", "PINVER")
            | ("IPINENC", "OPINENC")
            | ("OPINENC", "IPINENC")
    )
}

/// The key_length keyword: (length, halves unique, halves replicated); `None` for blanks.
type LengthChoice = Option<(KeyLength, bool, bool)>;

fn parse_length(bytes: &[u8]) -> Result<(LengthChoice, Option<usize>), Failure> {
    let b: &[u8; 8] = bytes.try_into().map_err(|_| Failure::Length)?;
    if b == b"        " {
        return Ok((None, None));
    }
    let w = rules::keyword(b).map_err(|_| Failure::KeyLength)?;
    Ok(match w {
        "SINGLE" | "KEYLN8" => (Some((KeyLength::Single, false, false)), None),
        "SINGLE-R" => (Some((KeyLength::Double, false, true)), None),
        "DOUBLE" => (Some((KeyLength::Double, false, false)), None),
        "KEYLN16" => (Some((KeyLength::Double, false, false)), Some(16)),
        "DOUBLE-O" => (Some((KeyLength::Double, true, false)), None),
        "TRIPLE" => (Some((KeyLength::Triple, false, false)), None),
        "KEYLN24" => (Some((KeyLength::Triple, false, false)), Some(24)),
        "TRIPLE-O" => (Some((KeyLength::Triple, true, false)), None),
        "KEYLN32" => (None, Some(32)),
        _ => return Err(Failure::KeyLength),
    })
}

pub(crate) fn csnbkgn(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(8)?;
    let form = parse_form(p.bytes(0)?)?;
    let length_bytes = p.bytes(1)?;
    let key_length = parse_length(length_bytes)?;
    let blank = |b: &[u8]| b == b"        ";
    let kt1_bytes = p.bytes(2)?;
    let kt1 = keyword_param(kt1_bytes)?;
    let gen2_in = p.bytes(7)?;
    if matches!(kt1, "AESDATA" | "AESTOKEN") {
        if form != (Dest::Op, None) {
            return Err(Failure::KeyForm);
        }
        let n = match (blank(length_bytes), key_length) {
            (true, _) => 32,
            (false, (None, Some(n))) | (false, (Some((_, false, false)), Some(n))) => n,
            _ => return Err(Failure::KeyLength),
        };
        if kt1 == "AESTOKEN" {
            let gen1 = p.bytes(6)?;
            refuse_variable_length(gen1)?;
            match AesToken::parse(gen1)? {
                AesToken::Internal(_) => {}
                AesToken::Null => return Err(Failure::KeyTokenInvalid),
            }
        }
        let mut key = zeroize::Zeroizing::new(vec![0u8; n]);
        card.random(&mut key)?;
        let token = card.with_current_master_key(Class::Aes, |mk| {
            Ok(AesToken::Internal(wrap::wrap_aes(mk, &key)?).to_bytes())
        })?;
        return Ok(Reply::outputs(vec![
            Param::Bytes(token.to_vec()),
            Param::Bytes(gen2_in.to_vec()),
        ]));
    }
    let (key_length, _) = key_length;
    if key_length.is_none() && !blank(length_bytes) {
        // KEYLN32 names no DES length.
        return Err(Failure::KeyLength);
    }
    let dests: Vec<Dest> = [Some(form.0), form.1].into_iter().flatten().collect();
    let kt2 = if dests.len() == 2 {
        keyword_param(p.bytes(3)?)?
    } else {
        ""
    };
    // Each copy's CV: from the key type, or from the token (TOKEN).
    let mut cvs: Vec<([u8; 8], [u8; 8], KeyLength)> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, kt) in [kt1, kt2].into_iter().take(dests.len()).enumerate() {
        if kt == "TOKEN" {
            let given = p.bytes(6 + i)?;
            refuse_variable_length(given)?;
            let fields = match DesToken::parse(given)? {
                DesToken::Null => return Err(Failure::KeyTokenInvalid),
                DesToken::Internal(t) => t.fields,
                DesToken::External(t) => t.fields,
            };
            if let Some((want, _, replicated)) = key_length
                && want != fields.length
                && !(replicated && fields.length == KeyLength::Double)
            {
                return Err(Failure::KeyLength);
            }
            names.push(key_type_of(&fields.cv_left).unwrap_or(""));
            cvs.push((fields.cv_left, fields.cv_right, fields.length));
        } else {
            if !DES_TYPES.contains(&kt) {
                return Err(Failure::Keyword);
            }
            let (length, unique) = match key_length {
                Some((l, u, _)) => (l, u),
                None => (default_length(kt).ok_or(Failure::KeyLength)?, false),
            };
            let (mut l, mut r) = default_cv(kt, length).ok_or(Failure::KeyLength)?;
            if unique {
                let (fl, fr) = if length == KeyLength::Double {
                    (0b110, 0b101)
                } else {
                    (0b111, 0b111)
                };
                set_form(&mut l, fl);
                set_form(&mut r, fr);
                fix_parity(&mut l);
                fix_parity(&mut r);
            }
            names.push(kt);
            cvs.push((l, r, length));
        }
    }
    if cvs.len() == 2 {
        if !pair_allowed(names[0], names[1]) {
            return Err(Failure::KeywordCombination);
        }
        if cvs[0].2 != cvs[1].2 {
            return Err(Failure::KeyLength);
        }
    }
    let length = cvs.first().map(|c| c.2).ok_or(Failure::KeyForm)?;
    let (unique, replicated) = match key_length {
        Some((_, u, r)) => (u, r),
        None => (false, false),
    };
    let key = random_key(card, length, unique, replicated)?;
    let bit = usage_bit(form);
    let mut outputs = Vec::new();
    let mut notice = None;
    for (i, (dest, (l, r, len))) in dests.iter().zip(cvs).enumerate() {
        let token = match dest {
            Dest::Op => card.with_current_master_key(Class::Sym, |mk| {
                Ok(DesToken::Internal(wrap::wrap_des(mk, &key, l, r, len)?).to_bytes())
            })?,
            Dest::Im | Dest::Ex => {
                let k = kek(card, p.bytes(4 + i)?, *dest == Dest::Im, bit)?;
                notice = notice.or(notice_for(k.used));
                let (el, er) = external_cv(l, r, len);
                DesToken::External(wrap::wrap_under_kek(&k.key, &key, el, er, len)?).to_bytes()
            }
        };
        outputs.push(Param::Bytes(token.to_vec()));
    }
    if outputs.len() == 1 {
        outputs.push(Param::Bytes(gen2_in.to_vec()));
    }
    Ok(Reply {
        notice,
        outputs,
        ..Reply::default()
    })
}

/// Sets odd parity in every byte.
fn odd_parity(bytes: &mut [u8]) {
    for b in bytes {
        if (*b & 0xFE).count_ones() % 2 == 0 {
            *b |= 1;
        } else {
            *b &= 0xFE;
        }
    }
}

/// A random DES key with odd parity: halves equal when `replicated`, every 8-byte part
/// distinct (ignoring parity) when `unique`, and no part a weak or semi-weak DES key. A DRBG
/// that cannot produce such a key in 64 draws is treated as failed (12/338).
fn random_key(
    card: &Card,
    length: KeyLength,
    unique: bool,
    replicated: bool,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Failure> {
    let n = length.bytes();
    let mut key = zeroize::Zeroizing::new(vec![0u8; n]);
    for _ in 0..64 {
        card.random(&mut key)?;
        odd_parity(&mut key);
        if replicated {
            let (a, b) = key.split_at_mut(8);
            b[..8].copy_from_slice(a);
        }
        let parts: Vec<&[u8]> = key.chunks_exact(8).collect();
        let distinct = parts
            .iter()
            .enumerate()
            .all(|(i, a)| parts[i + 1..].iter().all(|b| a != b));
        let weak = parts.iter().any(|p| crate::mk::is_weak_des_key(p));
        if (!unique || distinct) && !weak {
            return Ok(key);
        }
    }
    Err(Failure::RngFault)
}
