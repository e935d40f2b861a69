//! Master_Key_Process (CSNBMKP).
//!
//! IBM Docs "CCA for Linux", "Master Key Process (CSNBMKP)"; CCA Basic Services Reference
//! 2.54, "Master_Key_Process". Rule array (1–3): optional ADAPTER; one register class,
//! required: SYM-MK, ASYM-MK, AES-MK or APKA-MK; one process keyword, required: CLEAR,
//! CLR-OLD, FIRST, MIDDLE, LAST, RANDOM or SET.
//!
//! Parameter block: params `[Bytes key_part]` → outputs `[]`. The key part is 24 bytes for
//! SYM-MK and ASYM-MK and 32 bytes for AES-MK and APKA-MK (8/43 otherwise); it is ignored for
//! CLEAR, CLR-OLD, RANDOM and SET.
//!
//! Choices where IBM is silent (written down in ARCHITECTURE.md):
//! - MIDDLE or LAST without a FIRST part, and SET without a full new register, are refused
//!   with 8/34: the process keyword does not combine with the register's state.
//! - FIRST over a partial or full new register starts again from the new part (the ICSF and
//!   CNM panels let an officer restart a ceremony this way).
//! - RANDOM is accepted for SYM-MK and ASYM-MK only: IBM says AES and APKA master keys are
//!   loaded from clear parts, and DES and PKA master keys may also be generated in the card.

use crate::card::Card;
use crate::error::Failure;
use crate::mk::{Class, MasterKey, adjust_odd_parity};
use crate::rules::{self, Element, Grammar, Group};
use crate::verbs::{Params, Reply};

const MKP: Grammar = Grammar {
    min: 1,
    max: 3,
    groups: &[
        Group::optional(&["ADAPTER"], "ADAPTER"),
        Group::required(&["SYM-MK", "ASYM-MK", "AES-MK", "APKA-MK"]),
        Group::required(&[
            "CLEAR", "CLR-OLD", "FIRST", "MIDDLE", "LAST", "RANDOM", "SET",
        ]),
    ],
};

pub(crate) fn csnbmkp(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&MKP, rule_array)?;
    p.expect_len(1)?;
    let class = chosen
        .get(1)
        .and_then(Class::from_keyword)
        .ok_or(Failure::Keyword)?;
    let process = chosen.get(2).ok_or(Failure::Keyword)?;
    let part = p.bytes(0)?;
    let notice = match process {
        "FIRST" => card.update_register(class, |r| r.first(class, part))?,
        "MIDDLE" => card.update_register(class, |r| r.middle(class, part))?,
        "LAST" => card.update_register(class, |r| r.last(class, part))?,
        "CLEAR" => card.update_register(class, |r| Ok((r.clear(), None)))?,
        "CLR-OLD" => card.update_register(class, |r| Ok((r.clear_old(), None)))?,
        "SET" => card.update_register(class, |r| Ok((r.set()?, None)))?,
        "RANDOM" => {
            if !matches!(class, Class::Sym | Class::Asym) {
                return Err(Failure::KeywordCombination);
            }
            let mut bytes = zeroize::Zeroizing::new(vec![0u8; class.key_len()]);
            // Draw until no third is weak and the thirds differ: a fresh random key with a
            // weak third has probability about 2^-52, so this loop ends at once in practice.
            let key = loop {
                card.random(&mut bytes)?;
                adjust_odd_parity(&mut bytes);
                let thirds: Vec<&[u8]> = bytes.chunks(8).collect();
                let distinct =
                    thirds[0] != thirds[1] && thirds[1] != thirds[2] && thirds[0] != thirds[2];
                if distinct && !thirds.iter().any(|t| crate::mk::is_weak_des_key(t)) {
                    break MasterKey::from_bytes(&bytes);
                }
            };
            card.update_register(class, move |r| Ok((r.random(class, key)?, None)))?
        }
        _ => return Err(Failure::Keyword),
    };
    Ok(Reply {
        notice,
        ..Reply::default()
    })
}
