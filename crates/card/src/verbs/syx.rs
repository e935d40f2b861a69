//! Symmetric keys under RSA keys: Symmetric_Key_Export (CSNDSYX), Symmetric_Key_Import
//! (CSNDSYI) and Symmetric_Key_Generate (CSNDSYG). An operational DES or fixed-length AES key
//! (a 64-byte internal token under the SYM or AES master key) is enciphered under an RSA
//! public key, such an enciphered key is recovered with the RSA private key into an internal
//! token under the master key, and a new random key is returned both ways at once.
//! Symmetric_Key_Import2 (CSNDSYI2) is not implemented (it is not dispatched: the card answers
//! it as an unknown verb).
//!
//! Sources:
//! - IBM Docs "CCA for Linux", Symmetric Key Export
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_syx.html>: the source key "must be a
//!   complete symmetric key" in a fixed-length or variable-length token under a master key;
//!   the RSA-enciphered key is "returned as an opaque data buffer" that Symmetric Key Import
//!   recovers with the RSA private key) and its parameters
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_syxparameters.html>: rule count 1–3;
//!   algorithm AES | DES (default) | HMAC; one key-formatting method required — AESKW,
//!   AESKWCV, PKCSOAEP, PKCS-1.2, ZERO-PAD, PKOAEP2, CKM-RAKW; for a variable-length source
//!   "only the CKM_RAKW, PKOAEP2, and AESKW key formatting methods are supported").
//! - IBM Docs "CCA for Linux", CSNDSYI parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndsyi-parameters>: rule count 1–5;
//!   algorithm AES | DES (default); recovery method PKA92 | PKCSOAEP (SHA-1 default, SHA-256)
//!   | PKCS-1.2 | ZERO-PAD, one required; key-wrapping method USECONFG (default) | WRAP-ENH |
//!   WRAP-ECB, "ignored for AES keys").
//! - CCA 2.54 Basic Services, PKA_Symmetric_Key_Export
//!   (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=229>: "The associated
//!   control-vector must permit the key to be exported") and PKA_Symmetric_Key_Import
//!   (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=237>: "A key-usage flag bit
//!   … must be on to permit use of the private key in the decryption of a symmetric key").
//! - IBM Docs "CCA for Linux", CSNDSXD parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndsxd-parameters>): for a CCA DES
//!   key "bit 17 of the control vector must be equal to '1'b (XPORT-OK)".
//! - IBM Docs "CCA for Linux", CSNDSYG parameters
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_sygparameters.html>: rule count 1–7;
//!   algorithm AES | DES (default); key-formatting method PKA92 | PKCSOAEP (SHA-1 default,
//!   SHA-256) | PKCS-1.2 | ZERO-PAD, one required; a key-length group whose SINGLE-R is for
//!   PKA92) and CCA 2.54 PKA_Symmetric_Key_Generate
//!   (<http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=233>: parameters
//!   key_encrypting_key_identifier (64 bytes), RSA_public_key_identifier,
//!   local_enciphered_key_identifier, RSA_enciphered_key).
//! - Access control points (fact sheet §8): SYX AES 0130/0131, DES 0105/023E; SYI AES
//!   012E/012F, DES 0106/023D. softcca's card has no role checks for these yet.
//!
//! Parameter blocks (IBM's order; a pure length parameter is folded into its byte string):
//! - CSNDSYX `[Bytes source_key_identifier, Bytes RSA_public_key_identifier,
//!   Int RSA_enciphered_key_length]` → `[Bytes RSA_enciphered_key]`.
//! - CSNDSYI `[Bytes RSA_enciphered_key, Bytes RSA_private_key_identifier,
//!   Bytes target_key_identifier]` → `[Bytes target_key_identifier (64)]`. The input target is
//!   a null token or an internal token of the algorithm (IBM's In/Output parameter, 64 bytes
//!   for these tokens, so its length parameter is the string's length).
//! - CSNDSYG `[Bytes key_encrypting_key_identifier, Bytes RSA_public_key_identifier,
//!   Bytes local_enciphered_key_identifier, Int RSA_enciphered_key_length]` →
//!   `[Bytes local_enciphered_key_identifier (64), Bytes RSA_enciphered_key]`.
//!
//! Choices where IBM is silent, or where softcca does less than IBM (each with its code):
//! - Methods: PKCSOAEP (SHA-1 default, SHA-256) and PKCS-1.2, through the same aws-lc-rs
//!   calls as CSNDPKE/CSNDPKD ([`super::rsa`]). ZERO-PAD and PKA92 are 8/2: aws-lc-rs has no
//!   raw RSA and softcca does not hand-roll one. PKOAEP2, AESKW, AESKWCV, CKM-RAKW and the
//!   HMAC algorithm (CSNDSYX) are 8/2. SHA-224/384/512 are 8/2; a hash keyword with
//!   PKCS-1.2 is 8/34 (as CSNDPKE/PKD).
//! - Every failure to recover the key in CSNDSYI — bad padding, wrong RSA key, and a
//!   recovered value that is not a key length of the algorithm (8, 16, 24 bytes for DES; 16,
//!   24, 32 for AES) — is the one code 8/2054 of CSNDPKD, decided without looking at why:
//!   a distinct code for a well-padded value of the wrong length would be a padding oracle.
//!   For the same reason the parity of a recovered DES key is not reported (no 0/2): the
//!   key is enciphered as recovered. IBM is silent on both.
//! - Export control: a DES key whose CV bit 17 (XPORT-OK) is off is 8/39, the code this
//!   emulation gives for a key used against its control vector. A DES token with a zero CV
//!   (version X'01' DATA) and every fixed-length AES token (they carry no export control)
//!   export. A variable-length (X'05') source is 8/2 (IBM allows only PKOAEP2, AESKW and
//!   CKM-RAKW for it, none implemented here).
//! - The RSA key of CSNDSYX may be a public token or a private token (its public part is
//!   used). The private key of CSNDSYI must be a private token (8/47 for a public one); a
//!   SIG-ONLY key is 8/39, as CSNDPKD.
//! - CSNDSYI target: a null token gives a DATA token (DES: IBM's default DATA CV for the
//!   recovered key's length; AES: a version X'04' token); an internal DES token gives its
//!   control vector to the new token (its length form must match the recovered key, else
//!   8/47); an internal AES token is replaced. Another token is the parser's code, an
//!   external DES token 8/47. The wrapping keywords: USECONFG and WRAP-ECB (softcca's only
//!   DES wrapping); WRAP-ENH, WRAPENH2, WRAPENH3, ENH-ONLY are 8/2 for DES and ignored for
//!   AES, as IBM says for AES.
//! - RSA_enciphered_key_length shorter than the RSA modulus: 8/72, before anything is
//!   enciphered. The enciphered key must be as long as the modulus (8/72 otherwise).
//! - A key under the OLD master key (symmetric or APKA) works and the answer is 0/10001.
//! - CSNDSYG (IBM's key-length keyword list for DATA keys was not retrieved whole; unsure):
//!   DES SINGLE (default), DOUBLE, TRIPLE; AES KEYLN16, KEYLN24, KEYLN32 (default). A length
//!   keyword of the other algorithm is 8/34; SINGLE-R (PKA92 only) is 8/2. The local key
//!   always goes under the current master key: key_encrypting_key_identifier must be empty
//!   or a null token (64 zero bytes), anything else is 8/2 (an external local key under an
//!   EXPORTER is not implemented). A generated DES key has odd parity. The target token
//!   follows CSNDSYI's rules. PKA92 and ZERO-PAD are 8/2 as above.

use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256};
use softcca_wire::Param;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::Class;
use crate::rules::{self, Element, Grammar, Group};
use crate::tokens::aes::AesToken;
use crate::tokens::des::DesToken;
use crate::tokens::var::VarToken;
use crate::tokens::{ClearKey, KeyLength, cv, wrap};
use crate::verbs::keys::{is_label, notice_for};
use crate::verbs::rsa::{self, Pad, RsaKey};
use crate::verbs::{Params, Reply};

const HASHES: &[&str] = &["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"];

const SYX: Grammar = Grammar {
    min: 1,
    max: 3,
    groups: &[
        Group::optional(&["AES", "DES", "HMAC"], "DES"),
        Group::required(&[
            "AESKW", "AESKWCV", "PKCSOAEP", "PKCS-1.2", "ZERO-PAD", "PKOAEP2", "CKM-RAKW",
        ]),
        Group::optional_none(HASHES),
    ],
};

const SYI: Grammar = Grammar {
    min: 1,
    max: 5,
    groups: &[
        Group::optional(&["AES", "DES"], "DES"),
        Group::required(&["PKA92", "PKCSOAEP", "PKCS-1.2", "ZERO-PAD"]),
        Group::optional(
            &["USECONFG", "WRAP-ECB", "WRAP-ENH", "WRAPENH2", "WRAPENH3"],
            "USECONFG",
        ),
        Group::optional_none(&["ENH-ONLY"]),
        Group::optional_none(HASHES),
    ],
};

/// The symmetric algorithm a rule array names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Des,
    Aes,
}

fn sym_of(keyword: Option<&str>) -> Result<Sym, Failure> {
    match keyword {
        Some("AES") => Ok(Sym::Aes),
        Some("DES") | None => Ok(Sym::Des),
        _ => Err(Failure::NotSupported),
    }
}

fn pad_of(method: Option<&str>, hash: Option<&str>) -> Result<Pad, Failure> {
    match (method, hash) {
        (Some("PKCS-1.2"), None) => Ok(Pad::Pkcs1),
        (Some("PKCS-1.2" | "ZERO-PAD" | "PKA92"), Some(_)) => Err(Failure::KeywordCombination),
        (Some("PKCSOAEP"), None | Some("SHA-1")) => Ok(Pad::Oaep(&OAEP_SHA1_MGF1SHA1, 20)),
        (Some("PKCSOAEP"), Some("SHA-256")) => Ok(Pad::Oaep(&OAEP_SHA256_MGF1SHA256, 32)),
        _ => Err(Failure::NotSupported),
    }
}

/// Two notices, the first that is present (they are the same notice in practice: 0/10001).
fn either(a: Option<Notice>, b: Option<Notice>) -> Option<Notice> {
    a.or(b)
}

/// The clear key of an operational source token, with the notice its master key gives.
fn source_key(
    card: &Card,
    sym: Sym,
    identifier: &[u8],
) -> Result<(ClearKey, Option<Notice>), Failure> {
    match sym {
        Sym::Des => {
            let k = card.des_key(identifier)?;
            let cv_left = k.token.fields.cv_left;
            let zero_cv = cv_left == [0; 8] && k.token.fields.cv_right == [0; 8];
            // CV bit 17, XPORT-OK (bit 0 is the high-order bit of byte 0).
            if !zero_cv && cv_left[2] & 0x40 == 0 {
                return Err(Failure::ControlVector);
            }
            let len = k.token.fields.length.bytes();
            let key = ClearKey::new(k.key.expose().get(..len).ok_or(Failure::KeyTokenInvalid)?);
            Ok((key, notice_for(k.used)))
        }
        Sym::Aes => {
            if identifier.get(4) == Some(&0x05)
                && matches!(VarToken::parse(identifier), Ok(VarToken::Key(_)))
            {
                return Err(Failure::NotSupported);
            }
            let k = card.aes_key(identifier)?;
            Ok((k.key, k.used.and_then(notice_for)))
        }
    }
}

pub(crate) fn csndsyx(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&SYX, rule_array)?;
    let sym = sym_of(chosen.get(0))?;
    let pad = pad_of(chosen.get(1), chosen.get(2))?;
    p.expect_len(3)?;
    let capacity = usize::try_from(p.int(2)?).map_err(|_| Failure::Length)?;
    let (key, sym_notice) = source_key(card, sym, p.bytes(0)?)?;
    let rsa = card.rsa_key(p.bytes(1)?)?;
    let out = rsa::encipher(&rsa, pad, key.expose(), capacity)?;
    Ok(Reply {
        notice: either(sym_notice, rsa.notice()),
        outputs: vec![Param::Bytes(out)],
        ..Reply::default()
    })
}

/// Recovers the key from `ciphertext`; every failure, a recovered value of a length the
/// algorithm has no key of included, is the one code 8/2054.
fn recover(rsa: &RsaKey, pad: Pad, sym: Sym, ciphertext: &[u8]) -> Result<ClearKey, Failure> {
    let out = rsa::decipher(rsa, pad, ciphertext, usize::MAX)?;
    let fits = match sym {
        Sym::Des => matches!(out.len(), 8 | 16 | 24),
        Sym::Aes => matches!(out.len(), 16 | 24 | 32),
    };
    if !fits {
        return Err(Failure::PkaDecryptDecode);
    }
    Ok(ClearKey::new(&out))
}

/// A control vector's left and right halves.
type Cvs = ([u8; 8], [u8; 8]);

/// The control vector a target token gives the new key: `None` for a null token or an AES
/// token (the parser's code for another token; an external DES token is 8/47).
fn target_cv(sym: Sym, target: &[u8]) -> Result<Option<Cvs>, Failure> {
    match sym {
        Sym::Des => match DesToken::parse(target)? {
            DesToken::Null => Ok(None),
            DesToken::Internal(t) => Ok(Some((t.fields.cv_left, t.fields.cv_right))),
            DesToken::External(_) => Err(Failure::KeyTokenInvalid),
        },
        Sym::Aes => AesToken::parse(target).map(|_| None),
    }
}

/// `key` enciphered under the current master key into an internal token: DES with the
/// target's CV or IBM's default DATA CV for its length, AES as a version X'04' token.
fn internal_token(
    card: &Card,
    sym: Sym,
    key: &ClearKey,
    target_cv: Option<Cvs>,
) -> Result<[u8; 64], Failure> {
    match sym {
        Sym::Des => {
            let length = match key.expose().len() {
                8 => KeyLength::Single,
                16 => KeyLength::Double,
                _ => KeyLength::Triple,
            };
            let (cv_left, cv_right) = match target_cv {
                Some(cvs) => cvs,
                None => cv::default_cv("DATA", length).ok_or(Failure::KeyTokenInvalid)?,
            };
            card.with_current_master_key(Class::Sym, |mk| {
                let internal = wrap::wrap_des(mk, key.expose(), cv_left, cv_right, length)?;
                Ok(DesToken::Internal(internal).to_bytes())
            })
        }
        Sym::Aes => card.with_current_master_key(Class::Aes, |mk| {
            let internal = wrap::wrap_aes(mk, key.expose())?;
            Ok(AesToken::Internal(internal).to_bytes())
        }),
    }
}

pub(crate) fn csndsyi(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&SYI, rule_array)?;
    let sym = sym_of(chosen.get(0))?;
    let pad = pad_of(chosen.get(1), chosen.get(4))?;
    let wrapping = chosen.get(2).unwrap_or("USECONFG");
    if sym == Sym::Des && (chosen.get(3).is_some() || !matches!(wrapping, "USECONFG" | "WRAP-ECB"))
    {
        return Err(Failure::NotSupported);
    }
    p.expect_len(3)?;
    let ciphertext = p.bytes(0)?;
    let target = p.bytes(2)?;
    if is_label(target) {
        return Err(Failure::KeyTokenInvalid);
    }
    // The target is judged before the RSA key is used, so its codes reveal nothing about
    // the enciphered key.
    let target_cv = target_cv(sym, target)?;
    let rsa = card.rsa_key(p.bytes(1)?)?;
    let key = recover(&rsa, pad, sym, ciphertext)?;
    let token = internal_token(card, sym, &key, target_cv)?;
    Ok(Reply {
        notice: rsa.used.and_then(notice_for),
        outputs: vec![Param::Bytes(token.to_vec())],
        ..Reply::default()
    })
}

const SYG: Grammar = Grammar {
    min: 1,
    max: 7,
    groups: &[
        Group::optional(&["AES", "DES"], "DES"),
        Group::required(&["PKA92", "PKCSOAEP", "PKCS-1.2", "ZERO-PAD"]),
        Group::optional_none(&[
            "SINGLE", "SINGLE-R", "DOUBLE", "TRIPLE", "KEYLN16", "KEYLN24", "KEYLN32",
        ]),
        Group::optional(
            &["USECONFG", "WRAP-ECB", "WRAP-ENH", "WRAPENH2", "WRAPENH3"],
            "USECONFG",
        ),
        Group::optional_none(&["ENH-ONLY"]),
        Group::optional_none(HASHES),
    ],
};

/// The generated key's length in bytes: DES SINGLE (default), DOUBLE, TRIPLE; AES KEYLN16,
/// KEYLN24, KEYLN32 (default). A length keyword of the other algorithm is 8/34; SINGLE-R
/// (a PKA92 key-encrypting key) is 8/2.
fn generated_len(sym: Sym, keyword: Option<&str>) -> Result<usize, Failure> {
    match (sym, keyword) {
        (Sym::Des, None | Some("SINGLE")) => Ok(8),
        (Sym::Des, Some("DOUBLE")) => Ok(16),
        (Sym::Des, Some("TRIPLE")) => Ok(24),
        (Sym::Des, Some("SINGLE-R")) => Err(Failure::NotSupported),
        (Sym::Aes, Some("KEYLN16")) => Ok(16),
        (Sym::Aes, Some("KEYLN24")) => Ok(24),
        (Sym::Aes, None | Some("KEYLN32")) => Ok(32),
        _ => Err(Failure::KeywordCombination),
    }
}

/// Symmetric_Key_Generate (CSNDSYG): a random DATA key, returned both enciphered under the
/// master key (an internal token) and under an RSA public key.
pub(crate) fn csndsyg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&SYG, rule_array)?;
    let sym = sym_of(chosen.get(0))?;
    let pad = pad_of(chosen.get(1), chosen.get(5))?;
    let len = generated_len(sym, chosen.get(2))?;
    let wrapping = chosen.get(3).unwrap_or("USECONFG");
    if sym == Sym::Des && (chosen.get(4).is_some() || !matches!(wrapping, "USECONFG" | "WRAP-ECB"))
    {
        return Err(Failure::NotSupported);
    }
    p.expect_len(4)?;
    // The local key goes under the master key; a key-encrypting key (an external local key)
    // is not supported.
    let kek = p.bytes(0)?;
    if !(kek.is_empty() || kek.iter().all(|&b| b == 0)) {
        return Err(Failure::NotSupported);
    }
    let target = p.bytes(2)?;
    if is_label(target) {
        return Err(Failure::KeyTokenInvalid);
    }
    let target_cv = target_cv(sym, target)?;
    let capacity = usize::try_from(p.int(3)?).map_err(|_| Failure::Length)?;
    let rsa = card.rsa_key(p.bytes(1)?)?;
    let mut clear = Zeroizing::new(vec![0u8; len]);
    card.random(&mut clear)?;
    if sym == Sym::Des {
        for b in clear.iter_mut() {
            if b.count_ones() % 2 == 0 {
                *b ^= 1;
            }
        }
    }
    let key = ClearKey::new(&clear);
    let enciphered = rsa::encipher(&rsa, pad, key.expose(), capacity)?;
    let token = internal_token(card, sym, &key, target_cv)?;
    Ok(Reply {
        notice: rsa.notice(),
        outputs: vec![Param::Bytes(token.to_vec()), Param::Bytes(enciphered)],
        ..Reply::default()
    })
}
