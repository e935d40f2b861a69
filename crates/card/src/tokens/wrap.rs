//! Enciphering keys under the master keys: WRAP-ECB for DES keys under the SYM master key,
//! AES-CBC for AES keys under the AES master key. Both directions; unwrapping picks the
//! current or the old master key by the token's verification pattern.
//!
//! **DES, WRAP-ECB.** CCA254 App. C, Fig. C-4 (p=428–429) and IBM Docs "CCA for Linux",
//! "Multiple decipherment and encipherment": the 24-byte SYM master key is split into thirds
//! P1, P2, P3 and each is exclusive-ORed with the control vector, Ki = Pi ⊕ CV_L and
//! K(3+i) = Pi ⊕ CV_R. Then, in softcca:
//! - part A (a single key, or the left half) is triple-DES enciphered under K1, K2, K3;
//! - part B (the right half) under K4, K5, K6. IBM Docs "CCA for Linux", "Control vector
//!   table" (<https://www.ibm.com/docs/en/linux-on-systems?topic=verb-control-vector-table>):
//!   "For double-length keys, a unique control vector exists for each half" and "One master
//!   key variant enciphers the left half … and another master key variant enciphers the
//!   right half"; the figure (CCA254 p=429,
//!   <http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=429>) draws K1–K3 from the
//!   MK and the left CV and K4–K6 from the MK and the right CV. That K4–K6 encipher part B
//!   is **\[I\]** from these two texts;
//! - part C of a triple key under K4, K5, K6 — **\[I\]/\[U\]**: which CV half IBM applies to part
//!   C is not documented; a triple-length CV has L = R, so the choice does not matter for
//!   keys built from the default table;
//! - the triple-DES order is e(K1) ∘ d(K2) ∘ e(K3) (TDEA EDE) — **\[U\]**: the figure lists
//!   the keys but not the order;
//! - a version X'01' token (zero CV) is thereby plain TDES-ECB under the master key — **\[I\]**.
//!
//! **Under a key-encrypting key.** [`wrap_under_kek`] / [`unwrap_under_kek`]: an external
//! token holds its key enciphered under an IMPORTER or EXPORTER combined with the key's
//! control vector. A double-length KEK gives K1 = K3 = KEK_L ⊕ CV and K2 = KEK_R ⊕ CV, e-d-e
//! (IBM Docs "CCA for Linux", "Multiple encipherment of double-length keys"; CCA254 Fig. C-4,
//! p=428–429); the parts use the CV halves as under the master key.
//!
//! **AES.** IBM Docs "CCA for Linux", "AES internal fixed-length key token" (topic
//! tokens-aes-internal-fixed-length-key-token) and ICSF csfb400/aeskt.htm: the key,
//! left-aligned and zero-padded to 32 bytes, is enciphered as a whole with AES-CBC under the
//! 32-byte AES master key, IV zero.
//!
//! The reason codes are CCA254 Fig. A-4 (p=364,
//! <https://manualsdump.com/en/manuals/ibm-2model/120553/364>) and ICSF "Reason codes for
//! return code 8" (<https://www.ibm.com/docs/SSLTBW_2.4.0/com.ibm.zos.v2r4.csfb400/csfb4879.htm>).
//!
//! **Which master key.** A token's MKVP is compared with the current and then the old master
//! key's pattern ([`crate::mk::verification_pattern`]); neither gives 8/24
//! ([`Failure::MasterKeyPatternUnknown`]); no current master key at all gives 12/764. A key
//! deciphered under the old master key is reported as [`MasterKeyUsed::Old`], for which the
//! verb returns 0/10001.

use ::des::TdesEde3;
use ::des::cipher::generic_array::GenericArray;
use ::des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aws_lc_rs::cipher::{
    AES_256, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::mk::{Class, MasterKey, verification_pattern};

use super::aes::{AesMaterial, InternalAes, key_bits, lrc};
use super::des::{DesFields, ExternalDes, FLAG_KEY_PRESENT, InternalDes, WrapMethod};
use super::{ClearKey, KeyLength, MasterKeyUsed, cv};

/// Picks the master key whose pattern the token carries.
fn select<'a>(
    class: Class,
    mkvp: &[u8; 8],
    current: Option<&'a MasterKey>,
    old: Option<&'a MasterKey>,
) -> Result<(&'a MasterKey, MasterKeyUsed), Failure> {
    let current = current.ok_or(Failure::MasterKeyNotLoaded)?;
    if verification_pattern(class, current) == *mkvp {
        return Ok((current, MasterKeyUsed::Current));
    }
    match old {
        Some(old) if verification_pattern(class, old) == *mkvp => Ok((old, MasterKeyUsed::Old)),
        _ => Err(Failure::MasterKeyPatternUnknown),
    }
}

/// The TDES-EDE3 cipher of the MK variant for one CV half.
fn variant(mk: &MasterKey, cv_half: &[u8; 8]) -> Result<TdesEde3, Failure> {
    let k = mk.expose();
    if k.len() != 24 {
        return Err(Failure::KeyLength);
    }
    let mut v = Zeroizing::new([0u8; 24]);
    for (i, (o, m)) in v.iter_mut().zip(k).enumerate() {
        *o = m ^ cv_half[i % 8];
    }
    Ok(TdesEde3::new(GenericArray::from_slice(v.as_slice())))
}

/// The cipher for each key part: A under the left-CV variant, B and C under the right.
fn part_ciphers(
    mk: &MasterKey,
    cv_left: &[u8; 8],
    cv_right: &[u8; 8],
) -> Result<[TdesEde3; 2], Failure> {
    Ok([variant(mk, cv_left)?, variant(mk, cv_right)?])
}

/// Enciphers a clear DES key (8, 16 or 24 bytes, as `length` says) under the SYM master key
/// and the control vector, giving an internal token (flag X'80', WRAP-ECB; **\[U\]** whether
/// IBM sets X'40' as well). `cv_left`/`cv_right` are taken as given; use
/// [`cv::default_cv`] for IBM's defaults, zeros for a version X'01' DATA key.
pub fn wrap_des(
    mk: &MasterKey,
    clear: &[u8],
    cv_left: [u8; 8],
    cv_right: [u8; 8],
    length: KeyLength,
) -> Result<InternalDes, Failure> {
    if clear.len() != length.bytes() {
        return Err(Failure::KeyLength);
    }
    if (cv_left != [0; 8] || cv_right != [0; 8]) && cv::length_from_form(&cv_left) != Some(length) {
        return Err(Failure::KeyTokenInvalid);
    }
    let ciphers = part_ciphers(mk, &cv_left, &cv_right)?;
    let mut key = [0u8; 24];
    for (i, chunk) in clear.chunks_exact(8).enumerate() {
        let mut block = GenericArray::clone_from_slice(chunk);
        ciphers[usize::from(i > 0)].encrypt_block(&mut block);
        key[8 * i..8 * i + 8].copy_from_slice(&block);
    }
    Ok(InternalDes {
        mkvp: verification_pattern(Class::Sym, mk),
        fields: DesFields {
            flags: FLAG_KEY_PRESENT,
            wrap_method: WrapMethod::Ecb,
            key,
            cv_left,
            cv_right,
            length,
        },
    })
}

/// Deciphers the key of an internal WRAP-ECB DES token under the current or old SYM master
/// key. Another wrap method is not supported yet (8/2); a token with no key is refused (8/47).
pub fn unwrap_des(
    token: &InternalDes,
    current: Option<&MasterKey>,
    old: Option<&MasterKey>,
) -> Result<(ClearKey, MasterKeyUsed), Failure> {
    let f = &token.fields;
    if f.flags & FLAG_KEY_PRESENT == 0 {
        return Err(Failure::KeyTokenInvalid);
    }
    if f.wrap_method != WrapMethod::Ecb {
        return Err(Failure::NotSupported);
    }
    let (mk, used) = select(Class::Sym, &token.mkvp, current, old)?;
    let ciphers = part_ciphers(mk, &f.cv_left, &f.cv_right)?;
    let n = f.length.bytes();
    let mut out = Zeroizing::new(vec![0u8; n]);
    for (i, chunk) in f.key[..n].chunks_exact(8).enumerate() {
        let mut block = GenericArray::clone_from_slice(chunk);
        ciphers[usize::from(i > 0)].decrypt_block(&mut block);
        out[8 * i..8 * i + 8].copy_from_slice(&block);
        block.iter_mut().for_each(|b| *b = 0);
    }
    Ok((ClearKey::new(&out), used))
}

/// The TDES-EDE3 cipher of a key-encrypting key combined with one CV half: a double-length
/// KEK gives K1 = K3 = KEK_L ⊕ CV and K2 = KEK_R ⊕ CV; a triple-length KEK gives
/// Ki = KEKi ⊕ CV. IBM Docs "CCA for Linux", "Multiple encipherment of double-length keys";
/// CCA254 Fig. C-4, p=428–429. A single-length KEK is not a key-encrypting key (IBM defines no
/// single-length KEK control vector): 8/47.
fn kek_variant(kek: &ClearKey, cv_half: &[u8; 8]) -> Result<TdesEde3, Failure> {
    let k = kek.expose();
    let mut v = Zeroizing::new([0u8; 24]);
    match k.len() {
        16 => {
            v[..16].copy_from_slice(k);
            v[16..].copy_from_slice(&k[..8]);
        }
        24 => v.copy_from_slice(k),
        _ => return Err(Failure::KeyTokenInvalid),
    }
    for (i, b) in v.iter_mut().enumerate() {
        *b ^= cv_half[i % 8];
    }
    Ok(TdesEde3::new(GenericArray::from_slice(v.as_slice())))
}

/// Enciphers a clear DES key under a key-encrypting key (an IMPORTER or EXPORTER) and the
/// target key's control vector, giving an external token (flag X'80', WRAP-ECB). As under the
/// master key, part A goes under KEK ⊕ CV_L, parts B and C under KEK ⊕ CV_R; a zero CV leaves
/// the KEK as it is.
pub fn wrap_under_kek(
    kek: &ClearKey,
    clear: &[u8],
    cv_left: [u8; 8],
    cv_right: [u8; 8],
    length: KeyLength,
) -> Result<ExternalDes, Failure> {
    if clear.len() != length.bytes() {
        return Err(Failure::KeyLength);
    }
    if (cv_left != [0; 8] || cv_right != [0; 8]) && cv::length_from_form(&cv_left) != Some(length) {
        return Err(Failure::KeyTokenInvalid);
    }
    let ciphers = [kek_variant(kek, &cv_left)?, kek_variant(kek, &cv_right)?];
    let mut key = [0u8; 24];
    for (i, chunk) in clear.chunks_exact(8).enumerate() {
        let mut block = GenericArray::clone_from_slice(chunk);
        ciphers[usize::from(i > 0)].encrypt_block(&mut block);
        key[8 * i..8 * i + 8].copy_from_slice(&block);
    }
    Ok(ExternalDes {
        fields: DesFields {
            flags: FLAG_KEY_PRESENT,
            wrap_method: WrapMethod::Ecb,
            key,
            cv_left,
            cv_right,
            length,
        },
    })
}

/// Deciphers the key of an external WRAP-ECB DES token under a key-encrypting key. Another
/// wrap method is 8/2; a token with no key 8/47.
pub fn unwrap_under_kek(token: &ExternalDes, kek: &ClearKey) -> Result<ClearKey, Failure> {
    let f = &token.fields;
    if f.flags & FLAG_KEY_PRESENT == 0 {
        return Err(Failure::KeyTokenInvalid);
    }
    if f.wrap_method != WrapMethod::Ecb {
        return Err(Failure::NotSupported);
    }
    let ciphers = [
        kek_variant(kek, &f.cv_left)?,
        kek_variant(kek, &f.cv_right)?,
    ];
    let n = f.length.bytes();
    let mut out = Zeroizing::new(vec![0u8; n]);
    for (i, chunk) in f.key[..n].chunks_exact(8).enumerate() {
        let mut block = GenericArray::clone_from_slice(chunk);
        ciphers[usize::from(i > 0)].decrypt_block(&mut block);
        out[8 * i..8 * i + 8].copy_from_slice(&block);
        block.iter_mut().for_each(|b| *b = 0);
    }
    Ok(ClearKey::new(&out))
}

fn aes_cbc(mk: &MasterKey, field: &mut [u8; 32], encrypt: bool) -> Result<(), Failure> {
    let key = UnboundCipherKey::new(&AES_256, mk.expose()).map_err(|_| Failure::KeyLength)?;
    let iv = FixedLength::from([0u8; 16]);
    if encrypt {
        EncryptingKey::cbc(key)
            .and_then(|k| k.less_safe_encrypt(field, EncryptionContext::Iv128(iv)))
            .map_err(|_| Failure::KeyLength)?;
    } else {
        DecryptingKey::cbc(key)
            .and_then(|k| k.decrypt(field, DecryptionContext::Iv128(iv)).map(|_| ()))
            .map_err(|_| Failure::KeyLength)?;
    }
    Ok(())
}

/// Enciphers a clear AES key (16, 24 or 32 bytes) under the 32-byte AES master key, giving an
/// internal fixed-length token (flag X'80', no CV flag).
pub fn wrap_aes(mk: &MasterKey, clear: &[u8]) -> Result<InternalAes, Failure> {
    let bits = key_bits(clear.len()).ok_or(Failure::KeyLength)?;
    let mut field = [0u8; 32];
    field[..clear.len()].copy_from_slice(clear);
    aes_cbc(mk, &mut field, true)?;
    Ok(InternalAes {
        cv_present: false,
        material: AesMaterial::Encrypted {
            mkvp: verification_pattern(Class::Aes, mk),
            field,
            bits,
            lrc: lrc(clear),
        },
    })
}

/// The key of an AES token: deciphered under the current or old AES master key (with which
/// one), or taken as it is from a clear-key token (`None`). The padding after the key must
/// decipher to zeros and the LRC must match (8/47 otherwise); a token with no key gives 8/47.
pub fn unwrap_aes(
    token: &InternalAes,
    current: Option<&MasterKey>,
    old: Option<&MasterKey>,
) -> Result<(ClearKey, Option<MasterKeyUsed>), Failure> {
    match &token.material {
        AesMaterial::NoKey { .. } => Err(Failure::KeyTokenInvalid),
        AesMaterial::Clear { .. } => token
            .clear_key()
            .map(|k| (k, None))
            .ok_or(Failure::KeyTokenInvalid),
        AesMaterial::Encrypted {
            mkvp,
            field,
            bits,
            lrc: expected,
        } => {
            let (mk, used) = select(Class::Aes, mkvp, current, old)?;
            let mut clear = Zeroizing::new(*field);
            aes_cbc(mk, &mut clear, false)?;
            let n = usize::from(*bits / 8).min(32);
            if clear[n..].iter().any(|&b| b != 0) || lrc(&clear[..n]) != *expected {
                return Err(Failure::KeyTokenInvalid);
            }
            Ok((ClearKey::new(&clear[..n]), Some(used)))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::aes::AesToken;
    use super::super::des::DesToken;
    use super::*;

    fn mk(seed: u8, len: usize) -> MasterKey {
        let v: Vec<u8> = (0..len as u8)
            .map(|i| i.wrapping_mul(29).wrapping_add(seed))
            .collect();
        MasterKey::from_bytes(&v)
    }

    fn clear(len: usize) -> Vec<u8> {
        (0..len as u8).map(|i| 0x80 ^ i.wrapping_mul(7)).collect()
    }

    #[test]
    fn des_round_trip_under_current_and_old() {
        let (cur, old) = (mk(1, 24), mk(2, 24));
        for (t, len) in [
            ("DATA", KeyLength::Single),
            ("CIPHER", KeyLength::Double),
            ("EXPORTER", KeyLength::Triple),
        ] {
            let (l, r) = cv::default_cv(t, len).unwrap();
            let key = clear(len.bytes());
            for (wrapper, expect) in [(&cur, MasterKeyUsed::Current), (&old, MasterKeyUsed::Old)] {
                let tok = wrap_des(wrapper, &key, l, r, len).unwrap();
                // Through the bytes, as a verb would see it.
                let DesToken::Internal(tok) =
                    DesToken::parse(&DesToken::Internal(tok).to_bytes()).unwrap()
                else {
                    panic!("not internal");
                };
                let (k, used) = unwrap_des(&tok, Some(&cur), Some(&old)).unwrap();
                assert_eq!(k.expose(), key.as_slice(), "{t}");
                assert_eq!(used, expect);
                assert_ne!(&tok.fields.key[..len.bytes()], key.as_slice());
            }
        }
        // Zero CV (version X'01').
        let key = clear(16);
        let tok = wrap_des(&cur, &key, [0; 8], [0; 8], KeyLength::Double).unwrap();
        assert_eq!(DesToken::Internal(tok.clone()).to_bytes()[4], 1);
        assert_eq!(
            unwrap_des(&tok, Some(&cur), None).unwrap().0.expose(),
            key.as_slice()
        );
    }

    #[test]
    fn des_mkvp_mismatch_and_missing_master_key() {
        let (l, r) = cv::default_cv("MAC", KeyLength::Double).unwrap();
        let tok = wrap_des(&mk(3, 24), &clear(16), l, r, KeyLength::Double).unwrap();
        assert_eq!(
            unwrap_des(&tok, Some(&mk(1, 24)), Some(&mk(2, 24))).unwrap_err(),
            Failure::MasterKeyPatternUnknown
        );
        assert_eq!(
            unwrap_des(&tok, Some(&mk(1, 24)), None).unwrap_err(),
            Failure::MasterKeyPatternUnknown
        );
        assert_eq!(
            unwrap_des(&tok, None, Some(&mk(3, 24))).unwrap_err(),
            Failure::MasterKeyNotLoaded
        );
    }

    #[test]
    fn control_vector_is_bound_to_the_key() {
        let m = mk(5, 24);
        let key = clear(16);
        let (l, r) = cv::default_cv("DATA", KeyLength::Double).unwrap();
        let mut tok = wrap_des(&m, &key, l, r, KeyLength::Double).unwrap();
        let (l2, r2) = cv::default_cv("EXPORTER", KeyLength::Double).unwrap();
        tok.fields.cv_left = l2;
        tok.fields.cv_right = r2;
        let (k, _) = unwrap_des(&tok, Some(&m), None).unwrap();
        assert_ne!(k.expose()[..8], key[..8]);
        assert_ne!(k.expose()[8..], key[8..]);
        // Changing only the right half changes only the right half of the key.
        let mut tok = wrap_des(&m, &key, l, r, KeyLength::Double).unwrap();
        tok.fields.cv_right = r2;
        let (k, _) = unwrap_des(&tok, Some(&m), None).unwrap();
        assert_eq!(k.expose()[..8], key[..8]);
        assert_ne!(k.expose()[8..], key[8..]);
    }

    #[test]
    fn des_wrap_known_answer() {
        // Independent of `variant`: build K = MK ⊕ (CV‖CV‖CV) by hand and run single-DES
        // e-d-e with RustCrypto `Des`.
        use ::des::Des;
        let m = mk(9, 24);
        let (l, r) = cv::default_cv("CIPHER", KeyLength::Double).unwrap();
        let key = clear(16);
        let tok = wrap_des(&m, &key, l, r, KeyLength::Double).unwrap();
        for (half, cvh) in [(0usize, l), (1, r)] {
            let k: Vec<u8> = m
                .expose()
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ cvh[i % 8])
                .collect();
            let d = |j: usize| Des::new(GenericArray::from_slice(&k[8 * j..8 * j + 8]));
            let mut b = GenericArray::clone_from_slice(&key[8 * half..8 * half + 8]);
            d(0).encrypt_block(&mut b);
            d(1).decrypt_block(&mut b);
            d(2).encrypt_block(&mut b);
            assert_eq!(b.as_slice(), &tok.fields.key[8 * half..8 * half + 8]);
        }
    }

    #[test]
    fn wrong_lengths() {
        let (l, r) = cv::default_cv("DATA", KeyLength::Double).unwrap();
        assert_eq!(
            wrap_des(&mk(1, 24), &clear(8), l, r, KeyLength::Double).unwrap_err(),
            Failure::KeyLength
        );
        assert_eq!(
            wrap_des(&mk(1, 24), &clear(24), l, r, KeyLength::Triple).unwrap_err(),
            Failure::KeyTokenInvalid
        );
        assert_eq!(
            wrap_des(&mk(1, 32), &clear(16), l, r, KeyLength::Double).unwrap_err(),
            Failure::KeyLength
        );
        assert_eq!(
            wrap_aes(&mk(1, 32), &clear(20)).unwrap_err(),
            Failure::KeyLength
        );
        assert_eq!(
            wrap_aes(&mk(1, 24), &clear(16)).unwrap_err(),
            Failure::KeyLength
        );
    }

    #[test]
    fn aes_known_answer() {
        // Computed independently: `openssl enc -aes-256-cbc -nopad -iv 0…0 -K 00…1f` of
        // 000102…0f followed by 16 zero bytes.
        let m = MasterKey::from_bytes(&(0u8..32).collect::<Vec<_>>());
        let key: Vec<u8> = (0u8..16).collect();
        let tok = wrap_aes(&m, &key).unwrap();
        let AesMaterial::Encrypted { field, bits, .. } = &tok.material else {
            panic!("not encrypted");
        };
        assert_eq!(*bits, 128);
        assert_eq!(
            hex::encode(field),
            "5a6e045708fb7196f02e553d02c3a692cdfc2535310bf56b2eb78aa25add7751"
        );
        // And with aws-lc-rs AES-ECB chained by hand.
        let ecb = EncryptingKey::ecb(UnboundCipherKey::new(&AES_256, m.expose()).unwrap()).unwrap();
        let mut prev = [0u8; 16];
        let mut padded = [0u8; 32];
        padded[..16].copy_from_slice(&key);
        for (i, block) in padded.chunks_exact(16).enumerate() {
            let mut b = [0u8; 16];
            for j in 0..16 {
                b[j] = block[j] ^ prev[j];
            }
            ecb.less_safe_encrypt(&mut b, EncryptionContext::None)
                .unwrap();
            assert_eq!(b, field[16 * i..16 * i + 16]);
            prev = b;
        }
    }

    #[test]
    fn aes_round_trip_under_current_and_old() {
        let (cur, old) = (mk(1, 32), mk(2, 32));
        for len in [16, 24, 32] {
            let key = clear(len);
            for (wrapper, expect) in [(&cur, MasterKeyUsed::Current), (&old, MasterKeyUsed::Old)] {
                let tok = wrap_aes(wrapper, &key).unwrap();
                let AesToken::Internal(tok) =
                    AesToken::parse(&AesToken::Internal(tok).to_bytes()).unwrap()
                else {
                    panic!("not internal");
                };
                let (k, used) = unwrap_aes(&tok, Some(&cur), Some(&old)).unwrap();
                assert_eq!(k.expose(), key.as_slice());
                assert_eq!(used, Some(expect));
            }
        }
        let tok = wrap_aes(&mk(7, 32), &clear(32)).unwrap();
        assert_eq!(
            unwrap_aes(&tok, Some(&cur), Some(&old)).unwrap_err(),
            Failure::MasterKeyPatternUnknown
        );
        // A clear-key token needs no master key.
        let c = InternalAes::clear(&clear(24)).unwrap();
        let (k, used) = unwrap_aes(&c, None, None).unwrap();
        assert_eq!((k.expose(), used), (clear(24).as_slice(), None));
    }

    #[test]
    fn aes_tampered_ciphertext_or_lrc_is_refused() {
        let m = mk(1, 32);
        let mut tok = wrap_aes(&m, &clear(16)).unwrap();
        if let AesMaterial::Encrypted { field, .. } = &mut tok.material {
            field[20] ^= 1; // the padding block deciphers to non-zero bytes
        }
        assert_eq!(
            unwrap_aes(&tok, Some(&m), None).unwrap_err(),
            Failure::KeyTokenInvalid
        );
        let mut tok = wrap_aes(&m, &clear(32)).unwrap();
        if let AesMaterial::Encrypted { lrc, .. } = &mut tok.material {
            *lrc ^= 1;
        }
        assert_eq!(
            unwrap_aes(&tok, Some(&m), None).unwrap_err(),
            Failure::KeyTokenInvalid
        );
    }

    #[test]
    fn kek_wrap_known_answer_and_round_trip() {
        // Independent of `kek_variant`: K1 = K3 = KEK_L ⊕ CV, K2 = KEK_R ⊕ CV, single-DES
        // e-d-e with RustCrypto `Des`.
        use ::des::Des;
        let kek = ClearKey::new(&clear(16).iter().map(|b| b ^ 0x3C).collect::<Vec<_>>());
        let (l, r) = cv::default_cv("MAC", KeyLength::Double).unwrap();
        let key = clear(16);
        let ext = wrap_under_kek(&kek, &key, l, r, KeyLength::Double).unwrap();
        for (half, cvh) in [(0usize, l), (1, r)] {
            let k = kek.expose();
            let part = |j: usize| -> Vec<u8> {
                k[8 * j..8 * j + 8]
                    .iter()
                    .zip(cvh)
                    .map(|(a, b)| a ^ b)
                    .collect()
            };
            let (k1, k2) = (part(0), part(1));
            let mut b = GenericArray::clone_from_slice(&key[8 * half..8 * half + 8]);
            Des::new(GenericArray::from_slice(&k1)).encrypt_block(&mut b);
            Des::new(GenericArray::from_slice(&k2)).decrypt_block(&mut b);
            Des::new(GenericArray::from_slice(&k1)).encrypt_block(&mut b);
            assert_eq!(b.as_slice(), &ext.fields.key[8 * half..8 * half + 8]);
        }
        // Through the bytes and back.
        let DesToken::External(parsed) =
            DesToken::parse(&DesToken::External(ext.clone()).to_bytes()).unwrap()
        else {
            panic!("not external");
        };
        assert_eq!(
            unwrap_under_kek(&parsed, &kek).unwrap().expose(),
            key.as_slice()
        );
        // Triple key under a triple KEK, zero CV (version X'01').
        let kek3 = ClearKey::new(&clear(24));
        let key3: Vec<u8> = clear(24).iter().map(|b| b ^ 0x55).collect();
        let ext3 = wrap_under_kek(&kek3, &key3, [0; 8], [0; 8], KeyLength::Triple).unwrap();
        assert_eq!(
            unwrap_under_kek(&ext3, &kek3).unwrap().expose(),
            key3.as_slice()
        );
        // A single-length KEK is refused.
        assert_eq!(
            wrap_under_kek(&ClearKey::new(&clear(8)), &key, l, r, KeyLength::Double).unwrap_err(),
            Failure::KeyTokenInvalid
        );
    }

    #[test]
    fn kek_wrap_binds_the_control_vector() {
        let kek = ClearKey::new(&clear(16));
        let key = clear(16);
        let (l, r) = cv::default_cv("DATA", KeyLength::Double).unwrap();
        let mut ext = wrap_under_kek(&kek, &key, l, r, KeyLength::Double).unwrap();
        let (l2, r2) = cv::default_cv("IMPORTER", KeyLength::Double).unwrap();
        ext.fields.cv_left = l2;
        ext.fields.cv_right = r2;
        let k = unwrap_under_kek(&ext, &kek).unwrap();
        assert_ne!(k.expose()[..8], key[..8]);
        assert_ne!(k.expose()[8..], key[8..]);
        // And a different KEK gives a different key.
        let other = ClearKey::new(&clear(16).iter().map(|b| b ^ 0x02).collect::<Vec<_>>());
        let ext = wrap_under_kek(&kek, &key, l, r, KeyLength::Double).unwrap();
        assert_ne!(
            unwrap_under_kek(&ext, &other).unwrap().expose(),
            key.as_slice()
        );
    }
}
