//! Symmetric keys under RSA keys: Symmetric_Key_Export (CSNDSYX), Symmetric_Key_Import
//! (CSNDSYI) and Symmetric_Key_Generate (CSNDSYG). An operational DES or fixed-length AES key
//! (a 64-byte internal token under the SYM or AES master key) is enciphered under an RSA
//! public key, such an enciphered key is recovered with the RSA private key into an internal
//! token under the master key, and a new random key is returned both ways at once. An AES or
//! HMAC key in a variable-length (X'05') token goes out with CSNDSYX PKOAEP2 or CKM-RAKW and
//! comes back with Symmetric_Key_Import2 (CSNDSYI2).
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
//! - IBM Docs "CCA for Linux", Symmetric Key Import2
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_syi2.html>: CKM_RSA_AES_KEY_WRAP
//!   import splits the input at the RSA key's length, recovers the temporary AES key with
//!   RSA-OAEP and unwraps the key with AES KWP, NIST SP 800-38F), its parameters
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndsyi2-parameters>: rule count
//!   2–4; algorithm AES | DES | HMAC, one required; AESKW | AESKWCV (DES only) | CKM-RAKW |
//!   PKOAEP2, one required; key-wrapping keywords for DES only) and usage notes
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndsyi2-usage-notes>: the PKOAEP2
//!   message is the SHA-256 hash of the token's associated data, a 2-byte key bit length and
//!   the key). CSNDSYX (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_syx.html>): "For
//!   CKM-RAKW the source key must be an AES internal variable-length symmetric key-token of
//!   key type CIPHER"; an RSA-enciphered key is "returned as an opaque data buffer or in an
//!   external variable-length symmetric key-token".
//! - opencryptoki `cca_specific.c` (CKM_RSA_AES_KEY_WRAP): CSNDSYX and CSNDSYI2 with `AES
//!   CKM-RAKW`, "CCA only supports AES-256 as temporary key size" and "only supports SHA-1 as
//!   hash algorithm and MGF"; the unwrapped key's length is the input's less the modulus and
//!   one KWP block; 8/760 "must be >= 2048 bit"; a 725-byte target buffer holding an AES
//!   CIPHER skeleton.
//! - Access control points (fact sheet §8): SYX AES 0130/0131, DES 0105/023E; SYI AES
//!   012E/012F, DES 0106/023D. softcca's card has no role checks for these yet.
//!
//! Parameter blocks (IBM's order; a pure length parameter is folded into its byte string):
//! - CSNDSYX `[Bytes source_key_identifier, Bytes RSA_public_key_identifier,
//!   Int RSA_enciphered_key_length]` → `[Bytes RSA_enciphered_key]` (with PKOAEP2 an external
//!   variable-length token, with CKM-RAKW the PKCS #11 blob).
//! - CSNDSYI2 `[Bytes enciphered_key, Bytes transport_key_identifier, Bytes key_name (0 or
//!   64), Int target_key_identifier_length, Bytes target_key_identifier]` → `[Bytes
//!   target_key_identifier]`. The target may be a longer buffer than the token in it (the
//!   token's length field decides).
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
//!   raw RSA and softcca does not hand-roll one. AESKW and AESKWCV (under an AES or DES
//!   key-encrypting key, not an RSA key) are 8/2, as is DES in CSNDSYI2. The HMAC algorithm
//!   with a fixed-length method is 8/2. SHA-224/384/512 with PKCSOAEP are 8/2; a hash keyword
//!   with PKCS-1.2 is 8/34 (as CSNDPKE/PKD).
//! - PKOAEP2 and CKM-RAKW (variable-length keys; IBM is silent where not cited above): the
//!   algorithm keyword must be AES or HMAC (DES, the default, 8/34) and match the token's
//!   (8/34). The source must be an internal variable-length token whose key-management field
//!   1 has XPRTUASY and not NOEX-RSA, and which is complete (8/39 otherwise: the RSA public
//!   key is not authenticated). The RSA key must be at least 2048 bits (8/760). CKM-RAKW: an
//!   AES CIPHER source only (8/47), no hash keyword (8/34); the ephemeral AES-256 key comes
//!   from the card's DRBG and is enciphered with RSA-OAEP SHA-1/MGF1-SHA-1. PKOAEP2: the
//!   OAEP hash is SHA-256 unless SHA-1/SHA-384/SHA-512 is named, and is recorded in the
//!   external token's wrapping-information hash byte (X'01', X'02', X'04', X'08'; unsure of
//!   IBM's values) with key-material state X'02', wrapping method X'03', KVP type X'02' and
//!   a zero KVP (IBM's KVP for an RSA key was not found), payload length = the modulus;
//!   the associated data hashed into the message is the external token's (with that
//!   payload length), which CSNDSYI2 recomputes. CSNDSYI2: with CKM-RAKW the target must be
//!   an internal variable-length token of the algorithm (a skeleton; a label or a null
//!   token 8/47), whose associated data the key takes; with PKOAEP2 the enciphered key must
//!   be an external PKOAEP2 token (8/47) whose associated data the key keeps, and the target
//!   is not read. A non-empty key_name (64 bytes; other lengths 8/72) replaces the token's.
//!   A CKM-RAKW input not longer than the modulus plus one KWP block is 8/72. Every failure
//!   to recover the key — OAEP, a temporary key that is not 32 bytes, KWP integrity, a
//!   hash or bit length that disagrees, a key length the algorithm has no key of (AES 16,
//!   24, 32 bytes; HMAC 10–256) — is 8/2054 (as CSNDSYI; opencryptoki reads 8/55 for a
//!   temporary key of the wrong size, which softcca folds into 8/2054). The result is
//!   wrapped under the current AES master key; the token must fit
//!   target_key_identifier_length (8/72).
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

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
};
use softcca_wire::Param;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::Class;
use crate::rules::{self, Element, Grammar, Group};
use crate::tokens::aes::AesToken;
use crate::tokens::des::DesToken;
use crate::tokens::var::{
    Algorithm as VarAlgorithm, KeyState, VarKey, VarToken, Wrapping, unwrap_var,
    usage as var_usage, wrap_var,
};
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
    if let Some(method) = VarMethod::of(chosen.get(1)) {
        return export_var(card, method, chosen.get(0), chosen.get(2), p);
    }
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
fn recover(
    card: &Card,
    rsa: &RsaKey,
    pad: Pad,
    sym: Sym,
    ciphertext: &[u8],
) -> Result<ClearKey, Failure> {
    // A PKCS-1.2 value of no key length (bad padding, a wrong key) becomes a random key of
    // the longest length (rsa::decipher_key: the TLS answer to Bleichenbacher).
    let (lengths, longest): (&[usize], usize) = match sym {
        Sym::Des => (&[8, 16, 24], 24),
        Sym::Aes => (&[16, 24, 32], 32),
    };
    let out = rsa::decipher_key(card, rsa, pad, ciphertext, lengths, longest)?;
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
    let key = recover(card, &rsa, pad, sym, ciphertext)?;
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

// ---------------------------------------------------------------------------------------
// Variable-length (X'05') keys under RSA keys: CSNDSYX and CSNDSYI2 with PKOAEP2 or
// CKM-RAKW.

/// The two RSA methods for variable-length tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VarMethod {
    /// RSAES-OAEP of IBM's message (SHA-256 of the associated data ‖ key bit length ‖ key),
    /// in an external variable-length token.
    Pkoaep2,
    /// PKCS #11 CKM_RSA_AES_KEY_WRAP: RSA-OAEP (SHA-1) of an ephemeral AES-256 key ‖ AES
    /// KWP of the key under it.
    Rakw,
}

impl VarMethod {
    fn of(keyword: Option<&str>) -> Option<VarMethod> {
        match keyword {
            Some("PKOAEP2") => Some(VarMethod::Pkoaep2),
            Some("CKM-RAKW") => Some(VarMethod::Rakw),
            _ => None,
        }
    }
}

/// The algorithm a rule array names for a variable-length token: AES or HMAC (DES, the
/// default, with a variable-length method: 8/34).
fn var_algorithm(keyword: Option<&str>) -> Result<VarAlgorithm, Failure> {
    match keyword {
        Some("AES") => Ok(VarAlgorithm::Aes),
        Some("HMAC") => Ok(VarAlgorithm::Hmac),
        _ => Err(Failure::KeywordCombination),
    }
}

/// PKOAEP2's OAEP hash and the wrapping-information hash byte that records it: SHA-1 X'01',
/// SHA-256 X'02' (the default), SHA-384 X'04', SHA-512 X'08'.
fn pkoaep2_hash(keyword: Option<&str>) -> Result<(Pad, u8), Failure> {
    match keyword {
        Some("SHA-1") => Ok((Pad::Oaep(&OAEP_SHA1_MGF1SHA1, 20), 0x01)),
        None | Some("SHA-256") => Ok((Pad::Oaep(&OAEP_SHA256_MGF1SHA256, 32), 0x02)),
        Some("SHA-384") => Ok((Pad::Oaep(&OAEP_SHA384_MGF1SHA384, 48), 0x04)),
        Some("SHA-512") => Ok((Pad::Oaep(&OAEP_SHA512_MGF1SHA512, 64), 0x08)),
        _ => Err(Failure::Keyword),
    }
}

fn pkoaep2_pad(hash_byte: u8) -> Result<Pad, Failure> {
    match hash_byte {
        0x01 => pkoaep2_hash(Some("SHA-1")),
        0x02 => pkoaep2_hash(Some("SHA-256")),
        0x04 => pkoaep2_hash(Some("SHA-384")),
        0x08 => pkoaep2_hash(Some("SHA-512")),
        _ => Err(Failure::KeyTokenInvalid),
    }
    .map(|(pad, _)| pad)
}

/// Whether a key length fits the algorithm: AES 16/24/32 bytes, HMAC 10–256 bytes (80–2048
/// bits).
fn var_len_fits(algorithm: VarAlgorithm, len: usize) -> bool {
    match algorithm {
        VarAlgorithm::Aes => matches!(len, 16 | 24 | 32),
        VarAlgorithm::Hmac => (10..=256).contains(&len),
    }
}

/// The modulus length in bytes of an RSA key; below 2048 bits the X'05' methods refuse it
/// (8/760).
fn modulus_len(rsa: &RsaKey) -> Result<usize, Failure> {
    let public = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&rsa.public_der()?)
        .map_err(|_| Failure::PkaTokenField)?;
    let n = public.key_size_bytes();
    if n < 256 {
        return Err(Failure::RsaKeyTooShort);
    }
    Ok(n)
}

/// IBM's PKOAEP2 message: SHA-256 of the associated data, the key bit length (2 bytes),
/// the key.
fn pkoaep2_message(token: &VarKey, key: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let bits = u16::try_from(key.len() * 8).map_err(|_| Failure::KeyLength)?;
    let mut m = Zeroizing::new(Vec::with_capacity(34 + key.len()));
    m.extend_from_slice(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &token.ad_bytes()).as_ref(),
    );
    m.extend_from_slice(&bits.to_be_bytes());
    m.extend_from_slice(key);
    Ok(m)
}

fn kek(key: &[u8]) -> Result<AesKek, Failure> {
    AesKek::new(&AES_256, key).map_err(|_| Failure::PkaDecryptDecode)
}

/// CSNDSYX with PKOAEP2 or CKM-RAKW: the key of an internal variable-length token.
fn export_var(
    card: &Card,
    method: VarMethod,
    algorithm: Option<&str>,
    hash: Option<&str>,
    p: Params,
) -> Result<Reply, Failure> {
    let algorithm = var_algorithm(algorithm)?;
    let (pad, hash_byte) = match method {
        VarMethod::Pkoaep2 => pkoaep2_hash(hash)?,
        VarMethod::Rakw if hash.is_some() => return Err(Failure::KeywordCombination),
        VarMethod::Rakw => (Pad::Oaep(&OAEP_SHA1_MGF1SHA1, 20), 0),
    };
    p.expect_len(3)?;
    let capacity = usize::try_from(p.int(2)?).map_err(|_| Failure::Length)?;
    let source = p.bytes(0)?;
    let token = match VarToken::parse(source)? {
        VarToken::Key(t) if t.internal && t.ad.algorithm == algorithm => t,
        VarToken::Key(_) => return Err(Failure::KeywordCombination),
        VarToken::Null => return Err(Failure::KeyTokenInvalid),
    };
    if method == VarMethod::Rakw && !token.is_aes_cipher() {
        return Err(Failure::KeyTokenInvalid);
    }
    let kmf1 = token.ad.kmf(0);
    if kmf1 & var_usage::XPRT_UASY == 0 || kmf1 & var_usage::NOEX_RSA != 0 || !token.complete() {
        return Err(Failure::ControlVector);
    }
    let (key, used) = card.with_master_keys(Class::Aes, |cur, old| unwrap_var(&token, cur, old))?;
    let rsa = card.rsa_key(p.bytes(1)?)?;
    let n = modulus_len(&rsa)?;
    let out = match method {
        VarMethod::Pkoaep2 => {
            // The external token first: the message hashes its associated data, whose
            // payload length is the modulus's (as the importer reads it).
            let mut external = VarKey {
                internal: false,
                wrapping: Wrapping {
                    state: KeyState::UnderKek,
                    kvp_type: 2,
                    kvp: [0; 16],
                    method: 3,
                    hash: hash_byte,
                    payload_version: 0,
                },
                ad: token.ad.clone(),
                payload_bits: u16::try_from(n * 8).map_err(|_| Failure::Length)?,
                payload: Zeroizing::new(Vec::new()),
            };
            let message = pkoaep2_message(&external, key.expose())?;
            external.payload = Zeroizing::new(rsa::encipher(&rsa, pad, &message, n)?);
            external.to_bytes()
        }
        VarMethod::Rakw => {
            let mut ephemeral = Zeroizing::new([0u8; 32]);
            card.random(&mut ephemeral[..])?;
            let mut out = rsa::encipher(&rsa, pad, &ephemeral[..], n)?;
            let mut wrapped = vec![0u8; key.expose().len().div_ceil(8) * 8 + 8];
            let w = kek(&ephemeral[..])?
                .wrap_with_padding(key.expose(), &mut wrapped)
                .map_err(|_| Failure::KeyLength)?
                .len();
            wrapped.truncate(w);
            out.extend_from_slice(&wrapped);
            out
        }
    };
    if capacity < out.len() {
        return Err(Failure::Length);
    }
    Ok(Reply {
        notice: either(used.and_then(notice_for), rsa.notice()),
        outputs: vec![Param::Bytes(out)],
        ..Reply::default()
    })
}

const SYI2: Grammar = Grammar {
    min: 2,
    max: 4,
    groups: &[
        Group::required(&["AES", "DES", "HMAC"]),
        Group::required(&["AESKW", "AESKWCV", "CKM-RAKW", "PKOAEP2"]),
        Group::optional_none(&["USECONFG", "WRAP-ECB", "WRAP-ENH", "WRAPENH2", "WRAPENH3"]),
        Group::optional_none(&["ENH-ONLY"]),
    ],
};

/// A target buffer's token: the buffer may be longer than the token its length field (bytes
/// 2–3) declares, as a caller's 725-byte buffer is.
fn declared(buffer: &[u8]) -> &[u8] {
    match buffer.get(2..4) {
        Some(&[h, l]) => {
            let n = usize::from(u16::from_be_bytes([h, l]));
            if n >= 8 && n < buffer.len() {
                &buffer[..n]
            } else {
                buffer
            }
        }
        _ => buffer,
    }
}

/// Symmetric_Key_Import2 (CSNDSYI2) with PKOAEP2 or CKM-RAKW: an AES or HMAC key enciphered
/// under an RSA public key recovered into an internal variable-length token.
pub(crate) fn csndsyi2(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&SYI2, rule_array)?;
    if chosen.get(0) == Some("DES") {
        // DES targets (AESKWCV, the wrapping keywords) are not implemented.
        return Err(Failure::NotSupported);
    }
    if chosen.get(2).is_some() || chosen.get(3).is_some() {
        return Err(Failure::KeywordCombination);
    }
    let algorithm = var_algorithm(chosen.get(0))?;
    let method = match VarMethod::of(chosen.get(1)) {
        Some(m) => m,
        // AESKW: an AES IMPORTER, not an RSA key; not implemented.
        None => return Err(Failure::NotSupported),
    };
    p.expect_len(5)?;
    let enciphered = p.bytes(0)?;
    let name = p.bytes(2)?;
    if !matches!(name.len(), 0 | 64) {
        return Err(Failure::Length);
    }
    let capacity = usize::try_from(p.int(3)?).map_err(|_| Failure::Length)?;
    let target = declared(p.bytes(4)?);
    // Everything but the RSA decryption is judged first, so the codes reveal nothing about
    // the enciphered key.
    let (mut template, ciphertext_and_rest) = match method {
        VarMethod::Pkoaep2 => {
            let source = match VarToken::parse(enciphered)? {
                VarToken::Key(t)
                    if !t.internal
                        && t.wrapping.state == KeyState::UnderKek
                        && t.wrapping.method == 3 =>
                {
                    t
                }
                _ => return Err(Failure::KeyTokenInvalid),
            };
            if source.ad.algorithm != algorithm {
                return Err(Failure::KeywordCombination);
            }
            (source, None)
        }
        VarMethod::Rakw => {
            if is_label(target) {
                return Err(Failure::KeyTokenInvalid);
            }
            let template = match VarToken::parse(target)? {
                VarToken::Key(t) if t.internal && t.ad.algorithm == algorithm => t,
                VarToken::Key(_) => return Err(Failure::KeywordCombination),
                VarToken::Null => return Err(Failure::KeyTokenInvalid),
            };
            (template, Some(enciphered))
        }
    };
    let rsa = card.rsa_key(p.bytes(1)?)?;
    let n = modulus_len(&rsa)?;
    let key = match ciphertext_and_rest {
        None => {
            let pad = pkoaep2_pad(template.wrapping.hash)?;
            let m = rsa::decipher(&rsa, pad, &template.payload, usize::MAX)?;
            // The message: SHA-256 of the AD ‖ key bit length ‖ key. Every mismatch is the
            // one decoding code, as a bad padding is.
            let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &template.ad_bytes());
            let key = m.get(34..).ok_or(Failure::PkaDecryptDecode)?;
            let bits = m
                .get(32..34)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            if m.get(..32) != Some(hash.as_ref())
                || bits != Some(key.len() * 8)
                || !var_len_fits(algorithm, key.len())
            {
                return Err(Failure::PkaDecryptDecode);
            }
            ClearKey::new(key)
        }
        Some(input) => {
            if input.len() <= n + 8 {
                return Err(Failure::Length);
            }
            let (head, wrapped) = input.split_at(n);
            let ephemeral =
                rsa::decipher(&rsa, Pad::Oaep(&OAEP_SHA1_MGF1SHA1, 20), head, usize::MAX)?;
            if ephemeral.len() != 32 {
                return Err(Failure::PkaDecryptDecode);
            }
            let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
            let len = kek(&ephemeral)?
                .unwrap_with_padding(wrapped, &mut out)
                .map_err(|_| Failure::PkaDecryptDecode)?
                .len();
            if !var_len_fits(algorithm, len) {
                return Err(Failure::PkaDecryptDecode);
            }
            ClearKey::new(&out[..len])
        }
    };
    if !name.is_empty() {
        template.ad.key_name = name.to_vec();
    }
    let token =
        card.with_current_master_key(Class::Aes, |mk| wrap_var(mk, &template, key.expose()))?;
    let bytes = token.to_bytes();
    if capacity < bytes.len() {
        return Err(Failure::Length);
    }
    Ok(Reply {
        notice: rsa.used.and_then(notice_for),
        outputs: vec![Param::Bytes(bytes)],
        ..Reply::default()
    })
}
