//! Cryptographic_Facility_Query (CSUACFQ) and Cryptographic_Facility_Version (CSUACFV).
//!
//! IBM Docs "CCA for Linux", "Cryptographic Facility Query (CSUACFQ)" and "Cryptographic
//! Facility Version (CSUACFV)"; CCA Basic Services Reference 2.54, figure 2-3.
//!
//! Parameter blocks:
//! - CSUACFQ: rule array (1–2: optional ADAPTER1, one information keyword), params
//!   `[Int verb_data_length, Bytes verb_data]` → rule-array output elements (8 bytes each,
//!   numbers left-justified and blank-padded), outputs `[]`. The STAT* keywords other than
//!   STATICSB, and TIMEDATE, use no verb data; IBM's own clients pass length 0 and a null
//!   pointer, and the verb leaves verb data alone.
//! - CSUACFQ STATICSB, DOM-NUMS, DOM-USAG answer in verb data: outputs `[Bytes verb_data]`
//!   (the C library copies it and sets `verb_data_length` to its length) and no rule-array
//!   output. A `verb_data_length` smaller than the answer is 8/72 and nothing is returned (IBM
//!   Docs "CCA for Linux", "Verb data returned for CSUACFQ keywords",
//!   lxcc/wskc_r_cfq_vdras390.html: "If either the verb_data or verb_data_length fields are
//!   not valid, no data is returned at all").
//! - CSUACFV: no rule array, params `[Int version_data_length]` (at least 17, else 8/72) →
//!   outputs `[Bytes version_data]`: the 8-character version, the 8-character build date
//!   (`yyyymmdd`) and a NUL.
//!
//! Layouts (element numbers from 1):
//! - STATCCA: 1–3 SYM NMK ('1' clear, '2' partial, '3' full), CMK and OMK ('1' clear, '2'
//!   loaded); 4 CCA version; 5 build date; 6 role of the caller.
//! - STATCCAE: 1–6 as STATCCA; 7–9 ASYM NMK, CMK, OMK.
//! - STATAES, STATAPKA: 1 NMK, 2 CMK, 3 OMK of the AES or APKA registers.
//! - TIMEDATE: 1 `yyyymmdd`, 2 `hhmmss` (GMT), 3 day of the week, 1 = Sunday.
//! - STATCARD (IBM's table is not at hand; the order below follows the 4758/4765 manuals as
//!   remembered, a softcca choice): 1 number of adapters, 2 DES hardware level, 3 RSA hardware
//!   level, 4–5 POST0 and POST1 versions, 6 coprocessor OS name, 7 OS version, 8 part number,
//!   9 EC level, 10 Miniboot version, 11 CPU speed (MHz), 12 adapter ID, 13 flash size (MB),
//!   14 DRAM size (MB), 15 battery-backed RAM size (KB), 16 serial number.
//! - STATICSB (verb data, 240 bytes): blocks of `LEN(2) ‖ ID(2) ‖ pattern`, big-endian, as
//!   IBM's STATICSA/STATICSC pages describe the family ("the *_ID fields should be used for
//!   verification"). IBM's STATICSB table itself was not retrieved; the layout below is built
//!   from the offsets opencryptoki 3.23–3.27 reads (`cca_stdll.h` `CCA_STATICSB_*`, used by
//!   `cca_get_mkvps`) and the 12-byte block they imply (LEN = 12, 8-byte MKVP):
//!   - 0–119: six 20-byte blocks where IBM reports the 16-byte MDC-4 hash patterns of the SYM
//!     and ASYM registers (as STATICSA). softcca computes no MDC-4 hash (ASYM tokens carry no
//!     MKVP yet), so these blocks carry LEN = 20, ID = X'0000' and zeros: a parser walking the
//!     blocks by LEN finds them, one looking for an ID ignores them. (softcca choice.)
//!   - 120 SYM OMK (ID X'0F08', inferred from the CMK/NMK IDs X'0F07'/X'0F06'), 132 SYM CMK
//!     X'0F07', 144 SYM NMK X'0F06'.
//!   - 156: one 12-byte block IBM's table has there, not retrieved: ID X'0000', zeros.
//!   - 168 AES OMK (X'0F0C', inferred), 180 AES CMK X'0F0B', 192 AES NMK X'0F0A'.
//!   - 204 APKA OMK (X'0F0F', inferred), 216 APKA CMK X'0F0E', 228 APKA NMK X'0F0D'.
//!   - Each pattern is the 8-byte MKVP the card writes into key tokens of that class
//!     ([`crate::mk::verification_pattern`]): SYM in DES tokens at offset 8, AES in X'04' AES
//!     tokens at offset 8 and variable-length tokens at offset 10, APKA in RSA X'30'/X'31' and
//!     ECC X'20' sections. An empty register, and a NEW register that is only partially
//!     loaded, reports eight zero bytes (IBM returns the blocks "for all registers indicated,
//!     so that interpretation is reliable").
//! - DOM-NUMS (verb data, 4 bytes): the number of domains, a big-endian integer. A 4767 is a
//!   PCIe card without domains: 1. opencryptoki 3.23 reads it with `be32toh`.
//! - DOM-USAG (verb data, 4 bytes): the usage domains, one 4-byte big-endian number each:
//!   domain 0 only. IBM's table was not retrieved; opencryptoki 3.27 (s390 only) reads 4-byte
//!   big-endian numbers, 3.23 reads 2-byte slots — domain 0 reads as 0 in both. (softcca
//!   choice.)
//! - STATCRD2: IBM fixes element 1 (number of adapters) and element 15 (the serial number, at
//!   rule-array offset 112, which opencryptoki reads); softcca fills 2–14 with STATCARD's
//!   fields 2–11 and 13–15, and 16 with the adapter ID.

use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::mk::{Class, NewState};
use crate::rules::{self, Element, Grammar, Group};
use crate::time::civil_from_days;
use crate::verbs::{Params, Reply, number_element, text_element};

const QUERY: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::optional(&["ADAPTER1"], "ADAPTER1"),
        Group::required(&[
            "STATCCA", "STATCCAE", "STATAES", "STATAPKA", "STATCARD", "STATCRD2", "TIMEDATE",
            "STATICSB", "DOM-NUMS", "DOM-USAG",
        ]),
    ],
};

const CONTROL: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::optional(&["ADAPTER1"], "ADAPTER1"),
        Group::required(&[
            "RESET-IL", "RESETBAT", "RQ-TOKEN", "RQ-REINT", "SETCLOCK", "LOAD-FCV", "CLR-FCV",
        ]),
    ],
};

/// Cryptographic_Facility_Control (CSUACFC). Rule array (1–2): optional ADAPTER1 and one
/// function; params `[Int verb_data_length, Bytes verb_data]` → outputs `[]`.
/// RESET-IL clears the intrusion latch and RESETBAT the battery-low indicator (IBM CCA
/// Basic Services Reference, "Cryptographic_Facility_Control"); RQ-TOKEN, RQ-REINT,
/// SETCLOCK, LOAD-FCV and CLR-FCV are recognized and answered 8/2 until the work that needs
/// them (reinitialization, function control vectors) exists.
pub(crate) fn csuacfc(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&CONTROL, rule_array)?;
    p.expect_len(2)?;
    let verb_data_length = p.int(0)?;
    if verb_data_length < 0 || p.bytes(1)?.len() > usize::try_from(verb_data_length).unwrap_or(0) {
        return Err(Failure::Length);
    }
    match chosen.get(1) {
        Some("RESET-IL") => card.reset_intrusion_latch()?,
        Some("RESETBAT") => card.reset_battery_indicator()?,
        _ => return Err(Failure::NotSupported),
    }
    Ok(Reply::default())
}

/// The length of CSUACFV's output.
pub const VERSION_DATA_LEN: usize = 17;

pub(crate) fn csuacfq(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&QUERY, rule_array)?;
    p.expect_len(2)?;
    let verb_data_length = p.int(0)?;
    if verb_data_length < 0 || p.bytes(1)?.len() > usize::try_from(verb_data_length).unwrap_or(0) {
        return Err(Failure::Length);
    }
    let verb_data = match chosen.get(1) {
        Some("STATICSB") => Some(staticsb(card).to_vec()),
        Some("DOM-NUMS") => Some(1u32.to_be_bytes().to_vec()),
        Some("DOM-USAG") => Some(0u32.to_be_bytes().to_vec()),
        _ => None,
    };
    if let Some(data) = verb_data {
        if usize::try_from(verb_data_length).unwrap_or(0) < data.len() {
            return Err(Failure::Length);
        }
        return Ok(Reply::outputs(vec![Param::Bytes(data)]));
    }
    let elements = match chosen.get(1) {
        Some("STATCCA") => stat_cca(card, false),
        Some("STATCCAE") => stat_cca(card, true),
        Some("STATAES") => registers(card, Class::Aes).to_vec(),
        Some("STATAPKA") => registers(card, Class::Apka).to_vec(),
        Some("STATCARD") => stat_card(card),
        Some("STATCRD2") => stat_crd2(card),
        Some("TIMEDATE") => time_date(card.now_unix()),
        _ => return Err(Failure::Keyword),
    };
    Ok(Reply {
        rule_array: elements,
        ..Reply::default()
    })
}

pub(crate) fn csuacfv(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(1)?;
    let length = usize::try_from(p.int(0)?).map_err(|_| Failure::Length)?;
    if length < VERSION_DATA_LEN {
        return Err(Failure::Length);
    }
    let model = card.identity().model;
    let mut data = Vec::with_capacity(VERSION_DATA_LEN);
    data.extend_from_slice(&text_element(model.cca_version()));
    data.extend_from_slice(&text_element(model.cca_build_date()));
    data.push(0);
    Ok(Reply::outputs(vec![Param::Bytes(data)]))
}

/// The length of CSUACFQ STATICSB's verb data.
pub const STATICSB_LEN: usize = 240;

/// STATICSB's verb data (layout in the module doc).
fn staticsb(card: &Card) -> [u8; STATICSB_LEN] {
    let mut out = [0u8; STATICSB_LEN];
    // Six 20-byte hash blocks softcca reports empty.
    for block in out[..120].chunks_exact_mut(20) {
        block[..2].copy_from_slice(&20u16.to_be_bytes());
    }
    let mut put = |offset: usize, id: u16, pattern: Option<[u8; 8]>| {
        out[offset..offset + 2].copy_from_slice(&12u16.to_be_bytes());
        out[offset + 2..offset + 4].copy_from_slice(&id.to_be_bytes());
        out[offset + 4..offset + 12].copy_from_slice(&pattern.unwrap_or([0; 8]));
    };
    put(156, 0, None);
    for (class, base, ids) in [
        (Class::Sym, 120, [0x0F08, 0x0F07, 0x0F06]),
        (Class::Aes, 168, [0x0F0C, 0x0F0B, 0x0F0A]),
        (Class::Apka, 204, [0x0F0F, 0x0F0E, 0x0F0D]),
    ] {
        let [new, current, old] = card.verification_patterns(class);
        put(base, ids[0], old);
        put(base + 12, ids[1], current);
        put(base + 24, ids[2], new);
    }
    out
}

/// NMK, CMK and OMK state characters of one class.
fn registers(card: &Card, class: Class) -> [Element; 3] {
    let (new, current, old) = card.register_state(class);
    let new = match new {
        NewState::Clear => 1,
        NewState::Partial => 2,
        NewState::Full => 3,
    };
    [
        number_element(new),
        number_element(if current { 2 } else { 1 }),
        number_element(if old { 2 } else { 1 }),
    ]
}

fn stat_cca(card: &Card, extended: bool) -> Vec<Element> {
    let model = card.identity().model;
    let mut out = registers(card, Class::Sym).to_vec();
    out.push(text_element(model.cca_version()));
    out.push(text_element(model.cca_build_date()));
    out.push(text_element("DEFAULT"));
    if extended {
        out.extend(registers(card, Class::Asym));
    }
    out
}

/// The hardware fields shared by STATCARD and STATCRD2.
struct CardFields {
    des_level: Element,
    rsa_level: Element,
    post0: Element,
    post1: Element,
    os_name: Element,
    os_version: Element,
    part_number: Element,
    ec_level: Element,
    miniboot: Element,
    cpu_mhz: Element,
    flash_mb: Element,
    dram_mb: Element,
    bbram_kb: Element,
    adapter_id: Element,
    serial: Element,
}

fn card_fields(card: &Card) -> CardFields {
    let id = card.identity();
    let (os_name, os_version) = id.model.os();
    CardFields {
        des_level: number_element(3),
        rsa_level: number_element(3),
        post0: text_element(id.model.miniboot()),
        post1: text_element(id.model.miniboot()),
        os_name: text_element(os_name),
        os_version: text_element(os_version),
        part_number: text_element(id.model.part_number()),
        ec_level: text_element("N34012"),
        miniboot: text_element(id.model.miniboot()),
        cpu_mhz: number_element(1000),
        flash_mb: number_element(128),
        dram_mb: number_element(2048),
        bbram_kb: number_element(1024),
        adapter_id: id.adapter_id,
        serial: id.serial,
    }
}

fn stat_card(card: &Card) -> Vec<Element> {
    let f = card_fields(card);
    vec![
        number_element(1),
        f.des_level,
        f.rsa_level,
        f.post0,
        f.post1,
        f.os_name,
        f.os_version,
        f.part_number,
        f.ec_level,
        f.miniboot,
        f.cpu_mhz,
        f.adapter_id,
        f.flash_mb,
        f.dram_mb,
        f.bbram_kb,
        f.serial,
    ]
}

fn stat_crd2(card: &Card) -> Vec<Element> {
    let f = card_fields(card);
    vec![
        number_element(1),
        f.des_level,
        f.rsa_level,
        f.post0,
        f.post1,
        f.os_name,
        f.os_version,
        f.part_number,
        f.ec_level,
        f.miniboot,
        f.cpu_mhz,
        f.flash_mb,
        f.dram_mb,
        f.bbram_kb,
        f.serial,
        f.adapter_id,
    ]
}

/// TIMEDATE: GMT date, time and day of the week (1 = Sunday).
fn time_date(unix: u64) -> Vec<Element> {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday (day 5 when Sunday is 1).
    let weekday = (days + 4) % 7 + 1;
    vec![
        text_element(&format!("{y:04}{m:02}{d:02}")),
        text_element(&format!(
            "{:02}{:02}{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )),
        number_element(weekday),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_date_layout() {
        // 2026-11-27 00:47:05 UTC, a Friday.
        let e = time_date(1_795_740_425);
        assert_eq!(&e[0], b"20261127");
        assert_eq!(&e[1], b"004705  ");
        assert_eq!(&e[2], b"6       ");
        let e = time_date(0);
        assert_eq!(&e[0], b"19700101");
        assert_eq!(&e[2], b"5       ");
        // 2000-02-29, a Tuesday.
        assert_eq!(&time_date(951_782_400)[0], b"20000229");
        assert_eq!(&time_date(951_782_400)[2], b"3       ");
    }
}
