//! Operational keys as verbs receive them: a key identifier (an internal key token) turned
//! into the clear key the card's engines use, with the token's fields kept for the
//! key-separation checks.
//!
//! Key labels never reach the card: the host library reads the record from key storage and
//! sends the token in the label's place (`softcca_host`'s label table). A 64-byte identifier
//! whose first byte is a label character is therefore refused here as an unusable token.
//!
//! A token enciphered under the OLD master key works and turns the verb's answer into 0/10001
//! ([`Notice::OldMasterKey`]); a token whose MKVP is neither CURRENT's nor OLD's is 8/24.

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::Class;
use crate::tokens::aes::AesToken;
use crate::tokens::des::{DesToken, InternalDes};
use crate::tokens::var::{Algorithm, VarKey, VarToken, unwrap_var};
use crate::tokens::{ClearKey, MasterKeyUsed, TOKEN_LEN, wrap};

/// A 64-byte identifier whose first byte is X'20'–X'FE' names a key-storage record.
pub(crate) fn is_label(bytes: &[u8]) -> bool {
    bytes.len() == TOKEN_LEN && bytes.first().is_some_and(|b| (0x20..=0xFE).contains(b))
}

/// The notice a verb reports after using a key deciphered under `used`.
pub(crate) fn notice_for(used: MasterKeyUsed) -> Option<Notice> {
    match used {
        MasterKeyUsed::Current => None,
        MasterKeyUsed::Old => Some(Notice::OldMasterKey),
    }
}

/// An operational DES key: its internal token and the deciphered key.
#[derive(Debug)]
pub(crate) struct DesKey {
    /// The parsed internal token (control vector, length, flags).
    pub token: InternalDes,
    /// The clear key (8, 16 or 24 bytes), zeroized on drop.
    pub key: ClearKey,
    /// Which master key deciphered it.
    pub used: MasterKeyUsed,
}

/// An operational fixed-length AES key.
#[derive(Debug)]
pub(crate) struct AesKey {
    /// The clear key (16, 24 or 32 bytes), zeroized on drop.
    pub key: ClearKey,
    /// Which master key deciphered it; `None` for a clear-key token.
    pub used: Option<MasterKeyUsed>,
}

impl Card {
    /// Parses `identifier` as an internal DES token and deciphers its key, for a verb that
    /// uses the key. A null token or an external token is 8/47 (a verb that accepts external
    /// tokens parses them itself). A partial key — the key-part bit (CV bit 44) on — is 8/39:
    /// IBM Docs "CCA for Linux", Key Part Import: "Only when the combined key parts have been
    /// marked as complete can the key token be used in any cryptographic operation"; the code
    /// is the control-vector violation (CCA254 Fig. A-4, p=364), **IBM is silent** on a
    /// narrower one.
    pub(crate) fn des_key(&self, identifier: &[u8]) -> Result<DesKey, Failure> {
        let key = self.des_key_or_part(identifier)?;
        if crate::tokens::cv::is_key_part(&key.token.fields.cv_left) {
            return Err(Failure::ControlVector);
        }
        Ok(key)
    }

    /// [`Card::des_key`] for the verbs that IBM lets handle partial keys too (Key_Test,
    /// Key_Test_Extended, Key_Token_Change, Key_Part_Import).
    pub(crate) fn des_key_or_part(&self, identifier: &[u8]) -> Result<DesKey, Failure> {
        if is_label(identifier) {
            return Err(Failure::KeyTokenInvalid);
        }
        let token = match DesToken::parse(identifier)? {
            DesToken::Internal(t) => t,
            DesToken::Null | DesToken::External(_) => return Err(Failure::KeyTokenInvalid),
        };
        let (key, used) =
            self.with_master_keys(Class::Sym, |cur, old| wrap::unwrap_des(&token, cur, old))?;
        Ok(DesKey { token, key, used })
    }

    /// Parses `identifier` as an internal fixed-length AES token (version X'04') and deciphers
    /// its key. A null token or a token with no key is 8/47.
    pub(crate) fn aes_key(&self, identifier: &[u8]) -> Result<AesKey, Failure> {
        if is_label(identifier) {
            return Err(Failure::KeyTokenInvalid);
        }
        let token = match AesToken::parse(identifier)? {
            AesToken::Internal(t) => t,
            AesToken::Null => return Err(Failure::KeyTokenInvalid),
        };
        let (key, used) =
            self.with_master_keys(Class::Aes, |cur, old| wrap::unwrap_aes(&token, cur, old))?;
        Ok(AesKey { key, used })
    }
}

/// An operational variable-length (X'05') key: an AES or HMAC key.
#[derive(Debug)]
pub(crate) struct VarOpKey {
    /// The parsed internal token (associated data: algorithm, key type, key usage).
    pub token: VarKey,
    /// The clear key, zeroized on drop.
    pub key: ClearKey,
    /// Which master key unwrapped it; `None` for a clear-key token (Key Token Build2
    /// KEY-CLR), which IBM lets "a limited number of services" use.
    pub used: Option<MasterKeyUsed>,
}

impl Card {
    /// Parses `identifier` as an internal variable-length token and unwraps its key under the
    /// current or old AES master key. A null, external or skeleton token, or one whose key
    /// parts are not complete (Key Part Import2), is 8/47; the token's own codes otherwise
    /// ([`crate::tokens::var`]).
    pub(crate) fn var_key(&self, identifier: &[u8]) -> Result<VarOpKey, Failure> {
        if is_label(identifier) {
            return Err(Failure::KeyTokenInvalid);
        }
        let token = match VarToken::parse(identifier)? {
            VarToken::Key(t) if t.internal && t.complete() => t,
            VarToken::Key(_) | VarToken::Null => return Err(Failure::KeyTokenInvalid),
        };
        let (key, used) =
            self.with_master_keys(Class::Aes, |cur, old| unwrap_var(&token, cur, old))?;
        Ok(VarOpKey { token, key, used })
    }

    /// An AES key in a variable-length token, for the verbs that encipher with it
    /// (Symmetric_Algorithm_Encipher/Decipher). The caller checks the usage it needs with
    /// [`VarKey::may_encrypt`], [`VarKey::may_decrypt`] and [`VarKey::allows_mode`] and
    /// answers 8/39 when they say no. An HMAC key here is 8/39; a key that is not 16, 24 or
    /// 32 bytes (possible only in a hand-made clear-key token) is 8/47.
    pub(crate) fn aes_var_key(&self, identifier: &[u8]) -> Result<VarOpKey, Failure> {
        let k = self.var_key(identifier)?;
        if k.token.ad.algorithm != Algorithm::Aes {
            return Err(Failure::ControlVector);
        }
        if !matches!(k.key.expose().len(), 16 | 24 | 32) {
            return Err(Failure::KeyTokenInvalid);
        }
        Ok(k)
    }
}
