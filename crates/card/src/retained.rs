//! Retained keys: RSA private keys that PKA_Key_Generate RETAIN keeps inside the card, named
//! by a 64-byte label, listed by Retained_Key_List (CSNDRKL) and removed by
//! Retained_Key_Delete (CSNDRKD). The verbs are in [`crate::verbs::retained`]; this module
//! is the store: labels, masks, and the sealed flash blob.
//!
//! Sources: IBM Docs "CCA for Linux", "Using retained keys"
//! (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndrkd-using-retained-keys>); CCA
//! 2.54 Basic Services p=112 ("the key label supplied in the skeleton key-token references
//! the key storage within the Coprocessor") and p=279 (Retained_Key_Delete); z/OS ICSF
//! `rkl.htm` (CSNDRKL's parameter list); key-label syntax as IBM Docs "Key-label content"
//! gives it (the host's `keystore` module applies the same rules to host key storage).
//!
//! # Where they live
//!
//! Retained keys are the card's, not the host's: they sit in their own flash blob,
//! `retained.keys`, sealed with AES-256-GCM under the card's storage key in battery-backed
//! RAM (the key that seals `card.state`), so they survive a restart of the daemon and of
//! the card, and are unreadable once zeroization has destroyed that key (zeroization also
//! removes the blob). A code load that establishes a new owner or surrenders segment 3
//! removes them too, as it clears the master keys (IBM clears the segment's secrets then).
//! They do not depend on any master key: a master-key change leaves them usable.
//!
//! Blob format (big-endian): magic `SCCARETK`, u16 format version 1, u16 reserved 0, a
//! 12-byte nonce fresh from the card's DRBG for every write, u32 length S, then S bytes of
//! AES-256-GCM ciphertext and tag (AAD: the 16 bytes before the nonce). The plaintext: u16
//! count, then per key its 64-byte label, u64 creation time (Unix seconds) and a
//! u32-prefixed clear external RSA key token (the form CSNDPKG CLEAR returns; it never
//! leaves the card).
//!
//! # Choices where IBM is silent
//!
//! - Capacity: [`CAPACITY`] keys per card (IBM: "roughly 75 to 150", depending on their
//!   size). A RETAIN beyond it is 8/1031 ([`Failure::RetainedKeyData`], "an error in using
//!   Registered Public Key or Retained Private Key data"); IBM names no "full" code.
//! - Labels and CSNDRKL's masks follow the key-storage rules, [`crate::labels`] (the one
//!   implementation host key storage uses too); anything else is 8/32. The card takes only
//!   IBM's 64-byte field with nothing but blanks after the first blank.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use softcca_wire::{Reader, Writer};
use zeroize::{Zeroize, Zeroizing};

use crate::error::Failure;
use crate::labels;

/// The flash blob that holds the retained keys.
pub const BLOB: &str = "retained.keys";

/// How many keys one card retains at most.
pub const CAPACITY: usize = 128;

/// Length of a key label.
pub use crate::labels::LABEL_LEN;

const MAGIC: &[u8; 8] = b"SCCARETK";
const FORMAT_VERSION: u16 = 1;
const MAX_TOKEN: u32 = 8000;

/// A key label in canonical form: upper case, blank-padded to 64 bytes.
pub type Label = [u8; LABEL_LEN];

/// Whether a key-identifier field is a label rather than a token (IBM: a 64-byte field whose
/// first byte is X'20' or more; tokens start with X'00', X'1E' or X'1F').
pub fn is_label(field: &[u8]) -> bool {
    field.len() == LABEL_LEN && field[0] >= 0x20
}

/// The label text of a 64-byte field: IBM's 64-byte form only, nothing but blanks after the
/// first blank (the card is stricter than host key storage, which takes shorter fields).
fn text_of(field: &[u8]) -> Result<Vec<u8>, Failure> {
    if field.len() != LABEL_LEN {
        return Err(Failure::LabelFormat);
    }
    let text = labels::label_text(field)?;
    if field[text.len()..].iter().any(|&b| b != b' ') {
        return Err(Failure::LabelFormat);
    }
    Ok(text)
}

/// Parses a label field (8/32 when it breaks the rules), folding lower case to upper case.
pub fn parse_label(field: &[u8]) -> Result<Label, Failure> {
    let text = text_of(field)?;
    labels::check_label(&text)?;
    let mut out = [b' '; LABEL_LEN];
    out[..text.len()].copy_from_slice(&text);
    Ok(out)
}

/// A label mask for Retained_Key_List.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask(labels::Mask);

impl Mask {
    /// Parses a mask field (8/32 when it breaks the label or wildcard rules).
    pub fn parse(field: &[u8]) -> Result<Mask, Failure> {
        labels::Mask::parse_text(&text_of(field)?).map(Mask)
    }

    /// Whether `label` matches.
    pub fn matches(&self, label: &Label) -> bool {
        text_of(label).is_ok_and(|text| self.0.matches_text(&text))
    }
}

/// One retained key.
pub struct Entry {
    /// Its label.
    pub label: Label,
    /// When it was generated (Unix seconds).
    pub created: u64,
    /// The clear external RSA key token (never leaves the card).
    pub token: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("label", &String::from_utf8_lossy(&self.label).trim_end())
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// The retained keys, sorted by label.
#[derive(Debug, Default)]
pub struct Keys {
    entries: Vec<Entry>,
}

impl Keys {
    /// The key named `label`.
    pub fn get(&self, label: &Label) -> Option<&Entry> {
        self.entries.iter().find(|e| &e.label == label)
    }

    /// The labels that match `mask`, in order.
    pub fn labels(&self, mask: &Mask) -> Vec<Label> {
        self.entries
            .iter()
            .filter(|e| mask.matches(&e.label))
            .map(|e| e.label)
            .collect()
    }

    /// How many keys are retained.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The keys with `entry` added (the caller checked label and capacity).
    pub fn with(&self, entry: Entry) -> Keys {
        let mut entries: Vec<Entry> = self.entries.iter().map(Entry::duplicate).collect();
        let at = entries.partition_point(|e| e.label < entry.label);
        entries.insert(at, entry);
        Keys { entries }
    }

    /// The keys without `label`.
    pub fn without(&self, label: &Label) -> Keys {
        Keys {
            entries: self
                .entries
                .iter()
                .filter(|e| &e.label != label)
                .map(Entry::duplicate)
                .collect(),
        }
    }

    /// The sealed blob for flash.
    pub fn seal(&self, storage_key: &[u8], nonce: [u8; NONCE_LEN]) -> Result<Vec<u8>, Failure> {
        let bad = |_| Failure::StateNotCommitted;
        let mut plain = Writer::new();
        plain.u16(u16::try_from(self.entries.len()).map_err(|_| Failure::StateNotCommitted)?);
        for e in &self.entries {
            plain.bytes(&e.label);
            plain.u64(e.created);
            plain.u32(u32::try_from(e.token.len()).map_err(|_| Failure::StateNotCommitted)?);
            plain.bytes(&e.token);
        }
        let mut sealed = Zeroizing::new(plain.into_inner());
        let aad = head();
        aead_key(storage_key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad[..]),
                &mut *sealed,
            )
            .map_err(bad)?;
        let mut out = Writer::new();
        out.bytes(&aad);
        out.bytes(&nonce);
        out.u32(u32::try_from(sealed.len()).map_err(|_| Failure::StateNotCommitted)?);
        out.bytes(&sealed);
        Ok(out.into_inner())
    }

    /// Opens a blob written by [`Keys::seal`]. A blob that does not open (another card's,
    /// altered, or truncated) is 8/1031: the retained keys cannot be used.
    pub fn open(blob: &[u8], storage_key: &[u8]) -> Result<Keys, Failure> {
        let bad = |_| Failure::RetainedKeyData;
        let mut r = Reader::new(blob);
        let aad = head();
        if r.bytes(aad.len()).map_err(bad)? != aad.as_slice() {
            return Err(Failure::RetainedKeyData);
        }
        let nonce: [u8; NONCE_LEN] = r.array().map_err(bad)?;
        let len = r.u32().map_err(bad)? as usize;
        let sealed = r.bytes(len).map_err(bad)?;
        r.finish().map_err(bad)?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let plain = aead_key(storage_key)?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad[..]),
                &mut buf,
            )
            .map_err(|_| Failure::RetainedKeyData)?;
        let mut p = Reader::new(plain);
        let count = usize::from(p.u16().map_err(bad)?);
        let mut entries = Vec::with_capacity(count.min(CAPACITY));
        for _ in 0..count {
            let label: Label = p.array().map_err(bad)?;
            let created = p.u64().map_err(bad)?;
            let len = p.u32().map_err(bad)?;
            if len > MAX_TOKEN {
                return Err(Failure::RetainedKeyData);
            }
            let token = Zeroizing::new(p.bytes(len as usize).map_err(bad)?.to_vec());
            entries.push(Entry {
                label,
                created,
                token,
            });
        }
        p.finish().map_err(bad)?;
        Ok(Keys { entries })
    }
}

impl Entry {
    fn duplicate(&self) -> Entry {
        Entry {
            label: self.label,
            created: self.created,
            token: self.token.clone(),
        }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        for e in &mut self.entries {
            e.token.zeroize();
        }
    }
}

fn head() -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(MAGIC);
    w.u16(FORMAT_VERSION);
    w.u16(0);
    w.into_inner()
}

fn aead_key(storage_key: &[u8]) -> Result<LessSafeKey, Failure> {
    UnboundKey::new(&AES_256_GCM, storage_key)
        .map(LessSafeKey::new)
        .map_err(|_| Failure::CardUnavailable)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn field(text: &str) -> [u8; 64] {
        let mut f = [b' '; 64];
        f[..text.len()].copy_from_slice(text.as_bytes());
        f
    }

    fn entry(label: &str, token: &[u8]) -> Entry {
        Entry {
            label: parse_label(&field(label)).unwrap(),
            created: 7,
            token: Zeroizing::new(token.to_vec()),
        }
    }

    #[test]
    fn labels_follow_the_key_storage_rules() {
        assert_eq!(
            parse_label(&field("sign.key1")).unwrap(),
            field("SIGN.KEY1")
        );
        for bad in [
            "",
            "1ABC",
            "A..B",
            "TOOLONGNAME",
            "A B",
            "A*",
            "A.B.C.D.E.F.G.H",
            "A-B",
        ] {
            assert_eq!(
                parse_label(&field(bad)),
                Err(Failure::LabelFormat),
                "{bad:?}"
            );
        }
        let mut ff = field("A");
        ff[0] = 0xFF;
        assert_eq!(parse_label(&ff), Err(Failure::LabelFormat));
        assert_eq!(parse_label(&[b'A'; 63]), Err(Failure::LabelFormat));
        assert!(is_label(&field("A")));
        assert!(!is_label(&[0x1E; 64]));
    }

    #[test]
    fn masks_match_token_by_token() {
        let m = |s: &str| Mask::parse(&field(s)).unwrap();
        let l = |s: &str| parse_label(&field(s)).unwrap();
        assert!(m("*").matches(&l("A.B.C")));
        assert!(m("SIG*.*").matches(&l("SIGN.K1")));
        assert!(!m("SIG*.*").matches(&l("SIGN")));
        assert!(m("*N.K1").matches(&l("SIGN.K1")));
        assert!(!m("A").matches(&l("AB")));
        for bad in ["**", "A*B", "*1*", "1*"] {
            assert_eq!(Mask::parse(&field(bad)), Err(Failure::LabelFormat), "{bad}");
        }
    }

    #[test]
    fn sealed_blob_round_trips_and_refuses_any_change() {
        let keys = Keys::default()
            .with(entry("B", b"token b"))
            .with(entry("A", b"token a"));
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys.labels(&Mask::parse(&field("*")).unwrap())[0],
            field("A")
        );
        let blob = keys.seal(&[3; 32], [1; 12]).unwrap();
        assert!(!blob.windows(7).any(|w| w == b"token a"));
        let back = Keys::open(&blob, &[3; 32]).unwrap();
        assert_eq!(&back.get(&field("B")).unwrap().token[..], b"token b");
        assert_eq!(back.without(&field("B")).len(), 1);
        assert_eq!(
            Keys::open(&blob, &[4; 32]).unwrap_err(),
            Failure::RetainedKeyData
        );
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            assert!(Keys::open(&bad, &[3; 32]).is_err(), "flip at {i}");
        }
    }
}
