//! Master-key registers: NEW / CURRENT / OLD for each master-key class, and their
//! verification patterns.
//!
//! IBM: CCA Basic Services Reference, "Master_Key_Process (CSNBMKP)", and IBM Docs "CCA for
//! Linux", "Master key verification patterns". A register's life:
//!
//! ```text
//!   NEW:  Empty --FIRST--> Partial --MIDDLE--> Partial --LAST--> Full
//!         Empty/Partial/Full --RANDOM--> Full        any --CLEAR--> Empty
//!   SET:  Full NEW -> CURRENT, CURRENT -> OLD, NEW -> Empty
//!   CLR-OLD: OLD -> empty
//! ```
//!
//! Every transition is a pure function from one [`Register`] value to the next; the card
//! commits the new value only after it is safely in flash, so a refused or failed request
//! changes nothing.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Failure, Notice};

/// The master-key classes of a CCA coprocessor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// The symmetric (DES/TDES) master key, 24 bytes: keyword `SYM-MK`.
    Sym,
    /// The asymmetric (RSA) master key of older PKA tokens, 24 bytes: keyword `ASYM-MK`.
    Asym,
    /// The AES master key, 32 bytes: keyword `AES-MK`.
    Aes,
    /// The APKA master key for ECC and AES-wrapped RSA tokens, 32 bytes: keyword `APKA-MK`.
    Apka,
}

impl Class {
    /// Every class, in the order the card reports them.
    pub const ALL: [Class; 4] = [Class::Sym, Class::Asym, Class::Aes, Class::Apka];

    /// The length of a master key (and of a key part) of this class.
    pub const fn key_len(self) -> usize {
        match self {
            Class::Sym | Class::Asym => 24,
            Class::Aes | Class::Apka => 32,
        }
    }

    /// IBM's rule-array keyword for the class.
    pub const fn keyword(self) -> &'static str {
        match self {
            Class::Sym => "SYM-MK",
            Class::Asym => "ASYM-MK",
            Class::Aes => "AES-MK",
            Class::Apka => "APKA-MK",
        }
    }

    /// Index of the class in [`Class::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Class::Sym => 0,
            Class::Asym => 1,
            Class::Aes => 2,
            Class::Apka => 3,
        }
    }

    /// The class a keyword names.
    pub fn from_keyword(word: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.keyword() == word)
    }

    /// Whether the key is made of DES thirds (parity, weak-key and duplicate-third checks).
    const fn is_des(self) -> bool {
        matches!(self, Class::Sym | Class::Asym)
    }
}

/// A master key or an accumulating master-key part. Never printed; zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    bytes: Vec<u8>,
}

impl MasterKey {
    /// Wraps key bytes.
    pub fn from_bytes(bytes: &[u8]) -> MasterKey {
        MasterKey {
            bytes: bytes.to_vec(),
        }
    }

    /// The key bytes; only the card's key-wrapping engines may call this.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    fn xor(&self, part: &[u8]) -> MasterKey {
        MasterKey {
            bytes: self.bytes.iter().zip(part).map(|(a, b)| a ^ b).collect(),
        }
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &MasterKey) -> bool {
        verify_slices_are_equal(&self.bytes, &other.bytes).is_ok()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({} bytes)", self.bytes.len())
    }
}

/// The new-master-key register.
#[derive(Debug, Clone, Default)]
pub enum NewRegister {
    /// Clear.
    #[default]
    Empty,
    /// A FIRST part (and perhaps MIDDLE parts) has been loaded.
    Partial(MasterKey),
    /// The LAST part has been loaded, or a RANDOM key generated: ready for SET.
    Full(MasterKey),
}

/// The three registers of one master-key class.
#[derive(Debug, Clone, Default)]
pub struct Register {
    /// The new-master-key register.
    pub new: NewRegister,
    /// The current master key, which enciphers keys now.
    pub current: Option<MasterKey>,
    /// The old master key, which still deciphers keys made before the last SET.
    pub old: Option<MasterKey>,
}

/// What CSUACFQ reports for a new-master-key register: '1' clear, '2' partial, '3' full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewState {
    /// '1'.
    Clear,
    /// '2'.
    Partial,
    /// '3'.
    Full,
}

impl Register {
    /// The state character CSUACFQ reports for NEW.
    pub fn new_state(&self) -> NewState {
        match self.new {
            NewRegister::Empty => NewState::Clear,
            NewRegister::Partial(_) => NewState::Partial,
            NewRegister::Full(_) => NewState::Full,
        }
    }

    /// FIRST: starts a new key from its first part, replacing whatever NEW held.
    pub fn first(&self, class: Class, part: &[u8]) -> Result<(Register, Option<Notice>), Failure> {
        let notice = check_part(class, part)?;
        Ok((
            Register {
                new: NewRegister::Partial(MasterKey::from_bytes(part)),
                ..self.clone()
            },
            notice,
        ))
    }

    /// MIDDLE: exclusive-ORs a further part into a partial NEW register.
    pub fn middle(&self, class: Class, part: &[u8]) -> Result<(Register, Option<Notice>), Failure> {
        let notice = check_part(class, part)?;
        let NewRegister::Partial(acc) = &self.new else {
            return Err(Failure::MasterKeyRegisterState);
        };
        Ok((
            Register {
                new: NewRegister::Partial(acc.xor(part)),
                ..self.clone()
            },
            notice,
        ))
    }

    /// LAST: exclusive-ORs the final part into a partial NEW register, completing it.
    pub fn last(&self, class: Class, part: &[u8]) -> Result<(Register, Option<Notice>), Failure> {
        let mut notice = check_part(class, part)?;
        let NewRegister::Partial(acc) = &self.new else {
            return Err(Failure::MasterKeyRegisterState);
        };
        let mut key = acc.xor(part);
        if class.is_des() {
            // IBM: "CCA keeps odd parity on the combined key"; weak-key checks follow it.
            adjust_odd_parity(&mut key.bytes);
        }
        if let Some(n) = check_complete(class, &key, self)? {
            notice = notice.or(Some(n));
        }
        Ok((
            Register {
                new: NewRegister::Full(key),
                ..self.clone()
            },
            notice,
        ))
    }

    /// RANDOM: fills NEW with a key the card generated (already of odd parity for DES classes).
    pub fn random(&self, class: Class, key: MasterKey) -> Result<Register, Failure> {
        if key.expose().len() != class.key_len() {
            return Err(Failure::KeyLength);
        }
        check_complete(class, &key, self)?;
        Ok(Register {
            new: NewRegister::Full(key),
            ..self.clone()
        })
    }

    /// SET: NEW becomes CURRENT, CURRENT becomes OLD, NEW is cleared.
    pub fn set(&self) -> Result<Register, Failure> {
        let NewRegister::Full(key) = &self.new else {
            return Err(Failure::MasterKeyRegisterState);
        };
        Ok(Register {
            new: NewRegister::Empty,
            current: Some(key.clone()),
            old: self.current.clone(),
        })
    }

    /// CLEAR: empties NEW.
    pub fn clear(&self) -> Register {
        Register {
            new: NewRegister::Empty,
            ..self.clone()
        }
    }

    /// CLR-OLD: empties OLD.
    pub fn clear_old(&self) -> Register {
        Register {
            old: None,
            ..self.clone()
        }
    }
}

/// Checks one key part: its length, and (for DES classes) the parity of each byte.
fn check_part(class: Class, part: &[u8]) -> Result<Option<Notice>, Failure> {
    if part.len() != class.key_len() {
        return Err(Failure::KeyLength);
    }
    if class.is_des() && !part.iter().all(|b| b.count_ones() % 2 == 1) {
        return Ok(Some(Notice::MasterKeyPartParity));
    }
    Ok(None)
}

/// Checks a complete new key: weak DES thirds are refused, duplicate thirds are reported,
/// and a key whose verification pattern equals the current or old key's is refused.
fn check_complete(
    class: Class,
    key: &MasterKey,
    register: &Register,
) -> Result<Option<Notice>, Failure> {
    let mut notice = None;
    if class.is_des() {
        let thirds: Vec<&[u8]> = key.expose().chunks(8).collect();
        if thirds.iter().any(|t| is_weak_des_key(t)) {
            return Err(Failure::WeakMasterKey);
        }
        let same = |a: &[u8], b: &[u8]| verify_slices_are_equal(a, b).is_ok();
        if same(thirds[0], thirds[1]) || same(thirds[1], thirds[2]) || same(thirds[0], thirds[2]) {
            notice = Some(Notice::MasterKeyDuplicateThirds);
        }
    }
    let vp = verification_pattern(class, key);
    for existing in [&register.current, &register.old].into_iter().flatten() {
        if verification_pattern(class, existing) == vp {
            return Err(Failure::MasterKeyPatternCollision);
        }
    }
    Ok(notice)
}

/// The 16 weak and semi-weak DES keys (FIPS 74, with odd parity), compared with parity bits
/// masked off.
const WEAK_DES_KEYS: [[u8; 8]; 16] = [
    [0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01],
    [0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE],
    [0xE0, 0xE0, 0xE0, 0xE0, 0xF1, 0xF1, 0xF1, 0xF1],
    [0x1F, 0x1F, 0x1F, 0x1F, 0x0E, 0x0E, 0x0E, 0x0E],
    [0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE],
    [0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01],
    [0x1F, 0xE0, 0x1F, 0xE0, 0x0E, 0xF1, 0x0E, 0xF1],
    [0xE0, 0x1F, 0xE0, 0x1F, 0xF1, 0x0E, 0xF1, 0x0E],
    [0x01, 0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1],
    [0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1, 0x01],
    [0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E, 0xFE],
    [0xFE, 0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E],
    [0x01, 0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E],
    [0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E, 0x01],
    [0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1, 0xFE],
    [0xFE, 0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1],
];

/// Whether an 8-byte DES key is weak or semi-weak (parity bits ignored).
pub fn is_weak_des_key(key: &[u8]) -> bool {
    WEAK_DES_KEYS
        .iter()
        .any(|w| w.iter().zip(key).all(|(a, b)| a & 0xFE == b & 0xFE))
}

/// Sets odd parity in every byte (the low bit is the parity bit).
pub fn adjust_odd_parity(bytes: &mut [u8]) {
    for b in bytes {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
}

/// A master-key verification pattern: the 8 bytes CCA puts in key tokens and reports.
///
/// IBM Docs "CCA for Linux", "Master key verification patterns":
/// - SYM: the first 8 bytes of SHA-1(X'01' ‖ MK); when the first and third thirds are equal
///   (an effectively double-length key) the "z/OS method": C = X'4545454545454545',
///   IR = K1 ⊕ e_C(K1), MKVP = K2 ⊕ e_IR(K2), single DES.
/// - AES and APKA: the first 8 bytes of SHA-256(X'01' ‖ MK).
/// - ASYM: IBM reports a 16-byte MDC-4 hash, used only inside X'06'/X'08' RSA sections, which
///   later work adds; until then the card reports the ASYM register with the SHA-1 method.
pub fn verification_pattern(class: Class, key: &MasterKey) -> [u8; 8] {
    let k = key.expose();
    if class == Class::Sym && k.len() == 24 && k[..8] == k[16..] {
        return zos_pattern(&k[..8], &k[8..16]);
    }
    let algorithm = match class {
        Class::Sym | Class::Asym => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Class::Aes | Class::Apka => &digest::SHA256,
    };
    let mut ctx = digest::Context::new(algorithm);
    ctx.update(&[0x01]);
    ctx.update(key.expose());
    let d = ctx.finish();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d.as_ref()[..8]);
    out
}

/// The z/OS DES master-key verification pattern of a double-length key K1 ‖ K2.
fn zos_pattern(k1: &[u8], k2: &[u8]) -> [u8; 8] {
    let ecb = |key: &[u8], block: &[u8]| -> [u8; 8] {
        let cipher = des::Des::new(GenericArray::from_slice(key));
        let mut b = GenericArray::clone_from_slice(block);
        cipher.encrypt_block(&mut b);
        let mut out = [0u8; 8];
        out.copy_from_slice(&b);
        out
    };
    let xor = |a: &[u8], b: &[u8]| -> [u8; 8] {
        let mut out = [0u8; 8];
        for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
            *o = x ^ y;
        }
        out
    };
    let ir = xor(k1, &ecb(&[0x45; 8], k1));
    xor(k2, &ecb(&ir, k2))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn part(byte: u8, len: usize) -> Vec<u8> {
        let mut v: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37) ^ byte).collect();
        adjust_odd_parity(&mut v);
        v
    }

    #[test]
    fn first_middle_last_set() {
        let r = Register::default();
        assert!(matches!(
            r.middle(Class::Aes, &part(1, 32)),
            Err(Failure::MasterKeyRegisterState)
        ));
        let (r, _) = r.first(Class::Aes, &part(1, 32)).unwrap();
        assert_eq!(r.new_state(), NewState::Partial);
        assert!(matches!(r.set(), Err(Failure::MasterKeyRegisterState)));
        let (r, _) = r.middle(Class::Aes, &part(2, 32)).unwrap();
        let (r, _) = r.last(Class::Aes, &part(3, 32)).unwrap();
        assert_eq!(r.new_state(), NewState::Full);
        let expected: Vec<u8> = part(1, 32)
            .iter()
            .zip(part(2, 32))
            .zip(part(3, 32))
            .map(|((a, b), c)| a ^ b ^ c)
            .collect();
        let r = r.set().unwrap();
        assert_eq!(r.current.as_ref().unwrap().expose(), &expected[..]);
        assert!(r.old.is_none());
        assert_eq!(r.new_state(), NewState::Clear);
    }

    #[test]
    fn set_moves_current_to_old_and_refuses_same_key() {
        let (r, _) = Register::default()
            .first(Class::Apka, &part(9, 32))
            .unwrap();
        let (r, _) = r.last(Class::Apka, &[0u8; 32]).unwrap();
        let r = r.set().unwrap();
        let (r2, _) = r.first(Class::Apka, &part(9, 32)).unwrap();
        assert!(matches!(
            r2.last(Class::Apka, &[0u8; 32]),
            Err(Failure::MasterKeyPatternCollision)
        ));
        let (r2, _) = r2.last(Class::Apka, &part(4, 32)).unwrap();
        let first = r.current.clone().unwrap();
        let r3 = r2.set().unwrap();
        assert!(r3.old.unwrap().ct_eq(&first));
    }

    #[test]
    fn des_part_checks() {
        let r = Register::default();
        assert!(matches!(
            r.first(Class::Sym, &[1u8; 16]),
            Err(Failure::KeyLength)
        ));
        let mut even = part(5, 24);
        even[3] ^= 1;
        let (_, notice) = r.first(Class::Sym, &even).unwrap();
        assert_eq!(notice, Some(Notice::MasterKeyPartParity));
        let (r, _) = r.first(Class::Sym, &[0x01; 24]).unwrap();
        // 01 xor 00 = 01 01 ..: weak in every third.
        assert!(matches!(
            r.last(Class::Sym, &[0u8; 24]),
            Err(Failure::WeakMasterKey)
        ));
        let mut k = part(7, 8);
        k.extend(part(7, 8));
        k.extend(part(8, 8));
        let first: Vec<u8> = k.iter().map(|b| b ^ 0x01).collect();
        let (r, _) = Register::default().first(Class::Sym, &first).unwrap();
        let (r, notice) = r.last(Class::Sym, &[0x01; 24]).unwrap();
        assert!(matches!(&r.new, NewRegister::Full(key) if key.expose() == &k[..]));
        assert_eq!(notice, Some(Notice::MasterKeyDuplicateThirds));
    }

    #[test]
    fn verification_pattern_is_sha256_of_01_key() {
        let key = MasterKey::from_bytes(&[0u8; 32]);
        let mut input = vec![1u8];
        input.extend([0u8; 32]);
        let d = digest::digest(&digest::SHA256, &input);
        assert_eq!(verification_pattern(Class::Aes, &key), d.as_ref()[..8]);
    }

    #[test]
    fn weak_keys_ignore_parity() {
        assert!(is_weak_des_key(&[0x00; 8]));
        assert!(is_weak_des_key(&[0xFE; 8]));
        assert!(!is_weak_des_key(&[
            0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF
        ]));
    }

    #[test]
    fn debug_prints_no_bytes() {
        let k = MasterKey::from_bytes(&[0xAB; 32]);
        assert_eq!(format!("{k:?}"), "MasterKey(32 bytes)");
    }
}
