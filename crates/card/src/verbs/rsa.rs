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
//!   an encrypted or internal X'08', and the sections X'05', X'06' are 8/2.
//! - RSA-PRIV builds IBM's external clear 1024-bit modulus-exponent section X'02' (IBM Docs
//!   "CCA for Linux", "RSA private key token, 1024-bit Modulus-Exponent",
//!   lxcc/wskc_r_rsamee_intext.html: 364 bytes, d at 108 and n at 236 in 128-byte fields;
//!   [`crate::tokens::pka_rsa::ClearMe::to_x02_bytes`]) from the modulus-exponent key value
//!   (n, e, d; the fact sheet's RSA ME structure). The modulus must be 512 to 1024 bits
//!   (IBM: "n = pq … 1 < n < 2¹⁰²⁴"; CCA 2.54 PKA_Key_Token_Build: "specific formats
//!   restricted to 1024 bits maximum"): outside, 8/770 — IBM's reason code for this case
//!   was not retrieved; 8/770 is the code of a bad key-value structure. softcca computes
//!   the SHA-1 hash at 4 (offset 28 to the section end) and accepts a clear section whose
//!   hash is that or all zeros (IBM is silent on a clear key's hash; any other value is
//!   8/770); the 24-byte confounder of a clear key is zero (IBM is silent). Such a token
//!   signs and decrypts as it is (the same engines as X'09', below: e = 3 is 8/770), CSNDPKX
//!   extracts its public token, and CSNDPKI imports it as the internal X'30' (RSA-AESM), as
//!   for X'09': softcca does not build the internal X'06' (its d is under a DES OPK under the
//!   ASYM master key, which softcca does not have). An encrypted X'02' (format X'82') and
//!   an internal X'06' are 8/2; an X'02' under an internal header is 8/770.
//! - An RSA-PRIV key-value structure without n and d builds an X'02' skeleton: IBM's fixed
//!   364-byte layout with the d and n fields zero (IBM does not show a skeleton section;
//!   n or d alone is 8/770). CSNDPKG takes it (CCA 2.54 PKA_Key_Generate: "The verb will
//!   return a 'section X'06'' private-key token format when you request a
//!   modulus-exponent internal key even though you have specified a type X'02' skeleton
//!   token"): MASTER answers the internal X'30' softcca keeps in place of X'06', CLEAR the
//!   clear external X'02' (d taken from the generated key). CLEAR with e = 3 is 8/2 (the
//!   key would be unusable: p and q are not recovered for e = 3); a random exponent below
//!   2¹⁶ + 1 (probability about 2⁻¹⁶) would give a clear X'02' that answers 8/770 when used.
//! - RSAMEVAR builds the external clear X'09' section from a modulus-exponent key value
//!   (n, e, d; [`crate::tokens::pka_rsa::ClearMe`]); such a token signs and decrypts as it
//!   is, and CSNDPKI turns it into an internal X'30' (RSA-AESM) token: IBM's X'09' page says
//!   "Currently, only the external form of the token will be used", and CSNDPKG does not
//!   take an internal X'09', so the AES modulus-exponent form is the internal one softcca
//!   keeps. An encrypted (X'82') or internal (X'02') X'09' is 8/2; an RSAMEVAR skeleton is
//!   8/2 (IBM: CSNDPKG MASTER "is not supported if a skeleton token with a X'09' section is
//!   provided"). The primes are recovered from n, e, d by RustCrypto `rsa` (NIST SP 800-56B
//!   C.2), which it does for 2¹⁶ < e < 2²⁵⁶: a modulus-exponent key with e = 3 is 8/770.
//! - The CRT key value (IBM's structure: n, e, p, q, dp, dq, U; reserved field at offset 6)
//!   carries no d, which both engines need: softcca computes d = e⁻¹ mod (p − 1)(q − 1) with
//!   crypto-bigint (constant-time inversion). softcca also reads the reserved field at
//!   offset 6 as the length of a d that follows U (0 in IBM's structure). A key value that
//!   aws-lc-rs refuses (below 2048 bits) is built by RustCrypto `rsa` 0.10, which must find
//!   the same dp, dq and U (8/770 otherwise). An RSA-AESM key value (n, e, d) is built
//!   the same way as RSAMEVAR's (clear X'30').
//! - The engines ([`super::rsa_raw::RsaPrivate`]): aws-lc-rs for a key it loads (2048–8192
//!   bits), RustCrypto `rsa` 0.10 for the others (512–2047 bits); RustCrypto also for every
//!   PKCS-1.2 decryption (implicit rejection, below) and for PSS with a salt length other
//!   than the hash length. A verification uses aws-lc-rs for 2048 bits and more.
//! - The key-value structure's lengths must agree with each other and fit in the bytes given
//!   (8/770 otherwise); bytes after the structure are ignored, because opencryptoki gives its
//!   whole 8000-byte buffer as the structure's length and real cards accept that. private_key_name must be empty or 64 bytes; the other
//!   reserved/optional strings of CSNDPKB must be empty (8/72).
//! - Key generation (IBM Docs "CCA for Linux", PKA Key Generate
//!   <https://www.ibm.com/docs/en/linux-on-systems?topic=keys-pka-key-generate-csndpkg>: "The
//!   CRT modulus is between 512 and 8192. The modulus for the variable-length-modulus-exponent
//!   form is between 512 and 8192"): aws-lc-rs generates 2048, 3072, 4096 and 8192-bit keys
//!   with e = 65537; every other size from 512 to 4096 bits (any bit length, not only
//!   multiples of 8 or 64 — IBM states no step), and e = 3 and IBM's random exponent (a
//!   skeleton whose e is null-length or zero; CCA 2.54 Basic Services, PKA_Key_Token_Build
//!   key-values structure) are generated by RustCrypto `rsa` 0.10 ([`super::rsa_gen`]); the
//!   random exponent is an odd 32-bit value (IBM is silent on its length; RustCrypto `rsa`
//!   caps e at 2³³ − 1). Other exponents, sizes above 4096 bits other than 8192, and 8192
//!   bits with e ≠ 65537 are 8/2 (RustCrypto's generation there takes minutes).
//!   XPORT, RETAIN and CLONE are 8/2. Regeneration data (0 or 8–256 bytes, 8/72 otherwise)
//!   makes RustCrypto generate from a Hash_DRBG instance seeded with it (sizes up to 4096
//!   bits; the random exponent drawn from it too): the same data, size and exponent give the
//!   same key on any card (IBM is silent on the derivation; [`super::rsa_gen`] documents
//!   softcca's). Every
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
//! - Signatures (IBM Docs "CCA for Linux", "Formatting hashes and keys in public-key
//!   cryptography", "PKCS #1 hash formats" and "ANSI X9.31 hash format"): PKCS-1.1 and
//!   PKCS-PSS with SHA-1, SHA-224, SHA-256, SHA-384 and SHA-512 (aws-lc-rs for SHA-256/384/512
//!   with a key it loads, RustCrypto `rsa` 0.10 for the rest). PKCS-1.1 takes the bare hash
//!   or the DER DigestInfo ‖ hash (opencryptoki sends the latter for CKM_RSA_PKCS).
//!   PKCS-PSS takes the salt length as opencryptoki sends it (4 bytes big-endian before the
//!   hash); a salt as long as the hash is aws-lc-rs's, any other length RustCrypto's; a salt
//!   too long for the modulus is 8/72 (IBM is silent). PKCS-1.0 (block type 00: X'00' ‖
//!   X'00' ‖ zeros ‖ X'00' ‖ D, D the caller's DigestInfo ‖ hash with HASH, built by the
//!   card with MESSAGE; D at most k − 11 bytes, else 8/72), X9.31 (X'6B' ‖ X'BB'… ‖ X'BA' ‖
//!   hash ‖ specifier ‖ X'CC', specifiers X'33' SHA-1, X'34' SHA-256, X'36' SHA-384, X'35'
//!   SHA-512 — SHA-224 has none: 8/72; a modulus that is not a multiple of 8 bits: 8/72, as
//!   IBM requires; the signature is min(s, n − s) as ANSI X9.31 defines and verification
//!   accepts s^e equal to the block or to n − block) and ZERO-PAD (the data right-aligned
//!   in zeros; at most k bytes and below n, else 8/72 — IBM is silent on a value not below
//!   n) are formatted here and signed by the raw RustCrypto private operation (blinded,
//!   with its fault check), verified by the raw public operation (ISO-9796: below). A hash
//!   whose length fits no method, or another method than the keyword names, is 8/72. A
//!   signature of the wrong length does not verify (4/429).
//!   signature_field_length shorter than the modulus: 8/72.
//! - ISO-9796, IBM's default formatting keyword (CSNDDSG parameters: "Calculate the digital
//!   signature on the data according to ISO-9796-1. Any hash method is allowed"; CSNDDSG
//!   and CSNDDSV usage notes
//!   <https://www.ibm.com/docs/en/linux-on-systems?topic=csnddsg-usage-notes>,
//!   <https://www.ibm.com/docs/en/linux-on-systems?topic=csnddsv-usage-notes>: the hash at
//!   most "one-half of the number of bytes required to contain the modulus"; CSNDDSG
//!   restrictions: data_length in bytes, not bits; "Formatting hashes and keys in
//!   public-key cryptography": "The ISO 9796-1 method can be found in the ISO standard";
//!   CCA 2.54 Basic Services p=140/143 say the same): ISO/IEC 9796-1 (first published as
//!   ISO/IEC 9796:1991) — the message extended cyclically to t = ⌈(k_s − 1)/16⌉ bytes, each
//!   byte paired with its shadow (the nibble permutation Π), the padding indicator r XORed
//!   into the pair of the message's first byte, truncated to k_s = n_bits − 1 bits with the
//!   top bit forced to 1, the last nibble forced to 6 — raw private operation, signature
//!   min(s, n − s) (the standard's rule for an odd exponent); see [`iso9796_block`].
//!   Checked against the standard's Annex examples (as Bouncy Castle's ISO9796Test
//!   reproduces them). softcca's choices: the data are whole bytes, so r = 1 always (IBM's
//!   restriction); with HASH any data from 1 byte up to the limit is signed as given (IBM:
//!   "any hash method"), and a hash-method keyword with HASH must match the data length
//!   (8/72), with MESSAGE the card hashes (a method keyword is then required, 8/34 as for
//!   the other formats); the length limit is IBM's (z ≤ ⌊modulus bytes / 2⌋) and also the
//!   standard's 16z ≤ k_s + 3, which is one byte stricter when n_bits mod 16 is 9 … 13
//!   (e.g. 1017 bits: 63 bytes where IBM's text alone would allow 64 — IBM is silent on
//!   such sizes); empty data and longer data are 8/72, at CSNDDSV too (IBM's usage note
//!   holds for both verbs; softcca answers the length code there rather than 4/429).
//!   Verification recovers IR' = Σ^e mod n (or n − IR') and accepts when it equals the
//!   block rebuilt from the caller's hash: the standard's opening (IR' ≡ 6 mod 16, the
//!   redundancy checks, the recovered message) and the comparison with the caller's hash at
//!   once, since the formatting is injective. A signature of the wrong length, not below n,
//!   or of other data: 4/429. **Weakness:** ISO/IEC 9796-1 falls to chosen-message
//!   forgeries that exploit RSA's multiplicativity — Coron, Naccache and Stern (CRYPTO
//!   '99), Coppersmith, Halevi and Jutla ("ISO 9796-1 and the new forgery strategy", 1999),
//!   Grieu (EUROCRYPT 2000, a handful of chosen signatures) — and ISO withdrew it. softcca
//!   implements it only because IBM's CCA does and it is IBM's default keyword; new
//!   applications should use PKCS-PSS.
//! - PKCS-1.1 with HASH: IBM asks for DigestInfo ‖ hash; softcca also takes the bare hash
//!   (its length names the method) — an extension, not IBM's text. Any other data up to
//!   k − 11 bytes (an MD5 or RIPEMD DigestInfo, opencryptoki's CKM_RSA_PKCS data) is
//!   formatted as given (block type 01) and signed by the raw RustCrypto operation — unless a
//!   hash-method keyword names what the data must be (then another length is 8/72).
//! - PKCSOAEP without a hash method: IBM's current page requires one (CCA 2.54 knew SHA-1
//!   only); softcca takes SHA-1 then, as CCA 2.54 did. SHA-224 (RustCrypto; aws-lc-rs has
//!   no SHA-224 OAEP), SHA-384 and SHA-512 work, MGF1 with the same hash. RustCrypto's OAEP
//!   decoding ignores the first octet of the encoded message, so softcca checks it too
//!   ([`super::rsa_raw::rc_oaep_decrypt`]).
//! - PKA_Encrypt/Decrypt: PKCS-1.2, PKCSOAEP and ZERO-PAD (PKA Decrypt: "The entire result
//!   (including leading zeros) is returned", and "ZERO-PAD is only supported for external or
//!   clear RSA private keys" — an internal key is 8/47, IBM's code not retrieved; PKE
//!   ZERO-PAD right-aligns the value in zeros, a value longer than the modulus or not below
//!   n is 8/72). MRP and PKOAEP2 are 8/2 (not implemented: IBM's difference between PKOAEP2
//!   and PKCSOAEP was not retrieved). data_structure must be empty (8/72).
//!   PKCS-1.2 decryption uses **implicit rejection** (issue 4: bad padding and a wrong key
//!   must not be told apart; draft-irtf-cfrg-rsa-guidance-10 §7, as RustCrypto `rsa` 0.10
//!   implements it — aws-lc-rs has no implicit rejection, which is why RustCrypto does every
//!   PKCS-1.2 decryption): a bad padding or a ciphertext made under another key returns 0/0
//!   and a deterministic synthetic value, a function of the private key and the ciphertext.
//!   A real 4767 returns an error code there; **IBM is silent** on implicit rejection and
//!   softcca chose it on purpose. Every OAEP failure (padding, hash, wrong key) is one code,
//!   8/2054, decided without looking at the library's reason (OAEP has no implicit
//!   rejection; both engines decode it in constant time). target_keyvalue_length must hold the longest
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
    KeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384,
    OAEP_SHA512_MGF1SHA512, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
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
use crate::tokens::pka_rsa::{AesRsa, ClearCrt, ClearMe, source, usage};
use crate::verbs::keys::notice_for;
use crate::verbs::rsa_gen;
use crate::verbs::rsa_raw::{self, RsaPrivate};
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
    /// Parses an RSA token: X'30'/X'31', and the external clear X'02', X'08' and X'09' (held
    /// as a clear X'30'/X'31'); other private sections are 8/2.
    pub(crate) fn parse(bytes: &[u8]) -> Result<RsaToken, Failure> {
        let Framed::Token { kind, sections, .. } = pka::frame(bytes)? else {
            return Err(Failure::PkaTokenField);
        };
        let mut rest = &sections[..];
        let mut clear_crt = None;
        let mut clear_me = None;
        let mut private = match rest.first() {
            Some(s) if id::is_private(s.id) => {
                rest = &rest[1..];
                match s.id {
                    id::RSA_AESC | id::RSA_AESM => Some(AesRsa::parse(s.bytes)?),
                    id::RSA_CRT_OPK => {
                        clear_crt = Some(ClearCrt::parse(s.bytes)?);
                        None
                    }
                    id::RSA_ME_VAR => {
                        clear_me = Some((ClearMe::parse(s.bytes)?, false));
                        None
                    }
                    id::RSA_ME => {
                        clear_me = Some((ClearMe::parse_x02(s.bytes)?, true));
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
        if let Some((c, x02)) = clear_me {
            if kind != Kind::External || (x02 && !X02_BITS.contains(&public.n_bits)) {
                return Err(Failure::PkaTokenField);
            }
            if c.n.is_empty() {
                // An X'02' skeleton (CSNDPKG).
                private = Some(AesRsa::skeleton(false, c.usage));
            } else if public.e.is_empty() || bit_len(&c.n) != usize::from(public.n_bits) {
                return Err(Failure::PkaTokenField);
            } else {
                private = Some(AesRsa {
                    source: source::CLEAR_IMPORT,
                    n: c.n.clone(),
                    payload: rsa_raw::der_from_me(&c.n, &public.e, &c.d)?,
                    ..AesRsa::skeleton(false, c.usage)
                });
            }
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

pub(crate) fn significant(b: &[u8]) -> &[u8] {
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
    // Bytes after the structure are ignored: opencryptoki passes its whole zeroed 8000-byte
    // buffer as key_value_structure_length, and real cards take that.
    let _ = at;
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

/// The modulus sizes of the X'02' section (RSA-PRIV).
const X02_BITS: std::ops::RangeInclusive<u16> = 512..=1024;

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
    let der = rsa_raw::der_from_parts(&c.n, &public.e, &d, [pp, q, dp, dq, u])?;
    Ok(AesRsa {
        source: source::CLEAR_IMPORT,
        n: c.n.clone(),
        payload: der,
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
                return crate::verbs::retained::crt_skeleton(
                    usage_byte(&chosen),
                    k.n_bits,
                    k.e,
                    name,
                    capacity,
                );
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
        "RSAMEVAR" => {
            let k = parse_kvs(kvs, false)?;
            if k.n.is_empty() || k.d.is_empty() {
                return Err(Failure::NotSupported);
            }
            let section = ClearMe {
                usage: usage_byte(&chosen),
                n: k.n.to_vec(),
                d: Zeroizing::new(significant(k.d).to_vec()),
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
            // n, e and d must form a key.
            RsaToken::parse(&token)?;
            return token_reply(token, capacity, None);
        }
        "RSA-PRIV" => {
            let k = parse_kvs(kvs, false)?;
            if k.n.is_empty() != k.d.is_empty() {
                return Err(Failure::PkaTokenField);
            }
            // IBM: the X'02' section holds a modulus of 512 to 1024 bits.
            let n_bits = n_bits16(k.n_bits)?;
            if !X02_BITS.contains(&n_bits) {
                return Err(Failure::PkaTokenField);
            }
            let public = RsaPublic {
                e: k.e.to_vec(),
                n_bits,
                n: Vec::new(),
            };
            let name = name.as_ref().map(pka::name_section);
            let private = if k.n.is_empty() {
                ClearMe::x02_skeleton(usage_byte(&chosen))?
            } else {
                ClearMe {
                    usage: usage_byte(&chosen),
                    n: significant(k.n).to_vec(),
                    d: Zeroizing::new(significant(k.d).to_vec()),
                }
                .to_x02_bytes()?
            };
            let public = public.to_bytes()?;
            let mut sections: Vec<&[u8]> = vec![&private, &public];
            if let Some(n) = &name {
                sections.push(n);
            }
            let token = pka::assemble(Kind::External, &sections)?;
            // n, e and d must form a key.
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
    if !k.n.is_empty() && !crt {
        if k.d.is_empty() {
            return Err(Failure::PkaTokenField);
        }
        section.source = source::CLEAR_IMPORT;
        section.n = k.n.to_vec();
        section.payload = rsa_raw::der_from_me(k.n, k.e, significant(k.d))?;
    } else if !k.n.is_empty() {
        let [pp, q, dp, dq, u] = k.crt;
        let d = if k.d.is_empty() {
            private_exponent(pp, q, k.e, k.n_bits)?
        } else {
            Zeroizing::new(k.d.to_vec())
        };
        let der = rsa_raw::der_from_parts(k.n, k.e, &d, [pp, q, dp, dq, u])?;
        section.source = source::CLEAR_IMPORT;
        section.n = k.n.to_vec();
        section.payload = der;
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

/// Signs and verifies, encrypts and decrypts once with a new pair, in the engine that will
/// use it.
fn pairwise_consistent(der: &[u8]) -> bool {
    match RsaPrivate::from_der(der) {
        Ok(RsaPrivate::AwsLc(pair)) => pairwise_consistent_aws(&pair, der),
        Ok(RsaPrivate::Rc(key)) => pairwise_consistent_rc(&key),
        Err(_) => false,
    }
}

/// The RustCrypto pair's test: PKCS #1 v1.5 SHA-256 sign/verify and PKCS #1 v1.5
/// encrypt/decrypt (OAEP SHA-256 does not fit a 512-bit key).
fn pairwise_consistent_rc(key: &rsa::PrivateKey) -> bool {
    let hash = digest::digest(&digest::SHA256, CONSISTENCY_MESSAGE);
    let pad = rsa_raw::SigPad::Pkcs1(DIGEST_INFO[0].0);
    let public = key.to_public_key();
    let Ok(signature) = rsa_raw::rc_sign(key, pad, hash.as_ref()) else {
        return false;
    };
    if !rsa_raw::rc_verify(&public, pad, hash.as_ref(), &signature) {
        return false;
    }
    let Ok(ct) = rsa_raw::rc_pkcs1_encrypt(&public, CONSISTENCY_MESSAGE) else {
        return false;
    };
    matches!(rsa_raw::rc_pkcs1_decrypt(key, &ct), Ok(m) if m[..] == *CONSISTENCY_MESSAGE)
}

fn pairwise_consistent_aws(pair: &KeyPair, der: &[u8]) -> bool {
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

/// IBM's random exponent: an odd 32-bit value with its top bit set, from the card's DRBG or,
/// with regeneration data, from the instance seeded with it.
fn random_exponent(card: &Card, regen: &[u8], bits: u16) -> Result<Vec<u8>, Failure> {
    let mut r = [0u8; 4];
    if regen.is_empty() {
        card.random(&mut r)?;
    } else {
        rsa_gen::regeneration_bytes(regen, bits, &mut r)?;
    }
    r[0] |= 0x80;
    r[3] |= 0x01;
    Ok(r.to_vec())
}

/// A new pair of `bits` bits with the exponent `e`, as PKCS #8 DER and its modulus, after a
/// pairwise-consistency test (a failure latches the card's fault state: 12/338). aws-lc-rs
/// generates e = 65537 at 2048/3072/4096/8192 bits; RustCrypto ([`super::rsa_gen`]) every
/// other size up to 4096 bits and every other exponent; 8192 bits with e ≠ 65537 and other
/// sizes above 4096 are 8/2.
///
/// With regeneration data (non-empty `regen`), every size and exponent is generated by
/// RustCrypto from a Hash_DRBG instance seeded with it ([`rsa_gen::regenerate`]): the same
/// data, size and exponent give the same key.
fn new_pair(
    card: &Card,
    regen: &[u8],
    bits: u16,
    e: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), Failure> {
    use aws_lc_rs::signature::KeyPair as _;
    let aws_size = match bits {
        2048 => Some(KeySize::Rsa2048),
        3072 => Some(KeySize::Rsa3072),
        4096 => Some(KeySize::Rsa4096),
        8192 => Some(KeySize::Rsa8192),
        _ => None,
    };
    let (der, n) = match aws_size {
        _ if !regen.is_empty() && bits > 4096 => return Err(Failure::NotSupported),
        _ if !regen.is_empty() => rsa_gen::regenerate(regen, usize::from(bits), e)?,
        Some(size) if e == [1, 0, 1] => {
            let pair = KeyPair::generate(size).map_err(|_| Failure::RngFault)?;
            let der = Zeroizing::new(
                pair.as_der()
                    .map_err(|_| Failure::RngFault)?
                    .as_ref()
                    .to_vec(),
            );
            let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
            if significant(&components.e) != e {
                return Err(Failure::RngFault);
            }
            (der, components.n)
        }
        _ if bits > 4096 => return Err(Failure::NotSupported),
        _ => rsa_gen::generate(card, usize::from(bits), e)?,
    };
    let n = significant(&n).to_vec();
    if !pairwise_consistent(&der) || bit_len(&n) != usize::from(bits) {
        card.latch_crypto_fault();
        return Err(Failure::RngFault);
    }
    Ok((der, n))
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
    if chosen.get(1).is_some() {
        return Err(Failure::NotSupported);
    }
    // An X'02' (RSA-PRIV) skeleton: CLEAR answers the clear X'02' form.
    let x02 = matches!(
        pka::frame(skeleton),
        Ok(Framed::Token { sections, .. }) if sections.first().map(|s| s.id) == Some(id::RSA_ME)
    );
    let token = RsaToken::parse(skeleton)?;
    let section = match &token.private {
        Some(s) if s.is_skeleton() => s.clone(),
        Some(_) => return Err(Failure::PkaTokenField),
        None => return Err(Failure::KeyTokenInvalid),
    };
    // IBM: 3, 65537, or zero (or no exponent) for a full-random exponent.
    let e = match significant(&token.public.e) {
        [1, 0, 1] => vec![1, 0, 1],
        [3] => vec![3],
        [] => random_exponent(card, regen, token.public.n_bits)?,
        _ => return Err(Failure::NotSupported),
    };
    let mk = if master {
        Some(current_apka(card)?)
    } else {
        None
    };
    // p and q are recovered from n, e, d only for e > 2¹⁶ (rsa_raw::der_from_me): a clear
    // X'02' key with e = 3 would be unusable here.
    if x02 && !master && e == [3] {
        return Err(Failure::NotSupported);
    }
    let (der, n) = new_pair(card, regen, token.public.n_bits, &e)?;
    if x02 && !master {
        let private = ClearMe {
            usage: section.usage,
            d: rsa_raw::private_exponent_of(&der)?,
            n,
        }
        .to_x02_bytes()?;
        let public = RsaPublic {
            e,
            n_bits: token.public.n_bits,
            n: Vec::new(),
        }
        .to_bytes()?;
        let name = token.name.as_ref().map(pka::name_section);
        let mut sections: Vec<&[u8]> = vec![&private, &public];
        if let Some(n) = &name {
            sections.push(n);
        }
        return token_reply(pka::assemble(Kind::External, &sections)?, capacity, None);
    }
    let mut generated = AesRsa {
        source: source::RANDOM,
        n,
        ..section
    };
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
    /// PSS with this salt length.
    Pss(usize),
}

/// The DER DigestInfo prefixes of SHA-256, SHA-384, SHA-512 (RFC 8017 §9.2 note 1).
const DIGEST_INFO: [(&[u8], &digest::Algorithm); 5] = [
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
    (
        &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
    ),
    (
        &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x04, 0x05, 0x00, 0x04, 0x1c,
        ],
        &digest::SHA224,
    ),
];

fn method_alg(method: &str) -> Result<&'static digest::Algorithm, Failure> {
    match method {
        "SHA-256" => Ok(&digest::SHA256),
        "SHA-384" => Ok(&digest::SHA384),
        "SHA-512" => Ok(&digest::SHA512),
        "SHA-1" => Ok(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        "SHA-224" => Ok(&digest::SHA224),
        _ => Err(Failure::KeywordCombination),
    }
}

fn alg_by_len(len: usize) -> Result<&'static digest::Algorithm, Failure> {
    match len {
        32 => Ok(&digest::SHA256),
        48 => Ok(&digest::SHA384),
        64 => Ok(&digest::SHA512),
        20 => Ok(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        28 => Ok(&digest::SHA224),
        _ => Err(Failure::Length),
    }
}

/// The scheme and the digest a DSG/DSV call names.
fn signature_input(chosen: &rules::Chosen, input: &[u8]) -> Result<(Scheme, Digest), Failure> {
    let mut data = input;
    let scheme = match chosen.get(1) {
        Some("PKCS-1.1") => Scheme::Pkcs1,
        Some("PKCS-PSS") => {
            let (head, rest) = data.split_at_checked(4).ok_or(Failure::Length)?;
            data = rest;
            Scheme::Pss(u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize)
        }
        _ => return Err(Failure::NotSupported),
    };
    let method = chosen.get(3);
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
    Ok((scheme, digest))
}

fn encoding(scheme: Scheme, alg: &digest::Algorithm) -> &'static dyn sig::RsaEncoding {
    match (scheme, alg.output_len) {
        (Scheme::Pkcs1, 32) => &sig::RSA_PKCS1_SHA256,
        (Scheme::Pkcs1, 48) => &sig::RSA_PKCS1_SHA384,
        (Scheme::Pkcs1, _) => &sig::RSA_PKCS1_SHA512,
        (Scheme::Pss(_), 32) => &sig::RSA_PSS_SHA256,
        (Scheme::Pss(_), 48) => &sig::RSA_PSS_SHA384,
        (Scheme::Pss(_), _) => &sig::RSA_PSS_SHA512,
    }
}

fn parameters(scheme: Scheme, alg: &digest::Algorithm) -> &'static sig::RsaParameters {
    match (scheme, alg.output_len) {
        (Scheme::Pkcs1, 32) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (Scheme::Pkcs1, 48) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (Scheme::Pkcs1, _) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (Scheme::Pss(_), 32) => &sig::RSA_PSS_2048_8192_SHA256,
        (Scheme::Pss(_), 48) => &sig::RSA_PSS_2048_8192_SHA384,
        (Scheme::Pss(_), _) => &sig::RSA_PSS_2048_8192_SHA512,
    }
}

/// Whether aws-lc-rs can apply the scheme (it salts PSS with exactly the hash length).
fn aws_scheme(scheme: Scheme, alg: &digest::Algorithm) -> bool {
    matches!(alg.output_len, 32 | 48 | 64)
        && match scheme {
            Scheme::Pkcs1 => true,
            Scheme::Pss(salt) => salt == alg.output_len,
        }
}

/// The signature formats applied here on the raw RSA operation (IBM Docs "CCA for Linux",
/// "Formatting hashes and keys in public-key cryptography", "PKCS #1 hash formats" and "ANSI
/// X9.31 hash format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawScheme {
    /// PKCS-1.0: X'00' ‖ X'00' ‖ PS of X'00' (at least 8) ‖ X'00' ‖ D, D the BER DigestInfo
    /// ‖ hash.
    Pkcs10,
    /// X9.31: X'6B' ‖ X'BB'… ‖ X'BA' ‖ hash ‖ hash specifier ‖ X'CC'; the signature is the
    /// smaller of s and n − s (ANSI X9.31).
    X931,
    /// ISO-9796 (IBM's default): ISO/IEC 9796-1 formatting of the data as a whole number of
    /// bytes (padding indicator r = 1); the signature is the smaller of s and n − s, as the
    /// standard defines for an odd public exponent. See [`iso9796_block`].
    Iso9796,
    /// ZERO-PAD: the data right-aligned in zeros.
    ZeroPad,
    /// PKCS-1.1 with HASH and no hash-method keyword on data that is neither a bare
    /// SHA-1/SHA-2 hash nor its DigestInfo:
    /// X'00' ‖ X'01' ‖ X'FF'… (at least 8) ‖ X'00' ‖ D, D the caller's BER DigestInfo ‖ hash as
    /// given — IBM's definition of PKCS-1.1 (opencryptoki's MD5-RSA-PKCS and CKM_RSA_PKCS
    /// send such data).
    Pkcs11Given,
}

/// Whether PKCS-1.1 data is a bare SHA-1/SHA-2 hash or the DigestInfo of one (signed by
/// aws-lc-rs or RustCrypto's PKCS #1 v1.5 with that hash), rather than data to format as given.
fn known_pkcs11_input(input: &[u8]) -> bool {
    alg_by_len(input.len()).is_ok()
        || DIGEST_INFO
            .iter()
            .any(|(p, a)| input.len() == p.len() + a.output_len && input.starts_with(p))
}

/// The X9.31 hash specifier of a hash length (IBM: X'33' SHA-1, X'34' SHA-256, X'36'
/// SHA-384, X'35' SHA-512). SHA-224 has none: 8/72.
fn x931_specifier(hash_len: usize) -> Result<u8, Failure> {
    match hash_len {
        20 => Ok(0x33),
        32 => Ok(0x34),
        48 => Ok(0x36),
        64 => Ok(0x35),
        _ => Err(Failure::Length),
    }
}

/// The raw scheme a DSG/DSV call names, if any, and the data it formats: with MESSAGE the
/// hash (PKCS-1.0: DigestInfo ‖ hash), with HASH the data as given.
fn raw_signature_input(
    chosen: &rules::Chosen,
    input: &[u8],
) -> Result<Option<(RawScheme, Vec<u8>)>, Failure> {
    let scheme = match chosen.get(1) {
        Some("PKCS-1.0") => RawScheme::Pkcs10,
        Some("X9.31") => RawScheme::X931,
        Some("ISO-9796") => RawScheme::Iso9796,
        Some("ZERO-PAD") => RawScheme::ZeroPad,
        Some("PKCS-1.1")
            if chosen.get(2) != Some("MESSAGE")
                && chosen.get(3).is_none()
                && !known_pkcs11_input(input) =>
        {
            RawScheme::Pkcs11Given
        }
        _ => return Ok(None),
    };
    let method = chosen.get(3);
    let data = if chosen.get(2) == Some("MESSAGE") {
        let alg = method_alg(method.ok_or(Failure::KeywordCombination)?)?;
        let hash = digest::digest(alg, input);
        let mut d = Vec::new();
        if scheme == RawScheme::Pkcs10 {
            let (prefix, _) = DIGEST_INFO
                .iter()
                .find(|(_, a)| a.output_len == alg.output_len)
                .ok_or(Failure::NotSupported)?;
            d.extend_from_slice(prefix);
        }
        d.extend_from_slice(hash.as_ref());
        d
    } else {
        if let Some(m) = method {
            let alg = method_alg(m)?;
            let len = match scheme {
                RawScheme::X931 | RawScheme::Iso9796 => input.len(),
                _ => input.len().saturating_sub(
                    DIGEST_INFO
                        .iter()
                        .find(|(p, a)| a.output_len == alg.output_len && input.starts_with(p))
                        .map_or(0, |(p, _)| p.len()),
                ),
            };
            if !matches!(scheme, RawScheme::ZeroPad | RawScheme::Pkcs11Given)
                && len != alg.output_len
            {
                return Err(Failure::Length);
            }
        }
        input.to_vec()
    };
    if scheme == RawScheme::X931 {
        x931_specifier(data.len())?;
    }
    if data.is_empty() {
        return Err(Failure::Length);
    }
    Ok(Some((scheme, data)))
}

/// The block of `k` bytes the scheme signs. Data too long for the modulus is 8/72; X9.31
/// needs a modulus that is a multiple of 8 bits (IBM) — else 8/72 too.
fn raw_block(scheme: RawScheme, data: &[u8], k: usize, n_bits: usize) -> Result<Vec<u8>, Failure> {
    let mut block = vec![0u8; k];
    match scheme {
        RawScheme::Pkcs10 => {
            if data.len() + 11 > k {
                return Err(Failure::Length);
            }
            block[k - data.len()..].copy_from_slice(data);
        }
        RawScheme::ZeroPad => {
            if data.len() > k {
                return Err(Failure::Length);
            }
            block[k - data.len()..].copy_from_slice(data);
        }
        RawScheme::Pkcs11Given => {
            if data.len() + 11 > k {
                return Err(Failure::Length);
            }
            block[1] = 0x01;
            block[2..k - data.len() - 1].fill(0xff);
            block[k - data.len()..].copy_from_slice(data);
        }
        RawScheme::Iso9796 => return iso9796_block(data, 1, k, n_bits),
        RawScheme::X931 => {
            if !n_bits.is_multiple_of(8) || data.len() + 4 > k {
                return Err(Failure::Length);
            }
            let spec = x931_specifier(data.len())?;
            block[0] = 0x6b;
            let pad_end = k - data.len() - 2;
            for b in &mut block[1..pad_end - 1] {
                *b = 0xbb;
            }
            block[pad_end - 1] = 0xba;
            block[pad_end..k - 2].copy_from_slice(data);
            block[k - 2] = spec;
            block[k - 1] = 0xcc;
        }
    }
    Ok(block)
}

/// ISO/IEC 9796-1's shadow function: the nibble permutation Π applied to both nibbles of
/// a byte (ISO/IEC 9796-1; Π(0..15) = E 3 5 8 9 4 2 F 0 D B 6 7 A C 1).
fn iso9796_shadow(b: u8) -> u8 {
    const PI: [u8; 16] = [
        0xe, 0x3, 0x5, 0x8, 0x9, 0x4, 0x2, 0xf, 0x0, 0xd, 0xb, 0x6, 0x7, 0xa, 0xc, 0x1,
    ];
    (PI[usize::from(b >> 4)] << 4) | PI[usize::from(b & 0x0f)]
}

/// The ISO/IEC 9796-1 intermediate integer IR of `data` (z bytes, the message's most
/// significant byte first) for a modulus of `n_bits` bits, as a `k`-byte big-endian block;
/// `r` is the padding indicator (1 + the number of pad bits; CCA's data is whole bytes, so
/// the verbs pass 1). With k_s = n_bits − 1 (the standard's k_s for RSA):
/// - extension: t = ⌈(k_s − 1)/16⌉; the t bytes m_t … m_1 repeat the message cyclically
///   from its least significant byte (m_i = message byte (i − 1) mod z, counted from the
///   right);
/// - redundancy: the 2t bytes MR_{2i} ‖ MR_{2i−1} = S(m_i) ‖ m_i, S the shadow function
///   ([`iso9796_shadow`]); then MR_{2z} ⊕= r (this marks where the message starts);
/// - truncation and forcing: the k_s − 1 least significant bits of MR with a 1 bit above
///   them (IR has exactly k_s bits, so IR < n), and the least significant byte u₂‖u₁
///   replaced by u₁‖6.
///
/// A message of z bytes must fit IBM's bound (z at most half the modulus bytes, CSNDDSG and
/// CSNDDSV usage notes) and the standard's (16z ≤ k_s + 3): else 8/72; empty data is 8/72.
fn iso9796_block(data: &[u8], r: u8, k: usize, n_bits: usize) -> Result<Vec<u8>, Failure> {
    let z = data.len();
    let ks = n_bits.checked_sub(1).ok_or(Failure::Length)?;
    if z == 0 || ks < 16 || 2 * z > k || 16 * z > ks + 3 || k.saturating_mul(8) < n_bits {
        return Err(Failure::Length);
    }
    let t = (ks - 1).div_ceil(16);
    if z > t {
        return Err(Failure::Length);
    }
    // MR as a big-endian string of 2t bytes.
    let mut mr = vec![0u8; 2 * t];
    for i in 0..t {
        let m = data[z - 1 - i % z];
        mr[2 * t - 1 - 2 * i] = m;
        mr[2 * t - 2 - 2 * i] = iso9796_shadow(m);
    }
    mr[2 * t - 2 * z] ^= r;
    let mut block = vec![0u8; k];
    let take = (2 * t).min(k);
    block[k - take..].copy_from_slice(&mr[2 * t - take..]);
    // IR: bits 0 … k_s − 2 of MR, bit k_s − 1 set, nothing above.
    let top = ks - 1;
    let at = k - 1 - top / 8;
    block[..at].fill(0);
    let bit = 1u8 << (top % 8);
    block[at] = (block[at] & (bit - 1)) | bit;
    block[k - 1] = (block[k - 1] << 4) | 0x06;
    Ok(block)
}

/// `n − x` for big-endian values of the same length (x < n).
fn n_minus(n: &[u8], x: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; n.len()];
    let mut borrow = 0i16;
    for i in (0..n.len()).rev() {
        let d = i16::from(n[i]) - i16::from(x[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = d.rem_euclid(256) as u8;
    }
    out
}

/// Signs with a raw scheme (the RustCrypto private operation, blinded).
fn raw_sign(key: &RsaKey, scheme: RawScheme, data: &[u8]) -> Result<Vec<u8>, Failure> {
    let n = key.token.n();
    let k = n.len();
    let block = raw_block(scheme, data, k, usize::from(key.token.public.n_bits))?;
    let private = rsa_raw::rc_private(key.private_der()?)?;
    let s = rsa_raw::raw_private(&private, &block)?;
    if matches!(scheme, RawScheme::X931 | RawScheme::Iso9796) {
        let other = n_minus(n, &s);
        if other < s[..].to_vec() {
            return Ok(other);
        }
    }
    Ok(s.to_vec())
}

/// Verifies a raw-scheme signature with the public operation.
fn raw_verify(
    key: &RsaKey,
    scheme: RawScheme,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, Failure> {
    let n = key.token.n();
    let k = n.len();
    let block = match raw_block(scheme, data, k, usize::from(key.token.public.n_bits)) {
        Ok(block) => block,
        // ISO-9796: IBM's length rule on the hash holds for CSNDDSV too (8/72).
        Err(e) if scheme == RawScheme::Iso9796 => return Err(e),
        Err(_) => return Ok(false),
    };
    let public = rsa_raw::rc_public(n, &key.token.public.e)?;
    let Some(m) = rsa_raw::raw_public(&public, signature) else {
        return Ok(false);
    };
    if m == block {
        return Ok(true);
    }
    // X9.31 and ISO 9796-1 sign min(s, n − s): s^e is the block or n − block. For ISO
    // 9796-1 comparing with the block rebuilt from the caller's hash is the standard's
    // verification with message recovery (IR ≡ 6 mod 16, the redundancy, and the recovered
    // message equal to the hash) in one test: the formatting is injective.
    Ok(matches!(scheme, RawScheme::X931 | RawScheme::Iso9796) && n_minus(n, &m) == block)
}

/// The scheme as the RustCrypto engine takes it.
fn rc_pad(scheme: Scheme, alg: &digest::Algorithm) -> Result<rsa_raw::SigPad, Failure> {
    match scheme {
        Scheme::Pkcs1 => DIGEST_INFO
            .iter()
            .find(|(_, a)| a.output_len == alg.output_len)
            .map(|(p, _)| rsa_raw::SigPad::Pkcs1(p))
            .ok_or(Failure::NotSupported),
        Scheme::Pss(salt) => Ok(rsa_raw::SigPad::Pss(salt)),
    }
}

pub(crate) fn csnddsg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&DSG, rule_array)?;
    p.expect_len(3)?;
    let key = card.rsa_key(p.bytes(0)?)?;
    if let Some((raw, data)) = raw_signature_input(&chosen, p.bytes(1)?)? {
        let field = out_len(&p, 2)?;
        key.private_der()?;
        if key.usage() == Some(usage::KM_ONLY) {
            return Err(Failure::ControlVector);
        }
        if field < key.token.n().len() {
            return Err(Failure::Length);
        }
        let signature = raw_sign(&key, raw, &data)?;
        return Ok(Reply {
            notice: key.notice(),
            outputs: vec![
                Param::Int(i32::from(key.token.public.n_bits)),
                Param::Bytes(signature),
            ],
            ..Reply::default()
        });
    }
    let (scheme, digest) = signature_input(&chosen, p.bytes(1)?)?;
    let field = out_len(&p, 2)?;
    let der = key.private_der()?;
    if key.usage() == Some(usage::KM_ONLY) {
        return Err(Failure::ControlVector);
    }
    let private = RsaPrivate::from_der(der)?;
    let len = private.modulus_len();
    if field < len {
        return Err(Failure::Length);
    }
    let alg = digest.algorithm();
    let signature = match &private {
        RsaPrivate::AwsLc(pair) if aws_scheme(scheme, alg) => {
            let mut signature = vec![0u8; len];
            pair.sign_digest(encoding(scheme, alg), &digest, &mut signature)
                .map_err(|_| Failure::NotSupported)?;
            signature
        }
        RsaPrivate::AwsLc(_) => rsa_raw::rc_sign(
            &rsa_raw::rc_private(der)?,
            rc_pad(scheme, alg)?,
            digest.as_ref(),
        )?,
        RsaPrivate::Rc(key) => rsa_raw::rc_sign(key, rc_pad(scheme, alg)?, digest.as_ref())?,
    };
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
    if let Some((raw, data)) = raw_signature_input(&chosen, p.bytes(1)?)? {
        let verified = raw_verify(&key, raw, &data, p.bytes(2)?)?;
        return Ok(Reply {
            notice: if verified {
                key.notice()
            } else {
                Some(Notice::SignatureNotVerified)
            },
            ..Reply::default()
        });
    }
    let (scheme, digest) = signature_input(&chosen, p.bytes(1)?)?;
    let signature = p.bytes(2)?;
    let alg = digest.algorithm();
    let verified = if key.token.public.n_bits >= 2048 && aws_scheme(scheme, alg) {
        let public = key.public_der()?;
        UnparsedPublicKey::new(parameters(scheme, alg), &public)
            .verify_digest(&digest, signature)
            .is_ok()
    } else {
        let public = rsa_raw::rc_public(key.token.n(), &key.token.public.e)?;
        rsa_raw::rc_verify(&public, rc_pad(scheme, alg)?, digest.as_ref(), signature)
    };
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
    /// The OAEP algorithm and its hash length (MGF1 with the same hash, empty label). A hash
    /// length of 28 (SHA-224, which aws-lc-rs lacks) always goes to RustCrypto and the
    /// algorithm is not looked at.
    Oaep(&'static aws_lc_rs::rsa::OaepAlgorithm, usize),
    /// ZERO-PAD: the value right-aligned in a modulus-length block of zeros, raw RSA.
    Zero,
}

/// `value` enciphered under the public key of `key`; a `capacity` shorter than the modulus,
/// or a value longer than the padding carries, is 8/72 before anything is enciphered.
/// aws-lc-rs for keys of 2048 bits and more, RustCrypto below (padding bytes from AWS-LC's
/// generator in both).
pub(crate) fn encipher(
    key: &RsaKey,
    pad: Pad,
    value: &[u8],
    capacity: usize,
) -> Result<Vec<u8>, Failure> {
    let k = usize::from(key.token.public.n_bits).div_ceil(8);
    if capacity < k {
        return Err(Failure::Length);
    }
    let longest = match pad {
        Pad::Pkcs1 => k.saturating_sub(11),
        Pad::Oaep(_, h_len) => k.saturating_sub(2 * h_len + 2),
        Pad::Zero => k,
    };
    if value.len() > longest || (matches!(pad, Pad::Oaep(..)) && k < 2 * pad_hash_len(pad) + 2) {
        return Err(Failure::Length);
    }
    if key.token.public.n_bits < 2048 || matches!(pad, Pad::Zero | Pad::Oaep(_, 28)) {
        let public = rsa_raw::rc_public(key.token.n(), &key.token.public.e)?;
        return match pad {
            Pad::Pkcs1 => rsa_raw::rc_pkcs1_encrypt(&public, value),
            Pad::Oaep(_, h_len) => rsa_raw::rc_oaep_encrypt(&public, h_len, value),
            Pad::Zero => {
                let mut block = vec![0u8; k - value.len()];
                block.extend_from_slice(value);
                rsa_raw::raw_public(&public, &block).ok_or(Failure::Length)
            }
        };
    }
    let public =
        PublicEncryptingKey::from_der(&key.public_der()?).map_err(|_| Failure::PkaTokenField)?;
    let mut out = vec![0u8; public.key_size_bytes()];
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
        Pad::Zero => return Err(Failure::NotSupported),
    };
    out.truncate(n);
    Ok(out)
}

fn pad_hash_len(pad: Pad) -> usize {
    match pad {
        Pad::Pkcs1 | Pad::Zero => 0,
        Pad::Oaep(_, h_len) => h_len,
    }
}

/// The value enciphered in `ciphertext`, recovered with the private key of `key`: a SIG-ONLY
/// key is 8/39, a ciphertext that is not one modulus long 8/72. `capacity` (the caller's
/// buffer) is checked against the longest value the padding can carry *before* deciphering:
/// a check against the recovered value would tell a caller with a short buffer whether the
/// padding was good.
///
/// What it returns:
/// - PKCS-1.2 (every key size): RustCrypto `rsa` 0.10's decryption with **implicit
///   rejection** — a bad padding, or a ciphertext made under another key, returns `Ok` with a
///   deterministic synthetic value (a function of the private key and the ciphertext only;
///   its length is pseudo-random between 0 and k − 11 bytes), in constant time. Only a
///   ciphertext not below the modulus is an error (8/2054).
/// - PKCSOAEP: every failure (padding, hash, a wrong key) is the one code 8/2054, whose
///   library reason is never looked at (aws-lc-rs for 2048 bits and more, RustCrypto below).
///
/// A caller that needs a value of given lengths (a symmetric key) should use
/// [`decipher_key`], which turns a value of another length into a random one.
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
    let k = usize::from(key.token.public.n_bits).div_ceil(8);
    if ciphertext.len() != k {
        return Err(Failure::Length);
    }
    let longest = match pad {
        Pad::Pkcs1 => ciphertext.len().saturating_sub(11),
        Pad::Oaep(_, h_len) => ciphertext.len().saturating_sub(2 * h_len + 2),
        Pad::Zero => ciphertext.len(),
    };
    if capacity < longest {
        return Err(Failure::Length);
    }
    let (alg, h_len) = match pad {
        Pad::Pkcs1 => return rsa_raw::rc_pkcs1_decrypt(&rsa_raw::rc_private(der)?, ciphertext),
        Pad::Zero => {
            // IBM: ZERO-PAD only with an external (clear) private key.
            if key.token.kind != Kind::External {
                return Err(Failure::KeyTokenInvalid);
            }
            return rsa_raw::raw_private(&rsa_raw::rc_private(der)?, ciphertext);
        }
        Pad::Oaep(_, 28) => {
            return rsa_raw::rc_oaep_decrypt(&rsa_raw::rc_private(der)?, 28, ciphertext);
        }
        Pad::Oaep(alg, h_len) => (alg, h_len),
    };
    let private = match RsaPrivate::from_der(der)? {
        RsaPrivate::Rc(rc) => return rsa_raw::rc_oaep_decrypt(&rc, h_len, ciphertext),
        RsaPrivate::AwsLc(_) => {
            PrivateDecryptingKey::from_pkcs8(der).map_err(|_| Failure::PkaTokenField)?
        }
    };
    let mut out = Zeroizing::new(vec![0u8; private.key_size_bytes()]);
    let recovered = OaepPrivateDecryptingKey::new(private)
        .map_err(|_| Failure::PkaTokenField)?
        .decrypt(alg, ciphertext, &mut out[..], None)
        .map(|m| m.len());
    let len = recovered.map_err(|_| Failure::PkaDecryptDecode)?;
    out.truncate(len);
    Ok(out)
}

/// A symmetric key recovered with [`decipher`] for a caller that knows which lengths a key
/// may have (`lengths`, e.g. 8/16/24 bytes for DES) — the TLS answer to Bleichenbacher (RFC
/// 5246 §7.4.7.1). With PKCS-1.2, a recovered value (real or the implicit-rejection
/// synthetic one) whose length is not in `lengths` is replaced by a random value of
/// `fallback` bytes from the card's DRBG, and the call succeeds: the caller learns nothing
/// about the padding, it merely imports a key nobody knows. The caller should pass as
/// `fallback` the length it expects (from its target token), else the longest. With PKCSOAEP
/// (no implicit rejection) a wrong length is 8/2054, like every OAEP failure. **IBM is
/// silent** on both; softcca chose this because issue 4 asks that bad padding and a wrong
/// key be indistinguishable. A `fallback` of 0 is 8/72.
pub(crate) fn decipher_key(
    card: &Card,
    key: &RsaKey,
    pad: Pad,
    ciphertext: &[u8],
    lengths: &[usize],
    fallback: usize,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if fallback == 0 {
        return Err(Failure::Length);
    }
    // The random replacement is drawn before deciphering, so the DRBG is used the same way
    // whatever the padding turns out to be.
    let mut replacement = Zeroizing::new(vec![0u8; fallback]);
    card.random(&mut replacement)?;
    let out = decipher(key, pad, ciphertext, usize::MAX)?;
    let fits = lengths.contains(&out.len());
    match pad {
        Pad::Pkcs1 if !fits => Ok(replacement),
        _ if !fits => Err(Failure::PkaDecryptDecode),
        _ => Ok(out),
    }
}

fn pad_of(rule_array: &[Element]) -> Result<Pad, Failure> {
    let chosen = rules::parse(&PKE, rule_array)?;
    match (chosen.get(0), chosen.get(1)) {
        (Some("PKCS-1.2"), None) => Ok(Pad::Pkcs1),
        (Some("PKCS-1.2"), Some(_)) => Err(Failure::KeywordCombination),
        (Some("PKCSOAEP"), None | Some("SHA-1")) => Ok(Pad::Oaep(&OAEP_SHA1_MGF1SHA1, 20)),
        (Some("PKCSOAEP"), Some("SHA-224")) => Ok(Pad::Oaep(&OAEP_SHA256_MGF1SHA256, 28)),
        (Some("PKCSOAEP"), Some("SHA-256")) => Ok(Pad::Oaep(&OAEP_SHA256_MGF1SHA256, 32)),
        (Some("PKCSOAEP"), Some("SHA-384")) => Ok(Pad::Oaep(&OAEP_SHA384_MGF1SHA384, 48)),
        (Some("PKCSOAEP"), Some("SHA-512")) => Ok(Pad::Oaep(&OAEP_SHA512_MGF1SHA512, 64)),
        (Some("ZERO-PAD"), None) => Ok(Pad::Zero),
        (Some("ZERO-PAD"), Some(_)) => Err(Failure::KeywordCombination),
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Model;
    use crate::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
    use crate::rng::insecure_test_sources::CountingSource;

    /// ISO/IEC 9796-1 Annex examples 1 and 3 (as reproduced in Bouncy Castle's
    /// `ISO9796Test`): 13-byte messages with 4 pad bits (r = 5), e = 3, 513- and 512-bit
    /// moduli. The verbs take whole bytes only (r = 1), so these check the formatting itself:
    /// Σ^e mod n, or n − that, must be the block [`iso9796_block`] builds. Example 2 (r = 1)
    /// goes through CSNDPKB, CSNDPKI and CSNDDSG in tests/rsa_iso9796.rs.
    #[test]
    fn iso9796_annex_examples_with_pad_bits() {
        let cases = [
            (
                "0100000000000000000000000000000000bba2d15dbb303c8a21c5ebbcbae52b7125087920dd7cdf358ea119fd66fb064012ec8ce692f0a0b8e8321b041acd40b7",
                "0cbbaa99887766554433221100",
                "309f873d8ded8379490f6097eaafdabc137d3ebfd8f25ab5f138d56a719cdc526bdd022ea65dabab920a81013a85d092e04d3e421caab717c90d89ea45a8d23a",
                513,
            ),
            (
                "ffffff7fa27087c35ebead78412d2bdffe0301edd494df13458974ea89b364708f7d0f5a00a50779ddf9f7d4cb80b8891324da251a860c4ec9ef288104b3858d",
                "0112233445566778899aabbccd",
                "58e59ffb4b1fb1bcdbf8d1fe9afa3730c78a318a1134f5791b7313d480ff07ac319b068edf8f212945cb09cf33df30ace54f4a063fcca0b732f4b662dc4e2454",
                512,
            ),
        ];
        for (n, msg, sig, bits) in cases {
            let n = hex::decode(n).unwrap();
            let k = n.len();
            let public = rsa_raw::rc_public(&n, &[3]).unwrap();
            let mut sig = hex::decode(sig).unwrap();
            sig.splice(0..0, vec![0u8; k - sig.len()]);
            let m = rsa_raw::raw_public(&public, &sig).unwrap();
            let block = iso9796_block(&hex::decode(msg).unwrap(), 5, k, bits).unwrap();
            assert!(m == block || n_minus(&n, &m) == block, "{bits}-bit example");
            assert!(sig < n_minus(&n, &sig), "Σ is the smaller of s and n − s");
            // With r = 1 the block differs: the pad bits are part of the redundancy.
            assert_ne!(
                iso9796_block(&hex::decode(msg).unwrap(), 1, k, bits).unwrap(),
                block
            );
        }
    }

    #[test]
    fn iso9796_bounds() {
        // 1024 bits: at most 64 bytes (IBM: half the modulus bytes).
        assert!(iso9796_block(&[1; 64], 1, 128, 1024).is_ok());
        assert_eq!(iso9796_block(&[1; 65], 1, 128, 1024), Err(Failure::Length));
        assert_eq!(iso9796_block(&[], 1, 128, 1024), Err(Failure::Length));
        // 1017 bits (128 bytes): IBM's rule allows 64 bytes, the standard 63 (16z ≤ k_s + 3).
        assert!(iso9796_block(&[1; 63], 1, 128, 1017).is_ok());
        assert_eq!(iso9796_block(&[1; 64], 1, 128, 1017), Err(Failure::Length));
        // Every size from 512 to 1100 bits: IR has exactly n_bits − 1 bits and ends in 6.
        for bits in 512usize..1100 {
            let k = bits.div_ceil(8);
            let z = (k / 2).min((bits + 2) / 16);
            let block = iso9796_block(&vec![0xa5; z], 1, k, bits).unwrap();
            assert_eq!(block.len(), k);
            let lead = block.iter().position(|&b| b != 0).unwrap();
            let len = (k - lead) * 8 - block[lead].leading_zeros() as usize;
            assert_eq!(len, bits - 1, "{bits}");
            assert_eq!(block[k - 1] & 0x0f, 6);
        }
    }

    fn card_and_key() -> (Card, RsaKey) {
        let platform = Platform {
            entropy: Box::new(CountingSource::new(41)),
            clock: Box::new(FixedClock(1_750_000_000)),
            flash: Box::new(Arc::new(MemoryFlash::default())),
            bbram: Box::new(Arc::new(MemoryBatteryRam::default())),
        };
        let card = Card::power_on(platform, Some(Model::Ibm4767))
            .expect("powers on")
            .0;
        let (der, n) = new_pair(&card, &[], 1024, &[1, 0, 1]).expect("a pair");
        let key = RsaKey {
            token: RsaToken {
                kind: Kind::External,
                private: Some(AesRsa {
                    n,
                    payload: der.clone(),
                    ..AesRsa::skeleton(true, usage::KEY_MGMT)
                }),
                public: RsaPublic {
                    e: vec![1, 0, 1],
                    n_bits: 1024,
                    n: Vec::new(),
                },
                name: None,
            },
            der: Some(der),
            used: None,
        };
        (card, key)
    }

    #[test]
    fn decipher_key_answers_a_wrong_length_with_a_random_key() {
        let (card, key) = card_and_key();
        let des = [8, 16, 24];
        let value = [0x5Au8; 16];
        let ct = encipher(&key, Pad::Pkcs1, &value, 128).unwrap();
        assert_eq!(
            &decipher_key(&card, &key, Pad::Pkcs1, &ct, &des, 24).unwrap()[..],
            &value
        );
        // A value of no DES length: 0/0 and a random key of the fallback length.
        let ct = encipher(&key, Pad::Pkcs1, &[0x5A; 20], 128).unwrap();
        let a = decipher_key(&card, &key, Pad::Pkcs1, &ct, &des, 24).unwrap();
        let b = decipher_key(&card, &key, Pad::Pkcs1, &ct, &des, 24).unwrap();
        assert_eq!((a.len(), b.len()), (24, 24));
        assert_ne!(a, b, "fresh from the DRBG each time");
        // A bad padding: 0/0 and a value of a DES length, whichever way it was reached.
        let mut bad = ct.clone();
        bad[40] ^= 1;
        let r = decipher_key(&card, &key, Pad::Pkcs1, &bad, &des, 24).unwrap();
        assert!(des.contains(&r.len()));
        // OAEP has no implicit rejection: a wrong length is the one code.
        let oaep = Pad::Oaep(&OAEP_SHA1_MGF1SHA1, 20);
        let ct = encipher(&key, oaep, &[0x5A; 20], 128).unwrap();
        assert_eq!(
            decipher_key(&card, &key, oaep, &ct, &des, 24).unwrap_err(),
            Failure::PkaDecryptDecode
        );
        let ct = encipher(&key, oaep, &value, 128).unwrap();
        assert_eq!(
            &decipher_key(&card, &key, oaep, &ct, &des, 24).unwrap()[..],
            &value
        );
        assert_eq!(
            decipher_key(&card, &key, Pad::Pkcs1, &ct, &des, 0).unwrap_err(),
            Failure::Length
        );
    }
}
