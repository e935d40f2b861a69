//! MAC_Generate (CSNBMGN) and MAC_Verify (CSNBMVR): DES and TDES CBC-MACs (ANSI X9.9-1,
//! ANSI X9.19 optional procedure, EMV padding, ISO 16609 TDES-MAC) with a MAC, MACVER, DATA,
//! DATAM or DATAMV key.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "MAC Generate (CSNBMGN)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=authentication-mac-generate-csnbmgn>):
//!   4-, 6- or 8-byte MACs; X9.9-1 "single key algorithm, a single-length MAC generation key or
//!   data-encrypting key"; X9.19 optional "double key algorithm, a double-length MAC generation
//!   key"; EMV padding rules; the MAC is the leftmost 32 or 48 bits or all 64 bits of the last
//!   ciphertext block.
//! - Its parameters (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_mgnparameters.html>)
//!   and MAC_Verify's (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_mvrparameters.html>):
//!   rule-array count 0–3, "one of the MAC processing rules … one of the segmenting control
//!   keywords and one of the MAC length keywords" in any order; with ONLY or LAST, text that
//!   is not a multiple of eight bytes is padded as the processing rule says. MAC_Verify takes
//!   MAC, MACVER, DATAM, DATAMV or DATA keys.
//! - IBM Docs "CCA for Linux", "ANSI X9.9 MAC"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=methods-ansi-x99-mac>): option 1,
//!   binary data; a short last block is padded with binary zeros; DES-CBC, the last output
//!   block is kept.
//! - CCA254 "MAC_Generate" (<https://manualsdump.com/en/manuals/ibm-2model/120553/253>):
//!   X9.9-1 is the default with a single-length key and equals ISO/IEC 9797-1 algorithm 1;
//!   X9.19OPT is the default with a double-length key and equals ISO/IEC 9797-1 algorithm 3;
//!   EMVMAC/EMVMACD append X'80' and 0–7 X'00' bytes (single / double-length key).
//! - IBM Docs "CCA for Linux", "ISO 16609 TDES MAC"
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_c_iso16609tm.html>): ISO/IEC 9797-1
//!   algorithm 1 with TDES and a double-length key, zero padding. MAC Generate's overview
//!   also names TDES-CMAC (NIST SP 800-38B) with double- or triple-length keys; softcca does
//!   not implement it yet (its rule-array keyword was not found; "TDES-CMAC" has 9
//!   characters and cannot be one), so any keyword for it is 8/33 today.
//! - 4/1 for a MAC that does not verify (CCA254 Fig. A-3, p=363); 8/39 for a CV violation.
//!
//! Parameter blocks:
//! - CSNBMGN: rule array 0–3 (X9.9-1 | X9.19OPT | EMVMAC | EMVMACD | TDES-MAC; ONLY (default) |
//!   FIRST | MIDDLE | LAST; MACLEN4 (default) | MACLEN6 | MACLEN8); params `[Bytes
//!   key_identifier (64), Bytes text, Bytes chaining_vector (18)]` → outputs `[Bytes mac,
//!   Bytes chaining_vector (18)]`. The MAC is 4, 6 or 8 bytes for ONLY and LAST and empty for
//!   FIRST and MIDDLE. IBM's `text_length` is the length of `text`.
//! - CSNBMVR: the same rule array; params `[Bytes key_identifier, Bytes text, Bytes
//!   chaining_vector (18), Bytes mac]` → outputs `[Bytes chaining_vector (18)]`, with 4/1 when
//!   the MAC does not verify.
//!
//! What softcca does (choices where IBM is silent are marked so):
//! - Keys: MAC_Generate needs CV bit 20 (MAC generate), MAC_Verify bit 21 (MAC verify), both
//!   in a data-class CV (bits 8–11 zero); otherwise 8/39. IBM's default DATA CV
//!   `00007D00…` has both bits, so a DES DATA key MACs, as IBM documents; a CIPHER,
//!   ENCIPHER or DECIPHER key does not (8/39), and a MACVER key cannot generate (8/39).
//! - The default processing rule follows the key length: X9.9-1 for single, X9.19OPT for
//!   double. **IBM is silent** on a triple-length key with no rule: softcca uses TDES-MAC.
//!   **\[U\]** the keyword spelling TDES-MAC for IBM's "ISO 16609 TDES MAC" method is from
//!   memory (the keyword table was not re-read); IBM's page names a double-length key,
//!   softcca also takes a triple-length one.
//! - **IBM is silent** on the code for a key of the wrong length for the rule (X9.9-1 or
//!   EMVMAC with a double key, X9.19OPT or EMVMACD with a single or triple key, TDES-MAC with
//!   a single key): softcca answers 8/34, the keyword does not combine with the key.
//! - FIRST and MIDDLE text must be a multiple of 8 bytes (8/25). ONLY with empty text and
//!   zero padding has nothing to MAC: 8/25 (EMV padding always adds a block).
//! - The chaining vector (**IBM is silent** on its layout beyond being an 18-byte work area):
//!   bytes 0–7 the running CBC value, byte 8 X'01' when FIRST or MIDDLE wrote it, byte 9 X'01'
//!   when at least one block went in; the rest zero. MIDDLE and LAST with a chaining vector
//!   that FIRST/MIDDLE did not write (byte 8 not X'01', or bytes 10–17 not zero) give 8/72 as
//!   One_Way_Hash does ([`Failure::ChainingVector`]). The output chaining vector after ONLY
//!   or LAST is all zero.
//! - MAC_Verify: the `mac` must be exactly as long as the MAC length keyword says for ONLY
//!   and LAST (8/72 otherwise) and is ignored for FIRST and MIDDLE; the comparison is
//!   constant-time.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use softcca_wire::Param;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::rules::{self, Grammar, Group};
use crate::tokens::KeyLength;
use crate::verbs::cipher::{BLOCK, CHAIN_LEN, DesEngine, DesUse, permits};
use crate::verbs::keys::notice_for;
use crate::verbs::{Params, Reply};

const MAC: Grammar = Grammar {
    min: 0,
    max: 3,
    groups: &[
        Group::optional_none(&["X9.9-1", "X9.19OPT", "EMVMAC", "EMVMACD", "TDES-MAC"]),
        Group::optional(&["ONLY", "FIRST", "MIDDLE", "LAST"], "ONLY"),
        Group::optional(&["MACLEN4", "MACLEN6", "MACLEN8"], "MACLEN4"),
    ],
};

/// One MAC computation's settings.
struct Plan {
    rule: &'static str,
    segment: &'static str,
    mac_len: usize,
}

fn plan(rule_array: &[rules::Element], length: KeyLength) -> Result<Plan, Failure> {
    let chosen = rules::parse(&MAC, rule_array)?;
    let rule = match (chosen.get(0), length) {
        (Some(r), _) => r,
        (None, KeyLength::Single) => "X9.9-1",
        (None, KeyLength::Double) => "X9.19OPT",
        (None, KeyLength::Triple) => "TDES-MAC",
    };
    let fits = match rule {
        "X9.9-1" | "EMVMAC" => length == KeyLength::Single,
        "X9.19OPT" | "EMVMACD" => length == KeyLength::Double,
        _ => length != KeyLength::Single,
    };
    if !fits {
        return Err(Failure::KeywordCombination);
    }
    let mac_len = match chosen.get(2) {
        Some("MACLEN6") => 6,
        Some("MACLEN8") => 8,
        _ => 4,
    };
    Ok(Plan {
        rule,
        segment: chosen.get(1).unwrap_or("ONLY"),
        mac_len,
    })
}

/// The CBC-MAC of one call: the final block for ONLY/LAST, the running value otherwise, and
/// the output chaining vector.
fn compute(plan: &Plan, key: &[u8], text: &[u8], chain_in: &[u8]) -> Result<MacState, Failure> {
    if chain_in.len() != CHAIN_LEN {
        return Err(Failure::Length);
    }
    let last = matches!(plan.segment, "ONLY" | "LAST");
    let (mut chain, mut any) = if matches!(plan.segment, "MIDDLE" | "LAST") {
        if chain_in[8] != 1 || chain_in[9] > 1 || chain_in[10..].iter().any(|&b| b != 0) {
            return Err(Failure::ChainingVector);
        }
        let mut c = [0u8; BLOCK];
        c.copy_from_slice(&chain_in[..BLOCK]);
        (c, chain_in[9] == 1)
    } else {
        ([0u8; BLOCK], false)
    };
    if !last && !text.len().is_multiple_of(BLOCK) {
        return Err(Failure::TextLength);
    }
    // The intermediate cipher: single DES under the (left) key for X9.9-1, X9.19OPT and the
    // EMV rules; TDES for TDES-MAC.
    let (inner, outer) = match plan.rule {
        "TDES-MAC" => (DesEngine::new(key)?, None),
        "X9.19OPT" | "EMVMACD" => (
            DesEngine::new(&key[..BLOCK])?,
            Some(DesEngine::new(&key[BLOCK..2 * BLOCK])?),
        ),
        _ => (DesEngine::new(&key[..BLOCK])?, None),
    };
    let whole = text.len() - text.len() % BLOCK;
    for block in text[..whole].chunks_exact(BLOCK) {
        for (c, b) in chain.iter_mut().zip(block) {
            *c ^= b;
        }
        inner.encrypt(&mut chain);
        any = true;
    }
    if !last {
        return Ok(MacState::Running { chain, any });
    }
    let tail = &text[whole..];
    let emv = matches!(plan.rule, "EMVMAC" | "EMVMACD");
    if emv || !tail.is_empty() {
        let mut block = [0u8; BLOCK];
        block[..tail.len()].copy_from_slice(tail);
        if emv {
            block[tail.len()] = 0x80;
        }
        for (c, b) in chain.iter_mut().zip(&block) {
            *c ^= b;
        }
        inner.encrypt(&mut chain);
        any = true;
    }
    if !any {
        return Err(Failure::TextLength);
    }
    if let Some(k2) = outer {
        // ISO/IEC 9797-1 output transformation 3: decipher under K2, encipher under K1.
        k2.decrypt(&mut chain);
        inner.encrypt(&mut chain);
    }
    Ok(MacState::Done(chain))
}

enum MacState {
    Running { chain: [u8; BLOCK], any: bool },
    Done([u8; BLOCK]),
}

fn chain_out(state: &MacState) -> Vec<u8> {
    let mut v = vec![0u8; CHAIN_LEN];
    if let MacState::Running { chain, any } = state {
        v[..BLOCK].copy_from_slice(chain);
        v[8] = 1;
        v[9] = u8::from(*any);
    }
    v
}

pub(crate) fn csnbmgn(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    rules::parse(&MAC, rule_array)?;
    p.expect_len(3)?;
    let key = card.des_key(p.bytes(0)?)?;
    if !permits(&key.token.fields, DesUse::MacGenerate) {
        return Err(Failure::ControlVector);
    }
    let plan = plan(rule_array, key.token.fields.length)?;
    let state = compute(&plan, key.key.expose(), p.bytes(1)?, p.bytes(2)?)?;
    let mac = match &state {
        MacState::Done(m) => m[..plan.mac_len].to_vec(),
        MacState::Running { .. } => Vec::new(),
    };
    Ok(Reply {
        notice: notice_for(key.used),
        outputs: vec![Param::Bytes(mac), Param::Bytes(chain_out(&state))],
        ..Reply::default()
    })
}

pub(crate) fn csnbmvr(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    rules::parse(&MAC, rule_array)?;
    p.expect_len(4)?;
    let key = card.des_key(p.bytes(0)?)?;
    if !permits(&key.token.fields, DesUse::MacVerify) {
        return Err(Failure::ControlVector);
    }
    let plan = plan(rule_array, key.token.fields.length)?;
    let given = p.bytes(3)?;
    if matches!(plan.segment, "ONLY" | "LAST") && given.len() != plan.mac_len {
        return Err(Failure::Length);
    }
    let state = compute(&plan, key.key.expose(), p.bytes(1)?, p.bytes(2)?)?;
    let notice = match &state {
        MacState::Done(m) => match verify_slices_are_equal(&m[..plan.mac_len], given) {
            Ok(()) => notice_for(key.used),
            Err(_) => Some(Notice::VerificationFailed),
        },
        MacState::Running { .. } => notice_for(key.used),
    };
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(chain_out(&state))],
        ..Reply::default()
    })
}
