//! The RSA half of the PKA verbs (entered through [`super::pka`], whose module doc gives the
//! parameter blocks): PKA_Key_Token_Build (CSNDPKB), PKA_Key_Generate (CSNDPKG),
//! PKA_Key_Import (CSNDPKI), PKA_Public_Key_Extract (CSNDPKX), PKA_Key_Token_Change
//! (CSNDKTC), Digital_Signature_Generate/Verify (CSNDDSG, CSNDDSV), PKA_Encrypt/Decrypt
//! (CSNDPKE, CSNDPKD).
//!
//! Sources: IBM Docs "CCA for Linux" (lxcc) verb pages — wskc_r_xpkgrequired and
//! xpkgparameters (CSNDPKG: one of MASTER, XPORT, CLEAR, RETAIN; regeneration data 0 or
//! 8–256 bytes), wskc_r_pkirequired and pkiparameters (CSNDPKI: RSA default, IKEK-DES
//! default), wskc_r_pkx (CSNDPKX: rule count 0), wskc_r_dsgrequired (CSNDDSG: ISO-9796
//! default, PKCS-1.0, PKCS-1.1, PKCS-PSS, X9.31, ZERO-PAD; HASH/MESSAGE and the hash
//! methods), l0wskc105 (CSNDDSV, and 4/429 "the digital signature is not verified"),
//! wskc_r_spkerequired / wskc_r_spkdrequired (CSNDPKE/PKD: one of MRP, PKCS-1.2, PKCSOAEP,
//! PKOAEP2, ZERO-PAD; SHA-1 default or SHA-256 with PKCSOAEP); CCA 2.54 Basic Services
//! p=113, 118, 139, and p=223 (PKA_Decrypt: "A key-usage flag bit … must be on to permit
//! use of the private key in the decryption of a symmetric key"). IBM Docs "CCA for Linux",
//! CSNDDSG parameters (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnddsg-parameters>:
//! PKCS-1.1 signs "the BER-encoded ASN.1 value of the type DigestInfo"), CSNDDSG usage notes
//! (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnddsg-usage-notes>: for PKCS-PSS
//! "the first four bytes of the data parameter contain the salt length"), PKA Decrypt
//! (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-pka-decrypt-csndpkd>) and its
//! parameters (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndpkd-parameters>: a
//! hash method is "one required for PKCSOAEP and PKOAEP2. Not allowed for any other recovery
//! method"). opencryptoki 3.27 `cca_specific.c` for what a real client sends
//! (`RSA-AESC KEY-MGMT` + `MASTER`, `PKCS-1.1`, `PKCS-PSS` with a 4-byte big-endian salt
//! length before the hash, `PKCS-1.2`, `PKCSOAEP`).
//!
//! Parameter blocks: as in [`super::pka`]; CSNDPKE and CSNDPKD are entered here directly.
//!
//! Tokens: the private-key sections softcca builds and uses are X'31' (RSA-AESC) and X'30'
//! (RSA-AESM), see [`crate::tokens::pka_rsa`]; a public token is the X'04' section alone.
//!
//! Choices where IBM is silent, or where softcca does less than IBM (each with its code):
//! - RSA-CRT builds the external clear X'08' section from a key value (IBM's layout, see
//!   [`crate::tokens::pka_rsa::ClearCrt`]); such a token signs and decrypts as it is, and
//!   CSNDPKI turns it into an internal X'31' token (softcca does not build the internal
//!   X'08', whose key is under a DES OPK under the ASYM master key). An RSA-CRT skeleton,
//!   RSA-PRIV and RSAMEVAR (X'09'), an encrypted or internal X'08', and the sections X'02',
//!   X'05', X'06', X'09' are 8/2.
//! - The CRT key value (IBM's structure: n, e, p, q, dp, dq, U; reserved field at offset 6)
//!   carries no d, which aws-lc-rs needs: softcca computes d = e⁻¹ mod (p − 1)(q − 1) with
//!   crypto-bigint (constant-time inversion). softcca also reads the reserved field at
//!   offset 6 as the length of a d that follows U (0 in IBM's structure). An RSA-AESM key
//!   value (n, e, d without the primes) is 8/2: aws-lc-rs cannot use a key without its
//!   primes; RSA-AESM skeletons work.
//! - The key-value structure's lengths must agree with each other and with the bytes given;
//!   any disagreement is 8/770. private_key_name must be empty or 64 bytes; the other
//!   reserved/optional strings of CSNDPKB must be empty (8/72).
//! - Key generation: aws-lc-rs generates 2048, 3072, 4096 and 8192-bit keys with e = 65537.
//!   e = 3 and IBM's random exponent (a skeleton whose e is null-length or zero; CCA 2.54
//!   Basic Services, PKA_Key_Token_Build key-values structure) are generated for 2048, 3072
//!   and 4096 bits by RustCrypto `rsa` and used by aws-lc-rs ([`super::rsa_gen`], which says
//!   what aws-lc-rs accepts); the random exponent is an odd 32-bit value (IBM is silent on
//!   its length; RustCrypto `rsa` caps e at 2³³ − 1). Sizes below 2048 bits (aws-lc-rs refuses
//!   to load them: "TooSmall"), other exponents, and 8192 bits with e ≠ 65537 are 8/2.
//!   XPORT, RETAIN, CLONE and regeneration data are 8/2. Every
//!   generated pair passes a pairwise-consistency test (PKCS #1 v1.5 sign/verify and OAEP
//!   encrypt/decrypt); a failure returns 12/338 (the card's fault code, as for an RNG
//!   failure — IBM is silent), no key, and latches the card's error state
//!   ([`Card::latch_crypto_fault`], the DRBG fault latch: 12/338 for every verb until CLU ST
//!   re-runs the health test).
//! - The APKA master key not loaded: 12/764; a token whose MKVP is neither the current nor
//!   the old APKA master key's: 8/24; under the old one: 0/10001.
//! - A key whose usage byte forbids the use (KM-ONLY signing, SIG-ONLY decrypting): 8/39,
//!   the code this emulation gives for a key used against its control vector (IBM's code for
//!   PKA keys was not retrieved).
//! - A public token where a private key is needed: 8/47.
//! - Signatures: PKCS-1.1 and PKCS-PSS with SHA-256, SHA-384 and SHA-512 (aws-lc-rs signs no
//!   other hash). PKCS-1.1 takes the bare hash or the DER DigestInfo ‖ hash (opencryptoki
//!   sends the latter for CKM_RSA_PKCS). PKCS-PSS takes the salt length as opencryptoki
//!   sends it and supports a salt as long as the hash only (8/2 otherwise). ISO-9796,
//!   PKCS-1.0, X9.31 and ZERO-PAD are 8/2 (no library at hand). A hash whose length fits no
//!   method, or another method than the keyword names, is 8/72. A signature of the wrong
//!   length does not verify (4/429). signature_field_length shorter than the modulus: 8/72.
//! - PKCS-1.1 with HASH: IBM asks for DigestInfo ‖ hash; softcca also takes the bare hash
//!   (its length names the method) — an extension, not IBM's text.
//! - PKCSOAEP without a hash method: IBM's current page requires one (CCA 2.54 knew SHA-1
//!   only); softcca takes SHA-1 then, as CCA 2.54 did. SHA-224/384/512 are 8/2.
//! - PKA_Encrypt/Decrypt: PKCS-1.2 and PKCSOAEP (SHA-1, SHA-256); MRP, PKOAEP2 and
//!   ZERO-PAD are 8/2 (aws-lc-rs has no raw RSA). data_structure must be empty (8/72).
//!   Every decryption failure (padding, OAEP, wrong key) is one code, 8/2054, decided
//!   without looking at why aws-lc-rs failed. target_keyvalue_length must hold the longest
//!   value the padding can carry (k − 11 for PKCS-1.2, k − 2·hLen − 2 for PKCSOAEP), else
//!   8/72 before anything is decrypted: a check against the recovered value would be a
//!   padding oracle for a caller with a short buffer.
//! - CSNDPKI: an external clear X'30'/X'31' token becomes internal under the current APKA
//!   master key; the importer is not used for a clear token. An encrypted external token
//!   (IKEK-DES/IKEK-AES/IKEK-PKA importer) is 8/2. QSA and CKM-RAKW are 8/2.
//! - Rule-array counts: CSNDDSG 0–8, CSNDDSV 0–9 (IBM's); CSNDPKE and CSNDPKD 1–3 (IBM:
//!   PKD 1–3, PKE 1–8; softcca's PKE has no keyword group beyond the padding and the hash).
//! - CSNDKTC: RTCMK only; a token already under the current master key is returned as is.
//! - A token output longer than the caller's `*_token_length` / `*_identifier_length`: 8/43
//!   ([`Failure::KeyTokenLength`]); a data output (signature, enciphered value) too long for
//!   its buffer: 8/72. IBM's codes for these were not retrieved.
//! - CSNDPKB RSA-PUBL ignores the usage keywords and private_key_name (a public token has
//!   neither a usage byte nor a name section in softcca).

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeyPair, KeyPairComponents, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey,
    Pkcs1PublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
use softcca_wire::Param;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::{Class, MasterKey, verification_pattern};
use crate::rules::{self, Element, Grammar, Group};
use crate::tokens::MasterKeyUsed;
use crate::tokens::pka::{self, Framed, Kind, RsaPublic, id};
use crate::tokens::pka_rsa::{AesRsa, ClearCrt, source, usage};
use crate::verbs::keys::notice_for;
use crate::verbs::{Params, Reply};

/// A parsed RSA token.
#[derive(Debug, Clone)]
pub(crate) struct RsaToken {
    /// External or internal.
    pub kind: Kind,
    /// The private section, if any.
    pub private: Option<AesRsa>,
    /// The public section (its n may be empty when the private section holds n).
    pub public: RsaPublic,
    /// The private-key name, if any.
    pub name: Option<[u8; 64]>,
}

impl RsaToken {
    /// Parses an RSA token; other private sections than X'30'/X'31' are 8/2.
    pub(crate) fn parse(bytes: &[u8]) -> Result<RsaToken, Failure> {
        let Framed::Token { kind, sections, .. } = pka::frame(bytes)? else {
            return Err(Failure::PkaTokenField);
        };
        let mut rest = &sections[..];
        let mut clear_crt = None;
        let mut private = match rest.first() {
            Some(s) if id::is_private(s.id) => {
                rest = &rest[1..];
                match s.id {
                    id::RSA_AESC | id::RSA_AESM => Some(AesRsa::parse(s.bytes)?),
                    id::RSA_CRT_OPK => {
                        clear_crt = Some(ClearCrt::parse(s.bytes)?);
                        None
                    }
                    id::ECC_PRIVATE => return Err(Failure::PkaTokenField),
                    _ => return Err(Failure::NotSupported),
                }
            }
            _ => None,
        };
        let public = RsaPublic::parse(rest.first().ok_or(Failure::PkaTokenField)?.bytes)?;
        if let Some(c) = clear_crt {
            if kind != Kind::External {
                return Err(Failure::PkaTokenField);
            }
            private = Some(clear_crt_as_aes(&c, &public)?);
        }
        let name = match rest.get(1) {
            Some(s) => Some(pka::parse_name(s.bytes)?),
            None => None,
        };
        if let Some(p) = &private {
            if p.internal != (kind == Kind::Internal) || !public.n.is_empty() {
                return Err(Failure::PkaTokenField);
            }
            if !p.is_skeleton()
                && p.n.len() * 8 - p.n[0].leading_zeros() as usize != usize::from(public.n_bits)
            {
                return Err(Failure::PkaTokenField);
            }
        } else if public.n.is_empty() || public.e.is_empty() || kind != Kind::External {
            return Err(Failure::PkaTokenField);
        }
        Ok(RsaToken {
            kind,
            private,
            public,
            name,
        })
    }

    /// The modulus.
    pub(crate) fn n(&self) -> &[u8] {
        match &self.private {
            Some(p) => &p.n,
            None => &self.public.n,
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        let private = self.private.as_ref().map(AesRsa::to_bytes).transpose()?;
        let public = self.public.to_bytes()?;
        let name = self.name.as_ref().map(pka::name_section);
        let mut sections: Vec<&[u8]> = Vec::new();
        if let Some(p) = &private {
            sections.push(p);
        }
        sections.push(&public);
        if let Some(n) = &name {
            sections.push(n);
        }
        pka::assemble(self.kind, &sections)
    }

    fn public_only(&self) -> Result<Vec<u8>, Failure> {
        let public = RsaPublic {
            e: self.public.e.clone(),
            n_bits: self.public.n_bits,
            n: self.n().to_vec(),
        };
        pka::assemble(Kind::External, &[&public.to_bytes()?])
    }
}

/// An RSA key ready for use.
#[derive(Debug)]
pub(crate) struct RsaKey {
    /// The token.
    pub token: RsaToken,
    /// The private key as PKCS #8 DER; `None` for a public token.
    pub der: Option<Zeroizing<Vec<u8>>>,
    /// Which master key deciphered it.
    pub used: Option<MasterKeyUsed>,
}

impl RsaKey {
    pub(crate) fn usage(&self) -> Option<u8> {
        self.token.private.as_ref().map(|p| p.usage & usage::MASK)
    }

    pub(crate) fn public_der(&self) -> Result<Vec<u8>, Failure> {
        let pk = PublicKeyComponents {
            n: self.token.n(),
            e: &self.token.public.e[..],
        };
        pk.as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| Failure::PkaTokenField)
    }

    pub(crate) fn private_der(&self) -> Result<&[u8], Failure> {
        self.der
            .as_ref()
            .map(|d| &d[..])
            .ok_or(Failure::KeyTokenInvalid)
    }

    pub(crate) fn notice(&self) -> Option<Notice> {
        self.used.and_then(notice_for)
    }
}

fn apka_for(card: &Card, mkvp: &[u8; 16]) -> Result<(Zeroizing<Vec<u8>>, MasterKeyUsed), Failure> {
    card.with_master_keys(Class::Apka, |current, old| {
        let current = current.ok_or(Failure::MasterKeyNotLoaded)?;
        if mkvp[..8] == verification_pattern(Class::Apka, current) && mkvp[8..] == [0; 8] {
            return Ok((
                Zeroizing::new(current.expose().to_vec()),
                MasterKeyUsed::Current,
            ));
        }
        match old {
            Some(o) if mkvp[..8] == verification_pattern(Class::Apka, o) && mkvp[8..] == [0; 8] => {
                Ok((Zeroizing::new(o.expose().to_vec()), MasterKeyUsed::Old))
            }
            _ => Err(Failure::MasterKeyPatternUnknown),
        }
    })
}

fn current_apka(card: &Card) -> Result<MasterKey, Failure> {
    card.with_master_keys(Class::Apka, |current, _| {
        current
            .map(|c| MasterKey::from_bytes(c.expose()))
            .ok_or(Failure::MasterKeyNotLoaded)
    })
}

impl Card {
    /// The RSA key a token names: parsed, the private key unwrapped under the current or old
    /// APKA master key (or taken from a clear external section).
    pub(crate) fn rsa_key(&self, identifier: &[u8]) -> Result<RsaKey, Failure> {
        let token = RsaToken::parse(identifier)?;
        let (der, used) = match &token.private {
            None => (None, None),
            Some(p) if p.is_skeleton() => return Err(Failure::KeyTokenInvalid),
            Some(p) if !p.internal => (Some(p.payload.clone()), None),
            Some(p) => {
                let (mk, used) = apka_for(self, &p.mkvp)?;
                let mk = MasterKey::from_bytes(&mk);
                (Some(p.unwrap(&mk, &token.public.e)?), Some(used))
            }
        };
        Ok(RsaKey { token, der, used })
    }
}

fn out_len(p: &Params, i: usize) -> Result<usize, Failure> {
    usize::try_from(p.int(i)?).map_err(|_| Failure::Length)
}

fn token_reply(token: Vec<u8>, capacity: usize, notice: Option<Notice>) -> Result<Reply, Failure> {
    if token.len() > capacity {
        return Err(Failure::KeyTokenLength);
    }
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(token)],
        ..Reply::default()
    })
}

fn significant(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn bit_len(b: &[u8]) -> usize {
    let s = significant(b);
    s.first()
        .map_or(0, |&t| s.len() * 8 - t.leading_zeros() as usize)
}

// ---------------------------------------------------------------------------------------
// CSNDPKB

const PKB: Grammar = Grammar {
    min: 1,
    max: 3,
    groups: &[
        Group::required(&[
            "RSA-CRT", "RSA-PRIV", "RSA-PUBL", "RSAMEVAR", "RSA-AESM", "RSA-AESC",
        ]),
        Group::optional(&["SIG-ONLY", "KEY-MGMT", "KM-ONLY"], "SIG-ONLY"),
        Group::optional_none(&["XLATE-OK", "NO-XLATE"]),
    ],
};

struct Kvs<'a> {
    n_bits: usize,
    n: &'a [u8],
    e: &'a [u8],
    /// d, p, q, dp, dq, U (empty when absent).
    d: &'a [u8],
    crt: [&'a [u8]; 5],
}

fn be16(b: &[u8], at: usize) -> Result<usize, Failure> {
    match b.get(at..at + 2) {
        Some(&[h, l]) => Ok(usize::from(u16::from_be_bytes([h, l]))),
        _ => Err(Failure::PkaTokenField),
    }
}

fn take<'a>(b: &'a [u8], at: &mut usize, len: usize) -> Result<&'a [u8], Failure> {
    let s = b.get(*at..*at + len).ok_or(Failure::PkaTokenField)?;
    *at += len;
    Ok(s)
}

fn parse_kvs(b: &[u8], crt: bool) -> Result<Kvs<'_>, Failure> {
    let n_bits = be16(b, 0)?;
    let n_len = be16(b, 2)?;
    let e_len = be16(b, 4)?;
    let d_len = be16(b, 6)?;
    let mut at = if crt { 18 } else { 8 };
    let lens: [usize; 5] = if crt {
        [
            be16(b, 8)?,
            be16(b, 10)?,
            be16(b, 12)?,
            be16(b, 14)?,
            be16(b, 16)?,
        ]
    } else {
        [0; 5]
    };
    let n = take(b, &mut at, n_len)?;
    let e = take(b, &mut at, e_len)?;
    let mut parts: [&[u8]; 5] = [&[]; 5];
    let d;
    if crt {
        for (part, len) in parts.iter_mut().zip(lens) {
            *part = take(b, &mut at, len)?;
        }
        d = take(b, &mut at, d_len)?;
    } else {
        d = take(b, &mut at, d_len)?;
    }
    if at != b.len() {
        return Err(Failure::PkaTokenField);
    }
    if !n.is_empty() && bit_len(n) != n_bits {
        return Err(Failure::PkaTokenField);
    }
    if n.is_empty() && (!d.is_empty() || parts.iter().any(|p| !p.is_empty())) {
        return Err(Failure::PkaTokenField);
    }
    Ok(Kvs {
        n_bits,
        n: significant(n),
        e: significant(e),
        d,
        crt: parts,
    })
}

fn usage_byte(chosen: &rules::Chosen) -> u8 {
    let base = match chosen.get(1) {
        Some("KEY-MGMT") => usage::KEY_MGMT,
        Some("KM-ONLY") => usage::KM_ONLY,
        _ => usage::SIG_ONLY,
    };
    if chosen.get(2) == Some("XLATE-OK") {
        base | usage::XLATE_OK
    } else {
        base
    }
}

fn n_bits16(bits: usize) -> Result<u16, Failure> {
    let b = u16::try_from(bits).map_err(|_| Failure::PkaTokenField)?;
    if !pka::RSA_BITS.contains(&b) {
        return Err(Failure::PkaTokenField);
    }
    Ok(b)
}

/// An external clear X'08' section held as the clear X'31' form the verbs use (the DER
/// built from its parts; d computed).
fn clear_crt_as_aes(c: &ClearCrt, public: &RsaPublic) -> Result<AesRsa, Failure> {
    if public.e.is_empty() || bit_len(&c.n) != usize::from(public.n_bits) {
        return Err(Failure::PkaTokenField);
    }
    let [pp, q, dp, dq, u] = &c.parts;
    let d = private_exponent(pp, q, &public.e, usize::from(public.n_bits))?;
    let comps = KeyPairComponents {
        public_key: PublicKeyComponents {
            n: &c.n[..],
            e: &public.e[..],
        },
        d: &d[..],
        p: &pp[..],
        q: &q[..],
        dP: &dp[..],
        dQ: &dq[..],
        qInv: &u[..],
    };
    let pair = KeyPair::from_components(&comps).map_err(|_| Failure::PkaTokenField)?;
    let der = pair.as_der().map_err(|_| Failure::PkaTokenField)?;
    Ok(AesRsa {
        source: source::CLEAR_IMPORT,
        n: c.n.clone(),
        payload: Zeroizing::new(der.as_ref().to_vec()),
        ..AesRsa::skeleton(true, c.usage)
    })
}

/// d = e⁻¹ mod (p − 1)(q − 1), for a CRT key value that carries no d (IBM's structure has
/// none; aws-lc-rs needs one). crypto-bigint's inversion is constant-time; any d with
/// d·e ≡ 1 modulo p − 1 and q − 1 gives the same private-key operation.
fn private_exponent(
    p: &[u8],
    q: &[u8],
    e: &[u8],
    n_bits: usize,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    use crypto_bigint::{BoxedUint, NonZero};
    use zeroize::Zeroize;
    let bad = || Failure::PkaTokenField;
    let precision = u32::try_from(n_bits.div_ceil(64) * 64).map_err(|_| bad())?;
    let one = BoxedUint::one_with_precision(precision);
    let mut p1 = BoxedUint::from_be_slice(p, precision)
        .map_err(|_| bad())?
        .wrapping_sub(&one);
    let mut q1 = BoxedUint::from_be_slice(q, precision)
        .map_err(|_| bad())?
        .wrapping_sub(&one);
    let phi = p1.checked_mul(&q1).into_option();
    p1.zeroize();
    q1.zeroize();
    let phi = NonZero::new(phi.ok_or_else(bad)?)
        .into_option()
        .ok_or_else(bad)?;
    let e = BoxedUint::from_be_slice(e, precision).map_err(|_| bad())?;
    let d = e.invert_mod(&phi).into_option();
    let mut phi = phi.get();
    phi.zeroize();
    let mut d = d.ok_or_else(bad)?;
    let bytes = Zeroizing::new(d.to_be_bytes().to_vec());
    d.zeroize();
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Ok(Zeroizing::new(bytes[start..].to_vec()))
}

pub(crate) fn csndpkb(_card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&PKB, rule_array)?;
    p.expect_len(8)?;
    let kvs = p.bytes(0)?;
    let name = p.bytes(1)?;
    for i in 2..7 {
        if !p.bytes(i)?.is_empty() {
            return Err(Failure::Length);
        }
    }
    let capacity = out_len(&p, 7)?;
    let name: Option<[u8; 64]> = match name.len() {
        0 => None,
        64 => {
            let mut n = [0u8; 64];
            n.copy_from_slice(name);
            Some(n)
        }
        _ => return Err(Failure::Length),
    };
    let form = chosen.get(0).unwrap_or("");
    let crt = match form {
        "RSA-CRT" => {
            let k = parse_kvs(kvs, true)?;
            if k.n.is_empty() {
                return Err(Failure::NotSupported);
            }
            let section = ClearCrt {
                usage: usage_byte(&chosen),
                n: k.n.to_vec(),
                parts: k.crt.map(|p| Zeroizing::new(p.to_vec())),
            };
            let public = RsaPublic {
                e: k.e.to_vec(),
                n_bits: n_bits16(k.n_bits)?,
                n: Vec::new(),
            };
            let name = name.as_ref().map(pka::name_section);
            let private = section.to_bytes()?;
            let public = public.to_bytes()?;
            let mut sections: Vec<&[u8]> = vec![&private, &public];
            if let Some(n) = &name {
                sections.push(n);
            }
            let token = pka::assemble(Kind::External, &sections)?;
            // The parts must form a key.
            RsaToken::parse(&token)?;
            return token_reply(token, capacity, None);
        }
        "RSA-AESC" => true,
        "RSA-AESM" => false,
        "RSA-PUBL" => {
            let k = parse_kvs(kvs, false)?;
            if k.n.is_empty() || !k.d.is_empty() {
                return Err(Failure::PkaTokenField);
            }
            let public = RsaPublic {
                e: k.e.to_vec(),
                n_bits: n_bits16(k.n_bits)?,
                n: k.n.to_vec(),
            };
            // Validate e as a token would.
            let public = RsaPublic::parse(&public.to_bytes()?)?;
            if public.e.is_empty() {
                return Err(Failure::PkaTokenField);
            }
            return token_reply(
                pka::assemble(Kind::External, &[&public.to_bytes()?])?,
                capacity,
                None,
            );
        }
        _ => return Err(Failure::NotSupported),
    };
    let k = parse_kvs(kvs, crt)?;
    let n_bits = n_bits16(k.n_bits)?;
    let mut section = AesRsa::skeleton(crt, usage_byte(&chosen));
    if !k.n.is_empty() {
        if !crt {
            return Err(Failure::NotSupported);
        }
        let [pp, q, dp, dq, u] = k.crt;
        let d = if k.d.is_empty() {
            private_exponent(pp, q, k.e, k.n_bits)?
        } else {
            Zeroizing::new(k.d.to_vec())
        };
        let comps = KeyPairComponents {
            public_key: PublicKeyComponents { n: k.n, e: k.e },
            d: &d[..],
            p: pp,
            q,
            dP: dp,
            dQ: dq,
            qInv: u,
        };
        let pair = KeyPair::from_components(&comps).map_err(|_| Failure::PkaTokenField)?;
        let der = pair.as_der().map_err(|_| Failure::PkaTokenField)?;
        section.source = source::CLEAR_IMPORT;
        section.n = k.n.to_vec();
        section.payload = Zeroizing::new(der.as_ref().to_vec());
    }
    let token = RsaToken {
        kind: Kind::External,
        private: Some(section),
        public: RsaPublic {
            e: k.e.to_vec(),
            n_bits,
            n: Vec::new(),
        },
        name,
    };
    let bytes = token.to_bytes()?;
    // The exponent must be one a token may hold.
    RsaToken::parse(&bytes)?;
    token_reply(bytes, capacity, None)
}

// ---------------------------------------------------------------------------------------
// CSNDPKG

const PKG: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::required(&["MASTER", "XPORT", "CLEAR", "RETAIN"]),
        Group::optional_none(&["CLONE"]),
    ],
};

const CONSISTENCY_MESSAGE: &[u8] = b"softcca pairwise consistency test";

/// Signs and verifies, encrypts and decrypts once with a new pair.
fn pairwise_consistent(pair: &KeyPair, der: &[u8]) -> bool {
    use aws_lc_rs::signature::KeyPair as _;
    let rng = SystemRandom::new();
    let mut signature = vec![0u8; pair.public_modulus_len()];
    if pair
        .sign(
            &sig::RSA_PKCS1_SHA256,
            &rng,
            CONSISTENCY_MESSAGE,
            &mut signature,
        )
        .is_err()
    {
        return false;
    }
    let public = pair.public_key().as_ref().to_vec();
    if UnparsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(CONSISTENCY_MESSAGE, &signature)
        .is_err()
    {
        return false;
    }
    let Ok(private) = PrivateDecryptingKey::from_pkcs8(der) else {
        return false;
    };
    let Ok(enc) = OaepPublicEncryptingKey::new(private.public_key()) else {
        return false;
    };
    let Ok(dec) = OaepPrivateDecryptingKey::new(private) else {
        return false;
    };
    let mut ct = vec![0u8; enc.ciphertext_size()];
    let Ok(ct) = enc.encrypt(&OAEP_SHA256_MGF1SHA256, CONSISTENCY_MESSAGE, &mut ct, None) else {
        return false;
    };
    let mut pt = vec![0u8; dec.min_output_size()];
    matches!(dec.decrypt(&OAEP_SHA256_MGF1SHA256, ct, &mut pt, None), Ok(m) if m == CONSISTENCY_MESSAGE)
}

pub(crate) fn csndpkg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&PKG, rule_array)?;
    p.expect_len(4)?;
    let regen = p.bytes(0)?;
    let skeleton = p.bytes(1)?;
    let _transport = p.bytes(2)?;
    let capacity = out_len(&p, 3)?;
    if !regen.is_empty() && !(8..=256).contains(&regen.len()) {
        return Err(Failure::Length);
    }
    let master = match chosen.get(0) {
        Some("MASTER") => true,
        Some("CLEAR") => false,
        _ => return Err(Failure::NotSupported),
    };
    if chosen.get(1).is_some() || !regen.is_empty() {
        return Err(Failure::NotSupported);
    }
    let token = RsaToken::parse(skeleton)?;
    let section = match &token.private {
        Some(s) if s.is_skeleton() => s.clone(),
        Some(_) => return Err(Failure::PkaTokenField),
        None => return Err(Failure::KeyTokenInvalid),
    };
    let size = match token.public.n_bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        _ => return Err(Failure::NotSupported),
    };
    // IBM: 3, 65537, or zero (or no exponent) for a full-random exponent.
    let e = match significant(&token.public.e) {
        [1, 0, 1] => vec![1, 0, 1],
        [3] => vec![3],
        [] => {
            let mut r = [0u8; 4];
            card.random(&mut r)?;
            r[0] |= 0x80;
            r[3] |= 0x01;
            r.to_vec()
        }
        _ => return Err(Failure::NotSupported),
    };
    if e != [1, 0, 1] && matches!(size, KeySize::Rsa8192) {
        return Err(Failure::NotSupported);
    }
    let mk = if master {
        Some(current_apka(card)?)
    } else {
        None
    };
    let pair = if e == [1, 0, 1] {
        KeyPair::generate(size).map_err(|_| Failure::RngFault)?
    } else {
        crate::verbs::rsa_gen::generate(card, usize::from(token.public.n_bits), &e)?
    };
    let der = Zeroizing::new(
        pair.as_der()
            .map_err(|_| Failure::RngFault)?
            .as_ref()
            .to_vec(),
    );
    if !pairwise_consistent(&pair, &der) {
        card.latch_crypto_fault();
        return Err(Failure::RngFault);
    }
    use aws_lc_rs::signature::KeyPair as _;
    let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let mut generated = AesRsa {
        source: source::RANDOM,
        n: significant(&components.n).to_vec(),
        ..section
    };
    if significant(&components.e) != e.as_slice() {
        return Err(Failure::RngFault);
    }
    let generated = match &mk {
        Some(mk) => generated.wrap(mk, &e, &der)?,
        None => {
            generated.payload = der;
            generated
        }
    };
    let out = RsaToken {
        kind: if master {
            Kind::Internal
        } else {
            Kind::External
        },
        private: Some(generated),
        public: RsaPublic {
            e,
            n_bits: token.public.n_bits,
            n: Vec::new(),
        },
        name: token.name,
    };
    token_reply(out.to_bytes()?, capacity, None)
}

// ---------------------------------------------------------------------------------------
// CSNDPKI

const PKI: Grammar = Grammar {
    min: 0,
    max: 3,
    groups: &[
        Group::optional(&["RSA", "QSA"], "RSA"),
        Group::optional(&["IKEK-DES", "IKEK-AES", "IKEK-PKA"], "IKEK-DES"),
        Group::optional_none(&["CKM-RAKW"]),
    ],
};

pub(crate) fn csndpki(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&PKI, rule_array)?;
    if chosen.get(0) != Some("RSA") || chosen.get(2).is_some() {
        return Err(Failure::NotSupported);
    }
    p.expect_len(3)?;
    let source_token = p.bytes(0)?;
    let _importer = p.bytes(1)?;
    let capacity = out_len(&p, 2)?;
    let token = RsaToken::parse(source_token)?;
    if token.kind != Kind::External {
        return Err(Failure::KeyTokenInvalid);
    }
    let section = match &token.private {
        Some(s) if !s.is_skeleton() => s.clone(),
        _ => return Err(Failure::KeyTokenInvalid),
    };
    let mk = current_apka(card)?;
    let imported = AesRsa {
        source: source::CLEAR_IMPORT,
        ..section.clone()
    }
    .wrap(&mk, &token.public.e, &section.payload)?;
    let out = RsaToken {
        kind: Kind::Internal,
        private: Some(imported),
        ..token
    };
    token_reply(out.to_bytes()?, capacity, None)
}

// ---------------------------------------------------------------------------------------
// CSNDPKX, CSNDKTC

pub(crate) fn csndpkx(_card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(2)?;
    let token = RsaToken::parse(p.bytes(0)?)?;
    let capacity = out_len(&p, 1)?;
    if token.private.as_ref().is_some_and(AesRsa::is_skeleton) {
        return Err(Failure::KeyTokenInvalid);
    }
    token_reply(token.public_only()?, capacity, None)
}

const KTC: Grammar = Grammar {
    min: 1,
    max: 1,
    groups: &[Group::required(&["RTCMK"])],
};

pub(crate) fn csndktc(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    rules::parse(&KTC, rule_array)?;
    p.expect_len(1)?;
    let bytes = p.bytes(0)?;
    let key = card.rsa_key(bytes)?;
    let Some(section) = &key.token.private else {
        return Err(Failure::KeyTokenInvalid);
    };
    if !section.internal {
        return Err(Failure::KeyTokenInvalid);
    }
    if key.used == Some(MasterKeyUsed::Current) {
        return Ok(Reply::outputs(vec![Param::Bytes(key.token.to_bytes()?)]));
    }
    let mk = current_apka(card)?;
    let rewrapped = section.wrap(&mk, &key.token.public.e, key.private_der()?)?;
    let out = RsaToken {
        private: Some(rewrapped),
        ..key.token.clone()
    };
    Ok(Reply::outputs(vec![Param::Bytes(out.to_bytes()?)]))
}

// ---------------------------------------------------------------------------------------
// CSNDDSG, CSNDDSV

const PADDINGS: &[&str] = &[
    "ISO-9796", "PKCS-1.0", "PKCS-1.1", "PKCS-PSS", "X9.31", "ZERO-PAD",
];
const METHODS: &[&str] = &["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"];

const DSG: Grammar = Grammar {
    min: 0,
    max: 8,
    groups: &[
        Group::optional(&["RSA"], "RSA"),
        Group::optional(PADDINGS, "ISO-9796"),
        Group::optional(&["HASH", "MESSAGE"], "HASH"),
        Group::optional_none(METHODS),
    ],
};

const DSV: Grammar = Grammar {
    min: 0,
    max: 9,
    groups: &[
        Group::optional(&["RSA"], "RSA"),
        Group::optional(PADDINGS, "ISO-9796"),
        Group::optional(&["HASH", "MESSAGE"], "HASH"),
        Group::optional_none(METHODS),
        Group::optional(&["EXMATCH", "NEXMATCH"], "EXMATCH"),
        Group::optional_none(&["TPK-ONLY"]),
    ],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Pkcs1,
    Pss,
}

/// The DER DigestInfo prefixes of SHA-256, SHA-384, SHA-512 (RFC 8017 §9.2 note 1).
const DIGEST_INFO: [(&[u8], &digest::Algorithm); 3] = [
    (
        &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        &digest::SHA256,
    ),
    (
        &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        &digest::SHA384,
    ),
    (
        &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        &digest::SHA512,
    ),
];

fn method_alg(method: &str) -> Result<&'static digest::Algorithm, Failure> {
    match method {
        "SHA-256" => Ok(&digest::SHA256),
        "SHA-384" => Ok(&digest::SHA384),
        "SHA-512" => Ok(&digest::SHA512),
        "SHA-1" | "SHA-224" => Err(Failure::NotSupported),
        _ => Err(Failure::KeywordCombination),
    }
}

fn alg_by_len(len: usize) -> Result<&'static digest::Algorithm, Failure> {
    match len {
        32 => Ok(&digest::SHA256),
        48 => Ok(&digest::SHA384),
        64 => Ok(&digest::SHA512),
        20 | 28 => Err(Failure::NotSupported),
        _ => Err(Failure::Length),
    }
}

/// The scheme and the digest a DSG/DSV call names.
fn signature_input(chosen: &rules::Chosen, input: &[u8]) -> Result<(Scheme, Digest), Failure> {
    let scheme = match chosen.get(1) {
        Some("PKCS-1.1") => Scheme::Pkcs1,
        Some("PKCS-PSS") => Scheme::Pss,
        _ => return Err(Failure::NotSupported),
    };
    let method = chosen.get(3);
    let mut data = input;
    let mut salt = None;
    if scheme == Scheme::Pss {
        let (head, rest) = data.split_at_checked(4).ok_or(Failure::Length)?;
        salt = Some(u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize);
        data = rest;
    }
    let digest = if chosen.get(2) == Some("MESSAGE") {
        let alg = method_alg(method.ok_or(Failure::KeywordCombination)?)?;
        digest::digest(alg, data)
    } else {
        if scheme == Scheme::Pkcs1
            && let Some((prefix, _)) = DIGEST_INFO
                .iter()
                .find(|(p, a)| data.len() == p.len() + a.output_len && data.starts_with(p))
        {
            data = &data[prefix.len()..];
        }
        let alg = alg_by_len(data.len())?;
        if let Some(m) = method
            && method_alg(m)?.output_len != alg.output_len
        {
            return Err(Failure::Length);
        }
        Digest::import_less_safe(data, alg).map_err(|_| Failure::Length)?
    };
    if salt.is_some_and(|s| s != digest.algorithm().output_len) {
        return Err(Failure::NotSupported);
    }
    Ok((scheme, digest))
}

fn encoding(scheme: Scheme, alg: &digest::Algorithm) -> &'static dyn sig::RsaEncoding {
    match (scheme, alg.output_len) {
        (Scheme::Pkcs1, 32) => &sig::RSA_PKCS1_SHA256,
        (Scheme::Pkcs1, 48) => &sig::RSA_PKCS1_SHA384,
        (Scheme::Pkcs1, _) => &sig::RSA_PKCS1_SHA512,
        (Scheme::Pss, 32) => &sig::RSA_PSS_SHA256,
        (Scheme::Pss, 48) => &sig::RSA_PSS_SHA384,
        (Scheme::Pss, _) => &sig::RSA_PSS_SHA512,
    }
}

fn parameters(scheme: Scheme, alg: &digest::Algorithm) -> &'static sig::RsaParameters {
    match (scheme, alg.output_len) {
        (Scheme::Pkcs1, 32) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (Scheme::Pkcs1, 48) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (Scheme::Pkcs1, _) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (Scheme::Pss, 32) => &sig::RSA_PSS_2048_8192_SHA256,
        (Scheme::Pss, 48) => &sig::RSA_PSS_2048_8192_SHA384,
        (Scheme::Pss, _) => &sig::RSA_PSS_2048_8192_SHA512,
    }
}

pub(crate) fn csnddsg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&DSG, rule_array)?;
    p.expect_len(3)?;
    let key = card.rsa_key(p.bytes(0)?)?;
    let (scheme, digest) = signature_input(&chosen, p.bytes(1)?)?;
    let field = out_len(&p, 2)?;
    let der = key.private_der()?;
    if key.usage() == Some(usage::KM_ONLY) {
        return Err(Failure::ControlVector);
    }
    let pair = KeyPair::from_pkcs8(der).map_err(|_| Failure::PkaTokenField)?;
    let len = pair.public_modulus_len();
    if field < len {
        return Err(Failure::Length);
    }
    let mut signature = vec![0u8; len];
    pair.sign_digest(
        encoding(scheme, digest.algorithm()),
        &digest,
        &mut signature,
    )
    .map_err(|_| Failure::NotSupported)?;
    Ok(Reply {
        notice: key.notice(),
        outputs: vec![
            Param::Int(i32::from(key.token.public.n_bits)),
            Param::Bytes(signature),
        ],
        ..Reply::default()
    })
}

pub(crate) fn csnddsv(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&DSV, rule_array)?;
    p.expect_len(3)?;
    let key = card.rsa_key(p.bytes(0)?)?;
    let (scheme, digest) = signature_input(&chosen, p.bytes(1)?)?;
    let signature = p.bytes(2)?;
    let public = key.public_der()?;
    let verified = UnparsedPublicKey::new(parameters(scheme, digest.algorithm()), &public)
        .verify_digest(&digest, signature)
        .is_ok();
    Ok(Reply {
        notice: if verified {
            key.notice()
        } else {
            Some(Notice::SignatureNotVerified)
        },
        ..Reply::default()
    })
}

// ---------------------------------------------------------------------------------------
// CSNDPKE, CSNDPKD

const PADS: &[&str] = &["MRP", "PKCS-1.2", "PKCSOAEP", "PKOAEP2", "ZERO-PAD"];

const PKE: Grammar = Grammar {
    min: 1,
    max: 3,
    groups: &[
        Group::required(PADS),
        Group::optional_none(&["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]),
    ],
};

/// The encryption padding of PKA_Encrypt/Decrypt and of the symmetric-key verbs under RSA
/// (`verbs::syx`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pad {
    Pkcs1,
    /// The OAEP algorithm and its hash length.
    Oaep(&'static aws_lc_rs::rsa::OaepAlgorithm, usize),
}

/// `value` enciphered under the public key of `key`; a `capacity` shorter than the modulus,
/// or a value longer than the padding carries, is 8/72 before anything is enciphered.
pub(crate) fn encipher(
    key: &RsaKey,
    pad: Pad,
    value: &[u8],
    capacity: usize,
) -> Result<Vec<u8>, Failure> {
    let public =
        PublicEncryptingKey::from_der(&key.public_der()?).map_err(|_| Failure::PkaTokenField)?;
    let mut out = vec![0u8; public.key_size_bytes()];
    if capacity < out.len() {
        return Err(Failure::Length);
    }
    let n = match pad {
        Pad::Pkcs1 => {
            let k = Pkcs1PublicEncryptingKey::new(public).map_err(|_| Failure::PkaTokenField)?;
            if value.len() > k.max_plaintext_size() {
                return Err(Failure::Length);
            }
            k.encrypt(value, &mut out)
                .map_err(|_| Failure::Length)?
                .len()
        }
        Pad::Oaep(alg, _) => {
            let k = OaepPublicEncryptingKey::new(public).map_err(|_| Failure::PkaTokenField)?;
            if value.len() > k.max_plaintext_size(alg) {
                return Err(Failure::Length);
            }
            k.encrypt(alg, value, &mut out, None)
                .map_err(|_| Failure::Length)?
                .len()
        }
    };
    out.truncate(n);
    Ok(out)
}

/// The value enciphered in `ciphertext`, recovered with the private key of `key`: a SIG-ONLY
/// key is 8/39, a ciphertext that is not one modulus long 8/72, and every way decryption
/// fails — padding, a wrong key — the one code 8/2054, which aws-lc-rs's reason is never
/// looked at for. `capacity` (the caller's buffer) is checked against the longest value the
/// padding can carry *before* deciphering: a check against the recovered value would tell
/// a caller with a short buffer whether the padding was good.
pub(crate) fn decipher(
    key: &RsaKey,
    pad: Pad,
    ciphertext: &[u8],
    capacity: usize,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let der = key.private_der()?;
    if key.usage() == Some(usage::SIG_ONLY) {
        return Err(Failure::ControlVector);
    }
    let private = PrivateDecryptingKey::from_pkcs8(der).map_err(|_| Failure::PkaTokenField)?;
    if ciphertext.len() != private.key_size_bytes() {
        return Err(Failure::Length);
    }
    let longest = match pad {
        Pad::Pkcs1 => ciphertext.len().saturating_sub(11),
        Pad::Oaep(_, h_len) => ciphertext.len().saturating_sub(2 * h_len + 2),
    };
    if capacity < longest {
        return Err(Failure::Length);
    }
    let mut out = Zeroizing::new(vec![0u8; private.key_size_bytes()]);
    let recovered = match pad {
        Pad::Pkcs1 => Pkcs1PrivateDecryptingKey::new(private)
            .map_err(|_| Failure::PkaTokenField)?
            .decrypt(ciphertext, &mut out[..])
            .map(|m| m.len()),
        Pad::Oaep(alg, _) => OaepPrivateDecryptingKey::new(private)
            .map_err(|_| Failure::PkaTokenField)?
            .decrypt(alg, ciphertext, &mut out[..], None)
            .map(|m| m.len()),
    };
    let len = recovered.map_err(|_| Failure::PkaDecryptDecode)?;
    out.truncate(len);
    Ok(out)
}

fn pad_of(rule_array: &[Element]) -> Result<Pad, Failure> {
    let chosen = rules::parse(&PKE, rule_array)?;
    match (chosen.get(0), chosen.get(1)) {
        (Some("PKCS-1.2"), None) => Ok(Pad::Pkcs1),
        (Some("PKCS-1.2"), Some(_)) => Err(Failure::KeywordCombination),
        (Some("PKCSOAEP"), None | Some("SHA-1")) => Ok(Pad::Oaep(&OAEP_SHA1_MGF1SHA1, 20)),
        (Some("PKCSOAEP"), Some("SHA-256")) => Ok(Pad::Oaep(&OAEP_SHA256_MGF1SHA256, 32)),
        _ => Err(Failure::NotSupported),
    }
}

pub(crate) fn csndpke(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let pad = pad_of(rule_array)?;
    p.expect_len(4)?;
    let value = p.bytes(0)?;
    if !p.bytes(1)?.is_empty() {
        return Err(Failure::Length);
    }
    let key = card.rsa_key(p.bytes(2)?)?;
    let capacity = out_len(&p, 3)?;
    let out = encipher(&key, pad, value, capacity)?;
    Ok(Reply {
        notice: key.notice(),
        outputs: vec![Param::Bytes(out)],
        ..Reply::default()
    })
}

pub(crate) fn csndpkd(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let pad = pad_of(rule_array)?;
    p.expect_len(4)?;
    let ciphertext = p.bytes(0)?;
    if !p.bytes(1)?.is_empty() {
        return Err(Failure::Length);
    }
    let key = card.rsa_key(p.bytes(2)?)?;
    let capacity = out_len(&p, 3)?;
    let out = decipher(&key, pad, ciphertext, capacity)?;
    Ok(Reply {
        notice: key.notice(),
        outputs: vec![Param::Bytes(out.to_vec())],
        ..Reply::default()
    })
}
