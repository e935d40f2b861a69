//! softcca's host library — the "CCA Support Program": a safe Rust API of the CCA verbs.
//!
//! A [`Cca`] reaches one card, either through the card daemon's socket ([`Cca::connect`]) or
//! by running the card inside this process ([`Cca::embedded`]); both run the same card code.
//! Each verb method marshals IBM's parameters into the card's parameter block, sends it, and
//! turns the card's answer back into Rust values. Return and reason codes are IBM's: a verb
//! that ends with return code 8 or more is an `Err(CcaError)` carrying them.
//!
//! Rule arrays are given as keywords (`&["RANDOM"]`); the library pads each to IBM's eight
//! bytes. A keyword longer than eight characters cannot be a CCA keyword and is refused with
//! 8/33, a rule array of more than 64 keywords with 8/35, without reaching the card.

#![forbid(unsafe_code)]

pub mod client;
pub mod keystore;
mod labels;
mod reencipher;
mod verbs_access;
mod verbs_data;
mod verbs_ecc;
mod verbs_keypart;
mod verbs_keys;
mod verbs_pka;
mod verbs_retained;
mod verbs_syx;
mod verbs_var;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use softcca_card::attest::{AttestError, Certificate, PublicKey, SignedStatus, verify_chain};
use softcca_card::sensors::Sensor;
use softcca_card::{Card, Codes, Failure, Model};
use softcca_platform::StateDir;
use softcca_wire::{
    AdminResult, AttestRequest, AttestResponse, DeviceStatus, LoadRequest, MAX_RULE_ARRAY,
    PROTOCOL_VERSION, Param, PingRequest, PingResponse, RequestBody, ResponseBody, SenseRequest,
    VerbName, VerbRequest, VerbResponse,
};

pub use client::TransportError;
pub use keystore::{DeleteMode, Family, KeyStore, Label, WriteMode};
pub use reencipher::ReencipherReport;
pub use softcca_card::rules::Element;
pub use verbs_access::{RegisterPatterns, StaticsB};
pub use verbs_data::{Ciphered, Mac, SymmetricOutput, SymmetricRequest};
pub use verbs_keypart::KeyTestValues;
pub use verbs_keys::KeyTokenParts;
pub use verbs_pka::{MAX_PKA_TOKEN, PkaBuildExtras};
pub use verbs_retained::RetainedKeyList;

/// A verb that did not do its work: IBM's return code (8 or more) and reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcaError {
    /// The return and reason codes.
    pub codes: Codes,
}

impl CcaError {
    fn from_failure(f: Failure) -> CcaError {
        CcaError { codes: f.codes() }
    }
}

impl std::fmt::Display for CcaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CCA return/reason code {}", self.codes)
    }
}

impl std::error::Error for CcaError {}

/// Why a host could not be set up.
#[derive(Debug)]
pub enum OpenError {
    /// The daemon could not be reached.
    Transport(TransportError),
    /// The card's state directory could not be opened.
    StateDir(softcca_platform::OpenError),
    /// The card did not power on.
    PowerOn(softcca_card::PowerOnError),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Transport(e) => write!(f, "{e}"),
            OpenError::StateDir(e) => write!(f, "{e}"),
            OpenError::PowerOn(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

enum Transport {
    Embedded {
        card: Arc<Card>,
        // Holds the state directory's lock while the card runs in this process.
        _dir: Option<StateDir>,
    },
    Daemon(client::Client),
}

/// The version CSUACFV reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityVersion {
    /// The CCA version, `v.r.m`.
    pub version: String,
    /// The build date, `yyyymmdd`.
    pub build_date: String,
    /// The 17 bytes IBM's C interface returns: version, date, NUL.
    pub raw: Vec<u8>,
}

/// A handle on one card. Cheap to share between threads (`&Cca` is all a verb needs).
pub struct Cca {
    transport: Transport,
    /// The state directory whose key storage the key-storage verbs use, if known.
    home: Option<PathBuf>,
    /// Key storage, opened on the first key-storage verb.
    keys: Mutex<Option<Arc<KeyStore>>>,
}

impl std::fmt::Debug for Cca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.transport {
            Transport::Embedded { card, .. } => write!(f, "Cca(embedded {card:?})"),
            Transport::Daemon(c) => write!(f, "Cca({c:?})"),
        }
    }
}

impl Cca {
    /// Connects to the card daemon listening at `socket`.
    pub fn connect(socket: &Path) -> Result<Cca, OpenError> {
        Cca::connect_with_timeout(socket, client::DEFAULT_TIMEOUT)
    }

    /// [`Cca::connect`], with each call waiting at most `timeout` for the card's answer
    /// (then 12/338).
    pub fn connect_with_timeout(
        socket: &Path,
        timeout: std::time::Duration,
    ) -> Result<Cca, OpenError> {
        let mut client = client::Client::connect(socket).map_err(OpenError::Transport)?;
        client.set_timeout(timeout);
        Ok(Cca {
            transport: Transport::Daemon(client),
            home: socket.parent().map(Path::to_path_buf),
            keys: Mutex::new(None),
        })
    }

    /// Runs the card of the state directory `home` inside this process (manufacturing it on
    /// first use, as IBM `model`, 4767 by default). The directory is locked while the
    /// returned value lives: no daemon or other process can run the same card meanwhile.
    pub fn embedded(home: &Path, model: Option<Model>) -> Result<Cca, OpenError> {
        let dir = StateDir::open(home).map_err(OpenError::StateDir)?;
        let (card, _) = Card::power_on(dir.platform(), model).map_err(OpenError::PowerOn)?;
        Ok(Cca {
            transport: Transport::Embedded {
                card: Arc::new(card),
                _dir: Some(dir),
            },
            home: Some(home.to_path_buf()),
            keys: Mutex::new(None),
        })
    }

    /// Uses a card the caller powered on (tests, or an application that owns its card).
    pub fn with_card(card: Arc<Card>) -> Cca {
        Cca {
            transport: Transport::Embedded { card, _dir: None },
            home: None,
            keys: Mutex::new(None),
        }
    }

    /// Uses `keys` as this handle's key storage (instead of `<home>/keystore.db`).
    pub fn with_key_store(self, keys: KeyStore) -> Cca {
        Cca {
            keys: Mutex::new(Some(Arc::new(keys))),
            ..self
        }
    }

    /// The key storage of this handle's state directory, opened on first use: the directory
    /// given to [`Cca::embedded`], or the one holding the daemon's socket for
    /// [`Cca::connect`]. A handle with neither answers 12/338.
    pub fn key_store(&self) -> Result<Arc<KeyStore>, CcaError> {
        let unavailable = CcaError::from_failure(Failure::KeyStorageUnavailable);
        let mut keys = self.keys.lock().map_err(|_| unavailable)?;
        if let Some(k) = keys.as_ref() {
            return Ok(Arc::clone(k));
        }
        let home = self
            .home
            .as_deref()
            .ok_or(CcaError::from_failure(Failure::CardUnavailable))?;
        let opened = Arc::new(KeyStore::open(home).map_err(|_| unavailable)?);
        *keys = Some(Arc::clone(&opened));
        Ok(opened)
    }

    /// Key_Record_Create (CSNBKRC for DES, CSNBAKRC for AES, CSNDKRC for PKA): a record
    /// holding `token`, or the family's null token when `token` is empty (CSNBKRC takes no
    /// token). 8/32 bad label, 8/43 bad token length, 8/44 the label exists. See
    /// [`keystore`] for IBM's pages.
    pub fn key_record_create(
        &self,
        family: Family,
        key_label: &[u8],
        key_token: &[u8],
    ) -> Result<(), CcaError> {
        self.key_store()?
            .create(family, key_label, key_token)
            .map_err(CcaError::from_failure)
    }

    /// Key_Record_Read (CSNBKRR, CSNBAKRR, CSNDKRR): the record's token. 8/30 no record.
    pub fn key_record_read(&self, family: Family, key_label: &[u8]) -> Result<Vec<u8>, CcaError> {
        self.key_store()?
            .read(family, key_label)
            .map_err(CcaError::from_failure)
    }

    /// Key_Record_Write (CSNBKRW, CSNBAKRW, CSNDKRW): rule array CHECK (default) or
    /// OVERLAY. 8/30 no record, 8/44 CHECK over a token that is not null.
    pub fn key_record_write(
        &self,
        family: Family,
        rule_array: &[&str],
        key_label: &[u8],
        key_token: &[u8],
    ) -> Result<(), CcaError> {
        let mode = match one_keyword(rule_array, &["CHECK", "OVERLAY"])? {
            Some("OVERLAY") => WriteMode::Overlay,
            _ => WriteMode::Check,
        };
        self.key_store()?
            .write(family, key_label, key_token, mode)
            .map_err(CcaError::from_failure)
    }

    /// Key_Record_Delete (CSNBKRD, CSNBAKRD, CSNDKRD): rule array TOKEN-DL (default) or
    /// LABEL-DL; the label may be a wildcard mask. Returns the codes: 0/0, or 4/158 when a
    /// mask matched no record. 8/30 an exact label with no record.
    pub fn key_record_delete(
        &self,
        family: Family,
        rule_array: &[&str],
        key_label: &[u8],
    ) -> Result<Codes, CcaError> {
        let mode = match one_keyword(rule_array, &["TOKEN-DL", "LABEL-DL"])? {
            Some("LABEL-DL") => DeleteMode::Label,
            _ => DeleteMode::Token,
        };
        let (_, notice) = self
            .key_store()?
            .delete(family, key_label, mode)
            .map_err(CcaError::from_failure)?;
        Ok(notice.map_or(Codes::OK, softcca_card::Notice::codes))
    }

    /// Key_Record_List (CSNBKRL, CSNBAKRL, CSNDKRL): writes the list file `KYRLTnnn.LST` of
    /// the records matching the mask into the state directory and returns its full name
    /// (IBM's `dataset_name`) with the matching labels.
    pub fn key_record_list(
        &self,
        family: Family,
        key_label: &[u8],
    ) -> Result<(PathBuf, Vec<Label>), CcaError> {
        let keys = self.key_store()?;
        let labels = keys
            .list(family, key_label)
            .map_err(CcaError::from_failure)?;
        let file = keys
            .list_to_file(family, key_label)
            .map_err(CcaError::from_failure)?;
        Ok((file, labels))
    }

    /// Sends one request of the bus and returns the card's answer.
    fn request(&self, request: RequestBody) -> Result<ResponseBody, TransportError> {
        match &self.transport {
            Transport::Embedded { card, .. } => Ok(card.handle(request)),
            Transport::Daemon(c) => c.call(&request),
        }
    }

    /// Checks that the card answers and speaks this library's protocol.
    pub fn ping(&self, echo: &[u8]) -> Result<PingResponse, TransportError> {
        match self.request(RequestBody::Ping(PingRequest {
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            echo: echo.to_vec(),
        }))? {
            ResponseBody::Ping(p) => Ok(p),
            other => Err(unexpected(&other)),
        }
    }

    /// The card's device status (what CLU's ST command shows).
    pub fn device_status(&self) -> Result<DeviceStatus, TransportError> {
        match self.request(RequestBody::DeviceStatus)? {
            ResponseBody::DeviceStatus(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    fn admin(&self, request: RequestBody) -> Result<AdminResult, TransportError> {
        match self.request(request)? {
            ResponseBody::Admin(a) => Ok(a),
            other => Err(unexpected(&other)),
        }
    }

    /// Resets the card (CLU's RS): it runs its power-on self-test again. Returns the driver
    /// status afterwards.
    pub fn reset(&self) -> Result<AdminResult, TransportError> {
        self.admin(RequestBody::Reset)
    }

    /// Loads a signed segment image (CLU's PL): load, reload or surrender, as the image says.
    /// A refusal comes back as a Miniboot driver status (8440xxxx) with a message.
    pub fn load(&self, image: &[u8]) -> Result<AdminResult, TransportError> {
        self.admin(RequestBody::Load(LoadRequest {
            image: image.to_vec(),
        }))
    }

    /// Plays a sensor event on the card (the tamper model; `softcca tamper`).
    pub fn sense(&self, sensor: Sensor) -> Result<AdminResult, TransportError> {
        self.admin(RequestBody::Sense(SenseRequest {
            sensor: sensor.code(),
        }))
    }

    /// The card's certificate chain and a status response signed over `nonce` (CLU's VA
    /// uses it; [`verify_attestation`] checks it).
    pub fn attest(&self, nonce: &[u8]) -> Result<AttestResponse, TransportError> {
        match self.request(RequestBody::Attest(AttestRequest {
            nonce: nonce.to_vec(),
        }))? {
            ResponseBody::Attest(a) => Ok(a),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends one verb's parameter block as it is and returns the card's answer. A card that
    /// cannot be reached answers 12/338, as IBM's library does when the coprocessor is not
    /// available. This is the door the C library uses; Rust callers want the verb methods.
    ///
    /// A key label given where the verb takes a key identifier is resolved first: the token
    /// of its record goes to the card, and an identifier the verb updates is written back to
    /// the record when the verb completes (see [`labels`]).
    pub fn call(&self, mut request: VerbRequest) -> VerbResponse {
        if !labels::has_labels(&request) {
            return self.send(request);
        }
        let keys = match self.key_store() {
            Ok(k) => k,
            Err(e) => return codes_response(e.codes),
        };
        let resolved = match labels::resolve(&keys, &mut request) {
            Ok(r) => r,
            Err(f) => return failure_response(f),
        };
        let response = self.send(request);
        if response.return_code < 8
            && let Err(f) = labels::write_back(&keys, &resolved, &response.outputs)
        {
            return failure_response(f);
        }
        response
    }

    fn send(&self, request: VerbRequest) -> VerbResponse {
        match &self.transport {
            Transport::Embedded { card, .. } => card.execute(&request),
            Transport::Daemon(c) => match c.call(&RequestBody::Verb(request)) {
                Ok(ResponseBody::Verb(v)) => v,
                _ => failure_response(Failure::CardUnavailable),
            },
        }
    }

    fn verb(
        &self,
        name: &str,
        rule_array: &[&str],
        params: Vec<Param>,
    ) -> Result<VerbResponse, CcaError> {
        let verb = VerbName::new(name).ok_or(CcaError::from_failure(Failure::NotSupported))?;
        let rule_array = rule_array_of(rule_array)?;
        let response = self.call(VerbRequest {
            verb,
            rule_array,
            params,
        });
        if response.return_code >= 8 {
            return Err(CcaError {
                codes: Codes::new(response.return_code, response.reason_code),
            });
        }
        Ok(response)
    }

    /// Cryptographic_Facility_Query (CSUACFQ): the rule-array elements the card returns for
    /// an information keyword (`STATCCA`, `STATCCAE`, `STATAES`, `STATAPKA`, `STATCARD`,
    /// `STATCRD2`, `TIMEDATE`), optionally after `ADAPTER1`. The keywords that answer in verb
    /// data (`STATICSB`, `DOM-NUMS`, `DOM-USAG`) go through
    /// [`Cca::cryptographic_facility_query_data`].
    pub fn cryptographic_facility_query(
        &self,
        rule_array: &[&str],
    ) -> Result<Vec<Element>, CcaError> {
        let r = self.verb(
            "CSUACFQ",
            rule_array,
            vec![Param::Int(0), Param::Bytes(Vec::new())],
        )?;
        Ok(r.rule_array)
    }

    /// Cryptographic_Facility_Version (CSUACFV): the card's CCA version and build date.
    pub fn cryptographic_facility_version(&self) -> Result<FacilityVersion, CcaError> {
        let len = i32::try_from(softcca_card::VERSION_DATA_LEN).unwrap_or(i32::MAX);
        let r = self.verb("CSUACFV", &[], vec![Param::Int(len)])?;
        let raw = single_bytes(r)?;
        let text = |range: std::ops::Range<usize>| {
            raw.get(range)
                .map(|b| String::from_utf8_lossy(b).trim_end().to_string())
                .unwrap_or_default()
        };
        Ok(FacilityVersion {
            version: text(0..8),
            build_date: text(8..16),
            raw,
        })
    }

    /// Master_Key_Process (CSNBMKP): loads a master-key part (FIRST, MIDDLE, LAST), generates
    /// a random master key (RANDOM), sets (SET) or clears (CLEAR, CLR-OLD) a register class
    /// (SYM-MK, ASYM-MK, AES-MK, APKA-MK). Returns the codes: 0/0, or a warning such as 0/702
    /// (a DES key part without odd parity). `key_part` is ignored for CLEAR, CLR-OLD, RANDOM
    /// and SET, as in IBM's interface.
    pub fn master_key_process(
        &self,
        rule_array: &[&str],
        key_part: &[u8],
    ) -> Result<Codes, CcaError> {
        let r = self.verb("CSNBMKP", rule_array, vec![Param::Bytes(key_part.to_vec())])?;
        Ok(Codes::new(r.return_code, r.reason_code))
    }

    /// Clear_Key_Import (CSNBCKI): enciphers an 8-byte clear DES key under the current SYM
    /// master key as a single-length DATA key. `target_key_identifier` is a 64-byte null token
    /// or an internal DATA token; the new internal token is returned with the codes (0/2 when
    /// the key lacks odd parity: IBM does not adjust it).
    pub fn clear_key_import(
        &self,
        clear_key: &[u8],
        target_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBCKI",
            &[],
            vec![
                Param::Bytes(clear_key.to_vec()),
                Param::Bytes(target_key_identifier.to_vec()),
            ],
        )?;
        let codes = codes_of(&r);
        Ok((single_bytes(r)?, codes))
    }

    /// Multiple_Clear_Key_Import (CSNBCKM): enciphers a clear DATA key under the current
    /// master key: DES (default; 8, 16 or 24 bytes, under the SYM master key with the default
    /// DATA control vector) or AES (16, 24 or 32 bytes, under the AES master key).
    /// `key_identifier` is a 64-byte null token or an internal DATA token of the algorithm.
    /// Returns the internal token and the codes (0/2 for a DES key without odd parity).
    pub fn multiple_clear_key_import(
        &self,
        rule_array: &[&str],
        clear_key: &[u8],
        key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBCKM",
            rule_array,
            vec![
                Param::Bytes(clear_key.to_vec()),
                Param::Bytes(key_identifier.to_vec()),
            ],
        )?;
        let codes = codes_of(&r);
        Ok((single_bytes(r)?, codes))
    }

    /// One_Way_Hash (CSNBOWH): hashes `text` with the method of the rule array (MD5,
    /// RPMD-160, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512, SHA3-224, SHA3-256, SHA3-384,
    /// SHA3-512) and the chaining flag (ONLY by default, FIRST, MIDDLE, LAST).
    /// `chaining_vector` is IBM's 128-byte work area: pass it unchanged from one call of a
    /// chain to the next. `hash_length` is the caller's hash field; the result (the digest for
    /// ONLY and LAST, the intermediate value for FIRST and MIDDLE) is at most that long.
    pub fn one_way_hash(
        &self,
        rule_array: &[&str],
        text: &[u8],
        chaining_vector: &mut [u8; 128],
        hash_length: usize,
    ) -> Result<Vec<u8>, CcaError> {
        let hash_length =
            i32::try_from(hash_length).map_err(|_| CcaError::from_failure(Failure::Length))?;
        let r = self.verb(
            "CSNBOWH",
            rule_array,
            vec![
                Param::Bytes(text.to_vec()),
                Param::Bytes(chaining_vector.to_vec()),
                Param::Int(hash_length),
            ],
        )?;
        let mut outputs = r.outputs.into_iter();
        match (outputs.next(), outputs.next()) {
            (Some(Param::Bytes(cv)), Some(Param::Bytes(hash))) if cv.len() == 128 => {
                chaining_vector.copy_from_slice(&cv);
                Ok(hash)
            }
            _ => Err(CcaError::from_failure(Failure::CardUnavailable)),
        }
    }

    /// Random_Number_Generate (CSNBRNG): 8 random bytes, with `form` RANDOM, ODD or EVEN
    /// parity in each byte.
    pub fn random_number_generate(&self, form: &str) -> Result<[u8; 8], CcaError> {
        let form =
            softcca_card::rules::element(form).ok_or(CcaError::from_failure(Failure::Keyword))?;
        let r = self.verb("CSNBRNG", &[], vec![Param::Bytes(form.to_vec())])?;
        single_bytes(r)?
            .try_into()
            .map_err(|_| CcaError::from_failure(Failure::CardUnavailable))
    }

    /// Random_Number_Generate_Long (CSNBRNGL): `length` (1–8192) random bytes; the rule array
    /// names the parity (RANDOM, ODD, EVEN).
    pub fn random_number_generate_long(
        &self,
        rule_array: &[&str],
        length: usize,
    ) -> Result<Vec<u8>, CcaError> {
        let length = i32::try_from(length).map_err(|_| CcaError::from_failure(Failure::Length))?;
        let r = self.verb(
            "CSNBRNGL",
            rule_array,
            vec![Param::Bytes(Vec::new()), Param::Int(length)],
        )?;
        single_bytes(r)
    }
}

/// What a successful validation (CLU's VA) established.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The class-key certificate, verified with the root.
    pub class: Certificate,
    /// The device-key certificate, verified with the class key.
    pub device: Certificate,
    /// The status the card signed over the nonce, verified with the device key.
    pub status: SignedStatus,
}

/// Checks an attestation the way CLU's VA does: the class-key certificate with the pinned
/// root's public key, the device-key certificate with the class key, then the status the
/// card signed with its device key over `nonce`.
pub fn verify_attestation(
    root: &PublicKey,
    attestation: &AttestResponse,
    nonce: &[u8],
    now: u64,
) -> Result<Validated, AttestError> {
    let class = Certificate::from_bytes(&attestation.class_certificate)?;
    let device = Certificate::from_bytes(&attestation.device_certificate)?;
    verify_chain(root, &class, &device, now)?;
    let status = SignedStatus::from_bytes(&attestation.signed_status)?;
    status.verify(&device.public_key, nonce)?;
    Ok(Validated {
        class,
        device,
        status,
    })
}

/// The verbs whose key identifiers may be key labels, each with the indices of those
/// parameters in its parameter block (see [`Cca::call`]).
pub fn label_parameters() -> impl Iterator<Item = (&'static str, Vec<usize>)> {
    labels::TABLE
        .iter()
        .map(|(verb, params)| (*verb, params.iter().map(|p| p.param).collect()))
}

/// Pads keywords to rule-array elements; refuses what cannot be a rule array.
pub fn rule_array_of(keywords: &[&str]) -> Result<Vec<Element>, CcaError> {
    if keywords.len() > usize::from(MAX_RULE_ARRAY) {
        return Err(CcaError::from_failure(Failure::RuleArrayCount));
    }
    keywords
        .iter()
        .map(|k| softcca_card::rules::element(k).ok_or(CcaError::from_failure(Failure::Keyword)))
        .collect()
}

/// The one optional keyword of a key-storage verb's rule array: 8/35 for more than one
/// keyword, 8/33 for a keyword not in `allowed`.
fn one_keyword<'a>(rule_array: &[&str], allowed: &[&'a str]) -> Result<Option<&'a str>, CcaError> {
    let elements = rule_array_of(rule_array)?;
    match elements.as_slice() {
        [] => Ok(None),
        [e] => allowed
            .iter()
            .find(|k| softcca_card::rules::element(k).as_ref() == Some(e))
            .copied()
            .map(Some)
            .ok_or(CcaError::from_failure(Failure::Keyword)),
        _ => Err(CcaError::from_failure(Failure::RuleArrayCount)),
    }
}

/// The return and reason codes of a verb's answer.
pub(crate) fn codes_of(r: &VerbResponse) -> Codes {
    Codes::new(r.return_code, r.reason_code)
}

fn single_bytes(r: VerbResponse) -> Result<Vec<u8>, CcaError> {
    match r.outputs.into_iter().next() {
        Some(Param::Bytes(b)) => Ok(b),
        _ => Err(CcaError::from_failure(Failure::CardUnavailable)),
    }
}

fn failure_response(f: Failure) -> VerbResponse {
    codes_response(f.codes())
}

fn codes_response(codes: Codes) -> VerbResponse {
    VerbResponse {
        return_code: codes.return_code,
        reason_code: codes.reason_code,
        rule_array: Vec::new(),
        outputs: Vec::new(),
    }
}

fn unexpected(body: &ResponseBody) -> TransportError {
    match body {
        ResponseBody::Error { status, detail } => {
            TransportError::Protocol(format!("{status:?}: {detail}"))
        }
        _ => TransportError::Protocol("an answer of the wrong kind".into()),
    }
}
