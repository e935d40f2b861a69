//! IBM's key-label syntax and wildcard masks: the one implementation that host key storage
//! (`softcca_host::keystore`) and the card's retained keys share.
//!
//! A label is 1–7 period-separated tokens of 1–8 characters A–Z, 0–9, `#`, `$`, `@`, not
//! starting with a digit, blank-padded to 64 bytes; lower case is folded to upper case. A
//! mask may put one `*` at the start, at the end, or as the whole of a token, matching zero
//! or more characters of that token; a mask matches labels with as many tokens, except that
//! `*` alone matches every label. Anything else is 8/32 (IBM Docs "Key-label content").

use crate::error::Failure;

/// The length of a key-label field.
pub const LABEL_LEN: usize = 64;

fn name_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, b'#' | b'$' | b'@')
}

/// The significant text of a label or mask field of at most 64 bytes: up to the first
/// blank, upper-cased. 8/32 for a longer field, an empty one, a key token (first byte below
/// X'20') or X'FF'.
pub fn label_text(field: &[u8]) -> Result<Vec<u8>, Failure> {
    if field.len() > LABEL_LEN {
        return Err(Failure::LabelFormat);
    }
    match field.first() {
        None => return Err(Failure::LabelFormat),
        Some(&b) if b < 0x20 || b == 0xFF => return Err(Failure::LabelFormat),
        _ => {}
    }
    let end = field.iter().position(|&b| b == b' ').unwrap_or(field.len());
    if end == 0 {
        return Err(Failure::LabelFormat);
    }
    Ok(field[..end].to_ascii_uppercase())
}

fn tokens_of(text: &[u8]) -> Result<Vec<&[u8]>, Failure> {
    let tokens: Vec<&[u8]> = text.split(|&c| c == b'.').collect();
    if tokens.len() > 7 {
        return Err(Failure::LabelFormat);
    }
    Ok(tokens)
}

/// Checks upper-cased label text (from [`label_text`]) against the token rules (8/32).
pub fn check_label(text: &[u8]) -> Result<(), Failure> {
    for t in tokens_of(text)? {
        if t.is_empty() || t.len() > 8 || t[0].is_ascii_digit() || !t.iter().all(|&c| name_char(c))
        {
            return Err(Failure::LabelFormat);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MaskToken {
    Exact(Vec<u8>),
    /// `ABC*`.
    Prefix(Vec<u8>),
    /// `*ABC`.
    Suffix(Vec<u8>),
    /// `*`: any token.
    Any,
}

/// A label or a wildcard mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    tokens: Vec<MaskToken>,
}

impl Mask {
    /// Parses upper-cased mask text (from [`label_text`]); 8/32 when it breaks the label or
    /// wildcard rules.
    pub fn parse_text(text: &[u8]) -> Result<Mask, Failure> {
        let mut tokens = Vec::new();
        for t in tokens_of(text)? {
            let stars = t.iter().filter(|&&c| c == b'*').count();
            let token = match (stars, t.first(), t.last()) {
                (0, _, _) => MaskToken::Exact(t.to_vec()),
                (1, _, _) if t.len() == 1 => MaskToken::Any,
                (1, Some(b'*'), _) => MaskToken::Suffix(t[1..].to_vec()),
                (1, _, Some(b'*')) => MaskToken::Prefix(t[..t.len() - 1].to_vec()),
                _ => return Err(Failure::LabelFormat),
            };
            let (chars, starts) = match &token {
                MaskToken::Exact(c) | MaskToken::Prefix(c) => (c.as_slice(), true),
                MaskToken::Suffix(c) => (c.as_slice(), false),
                MaskToken::Any => (&[][..], false),
            };
            if chars.len() > 8
                || !chars.iter().all(|&c| name_char(c))
                || (starts && chars.first().is_none_or(u8::is_ascii_digit))
            {
                return Err(Failure::LabelFormat);
            }
            tokens.push(token);
        }
        Ok(Mask { tokens })
    }

    /// True when the mask has a `*`.
    pub fn is_wildcard(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| !matches!(t, MaskToken::Exact(_)))
    }

    /// Whether a label's text (without padding) matches.
    pub fn matches_text(&self, label: &[u8]) -> bool {
        if self.tokens == [MaskToken::Any] {
            return true;
        }
        let parts: Vec<&[u8]> = label.split(|&c| c == b'.').collect();
        parts.len() == self.tokens.len()
            && self.tokens.iter().zip(parts).all(|(m, p)| match m {
                MaskToken::Exact(c) => p == c.as_slice(),
                MaskToken::Prefix(c) => p.starts_with(c),
                MaskToken::Suffix(c) => p.ends_with(c),
                MaskToken::Any => true,
            })
    }
}
