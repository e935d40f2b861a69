//! Key_Part_Import (CSNBKPI): clear key parts of a DES key, exclusive-ORed together inside
//! the card into an internal 64-byte key token whose control vector carries the key-part bit
//! until the last part.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Key Part Import (CSNBKPI)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-key-part-import-csnbkpi>): the
//!   parts are combined by XOR; FIRST, ADD-PART and COMPLETE are the preferred keywords,
//!   FIRST, MIDDLE and LAST the older ones; "Only when the combined key parts have been marked
//!   as complete can the key token be used in any cryptographic operation"; a partial key may
//!   still be passed to Key Token Change and Key Test. Its format
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_kpiformat.html>): `rule_array_count,
//!   rule_array, key_part, key_identifier`. Its required commands
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_kpirequired.html>): one command per
//!   process keyword, an override for WRAP-ECB / WRAP-ENH, and the key-halves restriction
//!   enforced unless "Key Part Import - Unrestricted" is enabled.
//! - CCA254 "Key_Part_Import" (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=204>,
//!   p=205, p=206): the token "must include a control vector", which "must have the KEY-PART
//!   bit set on"; FIRST "ignores any key information present in the input key-token"; a FIRST
//!   part should have odd parity, a MIDDLE / ADD-PART part even parity, and an accumulated key
//!   with a byte of even parity gives reason code 2; COMPLETE turns the key-part bit off and
//!   adds no key-part information; the key part is 8 or 16 bytes (an 8-byte part in the
//!   high-order bytes of a 16-byte field); a key with replicated halves is restricted.
//! - CCA254 App. C, p=427: the key-part bit is bit 44 of the control vector
//!   ([`cv::KEY_PART_MASK`]).
//! - Codes: CCA254 Fig. A-4 (p=364): 8/33, 8/34, 8/35, 8/39, 8/47; LOZ reason codes for
//!   return code 0: 0/2 ("One or more bytes of a key do not have odd parity"), 0/10001.
//!
//! Parameter blocks: rule array 1–2 (process FIRST | MIDDLE | LAST | ADD-PART | COMPLETE,
//! required; wrapping USECONFG | WRAP-ECB | WRAP-ENH | WRAPENH2 | WRAPENH3, optional); params
//! `[Bytes key_part, Bytes key_identifier (64)]` → outputs `[Bytes key_token (64)]`. IBM's
//! `key_part` has no length parameter: the host sends the field (8, 16 or 24 bytes, at least
//! the key's length; the card reads the key's length from its left); with COMPLETE it is
//! ignored and may have any length up to 24.
//!
//! What softcca does (choices are listed in ARCHITECTURE.md):
//! - The token must be an internal DES token whose left control vector has the key-part bit
//!   (bit 44); otherwise 8/39. A zero-CV (version X'01') token has no key-part bit and is
//!   refused the same way. A null or external token, or a label that reaches the card, is
//!   8/47. The key length comes from the CV's form bits.
//! - FIRST ignores any key the token holds (IBM's words), enciphers the part under the
//!   current master key with the token's CV (key-part bit on), and sets flag X'80'. MIDDLE and
//!   ADD-PART decipher the accumulated key (under CURRENT or OLD), XOR the part in and
//!   re-encipher under CURRENT with the key-part bit still on. LAST does the same and then
//!   clears the bit. COMPLETE clears the bit and re-enciphers the unchanged key under the new
//!   CV. MIDDLE, LAST, ADD-PART and COMPLETE on a token that holds no key: 8/47.
//! - Parity is never adjusted. **IBM's 2.54 text checks the parity of the parts; softcca
//!   checks the accumulated key instead** (which is what matters, and what IBM's note 1
//!   describes): any byte of the resulting key without odd parity gives 0/2 with the token.
//!   A token deciphered under the old master key gives 0/10001 when the parity is good
//!   (**IBM is silent** on which of the two reason codes wins; softcca reports the parity).
//! - Replicated halves: when LAST or COMPLETE would make operational a double-length key
//!   whose halves are equal, or a triple-length key with two equal thirds (parity bits
//!   ignored, as IBM says), the verb refuses with 8/39. **IBM is silent** on the reason code
//!   of the key-halves restriction; softcca treats it as a control-vector policy violation.
//!   Softcca has no role that enables "Key Part Import - Unrestricted".
//! - Wrapping: USECONFG and WRAP-ECB are accepted; WRAP-ENH, WRAPENH2 and WRAPENH3 are 8/2
//!   until the enhanced methods exist.
//!
//! **The key-part CV attack.** The partial key is enciphered under the master key XOR its
//! control vector (WRAP-ECB), so the CV is bound into the ciphertext. A token whose CV was
//! changed between two calls (TVV recomputed) deciphers to a different, unknown value, and
//! the accumulated key is not part1 ⊕ part2 ⊕ …: nobody, the attacker included, knows the
//! resulting key. What is **not** detected: the card cannot tell that this happened (WRAP-ECB
//! tokens carry no MAC), so it does not refuse; the operators find out only through Key_Test
//! before COMPLETE. Clearing the key-part bit by hand gives, likewise, a token whose key
//! nobody knows. Bond's related attack — choosing a last key part equal to a CV difference so
//! that a KEK ⊕ CV product collides with another — is not something Key_Part_Import can see;
//! CCA's defences are dual control (separate ADD-PART and COMPLETE commands) and the
//! checks of the verbs that use a KEK (crates/card/tests/cv_attacks.rs states each case).

use softcca_wire::Param;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::Class;
use crate::rules::{self, Grammar, Group};
use crate::tokens::des::{DesToken, FLAG_KEY_PRESENT, InternalDes};
use crate::tokens::{KeyLength, cv, wrap};
use crate::verbs::keys::{is_label, notice_for};
use crate::verbs::{Params, Reply};

const KPI: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::required(&["FIRST", "MIDDLE", "LAST", "ADD-PART", "COMPLETE"]),
        Group::optional(
            &["USECONFG", "WRAP-ECB", "WRAP-ENH", "WRAPENH2", "WRAPENH3"],
            "USECONFG",
        ),
    ],
};

pub(crate) fn csnbkpi(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&KPI, rule_array)?;
    let process = chosen.get(0).unwrap_or("FIRST");
    p.expect_len(2)?;
    let part = p.bytes(0)?;
    let identifier = p.bytes(1)?;
    if part.len() > 24 {
        return Err(Failure::Length);
    }
    if is_label(identifier) {
        return Err(Failure::KeyTokenInvalid);
    }
    let token = match DesToken::parse(identifier)? {
        DesToken::Internal(t) => t,
        DesToken::Null | DesToken::External(_) => return Err(Failure::KeyTokenInvalid),
    };
    let (cv_left, cv_right) = (token.fields.cv_left, token.fields.cv_right);
    if !cv::is_key_part(&cv_left) {
        return Err(Failure::ControlVector);
    }
    if !matches!(chosen.get(1), Some("USECONFG" | "WRAP-ECB") | None) {
        return Err(Failure::NotSupported);
    }
    let length = token.fields.length;
    let n = length.bytes();
    if process != "COMPLETE" && (!matches!(part.len(), 8 | 16 | 24) || part.len() < n) {
        return Err(Failure::Length);
    }

    // The accumulated key after this call, and which master key deciphered the old one.
    let mut key = zeroize::Zeroizing::new(vec![0u8; n]);
    let mut used = None;
    if process == "FIRST" {
        key.copy_from_slice(&part[..n]);
    } else {
        let (old_key, u) =
            card.with_master_keys(Class::Sym, |cur, old| wrap::unwrap_des(&token, cur, old))?;
        used = Some(u);
        key.copy_from_slice(old_key.expose());
        if process != "COMPLETE" {
            for (k, b) in key.iter_mut().zip(part) {
                *k ^= b;
            }
        }
    }
    let finishing = matches!(process, "LAST" | "COMPLETE");
    if finishing && replicated(&key, length) {
        return Err(Failure::ControlVector);
    }
    let (new_left, new_right) = if finishing {
        (
            cv::with_key_part(&cv_left, false),
            cv::with_key_part(&cv_right, false),
        )
    } else {
        (cv_left, cv_right)
    };
    let flags = token.fields.flags | FLAG_KEY_PRESENT;
    let out = card.with_current_master_key(Class::Sym, |mk| {
        let mut t: InternalDes = wrap::wrap_des(mk, &key, new_left, new_right, length)?;
        t.fields.flags = flags;
        Ok(DesToken::Internal(t).to_bytes())
    })?;
    let odd = key.iter().all(|b| b.count_ones() % 2 == 1);
    let notice = if odd {
        used.and_then(notice_for)
    } else {
        Some(Notice::KeyParity)
    };
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(out.to_vec())],
        ..Reply::default()
    })
}

/// Whether a double key's halves, or two thirds of a triple key, are equal (parity bits
/// ignored).
fn replicated(key: &[u8], length: KeyLength) -> bool {
    let part = |i: usize| -> [u8; 8] {
        let mut p = [0u8; 8];
        for (o, b) in p.iter_mut().zip(&key[8 * i..8 * i + 8]) {
            *o = b & 0xFE;
        }
        p
    };
    match length {
        KeyLength::Single => false,
        KeyLength::Double => part(0) == part(1),
        KeyLength::Triple => part(0) == part(1) || part(1) == part(2) || part(0) == part(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicated_halves_ignore_parity() {
        let mut k = vec![0x10u8; 16];
        k[15] = 0x11;
        assert!(replicated(&k, KeyLength::Double));
        k[3] = 0x20;
        assert!(!replicated(&k, KeyLength::Double));
        assert!(!replicated(&k[..8], KeyLength::Single));
        let mut t: Vec<u8> = (0u8..24).map(|i| i * 2).collect();
        assert!(!replicated(&t, KeyLength::Triple));
        t[16..].copy_from_slice(&[0, 2, 4, 6, 8, 10, 12, 15]);
        assert!(replicated(&t, KeyLength::Triple));
    }
}
