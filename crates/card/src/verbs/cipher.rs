//! Encipher (CSNBENC) and Decipher (CSNBDEC): DES and triple-DES CBC encipherment of data
//! with a DATA, CIPHER, ENCIPHER or DECIPHER key, and the DES engine and key-usage checks the
//! MAC verbs share.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Encipher (CSNBENC)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=data-encipher-csnbenc>): processing
//!   rules CBC ("in exact multiples of eight bytes"), CUSP and IPS (any length, ciphertext as
//!   long as the plaintext), ANSI X9.23 (pads so that the ciphertext is a multiple of eight);
//!   "If a single-length key is supplied, single-DES encryption is performed. If a
//!   double-length or triple-length key is supplied, triple-DES encryption is performed."
//! - IBM Docs "CCA for Linux", "ANSI X3.106 Cipher Block Chaining (CBC) method"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=processes-ansi-x3106-cipher-block-chaining-cbc-method>):
//!   the last ciphered block is the output chaining value, stored "in bytes 0 - 7 of the
//!   chaining_vector variable"; INITIAL (the default) takes the ICV from
//!   `initialization_vector`, CONTINUE from the chaining vector.
//! - CCA254 App. D "ANSI X9.23" (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=447>):
//!   X9.23 "always adds from one byte to eight bytes", the last added byte is their count
//!   (X'01'–X'08'), "the other added padding bytes are set to X'00'"; on decipherment the last
//!   byte says how many bytes to remove.
//! - IBM Docs "CCA for Linux", "ANSI X9.23 cipher block chaining"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=processes-ansi-x923-cipher-block-chaining>):
//!   1–8 bytes always appended, the last their count; the ciphertext is 1–8 bytes longer
//!   "even if the length of the plaintext is a multiple of eight bytes"; no pad character.
//! - ICSF "CUSP" (<https://www.ibm.com/docs/en/SSLTBW_2.2.0/com.ibm.zos.v2r2.csfb400/csfb4940.htm>):
//!   whole blocks as CBC; the last ciphertext block "enciphered again" is the OCV; a last
//!   short block is XORed with the first bytes of that double-enciphered block, which is
//!   also passed back as the OCV; text under 8 bytes is XORed with the enciphered ICV.
//! - IBM Docs "CCA for Linux", "General data-encryption processes"
//!   (lxcc/wskc_c_gendata.html); ICSF "Encipher"
//!   (<https://www.ibm.com/docs/en/SSLTBW_2.3.0/com.ibm.zos.v2r3.csfb400/enc.htm>).
//! - Control-vector bits (IBM Docs "CCA for Linux", "DES control-vector base bit maps"; the
//!   default CVs in `/work/shared/docs/CCA-FACTS-symmetric.md` §2): bits 8–11 give the main
//!   key class (0000 data), bit 18 ENCIPHER, bit 19 DECIPHER, bit 20 MAC generate, bit 21 MAC
//!   verify (DATA `00007D00…` has all four; CIPHER `0003 71…` 18 and 19; ENCIPHER `…60…` 18;
//!   DECIPHER `…50…` 19; MAC `…4D…` 20 and 21; MACVER `…44…` 21). A key whose CV does not
//!   permit the use is 8/39.
//!
//! Parameter blocks:
//! - CSNBENC: rule array 0–2 (processing rule CBC (default) | X9.23 | CUSP | IPS (8/2); ICV selection
//!   INITIAL (default) | CONTINUE); params `[Bytes key_identifier (64), Bytes clear_text, Bytes
//!   initialization_vector (8), Int pad_character, Bytes chaining_vector (18)]` → outputs
//!   `[Bytes cipher_text, Bytes chaining_vector (18)]`. IBM's `text_length` is the length of
//!   `clear_text` on input and of `cipher_text` on output.
//! - CSNBDEC: the same rule array; params `[Bytes key_identifier, Bytes cipher_text, Bytes
//!   initialization_vector (8), Bytes chaining_vector (18)]` → outputs `[Bytes clear_text,
//!   Bytes chaining_vector (18)]`.
//!
//! What softcca does (choices where IBM is silent are marked so):
//! - Single-length keys: DES; double-length: two-key TDES (K1, K2, K1); triple-length: TDES.
//! - CBC: the text must be a non-empty multiple of 8 bytes (8/25 otherwise). X9.23 encipher
//!   accepts any length, the empty text included (one block of padding). Decipher: a non-empty
//!   multiple of 8 for every rule (8/25).
//! - CUSP, as ICSF describes it: CBC over the whole blocks; then D = e(last ciphertext block,
//!   or the ICV when the text is shorter than 8 bytes); a short last block is XORed with the
//!   left bytes of D; the OCV is D (so for whole blocks it is the last ciphertext block
//!   enciphered again). Any non-empty length (8/25 for empty text); the ciphertext is as
//!   long as the plaintext.
//! - IPS is documented for the 4767 but its short-block and OCV rules were not found in a
//!   readable source: 8/2 until then.
//! - IBM is silent on the chaining vector beyond bytes 0–7: softcca writes the OCV at 0–7 and
//!   zeros at 8–17 and reads only bytes 0–7 for CONTINUE. A chaining vector or IV of another
//!   length is 8/72.
//! - `pad_character` must be 0–255 (8/72 otherwise) and is not used: IBM Docs "ANSI X9.23
//!   cipher block chaining" says the X9.23 method "does not allow specification of a pad
//!   character". The same page says the standard wants the other pad bytes random; CCA254
//!   says CCA sets them to X'00'. softcca follows CCA254 (X'00'), which keeps encipherment
//!   deterministic; decipherment reads only the count byte, so either way interoperates.
//! - IBM is silent on an X9.23 count byte outside 1–8 on decipherment: softcca refuses it
//!   with [`Failure::DecipheredData`] (8/72), the code it uses for every deciphered-data
//!   check, and returns nothing.
//! - A zero control vector (the version X'01' DATA key) counts as DATA.
//! - A token under the OLD master key works and gives 0/10001.

use ::des::cipher::generic_array::GenericArray;
use ::des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use ::des::{Des, TdesEde2, TdesEde3};
use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::rules::{self, Grammar, Group};
use crate::tokens::des::DesFields;
use crate::verbs::keys::notice_for;
use crate::verbs::{Params, Reply};

/// The DES block length.
pub(crate) const BLOCK: usize = 8;
/// The length of the Encipher/Decipher/MAC chaining vector.
pub(crate) const CHAIN_LEN: usize = 18;

/// What a verb wants to do with a DES key; each is one control-vector bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DesUse {
    /// CV bit 18.
    Encipher,
    /// CV bit 19.
    Decipher,
    /// CV bit 20.
    MacGenerate,
    /// CV bit 21.
    MacVerify,
}

/// Whether the key's control vector permits `what`: the main key class (bits 8–11) must be
/// data (0000) and the usage bit set. A zero CV is a DATA key.
pub(crate) fn permits(fields: &DesFields, what: DesUse) -> bool {
    let cv = &fields.cv_left;
    if *cv == [0; 8] && fields.cv_right == [0; 8] {
        return true;
    }
    if cv[1] & 0xF0 != 0 {
        return false;
    }
    let bit = match what {
        DesUse::Encipher => 0x20,
        DesUse::Decipher => 0x10,
        DesUse::MacGenerate => 0x08,
        DesUse::MacVerify => 0x04,
    };
    cv[2] & bit != 0
}

/// A DES or TDES block cipher built once per call from the clear key.
pub(crate) enum DesEngine {
    Single(Des),
    Double(TdesEde2),
    Triple(TdesEde3),
}

impl std::fmt::Debug for DesEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DesEngine::Single(_) => "DesEngine::Single",
            DesEngine::Double(_) => "DesEngine::Double",
            DesEngine::Triple(_) => "DesEngine::Triple",
        })
    }
}

impl DesEngine {
    /// The engine for an 8-, 16- or 24-byte key.
    pub(crate) fn new(key: &[u8]) -> Result<DesEngine, Failure> {
        let bad = |_| Failure::KeyLength;
        Ok(match key.len() {
            8 => DesEngine::Single(Des::new_from_slice(key).map_err(bad)?),
            16 => DesEngine::Double(TdesEde2::new_from_slice(key).map_err(bad)?),
            24 => DesEngine::Triple(TdesEde3::new_from_slice(key).map_err(bad)?),
            _ => return Err(Failure::KeyLength),
        })
    }

    /// Enciphers one 8-byte block in place.
    pub(crate) fn encrypt(&self, block: &mut [u8]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            DesEngine::Single(c) => c.encrypt_block(b),
            DesEngine::Double(c) => c.encrypt_block(b),
            DesEngine::Triple(c) => c.encrypt_block(b),
        }
    }

    /// Deciphers one 8-byte block in place.
    pub(crate) fn decrypt(&self, block: &mut [u8]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            DesEngine::Single(c) => c.decrypt_block(b),
            DesEngine::Double(c) => c.decrypt_block(b),
            DesEngine::Triple(c) => c.decrypt_block(b),
        }
    }

    /// CBC-enciphers `data` (a multiple of 8 bytes) in place from `icv`; returns the OCV.
    pub(crate) fn cbc_encrypt(&self, icv: [u8; BLOCK], data: &mut [u8]) -> [u8; BLOCK] {
        let mut chain = icv;
        for block in data.chunks_exact_mut(BLOCK) {
            for (b, c) in block.iter_mut().zip(&chain) {
                *b ^= c;
            }
            self.encrypt(block);
            chain.copy_from_slice(block);
        }
        chain
    }

    /// CBC-deciphers `data` (a multiple of 8 bytes) in place from `icv`; returns the OCV (the
    /// last ciphertext block).
    pub(crate) fn cbc_decrypt(&self, icv: [u8; BLOCK], data: &mut [u8]) -> [u8; BLOCK] {
        let mut chain = icv;
        for block in data.chunks_exact_mut(BLOCK) {
            let mut next = [0u8; BLOCK];
            next.copy_from_slice(block);
            self.decrypt(block);
            for (b, c) in block.iter_mut().zip(&chain) {
                *b ^= c;
            }
            chain = next;
        }
        chain
    }

    /// CUSP: CBC over the whole blocks, then D = e(last ciphertext block, or the ICV when
    /// there is none); a short last block (1–7 bytes) is XORed with the left bytes of D, and D
    /// is the OCV. Enciphers `data` in place and returns the OCV.
    pub(crate) fn cusp_encrypt(&self, icv: [u8; BLOCK], data: &mut [u8]) -> [u8; BLOCK] {
        let whole = data.len() - data.len() % BLOCK;
        let (blocks, tail) = data.split_at_mut(whole);
        let mut d = self.cbc_encrypt(icv, blocks);
        self.encrypt(&mut d);
        for (b, k) in tail.iter_mut().zip(&d) {
            *b ^= k;
        }
        d
    }

    /// The inverse of [`DesEngine::cusp_encrypt`]; returns the same OCV.
    pub(crate) fn cusp_decrypt(&self, icv: [u8; BLOCK], data: &mut [u8]) -> [u8; BLOCK] {
        let whole = data.len() - data.len() % BLOCK;
        let (blocks, tail) = data.split_at_mut(whole);
        let mut d = self.cbc_decrypt(icv, blocks);
        self.encrypt(&mut d);
        for (b, k) in tail.iter_mut().zip(&d) {
            *b ^= k;
        }
        d
    }
}

/// The processing rule of an Encipher or Decipher call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Cbc,
    X923,
    Cusp,
}

fn rule(chosen: Option<&str>) -> Result<Rule, Failure> {
    match chosen {
        Some("X9.23") => Ok(Rule::X923),
        Some("CUSP") => Ok(Rule::Cusp),
        Some("IPS") => Err(Failure::NotSupported),
        _ => Ok(Rule::Cbc),
    }
}

const ENC: Grammar = Grammar {
    min: 0,
    max: 2,
    groups: &[
        Group::optional(&["CBC", "X9.23", "CUSP", "IPS"], "CBC"),
        Group::optional(&["INITIAL", "CONTINUE"], "INITIAL"),
    ],
};

fn eight(bytes: &[u8]) -> Result<[u8; BLOCK], Failure> {
    bytes.try_into().map_err(|_| Failure::Length)
}

/// The ICV: the IV for INITIAL, bytes 0–7 of the chaining vector for CONTINUE.
fn icv(continue_: bool, iv: &[u8], chaining_vector: &[u8]) -> Result<[u8; BLOCK], Failure> {
    let iv = eight(iv)?;
    if chaining_vector.len() != CHAIN_LEN {
        return Err(Failure::Length);
    }
    if continue_ {
        eight(&chaining_vector[..BLOCK])
    } else {
        Ok(iv)
    }
}

fn chain_out(ocv: [u8; BLOCK]) -> Vec<u8> {
    let mut v = vec![0u8; CHAIN_LEN];
    v[..BLOCK].copy_from_slice(&ocv);
    v
}

pub(crate) fn csnbenc(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&ENC, rule_array)?;
    p.expect_len(5)?;
    let identifier = p.bytes(0)?;
    let text = p.bytes(1)?;
    let icv = icv(chosen.get(1) == Some("CONTINUE"), p.bytes(2)?, p.bytes(4)?)?;
    if !(0..=255).contains(&p.int(3)?) {
        return Err(Failure::Length);
    }
    let rule = rule(chosen.get(0))?;
    let bad_length = match rule {
        Rule::Cbc => text.is_empty() || !text.len().is_multiple_of(BLOCK),
        Rule::Cusp => text.is_empty(),
        Rule::X923 => false,
    };
    if bad_length {
        return Err(Failure::TextLength);
    }
    let key = card.des_key(identifier)?;
    if !permits(&key.token.fields, DesUse::Encipher) {
        return Err(Failure::ControlVector);
    }
    let engine = DesEngine::new(key.key.expose())?;
    let pad = if rule == Rule::X923 {
        BLOCK - text.len() % BLOCK
    } else {
        0
    };
    let mut out = Vec::with_capacity(text.len() + pad);
    out.extend_from_slice(text);
    if pad > 0 {
        out.resize(text.len() + pad - 1, 0);
        out.push(pad as u8);
    }
    let ocv = match rule {
        Rule::Cusp => engine.cusp_encrypt(icv, &mut out),
        _ => engine.cbc_encrypt(icv, &mut out),
    };
    Ok(Reply {
        notice: notice_for(key.used),
        outputs: vec![Param::Bytes(out), Param::Bytes(chain_out(ocv))],
        ..Reply::default()
    })
}

pub(crate) fn csnbdec(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&ENC, rule_array)?;
    p.expect_len(4)?;
    let identifier = p.bytes(0)?;
    let text = p.bytes(1)?;
    let icv = icv(chosen.get(1) == Some("CONTINUE"), p.bytes(2)?, p.bytes(3)?)?;
    let rule = rule(chosen.get(0))?;
    if text.is_empty() || (rule != Rule::Cusp && !text.len().is_multiple_of(BLOCK)) {
        return Err(Failure::TextLength);
    }
    let key = card.des_key(identifier)?;
    if !permits(&key.token.fields, DesUse::Decipher) {
        return Err(Failure::ControlVector);
    }
    let engine = DesEngine::new(key.key.expose())?;
    let mut out = text.to_vec();
    let ocv = match rule {
        Rule::Cusp => engine.cusp_decrypt(icv, &mut out),
        _ => engine.cbc_decrypt(icv, &mut out),
    };
    if rule == Rule::X923 {
        let n = usize::from(out.last().copied().unwrap_or(0));
        if !(1..=BLOCK).contains(&n) {
            return Err(Failure::DecipheredData);
        }
        out.truncate(out.len() - n);
    }
    Ok(Reply {
        notice: notice_for(key.used),
        outputs: vec![Param::Bytes(out), Param::Bytes(chain_out(ocv))],
        ..Reply::default()
    })
}
