//! Random_Number_Generate (CSNBRNG) and Random_Number_Generate_Long (CSNBRNGL).
//!
//! IBM Docs "CCA for Linux", "Random Number Generate (CSNBRNG)" and "Random Number Generate
//! Long (CSNBRNGL)". Both draw from the card's Hash_DRBG. Parity, when asked for, "is
//! calculated on the seven high-order bits in each byte and is presented in the low-order
//! bit".
//!
//! Parameter blocks:
//! - CSNBRNG: params `[Bytes form (8)]` → outputs `[Bytes random_number (8)]`. IBM documents
//!   the forms RANDOM, ODD and EVEN; any other form (KEY-GEN among them: no IBM release
//!   documents it for this verb) is 8/33.
//! - CSNBRNGL: rule array (1–2: EVEN | ODD | RANDOM | RT-KRD, optional TDES-CBC), params
//!   `[Bytes key_identifier, Int random_number_length]` → outputs `[Bytes random_number]`.
//!   The length is 1–8192 (8/72 otherwise). RT-KRD and TDES-CBC are recognized and answered
//!   with 8/2 until the TR-34 token and the symmetric key tokens exist.

use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::rules::{self, Grammar, Group};
use crate::verbs::{Params, Reply};

/// The largest random number CSNBRNGL returns.
pub const MAX_RANDOM_LONG: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parity {
    Random,
    Odd,
    Even,
}

impl Parity {
    fn from_keyword(word: &str) -> Option<Parity> {
        match word {
            "RANDOM" => Some(Parity::Random),
            "ODD" => Some(Parity::Odd),
            "EVEN" => Some(Parity::Even),
            _ => None,
        }
    }

    fn apply(self, bytes: &mut [u8]) {
        let want_odd = match self {
            Parity::Random => return,
            Parity::Odd => true,
            Parity::Even => false,
        };
        for b in bytes {
            let high_ones = (*b & 0xFE).count_ones();
            let low = u8::from((high_ones % 2 == 0) == want_odd);
            *b = (*b & 0xFE) | low;
        }
    }
}

pub(crate) fn csnbrng(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(1)?;
    let form: &[u8; 8] = p.bytes(0)?.try_into().map_err(|_| Failure::Length)?;
    let parity = Parity::from_keyword(rules::keyword(form)?).ok_or(Failure::Keyword)?;
    let mut out = vec![0u8; 8];
    card.random(&mut out)?;
    parity.apply(&mut out);
    Ok(Reply::outputs(vec![Param::Bytes(out)]))
}

const RNGL: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::required(&["RANDOM", "ODD", "EVEN", "RT-KRD"]),
        Group::optional_none(&["TDES-CBC"]),
    ],
};

pub(crate) fn csnbrngl(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&RNGL, rule_array)?;
    p.expect_len(2)?;
    let _key_identifier = p.bytes(0)?;
    let length = usize::try_from(p.int(1)?).map_err(|_| Failure::Length)?;
    if !(1..=MAX_RANDOM_LONG).contains(&length) {
        return Err(Failure::Length);
    }
    if chosen.get(1).is_some() {
        return Err(Failure::NotSupported);
    }
    let parity = chosen
        .get(0)
        .and_then(Parity::from_keyword)
        .ok_or(Failure::NotSupported)?;
    let mut out = vec![0u8; length];
    card.random(&mut out)?;
    parity.apply(&mut out);
    Ok(Reply::outputs(vec![Param::Bytes(out)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_uses_high_seven_bits() {
        for v in 0..=255u8 {
            let mut odd = [v];
            Parity::Odd.apply(&mut odd);
            assert_eq!(odd[0] & 0xFE, v & 0xFE);
            assert_eq!(odd[0].count_ones() % 2, 1);
            let mut even = [v];
            Parity::Even.apply(&mut even);
            assert_eq!(even[0] & 0xFE, v & 0xFE);
            assert_eq!(even[0].count_ones() % 2, 0);
            let mut random = [v];
            Parity::Random.apply(&mut random);
            assert_eq!(random[0], v);
        }
    }
}
