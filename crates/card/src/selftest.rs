//! Known-answer tests the card runs in its power-on self-test, before it releases any
//! output: every algorithm the card uses, against fixed published answers.
//!
//! A failure latches the card in its self-test-failed state (driver status 83400401, a
//! Miniboot-0 class code: "the lowest level of reset testing").

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::digest;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

use crate::rng::hash_drbg::HashDrbg;

/// The known-answer tests, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kat {
    /// SHA-1 of "abc" (FIPS 180-4 example).
    Sha1,
    /// SHA-256 of "abc".
    Sha256,
    /// SHA-512 of "abc".
    Sha512,
    /// AES-256-GCM with a zero key and IV over no data (GCM spec test case 13).
    AesGcm,
    /// DES of "Now is t" under 0123456789ABCDEF (FIPS 81 example).
    Des,
    /// Hash_DRBG SHA-256, no reseed, first case of NIST's CAVP set.
    HashDrbg,
}

impl Kat {
    /// Every test, in the order they run.
    pub const ALL: [Kat; 6] = [
        Kat::Sha1,
        Kat::Sha256,
        Kat::Sha512,
        Kat::AesGcm,
        Kat::Des,
        Kat::HashDrbg,
    ];
}

/// The driver status of a failed known-answer test.
pub const KAT_FAILURE: u32 = 0x8340_0401;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn run_one(kat: Kat) -> bool {
    match kat {
        Kat::Sha1 => {
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b"abc").as_ref()
                == hex("a9993e364706816aba3e25717850c26c9cd0d89d")
        }
        Kat::Sha256 => {
            digest::digest(&digest::SHA256, b"abc").as_ref()
                == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }
        Kat::Sha512 => {
            digest::digest(&digest::SHA512, b"abc").as_ref()
                == hex(concat!(
                    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a",
                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
                ))
        }
        Kat::AesGcm => {
            let Ok(key) = UnboundKey::new(&AES_256_GCM, &[0u8; 32]) else {
                return false;
            };
            let key = LessSafeKey::new(key);
            let mut tag_only = Vec::new();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key([0u8; 12]),
                Aad::empty(),
                &mut tag_only,
            )
            .is_ok()
                && tag_only == hex("530f8afbc74536b9a963b4f1c4cb738b")
        }
        Kat::Des => {
            let cipher = des::Des::new(GenericArray::from_slice(&hex("0123456789abcdef")));
            let mut block = GenericArray::clone_from_slice(b"Now is t");
            cipher.encrypt_block(&mut block);
            block.as_slice() == hex("3fa40e8a984d4815")
        }
        Kat::HashDrbg => {
            // NIST CAVP drbgtestvectors, Hash_DRBG SHA-256, no prediction resistance, no
            // reseed, no personalization or additional input, COUNT = 0.
            let Ok(mut drbg) = HashDrbg::instantiate(
                &hex("10fcf8146dae3b9128b9602fd61a2a6bb009978bc9722a85bd60f8d30b83f552"),
                &hex("6baea5c15e9250c9db5c09435c4ffa73"),
                &[],
            ) else {
                return false;
            };
            let mut out = [0u8; 128];
            drbg.generate(&mut out, &[]).is_ok()
                && drbg.generate(&mut out, &[]).is_ok()
                && out[..]
                    == hex(concat!(
                        "24ae5313ea0103b4b333ba25e22457259a41f85bac9db81b6b55f1caa621557e",
                        "de088d6a0c4819a253c58bc562e00c6447499c091f93077dccbe8e911f9475da",
                        "659ab9ae2a931f66065f67d8c24047be1481e706ea73ca69765a65f9dcb591e1",
                        "b73a8bcf8a475ec946477b8cef12723c2742304578f0bccd7e513b78ac94136e"
                    ))
        }
    }
}

/// Runs every test; `insecure_fail` makes one fail on purpose (tests of the failure path).
pub fn run(insecure_fail: Option<Kat>) -> Result<(), Kat> {
    for kat in Kat::ALL {
        if insecure_fail == Some(kat) || !run_one(kat) {
            return Err(kat);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kat_passes() {
        for kat in Kat::ALL {
            assert!(run_one(kat), "{kat:?}");
        }
        assert_eq!(run(None), Ok(()));
        assert_eq!(run(Some(Kat::Des)), Err(Kat::Des));
    }
}
