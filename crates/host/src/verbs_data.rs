//! Data encipherment and MACs with symmetric keys: Encipher (CSNBENC), Decipher (CSNBDEC),
//! MAC_Generate (CSNBMGN), MAC_Verify (CSNBMVR), Symmetric_Algorithm_Encipher (CSNBSAE) and
//! Symmetric_Algorithm_Decipher (CSNBSAD).
//!
//! Each method takes IBM's parameters in IBM's order, leaving out the pure length parameters
//! (a byte string carries its length), and marshals them into the parameter block the card
//! expects (written beside each verb in `softcca_card`'s `verbs::cipher`, `verbs::mac` and
//! `verbs::sae`). A key identifier may be a 64-byte key label: the library reads the token
//! from DES key storage (ENC, DEC, MGN, MVR) or AES key storage (SAE, SAD) first.

use softcca_card::{Codes, Failure};
use softcca_wire::{Param, VerbResponse};

use crate::{Cca, CcaError};

/// What Encipher and Decipher return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ciphered {
    /// The enciphered or deciphered text (IBM's `text_length` is its length).
    pub text: Vec<u8>,
    /// The 18-byte chaining vector to pass to a CONTINUE call; its bytes 0–7 are the OCV.
    pub chaining_vector: Vec<u8>,
    /// 0/0, or 0/10001 when the key is enciphered under the old master key.
    pub codes: Codes,
}

/// What MAC_Generate returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mac {
    /// The 4-, 6- or 8-byte MAC for ONLY and LAST; empty for FIRST and MIDDLE.
    pub mac: Vec<u8>,
    /// The 18-byte chaining vector to pass to the next MIDDLE or LAST call.
    pub chaining_vector: Vec<u8>,
    /// 0/0, or 0/10001 for a key under the old master key.
    pub codes: Codes,
}

/// The parameters of Symmetric_Algorithm_Encipher and _Decipher, in IBM's order (the length
/// parameters are the lengths of the byte strings, except the two that size outputs).
#[derive(Debug, Clone, Copy)]
pub struct SymmetricRequest<'a> {
    /// `AES`, then optional processing rule (CBC, ECB, GCM, PKCS-PAD), key rule (KEY-CLR,
    /// KEYIDENT), ICV selection (INITIAL, CONTINUE) or, with GCM, ONLY.
    pub rule_array: &'a [&'a str],
    /// 16, 24 or 32 clear key bytes (KEY-CLR), or a 64-byte AES token or key label
    /// (KEYIDENT).
    pub key_identifier: &'a [u8],
    /// CSNBSAE: IBM's `key_parms_length`, the GCM tag length to produce (4, 8, 12–16); 0
    /// otherwise. Not used by CSNBSAD.
    pub key_parms_length: i32,
    /// CSNBSAD: IBM's `key_parms`, the GCM tag to verify. Not used by CSNBSAE.
    pub key_parms: &'a [u8],
    /// 16 for AES.
    pub block_size: i32,
    /// The 16-byte CBC IV or the 12-byte GCM IV; ignored for ECB and with CONTINUE.
    pub initialization_vector: &'a [u8],
    /// IBM's chain data: at least 32 bytes for CBC and PKCS-PAD (the previous call's output
    /// for CONTINUE); passed back unchanged for ECB and GCM.
    pub chain_data: &'a [u8],
    /// The clear text (CSNBSAE) or cipher text (CSNBSAD).
    pub text: &'a [u8],
    /// The size of the caller's output buffer: IBM's `cipher_text_length` (CSNBSAE) or
    /// `clear_text_length` (CSNBSAD). Too small is 8/72.
    pub output_length: i32,
    /// IBM's `optional_data`: the GCM additional authenticated data.
    pub optional_data: &'a [u8],
}

/// What Symmetric_Algorithm_Encipher and _Decipher return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymmetricOutput {
    /// CSNBSAE with GCM: the authentication tag (IBM's `key_parms`); empty otherwise.
    pub key_parms: Vec<u8>,
    /// The chain data to pass to a CONTINUE call (32 bytes for CBC, the OCV at 0–15).
    pub chain_data: Vec<u8>,
    /// The cipher text (CSNBSAE) or clear text (CSNBSAD).
    pub text: Vec<u8>,
    /// 0/0, or 0/10001 for a key under the old AES master key.
    pub codes: Codes,
}

fn byte_outputs<const N: usize>(r: VerbResponse) -> Result<([Vec<u8>; N], Codes), CcaError> {
    let codes = Codes::new(r.return_code, r.reason_code);
    let v: Vec<Vec<u8>> = r
        .outputs
        .into_iter()
        .map(|p| match p {
            Param::Bytes(b) => Ok(b),
            Param::Int(_) => Err(CcaError::from_failure(Failure::CardUnavailable)),
        })
        .collect::<Result<_, _>>()?;
    let arr = v
        .try_into()
        .map_err(|_| CcaError::from_failure(Failure::CardUnavailable))?;
    Ok((arr, codes))
}

impl Cca {
    /// Encipher (CSNBENC): DES (single-length key) or TDES (double or triple) CBC
    /// encipherment with a DATA, CIPHER or ENCIPHER key. `rule_array`: CBC (default; text a
    /// multiple of 8) or X9.23 (pads 1–8 bytes), and INITIAL (default; ICV =
    /// `initialization_vector`, 8 bytes) or CONTINUE (ICV = bytes 0–7 of `chaining_vector`).
    /// `chaining_vector` is IBM's 18-byte work area. `pad_character` is 0–255. CUSP (any
    /// non-empty length, ciphertext as long as the text) is also accepted; IPS is 8/2.
    pub fn encipher(
        &self,
        key_identifier: &[u8],
        clear_text: &[u8],
        initialization_vector: &[u8],
        rule_array: &[&str],
        pad_character: i32,
        chaining_vector: &[u8],
    ) -> Result<Ciphered, CcaError> {
        let r = self.verb(
            "CSNBENC",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(clear_text.to_vec()),
                Param::Bytes(initialization_vector.to_vec()),
                Param::Int(pad_character),
                Param::Bytes(chaining_vector.to_vec()),
            ],
        )?;
        let ([text, chaining_vector], codes) = byte_outputs(r)?;
        Ok(Ciphered {
            text,
            chaining_vector,
            codes,
        })
    }

    /// Decipher (CSNBDEC): the inverse of [`Cca::encipher`], with a DATA, CIPHER or DECIPHER
    /// key; X9.23 removes the padding.
    pub fn decipher(
        &self,
        key_identifier: &[u8],
        cipher_text: &[u8],
        initialization_vector: &[u8],
        rule_array: &[&str],
        chaining_vector: &[u8],
    ) -> Result<Ciphered, CcaError> {
        let r = self.verb(
            "CSNBDEC",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(cipher_text.to_vec()),
                Param::Bytes(initialization_vector.to_vec()),
                Param::Bytes(chaining_vector.to_vec()),
            ],
        )?;
        let ([text, chaining_vector], codes) = byte_outputs(r)?;
        Ok(Ciphered {
            text,
            chaining_vector,
            codes,
        })
    }

    /// MAC_Generate (CSNBMGN): a CBC-MAC with a MAC, DATA or DATAM key. `rule_array`:
    /// X9.9-1 | X9.19OPT | EMVMAC | EMVMACD | TDES-MAC (default by key length), ONLY
    /// (default) | FIRST | MIDDLE | LAST, MACLEN4 (default) | MACLEN6 | MACLEN8.
    /// `chaining_vector` is IBM's 18-byte work area (zeros for ONLY and FIRST).
    pub fn mac_generate(
        &self,
        key_identifier: &[u8],
        text: &[u8],
        rule_array: &[&str],
        chaining_vector: &[u8],
    ) -> Result<Mac, CcaError> {
        let r = self.verb(
            "CSNBMGN",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(text.to_vec()),
                Param::Bytes(chaining_vector.to_vec()),
            ],
        )?;
        let ([mac, chaining_vector], codes) = byte_outputs(r)?;
        Ok(Mac {
            mac,
            chaining_vector,
            codes,
        })
    }

    /// MAC_Verify (CSNBMVR): verifies `mac` (4, 6 or 8 bytes as the MAC length keyword says)
    /// with a MAC, MACVER, DATA, DATAM or DATAMV key; same rule array as
    /// [`Cca::mac_generate`]. Returns the output chaining vector and the codes: 0/0 when the
    /// MAC verifies, 4/1 when it does not.
    pub fn mac_verify(
        &self,
        key_identifier: &[u8],
        text: &[u8],
        rule_array: &[&str],
        chaining_vector: &[u8],
        mac: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBMVR",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(text.to_vec()),
                Param::Bytes(chaining_vector.to_vec()),
                Param::Bytes(mac.to_vec()),
            ],
        )?;
        let ([chaining_vector], codes) = byte_outputs(r)?;
        Ok((chaining_vector, codes))
    }

    /// Symmetric_Algorithm_Encipher (CSNBSAE): AES ECB, CBC, CBC with PKCS padding, or GCM.
    pub fn symmetric_algorithm_encipher(
        &self,
        req: &SymmetricRequest<'_>,
    ) -> Result<SymmetricOutput, CcaError> {
        let r = self.verb(
            "CSNBSAE",
            req.rule_array,
            vec![
                Param::Bytes(req.key_identifier.to_vec()),
                Param::Int(req.key_parms_length),
                Param::Int(req.block_size),
                Param::Bytes(req.initialization_vector.to_vec()),
                Param::Bytes(req.chain_data.to_vec()),
                Param::Bytes(req.text.to_vec()),
                Param::Int(req.output_length),
                Param::Bytes(req.optional_data.to_vec()),
            ],
        )?;
        let ([key_parms, chain_data, text], codes) = byte_outputs(r)?;
        Ok(SymmetricOutput {
            key_parms,
            chain_data,
            text,
            codes,
        })
    }

    /// Symmetric_Algorithm_Decipher (CSNBSAD): the inverse of
    /// [`Cca::symmetric_algorithm_encipher`]; with GCM, `key_parms` is the tag to verify (a
    /// tag that does not verify is 8/72 and returns no text).
    pub fn symmetric_algorithm_decipher(
        &self,
        req: &SymmetricRequest<'_>,
    ) -> Result<SymmetricOutput, CcaError> {
        let r = self.verb(
            "CSNBSAD",
            req.rule_array,
            vec![
                Param::Bytes(req.key_identifier.to_vec()),
                Param::Bytes(req.key_parms.to_vec()),
                Param::Int(req.block_size),
                Param::Bytes(req.initialization_vector.to_vec()),
                Param::Bytes(req.chain_data.to_vec()),
                Param::Bytes(req.text.to_vec()),
                Param::Int(req.output_length),
                Param::Bytes(req.optional_data.to_vec()),
            ],
        )?;
        let ([chain_data, text], codes) = byte_outputs(r)?;
        Ok(SymmetricOutput {
            key_parms: Vec::new(),
            chain_data,
            text,
            codes,
        })
    }
}
