//! The card's persistent state in flash, and the storage key in battery-backed RAM.
//!
//! Format of the flash blob `card.state` (big-endian; ARCHITECTURE.md, "Storage formats"):
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 8 | magic `SCCASTAT` |
//! | 8 | 2 | format version, 2 |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | length P of the public part |
//! | 16 | P | public part (below) |
//! | 16+P | 12 | AES-256-GCM nonce |
//! | 28+P | 4 | length S of the sealed part (0 only in a zeroized card's tombstone) |
//! | 32+P | S | sealed secrets: AES-256-GCM under the storage key, the bytes 0..16+P as AAD |
//!
//! Public part: u16 model, 8-byte serial, 8-byte adapter ID, u64 manufacture time; u16
//! sensor that disabled the card (0: none); u8 intrusion latch; u8 battery warning; for
//! segments 1–3: u8 state, u16 owner, u8 image present and, if so, u16-prefixed blob name,
//! u16-prefixed image name, three u16 version numbers and the 64-byte SHA-512 of the image;
//! then three u32-prefixed certificates: class key, device key, code-signing key.
//!
//! Sealed secrets: for each master-key class in the order SYM, ASYM, AES, APKA: u8 NEW state
//! (0 empty, 1 partial, 2 full) and the key if not empty; u8 CURRENT present and the key; u8
//! OLD present and the key (keys have their class's length); then the u32-prefixed PKCS#8 of
//! the device key (0 length: none).
//!
//! The storage key (32 bytes) lives only in battery-backed RAM, never in flash; zeroizing
//! that RAM makes the sealed part unreadable, and zeroization also rewrites the state as a
//! tombstone with no sealed part and no certificates.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use softcca_wire::{Reader, Writer};
use zeroize::Zeroizing;

use crate::mk::{Class, MasterKey, NewRegister, Register};
use crate::model::{Identity, Model};
use crate::segments::{ImageRecord, SegmentRecord, SegmentState};
use crate::sensors::Sensor;

const MAGIC: &[u8; 8] = b"SCCASTAT";
const FORMAT_VERSION: u16 = 2;

/// Length of the storage key.
pub const STORAGE_KEY_LEN: usize = 32;

/// Why a flash blob could not be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// Not a softcca state blob, or a truncated or malformed one.
    Malformed,
    /// A format version this card does not know.
    UnknownVersion(u16),
    /// The sealed part does not open with the storage key: tampered flash or a different
    /// battery-backed RAM.
    Unsealed,
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Malformed => f.write_str("card state in flash is malformed"),
            StateError::UnknownVersion(v) => write!(f, "card state format {v} is unknown"),
            StateError::Unsealed => {
                f.write_str("card state does not open with the battery-backed storage key")
            }
        }
    }
}

impl std::error::Error for StateError {}

/// The public certificates a card keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Certificates {
    pub class: Vec<u8>,
    pub device: Vec<u8>,
    pub code_signer: Vec<u8>,
}

/// Everything the card keeps across resets.
#[derive(Debug, Clone)]
pub(crate) struct Persistent {
    pub identity: Identity,
    pub disabled: Option<Sensor>,
    pub intrusion_latch: bool,
    pub battery_low: bool,
    pub segments: [SegmentRecord; 3],
    pub certificates: Certificates,
    pub registers: [Register; 4],
    pub device_key: Zeroizing<Vec<u8>>,
}

const MAX_TEXT: u16 = 64;
const MAX_CERT: u32 = 65_536;

fn encode_public(state: &Persistent) -> Result<Vec<u8>, StateError> {
    let bad = |_| StateError::Malformed;
    let mut w = Writer::new();
    let id = &state.identity;
    w.u16(id.model.number());
    w.bytes(&id.serial);
    w.bytes(&id.adapter_id);
    w.u64(id.manufactured_at);
    w.u16(state.disabled.map_or(0, Sensor::code));
    w.u8(u8::from(state.intrusion_latch));
    w.u8(u8::from(state.battery_low));
    for seg in &state.segments {
        w.u8(seg.state.code());
        w.u16(seg.owner);
        match &seg.image {
            None => w.u8(0),
            Some(img) => {
                w.u8(1);
                w.text16("blob", &img.blob, MAX_TEXT).map_err(bad)?;
                w.text16("name", &img.name, MAX_TEXT).map_err(bad)?;
                w.u16(img.version.0);
                w.u16(img.version.1);
                w.u16(img.version.2);
                w.bytes(&img.hash);
            }
        }
    }
    for cert in [
        &state.certificates.class,
        &state.certificates.device,
        &state.certificates.code_signer,
    ] {
        let len = u32::try_from(cert.len())
            .ok()
            .filter(|l| *l <= MAX_CERT)
            .ok_or(StateError::Malformed)?;
        w.u32(len);
        w.bytes(cert);
    }
    Ok(w.into_inner())
}

fn encode_secrets(state: &Persistent) -> Result<Zeroizing<Vec<u8>>, StateError> {
    let mut secrets = Writer::new();
    for register in &state.registers {
        match &register.new {
            NewRegister::Empty => secrets.u8(0),
            NewRegister::Partial(k) => {
                secrets.u8(1);
                secrets.bytes(k.expose());
            }
            NewRegister::Full(k) => {
                secrets.u8(2);
                secrets.bytes(k.expose());
            }
        }
        for key in [&register.current, &register.old] {
            match key {
                None => secrets.u8(0),
                Some(k) => {
                    secrets.u8(1);
                    secrets.bytes(k.expose());
                }
            }
        }
    }
    secrets.u32(u32::try_from(state.device_key.len()).map_err(|_| StateError::Malformed)?);
    secrets.bytes(&state.device_key);
    Ok(Zeroizing::new(secrets.into_inner()))
}

fn head(public: &[u8]) -> Result<Vec<u8>, StateError> {
    let mut head = Writer::new();
    head.bytes(MAGIC);
    head.u16(FORMAT_VERSION);
    head.u16(0);
    head.u32(u32::try_from(public.len()).map_err(|_| StateError::Malformed)?);
    head.bytes(public);
    Ok(head.into_inner())
}

/// Seals `state` under `storage_key` with a fresh `nonce`.
pub(crate) fn seal(
    state: &Persistent,
    storage_key: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, StateError> {
    let aad = head(&encode_public(state)?)?;
    let mut sealed = encode_secrets(state)?;
    let key = aead_key(storage_key)?;
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&aad[..]),
        &mut *sealed,
    )
    .map_err(|_| StateError::Malformed)?;
    let mut out = Writer::new();
    out.bytes(&aad);
    out.bytes(&nonce);
    out.u32(u32::try_from(sealed.len()).map_err(|_| StateError::Malformed)?);
    out.bytes(&sealed);
    Ok(out.into_inner())
}

/// The state of a zeroized card: its identity, its segments and the sensor that fired; no
/// certificates and no sealed part.
pub(crate) fn tombstone(state: &Persistent) -> Result<Vec<u8>, StateError> {
    let public = Persistent {
        certificates: Certificates::default(),
        registers: Default::default(),
        device_key: Zeroizing::new(Vec::new()),
        ..state.clone()
    };
    let mut out = Writer::new();
    out.bytes(&head(&encode_public(&public)?)?);
    out.bytes(&[0u8; NONCE_LEN]);
    out.u32(0);
    Ok(out.into_inner())
}

/// The public part of a state blob, and the sealed part still closed.
pub(crate) struct Opened<'a> {
    pub public: Persistent,
    aad: &'a [u8],
    nonce: [u8; NONCE_LEN],
    sealed: &'a [u8],
}

impl Opened<'_> {
    /// Whether this is a zeroized card's tombstone.
    pub fn is_tombstone(&self) -> bool {
        self.public.disabled.is_some() && self.sealed.is_empty()
    }

    /// Opens the sealed part with the storage key.
    pub fn unseal(self, storage_key: &[u8]) -> Result<Persistent, StateError> {
        let malformed = |_| StateError::Malformed;
        let key = aead_key(storage_key)?;
        let mut buf = Zeroizing::new(self.sealed.to_vec());
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(self.nonce),
                Aad::from(self.aad),
                &mut buf,
            )
            .map_err(|_| StateError::Unsealed)?;
        let mut s = Reader::new(plain);
        let mut state = self.public;
        for (class, register) in Class::ALL.into_iter().zip(state.registers.iter_mut()) {
            let key = |s: &mut Reader| -> Result<MasterKey, StateError> {
                Ok(MasterKey::from_bytes(
                    s.bytes(class.key_len()).map_err(malformed)?,
                ))
            };
            register.new = match s.u8().map_err(malformed)? {
                0 => NewRegister::Empty,
                1 => NewRegister::Partial(key(&mut s)?),
                2 => NewRegister::Full(key(&mut s)?),
                _ => return Err(StateError::Malformed),
            };
            for slot in [&mut register.current, &mut register.old] {
                *slot = match s.u8().map_err(malformed)? {
                    0 => None,
                    1 => Some(key(&mut s)?),
                    _ => return Err(StateError::Malformed),
                };
            }
        }
        let len = s.u32().map_err(malformed)? as usize;
        state.device_key = Zeroizing::new(s.bytes(len).map_err(malformed)?.to_vec());
        s.finish().map_err(malformed)?;
        Ok(state)
    }
}

/// Reads a blob written by [`seal`] or [`tombstone`] as far as the sealed part.
pub(crate) fn open(blob: &[u8]) -> Result<Opened<'_>, StateError> {
    let malformed = |_| StateError::Malformed;
    let mut r = Reader::new(blob);
    if r.bytes(8).map_err(malformed)? != MAGIC {
        return Err(StateError::Malformed);
    }
    let version = r.u16().map_err(malformed)?;
    if version != FORMAT_VERSION {
        return Err(StateError::UnknownVersion(version));
    }
    if r.u16().map_err(malformed)? != 0 {
        return Err(StateError::Malformed);
    }
    let public_len = r.u32().map_err(malformed)? as usize;
    let public = r.bytes(public_len).map_err(malformed)?;
    let aad = blob
        .get(..16usize.saturating_add(public_len))
        .ok_or(StateError::Malformed)?;
    let nonce: [u8; NONCE_LEN] = r.array().map_err(malformed)?;
    let sealed_len = r.u32().map_err(malformed)? as usize;
    let sealed = r.bytes(sealed_len).map_err(malformed)?;
    r.finish().map_err(malformed)?;

    let mut p = Reader::new(public);
    let model = Model::from_number(p.u16().map_err(malformed)?).ok_or(StateError::Malformed)?;
    let identity = Identity {
        model,
        serial: p.array().map_err(malformed)?,
        adapter_id: p.array().map_err(malformed)?,
        manufactured_at: p.u64().map_err(malformed)?,
    };
    let disabled = match p.u16().map_err(malformed)? {
        0 => None,
        code => Some(Sensor::from_code(code).ok_or(StateError::Malformed)?),
    };
    let flag = |p: &mut Reader| -> Result<bool, StateError> {
        match p.u8().map_err(malformed)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(StateError::Malformed),
        }
    };
    let intrusion_latch = flag(&mut p)?;
    let battery_low = flag(&mut p)?;
    let mut segments: [SegmentRecord; 3] = std::array::from_fn(|_| SegmentRecord::unowned());
    for seg in &mut segments {
        seg.state =
            SegmentState::from_code(p.u8().map_err(malformed)?).ok_or(StateError::Malformed)?;
        seg.owner = p.u16().map_err(malformed)?;
        seg.image = if flag(&mut p)? {
            Some(ImageRecord {
                blob: p.text16("blob", MAX_TEXT).map_err(malformed)?,
                name: p.text16("name", MAX_TEXT).map_err(malformed)?,
                version: (
                    p.u16().map_err(malformed)?,
                    p.u16().map_err(malformed)?,
                    p.u16().map_err(malformed)?,
                ),
                hash: p.array().map_err(malformed)?,
            })
        } else {
            None
        };
    }
    let cert = |p: &mut Reader| -> Result<Vec<u8>, StateError> {
        let len = p.u32().map_err(malformed)?;
        if len > MAX_CERT {
            return Err(StateError::Malformed);
        }
        Ok(p.bytes(len as usize).map_err(malformed)?.to_vec())
    };
    let certificates = Certificates {
        class: cert(&mut p)?,
        device: cert(&mut p)?,
        code_signer: cert(&mut p)?,
    };
    p.finish().map_err(malformed)?;
    if sealed.is_empty() && disabled.is_none() {
        return Err(StateError::Malformed);
    }
    Ok(Opened {
        public: Persistent {
            identity,
            disabled,
            intrusion_latch,
            battery_low,
            segments,
            certificates,
            registers: Default::default(),
            device_key: Zeroizing::new(Vec::new()),
        },
        aad,
        nonce,
        sealed,
    })
}

/// Opens a blob written by [`seal`] (not a tombstone).
#[cfg(test)]
pub(crate) fn unseal(blob: &[u8], storage_key: &[u8]) -> Result<Persistent, StateError> {
    open(blob)?.unseal(storage_key)
}

fn aead_key(storage_key: &[u8]) -> Result<LessSafeKey, StateError> {
    let unbound = UnboundKey::new(&AES_256_GCM, storage_key).map_err(|_| StateError::Unsealed)?;
    Ok(LessSafeKey::new(unbound))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Persistent {
        let mut registers: [Register; 4] = Default::default();
        registers[2].current = Some(MasterKey::from_bytes(&[7u8; 32]));
        registers[0].new = NewRegister::Partial(MasterKey::from_bytes(&[3u8; 24]));
        registers[3].old = Some(MasterKey::from_bytes(&[9u8; 32]));
        Persistent {
            identity: Identity {
                model: Model::Ibm4769,
                serial: *b"93ABCDEF",
                adapter_id: [1, 2, 3, 4, 5, 6, 7, 8],
                manufactured_at: 1_700_000_000,
            },
            disabled: None,
            intrusion_latch: true,
            battery_low: false,
            segments: [
                SegmentRecord {
                    state: SegmentState::Initialized,
                    owner: 0,
                    image: Some(ImageRecord {
                        blob: "segment-1-00.img".into(),
                        name: "1.3.1 POST/MB".into(),
                        version: (1, 3, 1),
                        hash: [9; 64],
                    }),
                },
                SegmentRecord::unowned(),
                SegmentRecord {
                    state: SegmentState::OwnedButUnreliable,
                    owner: 2,
                    image: None,
                },
            ],
            certificates: Certificates {
                class: vec![1; 10],
                device: vec![2; 20],
                code_signer: vec![],
            },
            registers,
            device_key: Zeroizing::new(vec![0x30; 40]),
        }
    }

    #[test]
    fn round_trip() {
        let key = [5u8; 32];
        let blob = seal(&sample(), &key, [1u8; 12]).unwrap();
        let back = unseal(&blob, &key).unwrap();
        assert_eq!(back.identity, sample().identity);
        assert_eq!(back.segments, sample().segments);
        assert_eq!(back.certificates, sample().certificates);
        assert!(back.intrusion_latch && !back.battery_low && back.disabled.is_none());
        assert_eq!(&back.device_key[..], &[0x30; 40]);
        assert!(
            back.registers[2]
                .current
                .as_ref()
                .unwrap()
                .ct_eq(&MasterKey::from_bytes(&[7u8; 32]))
        );
        assert!(matches!(back.registers[0].new, NewRegister::Partial(_)));
        assert!(back.registers[3].old.is_some());
        assert!(back.registers[1].current.is_none());
    }

    #[test]
    fn tombstone_keeps_no_secret_and_no_certificate() {
        let mut state = sample();
        state.disabled = Some(Sensor::Mesh);
        let blob = tombstone(&state).unwrap();
        let opened = open(&blob).unwrap();
        assert!(opened.is_tombstone());
        assert_eq!(opened.public.disabled, Some(Sensor::Mesh));
        assert_eq!(opened.public.segments, state.segments);
        assert_eq!(opened.public.certificates, Certificates::default());
        assert!(!blob.windows(20).any(|w| w == [2u8; 20]));
    }

    #[test]
    fn secrets_are_not_in_the_clear() {
        let blob = seal(&sample(), &[5u8; 32], [1u8; 12]).unwrap();
        assert!(!blob.windows(32).any(|w| w == [7u8; 32]));
    }

    #[test]
    fn wrong_key_or_any_flipped_bit_is_refused() {
        let key = [5u8; 32];
        let blob = seal(&sample(), &key, [1u8; 12]).unwrap();
        assert_eq!(unseal(&blob, &[6u8; 32]).unwrap_err(), StateError::Unsealed);
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(unseal(&bad, &key).is_err(), "flip at {i} accepted");
        }
        for cut in 0..blob.len() {
            assert!(unseal(&blob[..cut], &key).is_err());
        }
    }
}
