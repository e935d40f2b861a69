//! Key_Token_Build (CSNBKTB) and Key_Token_Parse (CSNBKTP) for the 64-byte DES token and the
//! fixed-length AES token (version X'04'); and the DES key-type helpers (default control
//! vectors, key type of a CV, usage bits) the transport verbs share.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Key Token Build (CSNBKTB)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-key-token-build-csnbktb>) and
//!   its parameters (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbktb-parameters>):
//!   an internal AES or DES token or an external DES token; "CCA does not support fixed-length
//!   external AES key tokens"; key types CIPHER, CIPHERXI/XL/XO, CLRAES, CLRDES, CVAR…, DATA
//!   ("must be specified with the rule_array keyword AES to build an encrypted AES key
//!   token"), DATAC, DATAM, DATAMV, DECIPHER, DKYGENKY, ENCIPHER, EXPORTER, IKEYXLAT, IMPORTER,
//!   KEYGENKY, IPINENC, MAC, MACVER, OKEYXLAT, OPINENC, PINGEN, PINVER, SECMSG, USE-CV ("When
//!   the key type is USE-CV, control vector keywords in the rule array are ignored"); the
//!   key_token "cannot contain a key label". opencryptoki's call (`cca_specific.c`,
//!   REFERENCES.md): rule array `INTERNAL AES NO-KEY KEYLNnn`, parameters after the rule array
//!   key_value, reserved_1, reserved_2, reserved_3, control_vector, reserved_4, reserved_5,
//!   reserved_6, master_key_verification_pattern.
//! - IBM Docs "DES key usage restrictions"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_des_key_usage_restrictions.html>): the
//!   keyword flowcharts shared by CSNBCVG, CSNBKTB and CSNBKTP; "KEYLN8 is synonymous with
//!   SINGLE. KEYLN16 and MIXED are synonymous with DOUBLE"; "If TRIPLE or TRIPLE-O is specified,
//!   WRAPENH2 is the default. Otherwise, WRAP-ECB is the default".
//! - Control-vector bits: CCA254 App. C, p=424 (key-encrypting keys: "key-generating usage
//!   bits (gks, bits 18 to 20) … OPIM, IMEX, IMIM, OPEX, and EXEX"; "IMPORT and EXPORT bit and
//!   the XLATE bit (ix, bits 21 and 22)"), p=427 ("The export bit (E, bit 17). If set to 0, the
//!   export bit prevents a key from being exported"), p=423 (main type bits 8–11, subtype
//!   12–14), <https://manualsdump.com/en/manuals/ibm-2model/120553/424>,
//!   <http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=427>; IBM Docs "Key form bits,
//!   'fff' and 'FFF'" (topic table-key-form-bits-fff-fff). Default CVs: fact sheet §2
//!   ([`cv::default_cv`]); the extra types here (CIPHERXI/XL/XO, CVAR…, DATAC, DKYGENKY,
//!   IKEYXLAT, OKEYXLAT) from the same public transcription of ICSF APG Table 676.
//! - IBM Docs "Key Token Parse (CSNBKTP)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-key-token-parse-csnbktp>) and
//!   its parameters (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbktp-parameters>):
//!   rule_array_count "must be a minimum of 4", set on output to the number of keywords;
//!   "Control vector information is returned in keywords … when the verb can fully parse the
//!   control vector. Otherwise, the verb returns return code 4, reason code 2039".
//! - IBM Docs "AES internal fixed-length key token": "All AES keys contained in fixed-length
//!   key tokens are DATA keys".
//!
//! Parameter blocks:
//! - CSNBKTB: rule array 1–14 (below); params `[Bytes key_token (64, ignored: the token is
//!   built fresh), Bytes key_type (8), Bytes key_value (0–32), Bytes control_vector (0 or 16),
//!   Bytes master_key_verification_pattern (0 or 8)]` → outputs `[Bytes key_token (64)]`.
//!   IBM's reserved parameters are left out. key_value is read only with KEY (or CLRAES): its
//!   first 8/16/24 (DES) or 16/24/32 (AES clear) bytes; control_vector only with CV or USE-CV;
//!   the MKVP only for an internal DES token with KEY. Too short a value is 8/72.
//! - CSNBKTP: no rule-array input (8/35 otherwise); params `[Bytes key_token (64), Int
//!   rule_array_count (the caller's capacity, at least 4)]` → rule-array output and outputs
//!   `[Bytes key_type (8), Bytes key_value, Bytes master_key_verification_pattern (8), Bytes
//!   control_vector (16), Bytes token_validation_value (4)]`.
//!
//! CSNBKTB rule-array groups (at most one of each): INTERNAL | EXTERNAL (required); KEY |
//! NO-KEY (default NO-KEY); DES | AES (default DES, AES implied by CLRAES, AESDATA, AESTOKEN);
//! SINGLE | KEYLN8 | DOUBLE | KEYLN16 | MIXED | DOUBLE-O | TRIPLE | TRIPLE-O | KEYLN24 |
//! KEYLN32; CV; XPORT-OK | NO-XPORT; OPIM | OPEX; IMEX; IMIM | EXEX; IMPORT | EXPORT; XLATE;
//! WRAP-ECB | WRAP-ENH | WRAPENH2 | WRAPENH3; ENH-ONLY; KEY-PART (CV bit 44 in both halves,
//! CCA254 p=427: "Set the key-part bit to 1 in a control vector associated with a key
//! part"). Any other IBM keyword (the CVG usage keywords of data, PIN and key-generating
//! keys, …) is 8/33 until softcca sets its bits.
//!
//! What softcca does (choices for ARCHITECTURE.md):
//! - DES: the CV is IBM's default for the key type and length, then: DOUBLE-O/TRIPLE-O set the
//!   "halves guaranteed unique" forms (110/101, 111); NO-XPORT clears bit 17; the KEK keywords,
//!   when any is given, set exactly the named bits 18–22 (bit 18 OPIM/OPEX, 19 IMEX, 20
//!   IMIM/EXEX, 21 IMPORT/EXPORT, 22 XLATE — the order within gks is **\[I\]** from CCA254's
//!   keyword order) and are 8/34 for a key type that is not a KEK of that direction. Every
//!   byte of a built CV is then given even parity. Without a length keyword the key type's
//!   shortest defined length is built (SINGLE where IBM defines one). A length the type does
//!   not define (EXPORTER SINGLE) is 8/34.
//! - CV or USE-CV: the 16-byte control_vector is taken as given and the length read from its
//!   form bits; form bits that are no left-half form are 8/39 (IBM is silent); a byte without
//!   even parity gives the token with 4/166. A length keyword that disagrees is 8/34.
//! - TRIPLE: IBM's default wrap method is WRAPENH2; softcca builds WRAP-ECB tokens (the only
//!   method implemented) and answers WRAP-ENH, WRAPENH2, WRAPENH3 and ENH-ONLY with 8/2.
//! - Flag byte 1 is X'80' with KEY and X'00' with NO-KEY (**\[U\]** whether IBM also sets
//!   X'40'). An internal NO-KEY token has a zero MKVP.
//! - AES: INTERNAL only (EXTERNAL 8/34). NO-KEY builds the skeleton (flag X'20', no length);
//!   CLRAES (with KEY or alone) builds a clear-key token from key_value (KEYLN16/24/32
//!   required, 8/34 otherwise). AES with KEY and an already-enciphered key is 8/34: the token's
//!   LRC is that of the clear key, which the verb cannot compute (IBM is silent).
//!   DES-only keywords with AES are 8/34. CLRDES (a clear DES token, which softcca's DES token
//!   format has no room for), KEYGENKY and SECMSG are 8/2.
//! - CSNBKTP: a null token is 8/47 (neither internal nor external); a variable-length (X'05')
//!   token 8/49. Keywords returned: INTERNAL | EXTERNAL; KEY | NO-KEY; for DES the length
//!   (SINGLE, DOUBLE, DOUBLE-O, TRIPLE, TRIPLE-O; a version X'01' token DOUBLE or TRIPLE), the
//!   CV keywords (XPORT-OK | NO-XPORT, KEY-PART, the KEK usage keywords) and the wrap method; for AES,
//!   AES and KEYLNnn (none for a skeleton). key_type is the CV's key type, DATA for a zero CV
//!   and for every AES token; a non-zero CV that is no known type gives blanks, no CV keywords
//!   and 4/2039. key_value is the enciphered parts of a DES key (8/16/24 bytes), the 32-byte
//!   enciphered AES field or the clear AES key, empty with no key. A capacity below 4 or below
//!   the keywords to return is 8/35 (IBM is silent on the second case).

use softcca_wire::Param;

use crate::error::{Failure, Notice};
use crate::rules::{self, Grammar, Group};
use crate::tokens::aes::{AesMaterial, AesToken, InternalAes};
use crate::tokens::des::{
    DesFields, DesToken, ExternalDes, FLAG_KEY_PRESENT, InternalDes, WrapMethod,
};
use crate::tokens::{KeyLength, TOKEN_LEN, cv};
use crate::verbs::{Params, Reply, text_element};

/// CV byte 2: bit 17, export allowed (XPORT-OK).
pub(crate) const XPORT_OK: u8 = 0x40;
/// CV byte 2: bit 18, KEK generating usage OPIM / OPEX.
pub(crate) const GEN_OP: u8 = 0x20;
/// CV byte 2: bit 19, KEK generating usage IMEX.
pub(crate) const GEN_IMEX: u8 = 0x10;
/// CV byte 2: bit 20, KEK generating usage IMIM / EXEX.
pub(crate) const GEN_SAME: u8 = 0x08;
/// CV byte 2: bit 21, IMPORT / EXPORT.
pub(crate) const IMPORT_EXPORT: u8 = 0x04;
/// CV byte 2: bit 22, XLATE.
pub(crate) const XLATE: u8 = 0x02;
const KEK_USAGE: u8 = GEN_OP | GEN_IMEX | GEN_SAME | IMPORT_EXPORT | XLATE;
/// CV byte 5: bit 44, the key-part bit (KEY-PART): the token holds a partial key.
pub(crate) const KEY_PART: u8 = 0x08;

const fn h(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// Double-length (left) defaults of the key types [`cv`]'s table does not hold.
const EXTRA_DOUBLE: [(&str, [u8; 8]); 7] = [
    ("CIPHERXI", h(0x000C500003C00000)),
    ("CIPHERXL", h(0x000C710003C00000)),
    ("CIPHERXO", h(0x000C600003C00000)),
    ("DATAC", h(0x0000710003410000)),
    ("DKYGENKY", h(0x0071440003410000)),
    ("IKEYXLAT", h(0x0042420003410000)),
    ("OKEYXLAT", h(0x0041420003410000)),
];

/// Single-length defaults of the key types [`cv`]'s table does not hold.
const EXTRA_SINGLE: [(&str, [u8; 8]); 5] = [
    ("CVARDEC", h(0x003F420003000000)),
    ("CVARENC", h(0x003F480003000000)),
    ("CVARPINE", h(0x003F410003000000)),
    ("CVARXCVL", h(0x003F440003000000)),
    ("CVARXCVR", h(0x003F470003000000)),
];

/// Every DES key type softcca builds, in the order lengths default.
pub(crate) const DES_TYPES: [&str; 26] = [
    "DATA", "CIPHER", "ENCIPHER", "DECIPHER", "MAC", "MACVER", "DATAM", "DATAMV", "EXPORTER",
    "IMPORTER", "PINGEN", "PINVER", "IPINENC", "OPINENC", "CIPHERXI", "CIPHERXL", "CIPHERXO",
    "DATAC", "DKYGENKY", "IKEYXLAT", "OKEYXLAT", "CVARDEC", "CVARENC", "CVARPINE", "CVARXCVL",
    "CVARXCVR",
];

/// IBM's default CV (left, right) of a DES key type at a length, `None` where IBM defines
/// none.
pub(crate) fn default_cv(key_type: &str, length: KeyLength) -> Option<([u8; 8], [u8; 8])> {
    if let Some(pair) = cv::default_cv(key_type, length) {
        return Some(pair);
    }
    match length {
        KeyLength::Single => EXTRA_SINGLE
            .iter()
            .find(|(t, _)| *t == key_type)
            .map(|(_, l)| (*l, [0; 8])),
        KeyLength::Double => EXTRA_DOUBLE
            .iter()
            .find(|(t, _)| *t == key_type)
            .map(|(_, l)| (*l, cv::right_half(l))),
        KeyLength::Triple => None,
    }
}

/// The shortest length IBM defines for a key type.
pub(crate) fn default_length(key_type: &str) -> Option<KeyLength> {
    [KeyLength::Single, KeyLength::Double, KeyLength::Triple]
        .into_iter()
        .find(|&l| default_cv(key_type, l).is_some())
}

/// Gives every byte even parity by setting its low-order bit.
pub(crate) fn fix_parity(cv: &mut [u8; 8]) {
    for b in cv.iter_mut() {
        if (*b & 0xFE).count_ones() % 2 == 1 {
            *b |= 1;
        } else {
            *b &= 0xFE;
        }
    }
}

/// Sets the key-form bits 40–42 of a CV half.
pub(crate) fn set_form(cv: &mut [u8; 8], form: u8) {
    cv[5] = (cv[5] & 0x1F) | (form << 5);
}

/// The key type a CV names, read from its type bits (byte 1) and its usage bits (byte 2):
/// "DATA" for a zero CV; `None` for a CV of no type softcca knows.
pub(crate) fn key_type_of(cv_left: &[u8; 8]) -> Option<&'static str> {
    if *cv_left == [0; 8] {
        return Some("DATA");
    }
    let usage = cv_left[2] & 0x3E;
    let ty = match (cv_left[0] & 0xFE, cv_left[1] & 0xFE) {
        (0x00, 0x00) => match usage & 0x3C {
            0x3C => "DATA",
            0x30 => "DATAC",
            0x0C => "DATAM",
            0x04 => "DATAMV",
            _ => return None,
        },
        (0x00, 0x02) => match usage & 0x30 {
            0x30 => "CIPHER",
            0x20 => "ENCIPHER",
            0x10 => "DECIPHER",
            _ => return None,
        },
        (0x00, 0x0C) => "CIPHERX",
        (0x00, 0x04) => match usage & 0x0C {
            0x0C => "MAC",
            0x04 => "MACVER",
            _ => return None,
        },
        (0x00, 0x22) => {
            if usage & 0x3C != 0 {
                "PINGEN"
            } else {
                "PINVER"
            }
        }
        (0x00, 0x20) => "IPINENC",
        (0x00, 0x24) => "OPINENC",
        (0x00, 0x40) => {
            if usage & !XLATE == 0 && usage & XLATE != 0 {
                "OKEYXLAT"
            } else {
                "EXPORTER"
            }
        }
        (0x00, 0x42) => {
            if usage & !XLATE == 0 && usage & XLATE != 0 {
                "IKEYXLAT"
            } else {
                "IMPORTER"
            }
        }
        (0x00, 0x3E) => "CVAR",
        (0x00, 0x70) => "DKYGENKY",
        _ => return None,
    };
    if ty == "CIPHERX" {
        return match usage & 0x30 {
            0x10 => Some("CIPHERXI"),
            0x30 => Some("CIPHERXL"),
            0x20 => Some("CIPHERXO"),
            _ => None,
        };
    }
    if ty == "CVAR" {
        return EXTRA_SINGLE
            .iter()
            .find(|(_, l)| l[2] & 0xFE == cv_left[2] & 0xFE)
            .map(|(t, _)| *t);
    }
    Some(ty)
}

/// Whether a CV is an importer-class KEK (IMPORTER, IKEYXLAT): type bits 0100, subtype 001.
pub(crate) fn is_importer_class(cv_left: &[u8; 8]) -> bool {
    cv_left[1] & 0xFE == 0x42
}

/// Whether a CV is an exporter-class KEK (EXPORTER, OKEYXLAT): type bits 0100, subtype 000.
pub(crate) fn is_exporter_class(cv_left: &[u8; 8]) -> bool {
    cv_left[1] & 0xFE == 0x40
}

/// Whether a key type names a key-encrypting key.
fn is_kek_type(t: &str) -> bool {
    matches!(t, "EXPORTER" | "IMPORTER" | "IKEYXLAT" | "OKEYXLAT")
}

/// The left-half form bits of a CV as a length keyword for CSNBKTP.
fn length_keyword(f: &DesFields) -> &'static str {
    match (f.length, cv::form_bits(&f.cv_left)) {
        (KeyLength::Single, _) => "SINGLE",
        (KeyLength::Double, 6) => "DOUBLE-O",
        (KeyLength::Double, _) => "DOUBLE",
        (KeyLength::Triple, 7) => "TRIPLE-O",
        (KeyLength::Triple, _) => "TRIPLE",
    }
}

const KTB: Grammar = Grammar {
    min: 1,
    max: 14,
    groups: &[
        Group::required(&["INTERNAL", "EXTERNAL"]),
        Group::optional(&["KEY", "NO-KEY"], "NO-KEY"),
        Group::optional_none(&["DES", "AES"]),
        Group::optional_none(&[
            "SINGLE", "KEYLN8", "DOUBLE", "KEYLN16", "MIXED", "DOUBLE-O", "TRIPLE", "TRIPLE-O",
            "KEYLN24", "KEYLN32",
        ]),
        Group::optional_none(&["CV"]),
        Group::optional_none(&["XPORT-OK", "NO-XPORT"]),
        Group::optional_none(&["OPIM", "OPEX"]),
        Group::optional_none(&["IMEX"]),
        Group::optional_none(&["IMIM", "EXEX"]),
        Group::optional_none(&["IMPORT", "EXPORT"]),
        Group::optional_none(&["XLATE"]),
        Group::optional_none(&["WRAP-ECB", "WRAP-ENH", "WRAPENH2", "WRAPENH3"]),
        Group::optional_none(&["ENH-ONLY"]),
        Group::optional_none(&["KEY-PART"]),
    ],
};

/// A variable-length symmetric token (version X'05', any length) where a fixed-length one
/// is expected: 8/49, the token version this verb does not support, before any length check.
pub(crate) fn refuse_variable_length(bytes: &[u8]) -> Result<(), Failure> {
    if matches!(bytes.first(), Some(0x01 | 0x02)) && bytes.get(4) == Some(&0x05) {
        Err(Failure::KeyTokenVersion)
    } else {
        Ok(())
    }
}

/// Reads an 8-byte keyword-valued parameter (key_type, key_length): 8/33 when malformed.
pub(crate) fn keyword_param(bytes: &[u8]) -> Result<&str, Failure> {
    let e: &[u8; 8] = bytes.try_into().map_err(|_| Failure::Length)?;
    rules::keyword(e)
}

pub(crate) fn csnbktb(
    _card: &crate::card::Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KTB, rule_array)?;
    p.expect_len(5)?;
    let _input_token = p.bytes(0)?;
    let key_type = keyword_param(p.bytes(1)?)?;
    let key_value = p.bytes(2)?;
    let control_vector = p.bytes(3)?;
    let mkvp = p.bytes(4)?;
    let aes_type = matches!(key_type, "CLRAES" | "AESDATA" | "AESTOKEN");
    let aes = match chosen.get(2) {
        Some("AES") => true,
        Some(_) if aes_type => return Err(Failure::KeywordCombination),
        Some(_) => false,
        None => aes_type,
    };
    if aes {
        build_aes(&chosen, key_type, key_value)
    } else {
        build_des(&chosen, key_type, key_value, control_vector, mkvp)
    }
}

fn build_aes(chosen: &rules::Chosen, key_type: &str, key_value: &[u8]) -> Result<Reply, Failure> {
    if !matches!(key_type, "DATA" | "CLRAES" | "AESDATA" | "AESTOKEN") {
        return Err(Failure::KeywordCombination);
    }
    if chosen.get(0) == Some("EXTERNAL") || (4..=13).any(|g| chosen.get(g).is_some()) {
        return Err(Failure::KeywordCombination);
    }
    let bytes = match chosen.get(3) {
        None => None,
        Some("KEYLN16") => Some(16),
        Some("KEYLN24") => Some(24),
        Some("KEYLN32") => Some(32),
        Some(_) => return Err(Failure::KeywordCombination),
    };
    let clear = key_type == "CLRAES";
    let token = match (chosen.get(1), clear) {
        (Some("KEY"), false) => return Err(Failure::KeywordCombination),
        (_, true) => {
            let n = bytes.ok_or(Failure::KeywordCombination)?;
            let value = key_value.get(..n).ok_or(Failure::Length)?;
            InternalAes::clear(value)?
        }
        (_, false) => InternalAes {
            cv_present: false,
            material: AesMaterial::NoKey {
                encrypted_flag: false,
            },
        },
    };
    Ok(Reply::outputs(vec![Param::Bytes(
        AesToken::Internal(token).to_bytes().to_vec(),
    )]))
}

fn build_des(
    chosen: &rules::Chosen,
    key_type: &str,
    key_value: &[u8],
    control_vector: &[u8],
    mkvp: &[u8],
) -> Result<Reply, Failure> {
    if matches!(key_type, "CLRDES" | "KEYGENKY" | "SECMSG") {
        return Err(Failure::NotSupported);
    }
    let use_cv = key_type == "USE-CV" || chosen.get(4).is_some();
    if !use_cv && !DES_TYPES.contains(&key_type) {
        return Err(Failure::Keyword);
    }
    if chosen.get(11).is_some_and(|w| w != "WRAP-ECB") || chosen.get(12).is_some() {
        return Err(Failure::NotSupported);
    }
    let asked = match chosen.get(3) {
        None => None,
        Some("SINGLE" | "KEYLN8") => Some((KeyLength::Single, false)),
        Some("DOUBLE" | "KEYLN16" | "MIXED") => Some((KeyLength::Double, false)),
        Some("DOUBLE-O") => Some((KeyLength::Double, true)),
        Some("TRIPLE" | "KEYLN24") => Some((KeyLength::Triple, false)),
        Some("TRIPLE-O") => Some((KeyLength::Triple, true)),
        Some(_) => return Err(Failure::KeywordCombination),
    };
    let mut notice = None;
    let (cv_left, cv_right, length) = if use_cv {
        let cvb: &[u8; 16] = control_vector.try_into().map_err(|_| Failure::Length)?;
        let mut l = [0u8; 8];
        let mut r = [0u8; 8];
        l.copy_from_slice(&cvb[..8]);
        r.copy_from_slice(&cvb[8..]);
        let length = cv::length_from_form(&l).ok_or(Failure::ControlVector)?;
        if let Some((want, _)) = asked
            && want != length
        {
            return Err(Failure::KeywordCombination);
        }
        if length == KeyLength::Single && r != [0; 8] {
            return Err(Failure::ControlVector);
        }
        notice = cv::check_parity(&l, &r);
        (l, r, length)
    } else {
        let (length, unique) = match asked {
            Some(a) => a,
            None => (
                default_length(key_type).ok_or(Failure::KeywordCombination)?,
                false,
            ),
        };
        let (mut l, mut r) = default_cv(key_type, length).ok_or(Failure::KeywordCombination)?;
        if unique {
            match length {
                KeyLength::Double => {
                    set_form(&mut l, 0b110);
                    set_form(&mut r, 0b101);
                }
                _ => {
                    set_form(&mut l, 0b111);
                    set_form(&mut r, 0b111);
                }
            }
        }
        if chosen.get(13).is_some() {
            l[5] |= KEY_PART;
            if length != KeyLength::Single {
                r[5] |= KEY_PART;
            }
        }
        if chosen.get(5) == Some("NO-XPORT") {
            l[2] &= !XPORT_OK;
            r[2] &= !XPORT_OK;
        }
        let kek_words: Vec<&str> = (6..=10).filter_map(|g| chosen.get(g)).collect();
        if !kek_words.is_empty() {
            if !is_kek_type(key_type) {
                return Err(Failure::KeywordCombination);
            }
            let importer = matches!(key_type, "IMPORTER" | "IKEYXLAT");
            let mut bits = 0u8;
            for w in kek_words {
                let (bit, for_importer) = match w {
                    "OPIM" => (GEN_OP, Some(true)),
                    "OPEX" => (GEN_OP, Some(false)),
                    "IMEX" => (GEN_IMEX, None),
                    "IMIM" => (GEN_SAME, Some(true)),
                    "EXEX" => (GEN_SAME, Some(false)),
                    "IMPORT" => (IMPORT_EXPORT, Some(true)),
                    "EXPORT" => (IMPORT_EXPORT, Some(false)),
                    _ => (XLATE, None),
                };
                if for_importer.is_some_and(|i| i != importer) {
                    return Err(Failure::KeywordCombination);
                }
                bits |= bit;
            }
            l[2] = (l[2] & !KEK_USAGE) | bits;
            r[2] = (r[2] & !KEK_USAGE) | bits;
        }
        fix_parity(&mut l);
        if length != KeyLength::Single {
            fix_parity(&mut r);
        }
        (l, r, length)
    };
    let with_key = chosen.get(1) == Some("KEY");
    let mut key = [0u8; 24];
    if with_key {
        let n = length.bytes();
        key[..n].copy_from_slice(key_value.get(..n).ok_or(Failure::Length)?);
    }
    let fields = DesFields {
        flags: if with_key { FLAG_KEY_PRESENT } else { 0 },
        wrap_method: WrapMethod::Ecb,
        key,
        cv_left,
        cv_right,
        length,
    };
    let token = if chosen.get(0) == Some("EXTERNAL") {
        DesToken::External(ExternalDes { fields })
    } else {
        let mkvp = if with_key {
            let m: [u8; 8] = mkvp.try_into().map_err(|_| Failure::Length)?;
            m
        } else {
            [0; 8]
        };
        DesToken::Internal(InternalDes { mkvp, fields })
    };
    let bytes = token.to_bytes();
    // What is built must be what the token parser accepts.
    DesToken::parse(&bytes)?;
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(bytes.to_vec())],
        ..Reply::default()
    })
}

/// The CV keywords CSNBKTP returns for a DES key's CV.
fn cv_keywords(cv_left: &[u8; 8], out: &mut Vec<&'static str>) {
    out.push(if cv_left[2] & XPORT_OK != 0 {
        "XPORT-OK"
    } else {
        "NO-XPORT"
    });
    if cv_left[5] & KEY_PART != 0 {
        out.push("KEY-PART");
    }
    let importer = is_importer_class(cv_left);
    if importer || is_exporter_class(cv_left) {
        let u = cv_left[2];
        let pick = |imp: &'static str, exp: &'static str| if importer { imp } else { exp };
        for (bit, word) in [
            (GEN_OP, pick("OPIM", "OPEX")),
            (GEN_IMEX, "IMEX"),
            (GEN_SAME, pick("IMIM", "EXEX")),
            (IMPORT_EXPORT, pick("IMPORT", "EXPORT")),
            (XLATE, "XLATE"),
        ] {
            if u & bit != 0 {
                out.push(word);
            }
        }
    }
}

pub(crate) fn csnbktp(
    _card: &crate::card::Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(2)?;
    let token = p.bytes(0)?;
    let capacity = usize::try_from(p.int(1)?).map_err(|_| Failure::RuleArrayCount)?;
    if capacity < 4 {
        return Err(Failure::RuleArrayCount);
    }
    refuse_variable_length(token)?;
    if token.len() != TOKEN_LEN {
        return Err(Failure::KeyTokenLength);
    }
    let mut words: Vec<&'static str> = Vec::new();
    let mut notice = None;
    let key_type;
    let key_value: Vec<u8>;
    let mut mkvp = [0u8; 8];
    let mut control_vector = [0u8; 16];
    if token[0] == 0x01 && token[4] == 0x04 {
        let AesToken::Internal(t) = AesToken::parse(token)? else {
            return Err(Failure::KeyTokenInvalid);
        };
        key_type = "DATA";
        words.push("INTERNAL");
        match &t.material {
            AesMaterial::NoKey { .. } => {
                words.extend(["NO-KEY", "AES"]);
                key_value = Vec::new();
            }
            AesMaterial::Clear { bits, .. } => {
                words.extend(["KEY", "AES", aes_length_keyword(*bits)]);
                key_value = t
                    .clear_key()
                    .map(|k| k.expose().to_vec())
                    .unwrap_or_default();
            }
            AesMaterial::Encrypted {
                mkvp: m,
                field,
                bits,
                ..
            } => {
                words.extend(["KEY", "AES", aes_length_keyword(*bits)]);
                mkvp = *m;
                key_value = field.to_vec();
            }
        }
    } else {
        let (internal, fields, m) = match DesToken::parse(token)? {
            DesToken::Null => return Err(Failure::KeyTokenInvalid),
            DesToken::Internal(t) => (true, t.fields, t.mkvp),
            DesToken::External(t) => (false, t.fields, [0; 8]),
        };
        mkvp = m;
        words.push(if internal { "INTERNAL" } else { "EXTERNAL" });
        let has_key = fields.flags & FLAG_KEY_PRESENT != 0;
        words.push(if has_key { "KEY" } else { "NO-KEY" });
        words.push(length_keyword(&fields));
        control_vector[..8].copy_from_slice(&fields.cv_left);
        control_vector[8..].copy_from_slice(&fields.cv_right);
        key_type = match key_type_of(&fields.cv_left) {
            Some(t) => {
                if fields.cv_left != [0; 8] {
                    cv_keywords(&fields.cv_left, &mut words);
                }
                t
            }
            None => {
                notice = Some(Notice::ControlVectorNotParsed);
                ""
            }
        };
        words.push(match fields.wrap_method {
            WrapMethod::Ecb => "WRAP-ECB",
            WrapMethod::Enh => "WRAP-ENH",
            WrapMethod::Enh2 => "WRAPENH2",
            WrapMethod::Enh3 => "WRAPENH3",
        });
        key_value = if has_key {
            fields.key[..fields.length.bytes()].to_vec()
        } else {
            Vec::new()
        };
    }
    if words.len() > capacity {
        return Err(Failure::RuleArrayCount);
    }
    Ok(Reply {
        notice,
        rule_array: words.into_iter().map(text_element).collect(),
        outputs: vec![
            Param::Bytes(text_element(key_type).to_vec()),
            Param::Bytes(key_value),
            Param::Bytes(mkvp.to_vec()),
            Param::Bytes(control_vector.to_vec()),
            Param::Bytes(token[60..64].to_vec()),
        ],
    })
}

fn aes_length_keyword(bits: u16) -> &'static str {
    match bits {
        128 => "KEYLN16",
        192 => "KEYLN24",
        _ => "KEYLN32",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_even_and_typed() {
        for t in DES_TYPES {
            let mut n = 0;
            for len in [KeyLength::Single, KeyLength::Double, KeyLength::Triple] {
                if let Some((l, r)) = default_cv(t, len) {
                    n += 1;
                    assert!(cv::has_even_parity(&l) && cv::has_even_parity(&r), "{t}");
                    let mut fixed = l;
                    fix_parity(&mut fixed);
                    assert_eq!(fixed, l, "{t}: fix_parity keeps IBM's defaults");
                    assert_eq!(key_type_of(&l), Some(t), "{t} {len:?}");
                    if len != KeyLength::Single {
                        assert_eq!(key_type_of(&r), Some(t), "{t} {len:?} right");
                    }
                }
            }
            assert!(n > 0, "{t}");
        }
        assert_eq!(key_type_of(&[0; 8]), Some("DATA"));
        assert_eq!(key_type_of(&[0xFF; 8]), None);
    }
}
