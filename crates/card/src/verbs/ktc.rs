//! Key_Token_Change (CSNBKTC): an internal DES or fixed-length AES (version X'04') key token
//! re-enciphered from the old to the current master key (RTCMK), or to the new master key
//! (RTNMK).
//!
//! Sources:
//! - IBM Docs "CCA for Linux", CSNBKTC format
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbktc-format>: `rule_array_count,
//!   rule_array, key_identifier`) and parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbktc-parameters>): rule count
//!   1–4; RTCMK "Re-enciphers a DES or AES key to the current master-key in an internal
//!   key-token in application storage or in key storage"; a key already under the current
//!   master key gives 0/0, one under the old master key is updated and gives 0/0, "Other
//!   cases return some form of abnormal response"; RTNMK re-enciphers an internal DES or AES
//!   key to the new master key, which "must be full", and the result "is not usable" until
//!   SET.
//! - CCA254 "Key_Token_Change" (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=215>):
//!   the same RTCMK text for DES.
//! - IBM Docs "CCA for Linux", "Key storage for traditional IBM systems other than IBM Z
//!   (RTCMK-focused)" (topic kslziczi-key-storage-traditional-systems-other-than-z-rtcmk-focused-linux-aix-windows):
//!   after SET, every token of key storage is re-enciphered with RTCMK (`softcca panel
//!   reencipher` does that).
//! - Codes: 8/24 for a token under neither master key (ICSF csfb4879: "neither the current
//!   master key nor the old master key. Therefore, it cannot be reenciphered"); 12/764 no
//!   current master key.
//!
//! Parameter blocks: rule array 1–4 (method RTCMK | RTNMK, required; algorithm DES | AES,
//! optional; wrapping USECONFG | WRAP-ECB | WRAP-ENH | WRAPENH2 | WRAPENH3, optional);
//! params `[Bytes key_identifier (64)]` → outputs `[Bytes key_token (64)]`. A label is
//! resolved by the host library, which writes the new token back to the record.
//!
//! What softcca does (choices are listed in ARCHITECTURE.md):
//! - The algorithm comes from the token (byte 4 = X'04' is AES, versions X'00'/X'01' DES)
//!   unless the rule array names one; a token of the other algorithm is then parsed as the
//!   named one and refused with that parser's code. **IBM is silent** on whether the
//!   algorithm keyword exists on the 4767; softcca accepts it.
//! - The token is deciphered under CURRENT or OLD (by its MKVP; neither: 8/24) and
//!   re-enciphered under CURRENT (RTCMK) or a full NEW register (RTNMK) with the same control
//!   vector and flags. A token already under CURRENT comes back unchanged with 0/0 (IBM
//!   documents no "already current" reason code). RTNMK with NEW not full: 8/34 (the
//!   process keyword does not fit the register's state, as in CSNBMKP; **IBM is silent**).
//!   RTNMK of a token already under NEW: 8/24, since its MKVP is neither CURRENT's nor OLD's.
//! - Partial keys (key-part bit on) are re-enciphered too, as IBM's Key Part Import page says.
//! - A clear-key AES token (flag X'80' off) has nothing to re-encipher: 0/0, unchanged.
//!   An AES token with no key, a null token, or an external DES token: 8/47.
//! - Wrapping keywords: USECONFG and WRAP-ECB accepted for DES, ignored for AES; the enhanced
//!   methods are 8/2 for DES until they exist.

use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::mk::{Class, MasterKey};
use crate::rules::{self, Grammar, Group};
use crate::tokens::aes::{AesMaterial, AesToken};
use crate::tokens::des::{DesToken, InternalDes};
use crate::tokens::{MasterKeyUsed, wrap};
use crate::verbs::keys::is_label;
use crate::verbs::{Params, Reply};

const KTC: Grammar = Grammar {
    min: 1,
    max: 4,
    groups: &[
        Group::required(&["RTCMK", "RTNMK"]),
        Group::optional_none(&["DES", "AES"]),
        Group::optional(
            &["USECONFG", "WRAP-ECB", "WRAP-ENH", "WRAPENH2", "WRAPENH3"],
            "USECONFG",
        ),
    ],
};

pub(crate) fn csnbktc(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KTC, rule_array)?;
    let to_new = chosen.get(0) == Some("RTNMK");
    p.expect_len(1)?;
    let identifier = p.bytes(0)?;
    if is_label(identifier) {
        return Err(Failure::KeyTokenInvalid);
    }
    let aes = match chosen.get(1) {
        Some(a) => a == "AES",
        None => identifier.get(4) == Some(&0x04) && identifier.first() == Some(&0x01),
    };
    let wrapping = chosen.get(2).unwrap_or("USECONFG");
    let out = if aes {
        change_aes(card, identifier, to_new)?
    } else {
        if !matches!(wrapping, "USECONFG" | "WRAP-ECB") {
            return Err(Failure::NotSupported);
        }
        change_des(card, identifier, to_new)?
    };
    Ok(Reply::outputs(vec![Param::Bytes(out.to_vec())]))
}

/// The master key to re-encipher under: CURRENT, or NEW when full (RTNMK).
fn target<T>(
    card: &Card,
    class: Class,
    to_new: bool,
    f: impl FnOnce(&MasterKey) -> Result<T, Failure>,
) -> Result<T, Failure> {
    if to_new {
        card.with_new_master_key(class, f)
    } else {
        card.with_current_master_key(class, f)
    }
}

fn change_des(card: &Card, identifier: &[u8], to_new: bool) -> Result<[u8; 64], Failure> {
    let token = match DesToken::parse(identifier)? {
        DesToken::Internal(t) => t,
        DesToken::Null | DesToken::External(_) => return Err(Failure::KeyTokenInvalid),
    };
    let (key, used) =
        card.with_master_keys(Class::Sym, |cur, old| wrap::unwrap_des(&token, cur, old))?;
    if used == MasterKeyUsed::Current && !to_new {
        return Ok(DesToken::Internal(token).to_bytes());
    }
    let f = &token.fields;
    target(card, Class::Sym, to_new, |mk| {
        let mut t: InternalDes = wrap::wrap_des(mk, key.expose(), f.cv_left, f.cv_right, f.length)?;
        t.fields.flags = f.flags;
        Ok(DesToken::Internal(t).to_bytes())
    })
}

fn change_aes(card: &Card, identifier: &[u8], to_new: bool) -> Result<[u8; 64], Failure> {
    let token = match AesToken::parse(identifier)? {
        AesToken::Internal(t) => t,
        AesToken::Null => return Err(Failure::KeyTokenInvalid),
    };
    match token.material {
        AesMaterial::Clear { .. } => return Ok(AesToken::Internal(token).to_bytes()),
        AesMaterial::NoKey { .. } => return Err(Failure::KeyTokenInvalid),
        AesMaterial::Encrypted { .. } => {}
    }
    let (key, used) =
        card.with_master_keys(Class::Aes, |cur, old| wrap::unwrap_aes(&token, cur, old))?;
    if used == Some(MasterKeyUsed::Current) && !to_new {
        return Ok(AesToken::Internal(token).to_bytes());
    }
    target(card, Class::Aes, to_new, |mk| {
        let mut t = wrap::wrap_aes(mk, key.expose())?;
        t.cv_present = token.cv_present;
        Ok(AesToken::Internal(t).to_bytes())
    })
}
