//! Clear_Key_Import (CSNBCKI) and Multiple_Clear_Key_Import (CSNBCKM): a clear DATA key,
//! enciphered under the current master key into an internal 64-byte key token.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Clear Key Import (CSNBCKI)"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_cki.html>,
//!   <https://www.ibm.com/docs/en/linux-on-systems?topic=keys-clear-key-import-csnbcki>) and
//!   its parameters (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbcki-parameters>):
//!   an 8-byte clear DATA key; "If the clear key value does not have odd parity in the
//!   low-order bit of each byte, the verb returns a warning value in the reason_code
//!   parameter. This verb does not adjust the parity of the key"; `target_key_identifier` is
//!   a 64-byte input/output string that receives the internal key token.
//! - CCA254 "Clear_Key_Import" (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=172>):
//!   "If the key token … is null, then a DATA key-token containing the encrypted clear-key
//!   replaces the null token. Otherwise, the preexisting token must be a DATA key-token".
//! - IBM Docs "CCA for Linux", "Multiple Clear Key Import (CSNBCKM)"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_ckm.html>), its parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbckm-parameters>: rule-array
//!   count 0–3; Algorithm AES | DES (default); key-wrapping method USECONFG (default) |
//!   WRAP-ENH | WRAP-ECB | WRAPENH2 …, "ignored for AES keys", WRAP-ECB "valid only for DES
//!   keys"), its usage notes (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_ckmusage.html>:
//!   "This verb produces an internal DATA token with a control vector … If a valid internal
//!   token is supplied as input … that token's control vector is not used in the encryption
//!   of the clear key value"), its required commands
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_ckmrequired.html>), and ICSF's
//!   CSNBCKM (<https://www.ibm.com/docs/ja/SSLTBW_2.2.0/com.ibm.zos.v2r2.csfb400/ckm.htm>:
//!   parameters `clear_key_length, clear_key, key_identifier_length, key_identifier`, rule
//!   count 0–3). CCA254 "Multiple_Clear_Key_Import"
//!   (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=221>): the token may be
//!   built from a null key token with the default DATA control vector for the length, or an
//!   existing internal DATA token updated; an out-of-parity clear key gives a warning.
//! - Codes: 0/2 out-of-parity key, 8/31 not a DATA control vector, 8/33, 8/34, 8/35, 12/764
//!   (`/work/shared/docs/CCA-FACTS-symmetric.md` §7; CCA254 Fig. A-4, p=364).
//!
//! Parameter blocks:
//! - CSNBCKI: no rule array (8/35 otherwise); params `[Bytes clear_key (8), Bytes
//!   target_key_identifier (64)]` → outputs `[Bytes key_token (64)]`.
//! - CSNBCKM: rule array 0–3 (algorithm DES | AES; wrapping USECONFG | WRAP-ECB | WRAP-ENH |
//!   WRAPENH2 | WRAPENH3; ENH-ONLY); params `[Bytes clear_key, Bytes key_identifier (64)]` →
//!   outputs `[Bytes key_token (64)]`. IBM's `clear_key_length` and `key_identifier_length`
//!   are the lengths of the two byte strings.
//!
//! What softcca does (choices are listed in ARCHITECTURE.md):
//! - DES: the key (8, 16 or 24 bytes; other lengths 8/72) is enciphered WRAP-ECB under the
//!   current SYM master key with IBM's default DATA control vector for its length (single
//!   `00007D0003000000`, double `…0341…`/`…0321…`, triple `…03600081`), version X'00'. The
//!   parity is not adjusted; a byte without odd parity gives 0/2 with the token.
//! - AES (CSNBCKM only): 16, 24 or 32 bytes (8/72 otherwise), AES-CBC under the current AES
//!   master key into a version X'04' token.
//! - The input token: a null token, or an internal DATA token of the algorithm (its fields,
//!   CV included, are not carried over: the output is built fresh). A DES internal token of
//!   another key type is 8/31; an external DES token 8/47; a malformed token the parser's code
//!   (8/43, 8/47, 8/49, 8/29). A key label is resolved by the host library, which sends the
//!   record's token and writes the new token back to the record; a label that reaches the
//!   card anyway is 8/47.
//! - Wrapping: USECONFG is softcca's configured default, WRAP-ECB (IBM's default, "DES key
//!   usage restrictions"). WRAP-ENH, WRAPENH2, WRAPENH3 and ENH-ONLY are recognized and
//!   answered 8/2 for DES until the enhanced methods exist. With AES, USECONFG and WRAP-ENH
//!   are ignored as IBM says; WRAP-ECB, WRAPENH2, WRAPENH3 and ENH-ONLY are 8/34.
//! - No current master key of the class: 12/764. Nothing is returned with a failure.

use softcca_wire::Param;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::Class;
use crate::rules::{self, Grammar, Group};
use crate::tokens::aes::AesToken;
use crate::tokens::des::{DesFields, DesToken};
use crate::tokens::{KeyLength, cv, wrap};
use crate::verbs::keys::is_label;
use crate::verbs::{Params, Reply};

const CKM: Grammar = Grammar {
    min: 0,
    max: 3,
    groups: &[
        Group::optional(&["DES", "AES"], "DES"),
        Group::optional(
            &["USECONFG", "WRAP-ECB", "WRAP-ENH", "WRAPENH2", "WRAPENH3"],
            "USECONFG",
        ),
        Group::optional_none(&["ENH-ONLY"]),
    ],
};

pub(crate) fn csnbcki(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(2)?;
    let clear = p.bytes(0)?;
    if clear.len() != KeyLength::Single.bytes() {
        return Err(Failure::Length);
    }
    check_des_target(p.bytes(1)?)?;
    import_des(card, clear, KeyLength::Single)
}

pub(crate) fn csnbckm(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&CKM, rule_array)?;
    p.expect_len(2)?;
    let clear = p.bytes(0)?;
    let target = p.bytes(1)?;
    let wrapping = chosen.get(1).unwrap_or("USECONFG");
    let enh_only = chosen.get(2).is_some();
    match chosen.get(0) {
        Some("AES") => {
            if enh_only || !matches!(wrapping, "USECONFG" | "WRAP-ENH") {
                return Err(Failure::KeywordCombination);
            }
            if !matches!(clear.len(), 16 | 24 | 32) {
                return Err(Failure::Length);
            }
            check_aes_target(target)?;
            let token = card.with_current_master_key(Class::Aes, |mk| {
                let internal = wrap::wrap_aes(mk, clear)?;
                Ok(AesToken::Internal(internal).to_bytes())
            })?;
            Ok(Reply::outputs(vec![Param::Bytes(token.to_vec())]))
        }
        _ => {
            let length = match clear.len() {
                8 => KeyLength::Single,
                16 => KeyLength::Double,
                24 => KeyLength::Triple,
                _ => return Err(Failure::Length),
            };
            check_des_target(target)?;
            if enh_only || !matches!(wrapping, "USECONFG" | "WRAP-ECB") {
                return Err(Failure::NotSupported);
            }
            import_des(card, clear, length)
        }
    }
}

/// Enciphers a clear DES key as a DATA key with the default CV for its length.
fn import_des(card: &Card, clear: &[u8], length: KeyLength) -> Result<Reply, Failure> {
    let (cv_left, cv_right) = cv::default_cv("DATA", length).ok_or(Failure::KeyTokenInvalid)?;
    let token = card.with_current_master_key(Class::Sym, |mk| {
        let internal = wrap::wrap_des(mk, clear, cv_left, cv_right, length)?;
        Ok(DesToken::Internal(internal).to_bytes())
    })?;
    let odd = clear.iter().all(|b| b.count_ones() % 2 == 1);
    Ok(Reply {
        notice: (!odd).then_some(Notice::KeyParity),
        outputs: vec![Param::Bytes(token.to_vec())],
        ..Reply::default()
    })
}

fn is_data(fields: &DesFields) -> bool {
    // A zero CV (version X'01' double/triple DATA, or a zero-CV single key) is a DATA key.
    (fields.cv_left == [0; 8] && fields.cv_right == [0; 8])
        || cv::key_type_of(&fields.cv_left) == Some("DATA")
}

/// The DES target token: null, or an internal DATA token.
fn check_des_target(bytes: &[u8]) -> Result<(), Failure> {
    if is_label(bytes) {
        return Err(Failure::KeyTokenInvalid);
    }
    match DesToken::parse(bytes)? {
        DesToken::Null => Ok(()),
        DesToken::Internal(t) if is_data(&t.fields) => Ok(()),
        DesToken::Internal(_) => Err(Failure::NotDataKey),
        DesToken::External(_) => Err(Failure::KeyTokenInvalid),
    }
}

/// The AES target token: null (64 zero bytes) or an internal fixed-length AES token (every
/// such token holds a DATA key).
fn check_aes_target(bytes: &[u8]) -> Result<(), Failure> {
    if is_label(bytes) {
        return Err(Failure::KeyTokenInvalid);
    }
    AesToken::parse(bytes).map(|_| ())
}
