//! CCA return and reason codes, decided in exactly one place.
//!
//! Every verb ends in a [`Failure`] or in success with an optional [`Notice`]; [`Failure::codes`]
//! and [`Notice::codes`] are the only functions in softcca that turn an outcome into IBM's
//! return/reason code pair. Codes are explicit numbers taken from the CCA Basic Services
//! Reference (appendix A, "Return codes and reason codes") and from IBM Docs "CCA for Linux"
//! (reason codes for return code 0, 4, 8 and 12); each variant names its source.

use std::fmt;

/// A CCA return code and reason code, as every verb reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Codes {
    /// 0 success, 4 warning, 8 application error, 12 environment error, 16 system error.
    pub return_code: i32,
    /// The reason code that qualifies the return code.
    pub reason_code: i32,
}

impl Codes {
    /// Success with no further information: 0/0.
    pub const OK: Codes = Codes::new(0, 0);

    /// A pair of codes.
    pub const fn new(return_code: i32, reason_code: i32) -> Codes {
        Codes {
            return_code,
            reason_code,
        }
    }

    /// True when the verb did its work (return code 0 or 4).
    pub fn completed(self) -> bool {
        self.return_code < 8
    }
}

impl fmt::Display for Codes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.return_code, self.reason_code)
    }
}

/// Why a verb did not do its work. One variant per distinct cause; the CCA code for each is
/// fixed in [`Failure::codes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// `rule_array_count` is outside what the verb accepts. 8/35.
    RuleArrayCount,
    /// A rule-array keyword (or a keyword-valued parameter) is not valid for the verb. 8/33.
    Keyword,
    /// Two keywords of one group, or a combination the verb does not accept. 8/34.
    KeywordCombination,
    /// A length parameter (or `verb_data`) is not valid. 8/72.
    Length,
    /// `text_length` is not valid for the verb: One-Way Hash's FIRST or MIDDLE text that is
    /// empty or not a multiple of the method's block size, or empty text. 8/25 ("The value
    /// that the text_length parameter specifies is not valid", IBM Docs "CCA for Linux",
    /// reason codes for return code 8).
    TextLength,
    /// A One-Way Hash or HMAC Generate/Verify chaining vector that this card did not write
    /// for this hash method (and, for HMAC, this key): zeroed, altered, or from another method
    /// or key. IBM documents no narrower code; softcca answers 8/72, the general "length or
    /// data not valid" code.
    ChainingVector,
    /// A key-part parameter's length is not valid for the register class, or a key bit length
    /// (Key_Token_Build2 `clear_key_bit_length`, Key_Generate2, Key_Part_Import2) is not one
    /// IBM allows for the algorithm. 8/43 ("key_length / key_token_length not valid").
    /// A key-part parameter's length is not valid for the register class, or a clear key's
    /// length is not valid for the algorithm (Symmetric_Algorithm_Encipher with KEY-CLR). 8/43
    /// ("key_length / key_token_length not valid").
    KeyLength,
    /// The new-master-key register is not in the state the process keyword needs (MIDDLE or
    /// LAST with no FIRST part loaded, SET with an incomplete register). IBM documents no
    /// narrower code; softcca answers 8/34: the process keyword does not combine with the
    /// register's state.
    MasterKeyRegisterState,
    /// A third of a DES master key is a weak or semi-weak DES key. 8/703.
    WeakMasterKey,
    /// The new master key's verification pattern equals that of the current or old master key.
    /// 8/704.
    MasterKeyPatternCollision,
    /// A verb that asks for a master key of a class whose current register is empty. 12/764.
    MasterKeyNotLoaded,
    /// The card's random number generator failed its continuous health tests; the card
    /// releases no output. The device reports driver status 8340038F. 12/338 to CCA callers,
    /// since the coprocessor cannot serve the request (IBM documents no narrower CCA code).
    RngFault,
    /// The card could not commit its new state to flash; nothing changed. 16/336: return code
    /// 16 is IBM's "hardware or software error"; reason 336, "an error occurred in a
    /// cryptographic hardware or software component", is softcca's reading of IBM's table.
    StateNotCommitted,
    /// The coprocessor is not reachable or its CCA segment is not running. 12/338.
    CardUnavailable,
    /// The verb exists in CCA but is not (yet) implemented by this card. 8/2: "the verb is
    /// not supported" (IBM reason 2, "function not supported").
    NotSupported,
    /// A key token is not 64 bytes long. 8/43: "The keyword supplied with the key_length or
    /// the key_token_length parameter is not valid" (CCA254 Fig. A-4, p=364).
    KeyTokenLength,
    /// A key token has a flag, reserved or length field that is not valid, or its key
    /// material is inconsistent (AES LRC, padding). 8/47: "A source key token is unusable
    /// because it contains data that is not valid or undefined" (CCA254 Fig. A-4, p=364).
    KeyTokenInvalid,
    /// A key token's version number (byte 4) is not one this card accepts. 8/49: "A
    /// key-token-version-number found in a key token is not supported" (CCA254 p=364).
    KeyTokenVersion,
    /// The token-validation value of an internal key token is wrong. 8/29 (CCA254 p=364).
    InternalTokenValidation,
    /// The token-validation value of an external key token is wrong. 8/12 (CCA254 p=364;
    /// ICSF "Reason codes for return code 8", csfb4879).
    ExternalTokenValidation,
    /// A key token's master-key verification pattern matches neither the current nor the old
    /// master key. 8/24: ICSF "Reason codes for return code 8" (csfb4879) gives 018 (24) for
    /// exactly this case ("created with a master key that is neither the current master key
    /// nor the old master key"); CCA254 p=364 words 8/24 "The master key verification pattern
    /// is not valid". 8/48 ("One or more keys has a master key verification pattern that is
    /// not valid") is the nearby, less specific code softcca does not use here.
    MasterKeyPatternUnknown,
    /// No record with a matching key label is in key storage. 8/30 (CCA Basic Services
    /// Reference, Fig. A-4; IBM Docs "CCA for Linux", reason codes for return code 8).
    LabelNotFound,
    /// A key label's format is not valid (host key storage: bad characters, a token longer
    /// than eight characters, a numeric first character, too many tokens, a misplaced
    /// wildcard). 8/32, same sources.
    LabelFormat,
    /// A record with a matching key label already exists in key storage (Key Record Create).
    /// 8/44, same sources.
    LabelExists,
    /// Key Record Write with CHECK (the default) found a record whose token is not a null
    /// token. IBM's pages say the record "is written only if" it holds a null token but name
    /// no reason code for the refusal; softcca answers 8/44 ("a record with a matching key
    /// label already exists"), the nearest documented cause.
    RecordNotNull,
    /// Host key storage could not be read or written (the database is missing, locked past
    /// its timeout, or damaged); nothing changed. 16/336, as [`Failure::StateNotCommitted`]:
    /// IBM documents no narrower code for a key-storage I/O error.
    KeyStorageUnavailable,
    /// A key token's control vector is not a DATA key's where the verb accepts only DATA
    /// keys (the target token of Clear_Key_Import and Multiple_Clear_Key_Import). 8/31: "The
    /// control vector did not specify a DATA key" (CCA254 Fig. A-4, p=364;
    /// `/work/shared/docs/CCA-FACTS-symmetric.md` §7).
    NotDataKey,
    /// A key's control vector (or, for AES and HMAC tokens, its key-usage fields) does not
    /// permit what the verb was asked to do with it: a DATA key asked to MAC, an ENCIPHER key
    /// asked to decipher, an EXPORTER asked to import. 8/39: "A control vector violation
    /// occurred. Check all control vectors employed with the verb. For security reasons, no
    /// detail is provided" (CCA254 Fig. A-4, p=364).
    ControlVector,
    /// The `key_form` keyword is not valid for the verb or the key type. 8/41 ("The keyword
    /// supplied with the key_form parameter is not valid", CCA254 Fig. A-4, p=364).
    KeyForm,
    /// A PKA key token (RSA or ECC) has a field that is not valid: an identifier, version,
    /// section length or order, a length that points past the token's end, an unknown curve.
    /// 8/770 ("The PKA key token has an invalid field", CCA254 Fig. A-4, p=368).
    PkaTokenField,
    /// Deciphered data failed its check: an X9.23 or PKCS padding that is not valid
    /// (Decipher, Symmetric_Algorithm_Decipher) or a GCM authentication tag that does not
    /// verify (Symmetric_Algorithm_Decipher). IBM documents no reason code for these; softcca
    /// answers 8/72 (IBM's general "data not valid" code, as for [`Failure::ChainingVector`])
    /// for all of them alike, so that a padding error and a tag error look the same from
    /// outside, and returns no text.
    DecipheredData,
    /// An ECC curve that CCA defines but this card cannot compute on (Brainpool P-160r1,
    /// P-224r1, P-320r1), or a key-value structure naming a curve CCA does not define. 8/874:
    /// opencryptoki's `cca_specific.c` reads IBM's reason 874 as "curve not supported"
    /// (`/work/shared/docs/CCA-FACTS-pka-access-clu.md` §9); no IBM text was retrieved.
    CurveNotSupported,
    /// ECC_Diffie-Hellman given keys on different curves. 8/2158: opencryptoki's mapping of
    /// IBM's reason 2158, "curve type or size mismatch" (same fact sheet, §9).
    CurveMismatch,
    /// ECC_Diffie-Hellman (DERIV01, DERIV02) asked for a `key_bit_length` the output key
    /// token cannot hold (AES 128/192/256, DES 64/128/192, a DES control vector's length
    /// form), or one that differs from the size the private key's key-derivation data
    /// allows. 8/2149: opencryptoki's `cca_specific.c` maps CSNDEDH's 8/2149 to
    /// `CKR_KEY_SIZE_RANGE`; no IBM text for the reason was retrieved.
    DerivedKeyLength,
    /// An RSA key shorter than 2048 bits given to Symmetric_Key_Export or
    /// Symmetric_Key_Import2 with CKM-RAKW or PKOAEP2. 8/760: opencryptoki's `cca_specific.c`
    /// reads CSNDSYX/CSNDSYI2's 8/760 as "must be >= 2048 bit"
    /// (`CKR_WRAPPING_KEY_SIZE_RANGE`); no IBM text for the reason was retrieved.
    RsaKeyTooShort,
    /// PKA_Decrypt could not recover a key value: the PKCS #1 v1.5 block type 2 padding or
    /// the OAEP encoding does not decode, which is also what a wrong key gives. 8/2054. IBM's
    /// text for the codes opencryptoki 3.27 maps to "encrypted data invalid" (8/66, 8/2053,
    /// 8/2054) was not retrieved; softcca answers one of them, 8/2054, for every decoding
    /// failure alike so that the code is no padding oracle.
    PkaDecryptDecode,
    /// PKA_Key_Generate RETAIN with a label a retained key already has. 8/1025 ("Registered
    /// Public Key or Retained Private Key name already exists", CCA254 Fig. A-4, p=368).
    RetainedKeyExists,
    /// Retained_Key_Delete of a label no retained key has. 8/1026 ("Key name (Registered
    /// Public Key or Retained Private Key) does not exist", CCA254 Fig. A-4, p=368).
    RetainedKeyNotFound,
    /// The retained keys cannot be used or extended: the card holds as many as it can
    /// (IBM names no narrower code), or their sealed flash blob does not open. 8/1031
    /// ("There is an error in using Registered Public Key or Retained Private Key data",
    /// CCA254 Fig. A-4, p=368).
    RetainedKeyData,
    /// PKA_Key_Generate RETAIN with a skeleton whose usage is not signature only (KEY-MGMT,
    /// KM-ONLY). 12/3046 (IBM Docs "CCA for Linux", "Using retained keys": such an attempt
    /// "fails with error 12 reason code 3046").
    RetainKeyManagement,
    /// Access_Control_Maintenance named a role the card does not hold. 8/772, "The requested
    /// role was not found" (CCA Basic Services Reference 2.54, figure A-4).
    RoleNotFound,
    /// Access_Control_Maintenance named a user profile the card does not hold. 8/773, "The
    /// requested profile was not found" (same figure).
    ProfileNotFound,
    /// A role structure whose fields do not add up. 8/781, "There is an error in the role
    /// data" (same figure).
    RoleData,
}

impl Failure {
    /// The one mapping from a failure to IBM's return/reason code pair.
    pub const fn codes(self) -> Codes {
        match self {
            Failure::RuleArrayCount => Codes::new(8, 35),
            Failure::Keyword => Codes::new(8, 33),
            Failure::KeywordCombination => Codes::new(8, 34),
            Failure::Length => Codes::new(8, 72),
            Failure::TextLength => Codes::new(8, 25),
            Failure::ChainingVector => Codes::new(8, 72),
            Failure::KeyLength => Codes::new(8, 43),
            Failure::MasterKeyRegisterState => Codes::new(8, 34),
            Failure::WeakMasterKey => Codes::new(8, 703),
            Failure::MasterKeyPatternCollision => Codes::new(8, 704),
            Failure::MasterKeyNotLoaded => Codes::new(12, 764),
            Failure::RngFault => Codes::new(12, 338),
            Failure::StateNotCommitted => Codes::new(16, 336),
            Failure::CardUnavailable => Codes::new(12, 338),
            Failure::NotSupported => Codes::new(8, 2),
            Failure::KeyTokenLength => Codes::new(8, 43),
            Failure::KeyTokenInvalid => Codes::new(8, 47),
            Failure::KeyTokenVersion => Codes::new(8, 49),
            Failure::InternalTokenValidation => Codes::new(8, 29),
            Failure::ExternalTokenValidation => Codes::new(8, 12),
            Failure::MasterKeyPatternUnknown => Codes::new(8, 24),
            Failure::LabelNotFound => Codes::new(8, 30),
            Failure::LabelFormat => Codes::new(8, 32),
            Failure::LabelExists => Codes::new(8, 44),
            Failure::RecordNotNull => Codes::new(8, 44),
            Failure::KeyStorageUnavailable => Codes::new(16, 336),
            Failure::NotDataKey => Codes::new(8, 31),
            Failure::ControlVector => Codes::new(8, 39),
            Failure::KeyForm => Codes::new(8, 41),
            Failure::PkaTokenField => Codes::new(8, 770),
            Failure::DecipheredData => Codes::new(8, 72),
            Failure::CurveNotSupported => Codes::new(8, 874),
            Failure::CurveMismatch => Codes::new(8, 2158),
            Failure::DerivedKeyLength => Codes::new(8, 2149),
            Failure::RsaKeyTooShort => Codes::new(8, 760),
            Failure::PkaDecryptDecode => Codes::new(8, 2054),
            Failure::RetainedKeyExists => Codes::new(8, 1025),
            Failure::RetainedKeyNotFound => Codes::new(8, 1026),
            Failure::RetainedKeyData => Codes::new(8, 1031),
            Failure::RetainKeyManagement => Codes::new(12, 3046),
            Failure::RoleNotFound => Codes::new(8, 772),
            Failure::ProfileNotFound => Codes::new(8, 773),
            Failure::RoleData => Codes::new(8, 781),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?} ({})", self.codes())
    }
}

impl std::error::Error for Failure {}

/// Something a verb that completed wants the caller to know (return code 0 with a reason, or
/// return code 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// A DES master-key part did not have odd parity in every byte. 0/702.
    MasterKeyPartParity,
    /// Two thirds of the DES master key are equal. 0/701.
    MasterKeyDuplicateThirds,
    /// A control vector has a byte without even parity. 4/166: "The control vector is not
    /// valid because of parity bits, anti-variant bits, inconsistent KEK bits or because bits
    /// 59 - 62 are not zero" (IBM Docs "CCA for Linux", lxcc/wskc_r_retcode4reasoncodes.html;
    /// CCA254 Fig. A-3, p=363).
    ControlVectorParity,
    /// A key-storage verb given a wildcard label processed no record. 4/158 ("the verb did
    /// not process any key records", IBM Docs "CCA for Linux", reason codes for return
    /// code 4, lxcc/wskc_r_retcode4reasoncodes.html).
    NoRecordsProcessed,
    /// A clear DES key given to a verb has a byte without odd parity; the verb did its work
    /// with the key as given. 0/2 (IBM Docs "CCA for Linux", reason codes for return code 0:
    /// "the key does not have odd parity"; Clear Key Import, lxcc/wskc_r_cki.html: "returns a
    /// warning value in the reason_code parameter. This verb does not adjust the parity").
    KeyParity,
    /// A key enciphered under the old master key was used; the verb did its work. 0/10001
    /// ("A key encrypted under the old master key was used", IBM Docs "CCA for Linux", reason
    /// codes for return code 0).
    OldMasterKey,
    /// A verification verb (MAC_Verify, HMAC_Verify) found that the value does not verify.
    /// 4/1 ("The verification test failed", CCA254 Fig. A-3, p=363).
    VerificationFailed,
    /// Key_Token_Parse met a control vector it cannot fully parse into keywords; the other
    /// outputs are returned. 4/2039 (IBM Docs "CCA for Linux", "Key Token Parse (CSNBKTP)":
    /// "Otherwise, the verb returns return code 4, reason code 2039").
    ControlVectorNotParsed,
    /// Key_Test's key or key-part rule keyword names another length than the key in the
    /// token; the verb computed on the length the keyword names. 4/195 ("The key or key-part
    /// rule keyword provided does not match the length of the key in the enciphered key
    /// token. The output is based on the length specified", IBM Docs "CCA for Linux", reason
    /// codes for return code 4, lxcc/wskc_r_retcode4reasoncodes.html).
    KeyLengthMismatch,
    /// Digital_Signature_Verify found that the signature does not verify. 4/429 ("The
    /// digital signature is not verified. The verb completed its processing normally", IBM
    /// Docs "CCA for Linux", reason codes for return code 4,
    /// lxcc/wskc_r_retcode4reasoncodes.html).
    /// Digital_Signature_Verify found that the signature does not verify. 4/429 ("The digital
    /// signature is not verified. The verb completed its processing normally", IBM Docs
    /// "CCA for Linux", reason codes for return code 4, lxcc/wskc_r_retcode4reasoncodes.html).
    SignatureNotVerified,
}

impl Notice {
    /// The one mapping from a notice to IBM's return/reason code pair.
    pub const fn codes(self) -> Codes {
        match self {
            Notice::MasterKeyPartParity => Codes::new(0, 702),
            Notice::MasterKeyDuplicateThirds => Codes::new(0, 701),
            Notice::ControlVectorParity => Codes::new(4, 166),
            Notice::NoRecordsProcessed => Codes::new(4, 158),
            Notice::KeyParity => Codes::new(0, 2),
            Notice::OldMasterKey => Codes::new(0, 10001),
            Notice::VerificationFailed => Codes::new(4, 1),
            Notice::ControlVectorNotParsed => Codes::new(4, 2039),
            Notice::KeyLengthMismatch => Codes::new(4, 195),
            Notice::SignatureNotVerified => Codes::new(4, 429),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Failure] = &[
        Failure::RuleArrayCount,
        Failure::Keyword,
        Failure::KeywordCombination,
        Failure::Length,
        Failure::TextLength,
        Failure::ChainingVector,
        Failure::KeyLength,
        Failure::MasterKeyRegisterState,
        Failure::WeakMasterKey,
        Failure::MasterKeyPatternCollision,
        Failure::MasterKeyNotLoaded,
        Failure::RngFault,
        Failure::StateNotCommitted,
        Failure::CardUnavailable,
        Failure::NotSupported,
        Failure::KeyTokenLength,
        Failure::KeyTokenInvalid,
        Failure::KeyTokenVersion,
        Failure::InternalTokenValidation,
        Failure::ExternalTokenValidation,
        Failure::MasterKeyPatternUnknown,
        Failure::LabelNotFound,
        Failure::LabelFormat,
        Failure::LabelExists,
        Failure::RecordNotNull,
        Failure::KeyStorageUnavailable,
        Failure::NotDataKey,
        Failure::ControlVector,
        Failure::KeyForm,
        Failure::PkaTokenField,
        Failure::DecipheredData,
        Failure::CurveNotSupported,
        Failure::CurveMismatch,
        Failure::DerivedKeyLength,
        Failure::RsaKeyTooShort,
        Failure::PkaDecryptDecode,
        Failure::RetainedKeyExists,
        Failure::RetainedKeyNotFound,
        Failure::RetainedKeyData,
        Failure::RetainKeyManagement,
        Failure::RoleNotFound,
        Failure::ProfileNotFound,
        Failure::RoleData,
    ];

    #[test]
    fn failures_never_report_success() {
        for &f in ALL {
            assert!(f.codes().return_code >= 8, "{f:?}");
        }
    }

    #[test]
    fn documented_codes() {
        assert_eq!(Failure::RuleArrayCount.codes(), Codes::new(8, 35));
        assert_eq!(Failure::Keyword.codes(), Codes::new(8, 33));
        assert_eq!(Failure::TextLength.codes(), Codes::new(8, 25));
        assert_eq!(Failure::CardUnavailable.codes(), Codes::new(12, 338));
        assert_eq!(Notice::MasterKeyPartParity.codes(), Codes::new(0, 702));
        assert_eq!(Failure::InternalTokenValidation.codes(), Codes::new(8, 29));
        assert_eq!(Failure::ExternalTokenValidation.codes(), Codes::new(8, 12));
        assert_eq!(Failure::MasterKeyPatternUnknown.codes(), Codes::new(8, 24));
        assert_eq!(Notice::ControlVectorParity.codes(), Codes::new(4, 166));
        assert_eq!(Failure::LabelNotFound.codes(), Codes::new(8, 30));
        assert_eq!(Failure::CurveNotSupported.codes(), Codes::new(8, 874));
        assert_eq!(Notice::SignatureNotVerified.codes(), Codes::new(4, 429));
        assert_eq!(Failure::LabelFormat.codes(), Codes::new(8, 32));
        assert_eq!(Failure::LabelExists.codes(), Codes::new(8, 44));
        assert_eq!(Notice::NoRecordsProcessed.codes(), Codes::new(4, 158));
        assert_eq!(Failure::NotDataKey.codes(), Codes::new(8, 31));
        assert_eq!(Notice::KeyParity.codes(), Codes::new(0, 2));
        assert_eq!(Notice::ControlVectorNotParsed.codes(), Codes::new(4, 2039));
        assert_eq!(Notice::KeyLengthMismatch.codes(), Codes::new(4, 195));
        assert_eq!(Failure::RetainedKeyExists.codes(), Codes::new(8, 1025));
        assert_eq!(Failure::RetainedKeyNotFound.codes(), Codes::new(8, 1026));
        assert_eq!(Failure::RetainedKeyData.codes(), Codes::new(8, 1031));
        assert_eq!(Failure::RetainKeyManagement.codes(), Codes::new(12, 3046));
    }
}
