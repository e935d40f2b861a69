//! RSA private keys enciphered under a transport key: PKA_Key_Generate (CSNDPKG) XPORT and
//! PKA_Key_Import (CSNDPKI) of such an encrypted external token with IKEK-DES.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", CSNDPKG parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndpkg-parameters>): XPORT
//!   "enciphers the private key under the IMPORTER or EXPORTER key-encrypting key"
//!   identified by `transport_key_identifier`.
//! - CCA 2.54 Basic Services p=111 and p=114 (PKA_Key_Generate): "If the private key is
//!   enciphered by an IMPORTER key, it can be imported to the generating node. If … by an
//!   EXPORTER key, it can be imported to a node where the corresponding IMPORTER key is
//!   installed"; the transport key is "an internal key-encrypting-key token".
//! - IBM Docs "CCA for Linux", CSNDPKI (wskc_r_pkirequired, pkiparameters): RSA default,
//!   IKEK-DES default, IKEK-AES, IKEK-PKA; `importer_key_identifier`.
//! - IBM Docs "CCA for Linux", X'30' and X'31' sections (lxcc/wskc_rsopk1_intext.html,
//!   wskc_rropk1_intext.html): key format byte 11, X'42' (X'31') and X'82' (X'30') for an
//!   encrypted external section.
//!
//! Parameter blocks: as [`super::pka`] documents CSNDPKG and CSNDPKI.
//!
//! **The wrapped layout is softcca's** (IBM's is not public): an encrypted external X'30' or
//! X'31' section keeps IBM's fixed part, lengths and offsets (the ones softcca's internal
//! sections use, [`crate::tokens::pka_rsa`]) with format byte X'82' / X'42'; its payload is
//! the PKCS #8 key, with the SHA-256 binding of the section's fields, n and e, AES
//! key-wrapped with padding (RFC 5649, aws-lc-rs) under a 256-bit key derived from the
//! clear DES key-encrypting key by HKDF-SHA-256 (aws-lc-rs; salt and info name softcca and
//! the section); the MKVP field carries that derived key's 8-byte verification pattern.
//! Tokens therefore do not move between softcca and a real card.
//!
//! Choices where IBM is silent or was not retrieved:
//! - The transport key of XPORT must be an internal DES IMPORTER or EXPORTER whose CV has
//!   the IMPORT/EXPORT bit (21); CSNDPKI's importer must be an IMPORTER with that bit.
//!   Another key type is 8/39; a token that is not an internal DES token 8/47; one under
//!   neither SYM master key 8/24 (12/764 with none); under the old one, 0/10001.
//! - The IMPORTER and the EXPORTER of a pair hold the same key, so a key exported under the
//!   EXPORTER imports under the IMPORTER at the other node.
//! - AES key-encrypting keys (IKEK-AES, an AES transport key) and IKEK-PKA are 8/2: softcca
//!   has no AES EXPORTER/IMPORTER keys yet. ECC XPORT stays 8/2 ([`super::ecc`]).
//! - An encrypted token under another KEK, or altered, is 8/770 (the token's fields do not
//!   hold under this importer; IBM names no narrower code).
//! - The imported token's key source byte is X'22' (IBM: "encrypted import").
//! - An encrypted external token is usable by no other verb (8/770) until imported, except
//!   PKA_Public_Key_Extract (CSNDPKX), which returns its public key as for any RSA token.

use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use softcca_wire::Param;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::{Class, MasterKey, verification_pattern};
use crate::rules::{self, Element, Grammar, Group};
use crate::tokens::pka::{self, Framed, Kind, RsaPublic, id};
use crate::tokens::pka_rsa::{AesRsa, format};
use crate::verbs::keys::notice_for;
use crate::verbs::keytoken::{IMPORT_EXPORT, key_type_of};
use crate::verbs::{Params, Reply, rsa, text_element};

/// Format byte of an encrypted external X'31' section.
pub const CRT_ENCRYPTED: u8 = 0x42;
/// Format byte of an encrypted external X'30' section.
pub const ME_ENCRYPTED: u8 = 0x82;

const FORMAT_AT: usize = 11;
const INNER_CAPACITY: i32 = pka::MAX_TOKEN_LEN as i32;
/// IBM's key source flag "encrypted import".
const SOURCE_ENCRYPTED_IMPORT: u8 = 0x22;

struct Len32;

impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// The AES-256 key that wraps private keys under a DES key-encrypting key, and the
/// notice of the master key that deciphered the KEK.
fn transport_key(
    card: &Card,
    identifier: &[u8],
    importer_only: bool,
) -> Result<(MasterKey, Option<Notice>), Failure> {
    let k = card.des_key(identifier)?;
    let cv = &k.token.fields.cv_left;
    let allowed: &[&str] = if importer_only {
        &["IMPORTER"]
    } else {
        &["IMPORTER", "EXPORTER"]
    };
    if !key_type_of(cv).is_some_and(|t| allowed.contains(&t)) || cv[2] & IMPORT_EXPORT == 0 {
        return Err(Failure::ControlVector);
    }
    // A double-length KEK is the triple key K1 K2 K1.
    let clear = k.key.expose();
    let mut ikm = Zeroizing::new(clear.to_vec());
    if ikm.len() == 16 {
        ikm.extend_from_slice(&clear[..8]);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    Salt::new(HKDF_SHA256, b"softcca PKA transport key v1")
        .extract(&ikm)
        .expand(&[b"RSA private-key section X'30'/X'31'"], Len32)
        .and_then(|okm| okm.fill(&mut out[..]))
        .map_err(|_| Failure::PkaTokenField)?;
    Ok((MasterKey::from_bytes(&out[..]), notice_for(k.used)))
}

/// Whether a token's private section is an encrypted external X'30' or X'31' section.
pub(crate) fn is_encrypted_external(token: &[u8]) -> bool {
    match pka::frame(token) {
        Ok(Framed::Token { sections, .. }) => sections.first().is_some_and(|s| {
            matches!(
                (s.id, s.bytes.get(FORMAT_AT)),
                (id::RSA_AESC, Some(&CRT_ENCRYPTED)) | (id::RSA_AESM, Some(&ME_ENCRYPTED))
            )
        }),
        _ => false,
    }
}

/// The section with its format byte switched between the wrapped form softcca builds
/// internally (X'08' / X'02') and the encrypted external form (X'42' / X'82').
fn switch_format(mut section: Vec<u8>, to_external: bool) -> Result<Vec<u8>, Failure> {
    let crt = section.first() == Some(&id::RSA_AESC);
    let (internal, external) = if crt {
        (format::CRT_INTERNAL, CRT_ENCRYPTED)
    } else {
        (format::ME_INTERNAL, ME_ENCRYPTED)
    };
    let (from, to) = if to_external {
        (internal, external)
    } else {
        (external, internal)
    };
    match section.get_mut(FORMAT_AT) {
        Some(b) if *b == from => *b = to,
        _ => return Err(Failure::PkaTokenField),
    }
    Ok(section)
}

fn first_bytes(reply: Reply) -> Result<Vec<u8>, Failure> {
    match reply.outputs.into_iter().next() {
        Some(Param::Bytes(b)) => Ok(b),
        _ => Err(Failure::PkaTokenField),
    }
}

/// CSNDPKG XPORT for an RSA skeleton (X'30' or X'31').
pub(crate) fn csndpkg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    const PKG: Grammar = Grammar {
        min: 1,
        max: 2,
        groups: &[
            Group::required(&["MASTER", "XPORT", "CLEAR", "RETAIN"]),
            Group::optional_none(&["CLONE"]),
        ],
    };
    let chosen = rules::parse(&PKG, rule_array)?;
    if chosen.get(0) != Some("XPORT") {
        return Err(Failure::KeywordCombination);
    }
    p.expect_len(4)?;
    let regen = p.bytes(0)?;
    let skeleton = p.bytes(1)?;
    let transport = p.bytes(2)?;
    let capacity = usize::try_from(p.int(3)?).map_err(|_| Failure::Length)?;
    if !regen.is_empty() && !(8..=256).contains(&regen.len()) {
        return Err(Failure::Length);
    }
    if chosen.get(1).is_some() || !regen.is_empty() {
        return Err(Failure::NotSupported);
    }
    let (kek, notice) = transport_key(card, transport, false)?;
    // The pair as CLEAR generates it from the same skeleton (its checks and codes).
    let clear = Zeroizing::new(first_bytes(rsa::csndpkg(
        card,
        &[text_element("CLEAR")],
        Params(&[
            Param::Bytes(Vec::new()),
            Param::Bytes(skeleton.to_vec()),
            Param::Bytes(pka::NULL_TOKEN.to_vec()),
            Param::Int(INNER_CAPACITY),
        ]),
    )?)?);
    let Framed::Token { sections, .. } = pka::frame(&clear)? else {
        return Err(Failure::PkaTokenField);
    };
    let [private, public, rest @ ..] = sections.as_slice() else {
        return Err(Failure::PkaTokenField);
    };
    let section = AesRsa::parse(private.bytes)?;
    if section.internal {
        return Err(Failure::PkaTokenField);
    }
    let e = RsaPublic::parse(public.bytes)?.e;
    let wrapped = switch_format(section.wrap(&kek, &e, &section.payload)?.to_bytes()?, true)?;
    let mut parts: Vec<&[u8]> = vec![&wrapped, public.bytes];
    parts.extend(rest.iter().map(|s| s.bytes));
    let token = pka::assemble(Kind::External, &parts)?;
    if token.len() > capacity {
        return Err(Failure::KeyTokenLength);
    }
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(token)],
        ..Reply::default()
    })
}

/// CSNDPKI of an encrypted external RSA token.
pub(crate) fn csndpki(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    const PKI: Grammar = Grammar {
        min: 0,
        max: 3,
        groups: &[
            Group::optional(&["RSA", "QSA"], "RSA"),
            Group::optional(&["IKEK-DES", "IKEK-AES", "IKEK-PKA"], "IKEK-DES"),
            Group::optional_none(&["CKM-RAKW"]),
        ],
    };
    let chosen = rules::parse(&PKI, rule_array)?;
    if chosen.get(0) != Some("RSA") || chosen.get(1) != Some("IKEK-DES") || chosen.get(2).is_some()
    {
        return Err(Failure::NotSupported);
    }
    p.expect_len(3)?;
    let source = p.bytes(0)?;
    let importer = p.bytes(1)?;
    let capacity = usize::try_from(p.int(2)?).map_err(|_| Failure::Length)?;
    let Framed::Token { kind, sections, .. } = pka::frame(source)? else {
        return Err(Failure::KeyTokenInvalid);
    };
    let [private, public, rest @ ..] = sections.as_slice() else {
        return Err(Failure::PkaTokenField);
    };
    if kind != Kind::External {
        return Err(Failure::PkaTokenField);
    }
    let section = AesRsa::parse(&switch_format(private.bytes.to_vec(), false)?)?;
    let rsa_public = RsaPublic::parse(public.bytes)?;
    if section.is_skeleton()
        || !rsa_public.n.is_empty()
        || section.n.len() * 8 - section.n[0].leading_zeros() as usize
            != usize::from(rsa_public.n_bits)
    {
        return Err(Failure::PkaTokenField);
    }
    let (kek, notice) = transport_key(card, importer, true)?;
    if section.mkvp[..8] != verification_pattern(Class::Apka, &kek) || section.mkvp[8..] != [0; 8] {
        return Err(Failure::PkaTokenField);
    }
    let der = section.unwrap(&kek, &rsa_public.e)?;
    let imported = card.with_current_master_key(Class::Apka, |mk| {
        AesRsa {
            internal: false,
            source: SOURCE_ENCRYPTED_IMPORT,
            ..section.clone()
        }
        .wrap(mk, &rsa_public.e, &der)
    })?;
    let imported = imported.to_bytes()?;
    let mut parts: Vec<&[u8]> = vec![&imported, public.bytes];
    parts.extend(rest.iter().map(|s| s.bytes));
    let token = pka::assemble(Kind::Internal, &parts)?;
    if token.len() > capacity {
        return Err(Failure::KeyTokenLength);
    }
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(token)],
        ..Reply::default()
    })
}

/// CSNDPKX of an encrypted external RSA token: its public key (X'04' with n).
pub(crate) fn csndpkx(rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(2)?;
    let capacity = usize::try_from(p.int(1)?).map_err(|_| Failure::Length)?;
    let Framed::Token { sections, .. } = pka::frame(p.bytes(0)?)? else {
        return Err(Failure::KeyTokenInvalid);
    };
    let [private, public, ..] = sections.as_slice() else {
        return Err(Failure::PkaTokenField);
    };
    let section = AesRsa::parse(&switch_format(private.bytes.to_vec(), false)?)?;
    let public = RsaPublic::parse(public.bytes)?;
    if section.n.is_empty() || !public.n.is_empty() {
        return Err(Failure::PkaTokenField);
    }
    let token = pka::assemble(
        Kind::External,
        &[&RsaPublic {
            n: section.n.clone(),
            ..public
        }
        .to_bytes()?],
    )?;
    if token.len() > capacity {
        return Err(Failure::KeyTokenLength);
    }
    Ok(Reply::outputs(vec![Param::Bytes(token)]))
}
