//! Key labels in verb parameters: the host side of "a label wherever IBM accepts one".
//!
//! In CCA the coprocessor never sees a key label. IBM's host library looks at every key
//! identifier a verb receives: a 64-byte field whose first byte is X'20' or more is a label
//! (IBM Docs "CCA for Linux", "Key-label content": a first byte below X'20' means the field
//! holds a key token); the library reads the record from key storage and sends the token in
//! its place. Where a verb updates the key identifier it was given (Key_Token_Change
//! re-enciphers it, Key_Import or Clear_Key_Import fill it), IBM writes the result back to
//! the record when a label was given.
//!
//! [`TABLE`] says, per verb, which parameters are key identifiers, which key storage their
//! labels name, and which output (if any) replaces the record after the verb completed. Every
//! call goes through [`resolve`] before it reaches the card, so the Rust API and the C
//! library behave alike. A label that is badly formed is 8/32, one with no record 8/30
//! (IBM's codes for key storage); the card is not called then.
//!
//! Retained keys (CSNDPKG RETAIN) are named by labels too, but they live in the card, not in
//! key storage (CCA 2.54 p=112: the label "references the key storage within the
//! Coprocessor, and … must not reference a record in the host-system key-storage"). Where
//! a verb accepts a retained key (CSNDDSG, CSNDPKX, CSNDPKD: [`Storage::PkaOrRetained`]),
//! a label with no record in PKA key storage is sent to the card as it is, and the card
//! resolves it among its retained keys (8/30 when it has none by that name). A label that
//! has a PKA record names that record. Retained_Key_List and Retained_Key_Delete
//! (CSNDRKL, CSNDRKD) take labels of retained keys only and are not listed here.
//!
//! Known weakness, kept from IBM's design: reading the record, running the verb and writing
//! the result back are three steps, not one transaction; two processes updating the same
//! label at once may each see the other's token. Each single record write is atomic.

use softcca_card::Failure;
use softcca_wire::{Param, VerbRequest};

use crate::keystore::{Family, KeyStore, Label, WriteMode};

/// Which key storage a label of one parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Storage {
    /// DES key storage.
    Des,
    /// AES key storage (fixed- and variable-length AES and HMAC tokens).
    Aes,
    /// PKA key storage (RSA and ECC tokens).
    Pka,
    /// PKA key storage; a label it has no record for is passed to the card as it is, for
    /// the card's retained keys.
    PkaOrRetained,
    /// AES key storage when the rule array names this keyword, DES key storage otherwise
    /// (verbs that take both algorithms, like Multiple_Clear_Key_Import).
    AesIf(&'static str),
    /// DES key storage, then AES key storage: the record found first (verbs such as
    /// Key_Test_Extended that learn the algorithm from the token).
    DesOrAes,
    /// As [`Storage::DesOrAes`], except when the rule array names one of these keywords:
    /// then the parameter holds no key identifier at all (Key_Test's KEY-CLR, KEY-CLRD and
    /// KEY-CLRT put a clear key there; with KEY-KM, KEY-NKM and KEY-OKM it is unused) and is
    /// passed as it is.
    DesOrAesUnless(&'static [&'static str]),
}

/// One key-identifier parameter of a verb.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyParam {
    /// Its index in the verb's parameter block (rule array excluded).
    pub param: usize,
    /// Which key storage its label names.
    pub storage: Storage,
    /// The output that replaces the record when the verb completes, for an identifier the
    /// verb updates in place.
    pub write_back: Option<usize>,
}

const fn key(param: usize, storage: Storage) -> KeyParam {
    KeyParam {
        param,
        storage,
        write_back: None,
    }
}

const fn updated(param: usize, storage: Storage, output: usize) -> KeyParam {
    KeyParam {
        param,
        storage,
        write_back: Some(output),
    }
}

/// Per verb, its key-identifier parameters (indices in softcca's parameter block for the
/// verb, as written beside each verb in `softcca_card::verbs`).
pub(crate) const TABLE: &[(&str, &[KeyParam])] = &[
    ("CSNBCKI", &[updated(1, Storage::Des, 0)]),
    ("CSNBCKM", &[updated(1, Storage::AesIf("AES"), 0)]),
    ("CSNBKEX", &[key(1, Storage::Des), key(2, Storage::Des)]),
    (
        "CSNBKGN",
        &[
            key(4, Storage::Des),
            key(5, Storage::Des),
            updated(6, Storage::DesOrAes, 0),
            updated(7, Storage::DesOrAes, 1),
        ],
    ),
    (
        "CSNBKIM",
        &[key(2, Storage::Des), updated(3, Storage::Des, 0)],
    ),
    ("CSNBKTR", &[key(1, Storage::Des), key(2, Storage::Des)]),
    ("CSNBKPI", &[updated(1, Storage::Des, 0)]),
    ("CSNBKTC", &[updated(0, Storage::DesOrAes, 0)]),
    (
        "CSNBKYT",
        &[key(
            0,
            Storage::DesOrAesUnless(&[
                "KEY-CLR", "KEY-CLRD", "KEY-CLRT", "CLR-A128", "CLR-A192", "CLR-A256", "KEY-KM",
                "KEY-NKM", "KEY-OKM",
            ]),
        )],
    ),
    (
        "CSNBKYTX",
        &[
            key(
                0,
                Storage::DesOrAesUnless(&["KEY-KM", "KEY-NKM", "KEY-OKM"]),
            ),
            key(3, Storage::Des),
        ],
    ),
    // Variable-length (X'05') AES and HMAC tokens live in AES key storage. Key_Generate2's
    // KEK identifiers (params 7, 8) are not listed: only the key forms OP and OPOP exist, which
    // use none.
    (
        "CSNBKGN2",
        &[updated(10, Storage::Aes, 0), updated(12, Storage::Aes, 1)],
    ),
    ("CSNBKPI2", &[updated(3, Storage::Aes, 0)]),
    ("CSNBKTC2", &[updated(0, Storage::Aes, 0)]),
    ("CSNBHMG", &[key(0, Storage::Aes)]),
    ("CSNBHMV", &[key(0, Storage::Aes)]),
    ("CSNBDEC", &[key(0, Storage::Des)]),
    ("CSNBENC", &[key(0, Storage::Des)]),
    ("CSNBMGN", &[key(0, Storage::Des)]),
    ("CSNBMVR", &[key(0, Storage::Des)]),
    ("CSNBSAD", &[key(0, Storage::Aes)]),
    ("CSNBSAE", &[key(0, Storage::Aes)]),
    // PKA (issue 4): private and public key identifiers live in PKA key storage.
    ("CSNDDSG", &[key(0, Storage::PkaOrRetained)]),
    ("CSNDDSV", &[key(0, Storage::Pka)]),
    ("CSNDEDH", &[key(0, Storage::Pka), key(2, Storage::Pka)]),
    ("CSNDKTC", &[updated(0, Storage::Pka, 0)]),
    ("CSNDPKD", &[key(2, Storage::PkaOrRetained)]),
    ("CSNDPKE", &[key(2, Storage::Pka)]),
    ("CSNDPKG", &[key(1, Storage::Pka), key(2, Storage::Des)]),
    ("CSNDPKI", &[key(1, Storage::Des)]),
    ("CSNDPKX", &[key(0, Storage::PkaOrRetained)]),
    (
        "CSNDSYG",
        &[key(1, Storage::Pka), updated(2, Storage::AesIf("AES"), 0)],
    ),
    (
        "CSNDSYI",
        &[key(1, Storage::Pka), updated(2, Storage::AesIf("AES"), 0)],
    ),
    (
        "CSNDSYI2",
        &[key(1, Storage::Pka), updated(4, Storage::Aes, 0)],
    ),
    (
        "CSNDSYX",
        // DES, AES or HMAC (AES key storage holds HMAC tokens): the record found first.
        &[key(0, Storage::DesOrAes), key(1, Storage::Pka)],
    ),
];

/// A label that was resolved, for the write-back after the verb.
#[derive(Debug)]
pub(crate) struct Resolved {
    family: Family,
    label: Label,
    write_back: Option<usize>,
}

/// Whether a key-identifier field holds a label rather than a token.
pub(crate) fn is_label(field: &[u8]) -> bool {
    field.len() == 64 && field.first().is_some_and(|&b| b >= 0x20)
}

fn families(storage: Storage, request: &VerbRequest) -> &'static [Family] {
    match storage {
        Storage::Des => &[Family::Des],
        Storage::Aes => &[Family::Aes],
        Storage::Pka | Storage::PkaOrRetained => &[Family::Pka],
        Storage::AesIf(keyword) => {
            let named = softcca_card::rules::element(keyword)
                .is_some_and(|e| request.rule_array.contains(&e));
            if named {
                &[Family::Aes]
            } else {
                &[Family::Des]
            }
        }
        Storage::DesOrAes | Storage::DesOrAesUnless(_) => &[Family::Des, Family::Aes],
    }
}

/// Whether the parameter holds a key identifier in this request (see
/// [`Storage::DesOrAesUnless`]).
fn is_identifier(storage: Storage, request: &VerbRequest) -> bool {
    match storage {
        Storage::DesOrAesUnless(keywords) => !keywords.iter().any(|k| {
            softcca_card::rules::element(k).is_some_and(|e| request.rule_array.contains(&e))
        }),
        _ => true,
    }
}

/// Whether any key identifier of `request` may be a label (so that key storage is needed).
pub(crate) fn has_labels(request: &VerbRequest) -> bool {
    params_of(request.verb.as_str()).iter().any(|k| {
        is_identifier(k.storage, request)
            && matches!(request.params.get(k.param), Some(Param::Bytes(b)) if is_label(b))
    })
}

fn params_of(verb: &str) -> &'static [KeyParam] {
    TABLE
        .iter()
        .find(|(v, _)| *v == verb)
        .map_or(&[], |(_, p)| *p)
}

/// Replaces every label among `request`'s key identifiers with the token of its record.
pub(crate) fn resolve(
    keys: &KeyStore,
    request: &mut VerbRequest,
) -> Result<Vec<Resolved>, Failure> {
    let mut resolved = Vec::new();
    for k in params_of(request.verb.as_str()) {
        let Some(Param::Bytes(field)) = request.params.get(k.param) else {
            continue;
        };
        if !is_label(field) || !is_identifier(k.storage, request) {
            continue;
        }
        let label = Label::parse(field)?;
        let mut found = None;
        for &family in families(k.storage, request) {
            match keys.read(family, &label.field()) {
                Ok(token) => {
                    found = Some((family, token));
                    break;
                }
                Err(Failure::LabelNotFound) => continue,
                Err(other) => return Err(other),
            }
        }
        let Some((family, token)) = found else {
            if k.storage == Storage::PkaOrRetained {
                // Perhaps a retained key: the card decides.
                continue;
            }
            return Err(Failure::LabelNotFound);
        };
        request.params[k.param] = Param::Bytes(token);
        resolved.push(Resolved {
            family,
            label,
            write_back: k.write_back,
        });
    }
    Ok(resolved)
}

/// Writes the outputs that replace records back to key storage.
pub(crate) fn write_back(
    keys: &KeyStore,
    resolved: &[Resolved],
    outputs: &[Param],
) -> Result<(), Failure> {
    for r in resolved {
        let Some(i) = r.write_back else { continue };
        if let Some(Param::Bytes(token)) = outputs.get(i) {
            keys.write(r.family, &r.label.field(), token, WriteMode::Overlay)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_is_listed_once() {
        for (i, (v, _)) in TABLE.iter().enumerate() {
            assert!(
                TABLE[i + 1..].iter().all(|(w, _)| w != v),
                "{v} listed twice"
            );
            assert!(matches!(v.len(), 7 | 8), "{v}");
        }
    }

    #[test]
    fn tokens_are_not_labels() {
        assert!(!is_label(&[0u8; 64]));
        assert!(!is_label(&[1u8; 64]));
        assert!(is_label(&[b'A'; 64]));
        assert!(!is_label(&[b'A'; 63]));
    }
}
