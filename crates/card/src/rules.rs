//! Rule arrays: the 8-byte, blank-padded keywords that select what a verb does.
//!
//! IBM's verbs group their keywords: at most one keyword from each group, some groups
//! required, some with a default. [`parse`] applies one verb's groups to a rule array and
//! answers with IBM's codes: a count outside the verb's range is 8/35, a keyword the verb does
//! not know is 8/33, two keywords of one group (or a missing required one) is 8/34.

use crate::error::Failure;

/// One rule-array element: eight bytes, a keyword left-aligned and padded with blanks.
pub type Element = [u8; 8];

/// One group of mutually exclusive keywords.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    /// The keywords of the group, as IBM spells them.
    pub keywords: &'static [&'static str],
    /// What to assume when the rule array names none of them.
    pub default: Option<&'static str>,
    /// Whether the rule array must name one of them.
    pub required: bool,
}

impl Group {
    /// A group one keyword of which must be given.
    pub const fn required(keywords: &'static [&'static str]) -> Group {
        Group {
            keywords,
            default: None,
            required: true,
        }
    }

    /// A group with a default keyword.
    pub const fn optional(keywords: &'static [&'static str], default: &'static str) -> Group {
        Group {
            keywords,
            default: Some(default),
            required: false,
        }
    }

    /// A group that may be left out, with no default: [`Chosen::get`] answers `None`.
    pub const fn optional_none(keywords: &'static [&'static str]) -> Group {
        Group {
            keywords,
            default: None,
            required: false,
        }
    }
}

/// A verb's rule-array grammar: the count range and the keyword groups.
#[derive(Debug, Clone, Copy)]
pub struct Grammar {
    /// Fewest elements the verb accepts.
    pub min: usize,
    /// Most elements the verb accepts.
    pub max: usize,
    /// The keyword groups.
    pub groups: &'static [Group],
}

/// The keyword chosen in each group of a [`Grammar`], in the grammar's group order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen(Vec<Option<&'static str>>);

impl Chosen {
    /// The keyword chosen (or defaulted) in group `index`; `None` for an optional group with
    /// no default that the caller left out.
    pub fn get(&self, index: usize) -> Option<&'static str> {
        self.0.get(index).copied().flatten()
    }
}

/// Reads one element as a keyword: printable characters, then only blanks.
pub fn keyword(element: &Element) -> Result<&str, Failure> {
    let end = element
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(element.len());
    let (word, pad) = element.split_at(end);
    if word.is_empty() || pad.iter().any(|&b| b != b' ') {
        return Err(Failure::Keyword);
    }
    if !word.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Failure::Keyword);
    }
    std::str::from_utf8(word).map_err(|_| Failure::Keyword)
}

/// Builds an element from a keyword, padding with blanks; `None` if it does not fit.
pub fn element(keyword: &str) -> Option<Element> {
    let bytes = keyword.as_bytes();
    if bytes.len() > 8 {
        return None;
    }
    let mut out = [b' '; 8];
    out[..bytes.len()].copy_from_slice(bytes);
    Some(out)
}

/// Applies `grammar` to `rule_array`.
pub fn parse(grammar: &Grammar, rule_array: &[Element]) -> Result<Chosen, Failure> {
    if rule_array.len() < grammar.min || rule_array.len() > grammar.max {
        return Err(Failure::RuleArrayCount);
    }
    let mut chosen: Vec<Option<&'static str>> = vec![None; grammar.groups.len()];
    for element in rule_array {
        let word = keyword(element)?;
        let (index, known) = grammar
            .groups
            .iter()
            .enumerate()
            .find_map(|(i, g)| g.keywords.iter().find(|k| **k == word).map(|k| (i, *k)))
            .ok_or(Failure::Keyword)?;
        if chosen[index].is_some() {
            return Err(Failure::KeywordCombination);
        }
        chosen[index] = Some(known);
    }
    for (slot, group) in chosen.iter_mut().zip(grammar.groups) {
        if slot.is_none() {
            if group.required {
                return Err(Failure::KeywordCombination);
            }
            *slot = group.default;
        }
    }
    Ok(Chosen(chosen))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const G: Grammar = Grammar {
        min: 1,
        max: 2,
        groups: &[
            Group::required(&["RANDOM", "ODD", "EVEN"]),
            Group::optional(&["ADAPTER1"], "ADAPTER1"),
            Group::optional_none(&["TDES-CBC"]),
        ],
    };

    fn ra(words: &[&str]) -> Vec<Element> {
        words.iter().map(|w| element(w).unwrap()).collect()
    }

    #[test]
    fn picks_and_defaults() {
        let c = parse(&G, &ra(&["ODD"])).unwrap();
        assert_eq!(c.get(0), Some("ODD"));
        assert_eq!(c.get(1), Some("ADAPTER1"));
        assert_eq!(c.get(2), None);
        let c = parse(&G, &ra(&["TDES-CBC", "EVEN"])).unwrap();
        assert_eq!(c.get(0), Some("EVEN"));
        assert_eq!(c.get(2), Some("TDES-CBC"));
    }

    #[test]
    fn ibm_codes_for_bad_arrays() {
        assert_eq!(parse(&G, &[]), Err(Failure::RuleArrayCount));
        assert_eq!(
            parse(&G, &ra(&["ODD", "EVEN", "RANDOM"])),
            Err(Failure::RuleArrayCount)
        );
        assert_eq!(parse(&G, &ra(&["BOGUS"])), Err(Failure::Keyword));
        assert_eq!(parse(&G, &ra(&["odd"])), Err(Failure::Keyword));
        assert_eq!(
            parse(&G, &ra(&["ODD", "EVEN"])),
            Err(Failure::KeywordCombination)
        );
        assert_eq!(
            parse(&G, &ra(&["ADAPTER1"])),
            Err(Failure::KeywordCombination)
        );
    }

    #[test]
    fn malformed_elements() {
        assert_eq!(keyword(b"OD D    "), Err(Failure::Keyword));
        assert_eq!(keyword(b"        "), Err(Failure::Keyword));
        assert_eq!(keyword(b"ODD\0    "), Err(Failure::Keyword));
        assert_eq!(keyword(b"KEYWORD8"), Ok("KEYWORD8"));
        assert!(element("NINECHARS").is_none());
    }
}
