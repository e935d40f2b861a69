//! The card's persistent state in flash, and the storage key in battery-backed RAM.
//!
//! Format of the flash blob (big-endian; documented in ARCHITECTURE.md, "Storage formats"):
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 8 | magic `SCCASTAT` |
//! | 8 | 2 | format version, 1 |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | length P of the public part |
//! | 16 | P | public part: u16 model, 8-byte serial, 8-byte adapter ID, u64 manufacture time |
//! | 16+P | 12 | AES-256-GCM nonce |
//! | 28+P | 4 | length S of the sealed part |
//! | 32+P | S | sealed secrets: AES-256-GCM under the storage key, the bytes 0..16+P as AAD |
//!
//! The sealed secrets: for each master-key class in the order SYM, ASYM, AES, APKA: u8 NEW
//! state (0 empty, 1 partial, 2 full) and the key if not empty; u8 CURRENT present and the key;
//! u8 OLD present and the key. Keys have their class's length.
//!
//! The storage key (32 bytes) lives only in battery-backed RAM, never in flash; zeroizing
//! that RAM makes the sealed part unreadable.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use softcca_wire::{Reader, Writer};
use zeroize::Zeroizing;

use crate::mk::{Class, MasterKey, NewRegister, Register};
use crate::model::{Identity, Model};

const MAGIC: &[u8; 8] = b"SCCASTAT";
const FORMAT_VERSION: u16 = 1;

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

/// Everything the card keeps across resets.
#[derive(Debug, Clone)]
pub(crate) struct Persistent {
    pub identity: Identity,
    pub registers: [Register; 4],
}

/// Seals `state` under `storage_key` with a fresh `nonce`.
pub(crate) fn seal(
    state: &Persistent,
    storage_key: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, StateError> {
    let mut public = Writer::new();
    let id = &state.identity;
    public.u16(id.model.number());
    public.bytes(&id.serial);
    public.bytes(&id.adapter_id);
    public.u64(id.manufactured_at);
    let public = public.into_inner();

    let mut head = Writer::new();
    head.bytes(MAGIC);
    head.u16(FORMAT_VERSION);
    head.u16(0);
    head.u32(u32::try_from(public.len()).map_err(|_| StateError::Malformed)?);
    head.bytes(&public);
    let aad = head.into_inner();

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
    let mut sealed = Zeroizing::new(secrets.into_inner());
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

/// Opens a blob written by [`seal`].
pub(crate) fn unseal(blob: &[u8], storage_key: &[u8]) -> Result<Persistent, StateError> {
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
    let aad_len = 16 + public_len;
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
    p.finish().map_err(malformed)?;

    let key = aead_key(storage_key)?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let aad = blob.get(..aad_len).ok_or(StateError::Malformed)?;
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| StateError::Unsealed)?;

    let mut s = Reader::new(plain);
    let mut registers: [Register; 4] = Default::default();
    for (class, register) in Class::ALL.into_iter().zip(registers.iter_mut()) {
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
    s.finish().map_err(malformed)?;
    Ok(Persistent {
        identity,
        registers,
    })
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
            registers,
        }
    }

    #[test]
    fn round_trip() {
        let key = [5u8; 32];
        let blob = seal(&sample(), &key, [1u8; 12]).unwrap();
        let back = unseal(&blob, &key).unwrap();
        assert_eq!(back.identity, sample().identity);
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
