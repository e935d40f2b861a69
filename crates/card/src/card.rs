//! The card: the secure boundary that executes verbs, and its life.
//!
//! A [`Card`] is shared by every thread of the daemon (or of an embedded host). Its engines
//! are independent: the random-number engine and the master-key registers have locks of
//! their own, so a verb waits only for the engine it uses, as on IBM's card, where "the RSA
//! engine, DES engine, CPU, random number generator, and PCIe communications interface …
//! work independently".
//!
//! The card's life (IBM 4767 FAQ; ARCHITECTURE.md, "The card's life"):
//!
//! ```text
//!  flash empty ──manufacture──► POWER-ON SELF-TEST ──passes, and its time is up──► READY
//!                                    ▲    │ fails                                    │
//!        reset (power-on, `clu rs`,  │    ▼                                          │
//!        end of a code load) ────────┘  SELF-TEST FAILED (no output)                 │
//!                                                                                    │
//!  READY ──reset-bit sensor──► RESET BIT ON (until reset)                            │
//!  any ──mesh / temperature / voltage / dead battery──► ZEROIZED, disabled for good ◄┘
//! ```
//!
//! Verbs run only when the card is READY, its RNG is healthy and segments 2 and 3 hold
//! runnable CCA code (owner 2); otherwise they answer 12/338 ("the coprocessor code has not
//! been loaded", or the coprocessor is not available). A request that is running when the
//! card is reset, reloaded or tampered with fails the same way and releases nothing.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Duration;

use softcca_wire::{DeviceStatus, VerbRequest, VerbResponse};
use zeroize::{Zeroize, Zeroizing};

use crate::access::RoleTable;
use crate::attest::{AttestError, Certificate, DeviceKey, SignedStatus};
use crate::error::{Codes, Failure, Notice};
use crate::factory::Factory;
use crate::firmware::Image;
use crate::mk::{Class, MasterKey, NewState, Register, verification_pattern};
use crate::model::{Identity, Model, serial_from_random};
use crate::platform::{BatteryRam, Clock, Flash, Platform};
use crate::retained;
use crate::rng::{CardRng, RngFault};
use crate::rules::Element;
use crate::segments::{
    LoadRefused, OWNER_CCA, SegmentRecord, SegmentState, grouped_hex, image_hash, plan_load,
    record_of,
};
use crate::selftest::{self, Kat};
use crate::sensors::Sensor;
use crate::state::{self, Certificates, Persistent, STORAGE_KEY_LEN, StateError};
use crate::verbs::held::HeldHashes;
use crate::verbs::{self, Params, Reply};

/// The device-driver status a card in the RNG-fault state reports (IBM FAQ, "What do CLU's
/// return codes mean?": 8340038F, "Random number generation fault").
pub const DRIVER_RNG_FAULT: u32 = 0x8340_038F;

/// Driver status of a card whose device key failed its pairwise check at power-on.
pub const DRIVER_DEVICE_KEY_FAULT: u32 = 0x8340_0402;

/// The flash blob that holds the card's state.
pub const STATE_BLOB: &str = "card.state";

/// Personalization string of the card's Hash_DRBG.
const DRBG_PERSONALIZATION: &[u8] = b"softcca coprocessor Hash_DRBG v1";

/// How long the certificates a factory issues at manufacturing are valid.
const DEVICE_CERT_VALIDITY: u64 = 30 * 365 * 86_400;

/// Why a card could not power on.
#[derive(Debug)]
pub enum PowerOnError {
    /// Flash could not be read or written.
    Flash(io::Error),
    /// Battery-backed RAM could not be read or written.
    BatteryRam(io::Error),
    /// The state in flash could not be read back.
    State(StateError),
    /// The card was asked to manufacture itself while its random number generator is in the
    /// fault state.
    Rng(RngFault),
    /// Manufacturing could not make or certify the device key, or sign the first firmware.
    Manufacturing(String),
    /// The card in flash is of another model than the one asked for.
    ModelMismatch {
        /// The model the card was manufactured as.
        manufactured: Model,
        /// The model asked for.
        requested: Model,
    },
}

impl std::fmt::Display for PowerOnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PowerOnError::Flash(e) => write!(f, "card flash: {e}"),
            PowerOnError::BatteryRam(e) => write!(f, "card battery-backed RAM: {e}"),
            PowerOnError::State(e) => write!(f, "{e}"),
            PowerOnError::Rng(e) => write!(f, "cannot manufacture the card: {e}"),
            PowerOnError::Manufacturing(e) => write!(f, "cannot manufacture the card: {e}"),
            PowerOnError::ModelMismatch {
                manufactured,
                requested,
            } => write!(
                f,
                "this card was manufactured as an IBM {} and cannot become an IBM {}",
                manufactured.number(),
                requested.number()
            ),
        }
    }
}

impl std::error::Error for PowerOnError {}

/// What power-on did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerOn {
    /// The state directory was empty: the card was manufactured now.
    Manufactured,
    /// An existing card was powered on.
    Resumed,
}

/// How to power a card on.
#[derive(Debug, Default)]
pub struct PowerOnOptions<'a> {
    /// The model to manufacture (IBM 4767 when `None`); a manufactured card keeps its own and
    /// refuses another.
    pub model: Option<Model>,
    /// How long every power-on self-test keeps the card busy after its tests have run (IBM's
    /// card takes minutes). Zero: ready as soon as the tests pass.
    pub self_test: Duration,
    /// Who certifies the device key and signs the first firmware if the card must be
    /// manufactured; `None`: softcca's development factory.
    pub factory: Option<&'a Factory>,
    /// Makes one known-answer test fail, to test the failure path. Never set it otherwise.
    pub insecure_failing_kat: Option<Kat>,
}

/// Where the card is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Running its power-on self-test; ready once `ready_at` (monotonic) has passed.
    SelfTest {
        /// When the self-test ends.
        ready_at: Duration,
    },
    /// Serving.
    Ready,
    /// The self-test failed; the driver status says which part.
    SelfTestFailed(u32),
    /// The reset bit is on; only a reset brings the card back.
    ResetBit,
    /// Zeroized by a sensor and disabled for good.
    Disabled(Sensor),
}

/// The card's public, non-register state that changes over its life.
#[derive(Debug, Clone)]
struct Public {
    disabled: Option<Sensor>,
    intrusion_latch: bool,
    battery_low: bool,
    segments: [SegmentRecord; 3],
    certificates: Certificates,
}

struct Storage {
    flash: Box<dyn Flash>,
    bbram: Box<dyn BatteryRam>,
    storage_key: Zeroizing<Vec<u8>>,
}

/// What `clu va` needs from the card: its certificate chain and a status response it signed
/// over the verifier's nonce.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The class-key certificate.
    pub class_certificate: Vec<u8>,
    /// The device-key certificate.
    pub device_certificate: Vec<u8>,
    /// The signed status.
    pub signed_status: Vec<u8>,
}

/// The emulated coprocessor.
pub struct Card {
    identity: Identity,
    clock: Box<dyn Clock>,
    self_test_duration: Duration,
    failing_kat: Option<Kat>,
    rng: Mutex<CardRng>,
    rng_failed: AtomicBool,
    /// Fast path: false exactly when the card is READY with runnable CCA code.
    blocked: AtomicBool,
    /// Bumped by every reset, load and tamper: a verb that started before it fails.
    epoch: AtomicU64,
    condition: Mutex<Condition>,
    registers: RwLock<[Register; 4]>,
    public: Mutex<Public>,
    device_key: Mutex<Option<DeviceKey>>,
    storage: Mutex<Storage>,
    held_hashes: HeldHashes,
    /// The retained keys (`None` until first read from their flash blob). Lock order:
    /// retained → registers → RNG → storage.
    retained: Mutex<Option<retained::Keys>>,
    /// The access-control roles (a fresh card's table; see [`crate::access`]).
    roles: RwLock<RoleTable>,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("identity", &self.identity)
            .field("condition", &self.condition())
            .finish_non_exhaustive()
    }
}

impl Card {
    /// Powers the card on with the development factory and no self-test delay: reads its
    /// state from flash, or manufactures a new card of `model` (IBM 4767 when `None`).
    pub fn power_on(
        platform: Platform,
        model: Option<Model>,
    ) -> Result<(Card, PowerOn), PowerOnError> {
        Card::power_on_with(
            platform,
            PowerOnOptions {
                model,
                ..PowerOnOptions::default()
            },
        )
    }

    /// Powers the card on: reads its state from flash (or manufactures the card if flash is
    /// empty), then runs the power-on self-test.
    pub fn power_on_with(
        platform: Platform,
        options: PowerOnOptions<'_>,
    ) -> Result<(Card, PowerOn), PowerOnError> {
        let Platform {
            entropy,
            clock,
            flash,
            bbram,
        } = platform;
        let mut rng = CardRng::start(entropy, DRBG_PERSONALIZATION);
        let (persistent, storage_key, how) = match flash
            .read(STATE_BLOB)
            .map_err(PowerOnError::Flash)?
        {
            Some(blob) => {
                let opened = state::open(&blob).map_err(PowerOnError::State)?;
                let (persistent, key) = if opened.is_tombstone() {
                    (opened.public, Zeroizing::new(Vec::new()))
                } else {
                    match bbram.read().map_err(PowerOnError::BatteryRam)? {
                        Some(key) => (opened.unseal(&key).map_err(PowerOnError::State)?, key),
                        None => {
                            // The battery-backed RAM lost its contents: the card's secrets are
                            // gone, as with a dead battery. Record it for good.
                            let mut public = opened.public;
                            public.disabled = Some(Sensor::BatteryDead);
                            let blob = state::tombstone(&public).map_err(PowerOnError::State)?;
                            flash
                                .write(STATE_BLOB, &blob)
                                .map_err(PowerOnError::Flash)?;
                            (public, Zeroizing::new(Vec::new()))
                        }
                    }
                };
                if let Some(requested) = options.model
                    && requested != persistent.identity.model
                {
                    return Err(PowerOnError::ModelMismatch {
                        manufactured: persistent.identity.model,
                        requested,
                    });
                }
                (persistent, key, PowerOn::Resumed)
            }
            None => {
                let model = options.model.unwrap_or(Model::Ibm4767);
                let development;
                let factory = match options.factory {
                    Some(f) => f,
                    None => {
                        development = Factory::development(model)
                            .map_err(|e| PowerOnError::Manufacturing(e.to_string()))?;
                        &development
                    }
                };
                let (persistent, key) =
                    manufacture(model, factory, &mut rng, clock.as_ref(), flash.as_ref())?;
                let mut nonce = [0u8; 12];
                rng.fill(&mut nonce).map_err(PowerOnError::Rng)?;
                let blob = state::seal(&persistent, &key, nonce).map_err(PowerOnError::State)?;
                // Battery-backed RAM first: a crash between the two writes leaves no state in
                // flash, and the next power-on manufactures again.
                bbram.write(&key).map_err(PowerOnError::BatteryRam)?;
                flash
                    .write(STATE_BLOB, &blob)
                    .map_err(PowerOnError::Flash)?;
                (persistent, key, PowerOn::Manufactured)
            }
        };
        let device_key = if persistent.device_key.is_empty() {
            None
        } else {
            DeviceKey::from_pkcs8(&persistent.device_key).ok()
        };
        let condition = match persistent.disabled {
            Some(sensor) => Condition::Disabled(sensor),
            None => Condition::SelfTest {
                ready_at: Duration::ZERO,
            },
        };
        let card = Card {
            identity: persistent.identity,
            clock,
            self_test_duration: options.self_test,
            failing_kat: options.insecure_failing_kat,
            rng_failed: AtomicBool::new(rng.fault().is_some()),
            rng: Mutex::new(rng),
            blocked: AtomicBool::new(true),
            epoch: AtomicU64::new(0),
            condition: Mutex::new(condition),
            registers: RwLock::new(persistent.registers),
            public: Mutex::new(Public {
                disabled: persistent.disabled,
                intrusion_latch: persistent.intrusion_latch,
                battery_low: persistent.battery_low,
                segments: persistent.segments,
                certificates: persistent.certificates,
            }),
            device_key: Mutex::new(device_key),
            held_hashes: HeldHashes::default(),
            retained: Mutex::new(None),
            roles: RwLock::new(RoleTable::factory()),
            storage: Mutex::new(Storage {
                flash,
                bbram,
                storage_key,
            }),
        };
        card.reset();
        Ok((card, how))
    }

    /// The card's identity from manufacturing.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Where the card is in its life.
    pub fn condition(&self) -> Condition {
        self.set_condition(|c| match c {
            Condition::SelfTest { ready_at } if self.clock.monotonic() >= ready_at => {
                Condition::Ready
            }
            other => other,
        })
    }

    /// Changes the condition under its lock and recomputes the fast-path flag under the same
    /// lock. A zeroized card stays zeroized, whatever a racing reset or sensor asks.
    fn set_condition(&self, next: impl FnOnce(Condition) -> Condition) -> Condition {
        let mut condition = lock(&self.condition);
        if !matches!(*condition, Condition::Disabled(_)) {
            *condition = next(*condition);
        }
        let serving = *condition == Condition::Ready && Card::cca_loaded(&lock(&self.public));
        self.blocked.store(!serving, Ordering::Release);
        *condition
    }

    /// Stops new verbs, then makes every running verb fail when it ends (the epoch check in
    /// `execute`).
    fn interrupt(&self) {
        {
            let _condition = lock(&self.condition);
            self.blocked.store(true, Ordering::Release);
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.held_hashes.clear();
    }

    /// Runs `f` with the card's role table (Access_Control_Maintenance).
    pub(crate) fn with_roles<T>(&self, f: impl FnOnce(&RoleTable) -> T) -> T {
        let roles = self
            .roles
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&roles)
    }

    /// One_Way_Hash chains whose state the card holds (MD5, RIPEMD-160, SHA-3).
    pub(crate) fn held_hashes(&self) -> &HeldHashes {
        &self.held_hashes
    }

    /// Resets the card, as power-on, the device driver's reset command, the end of a code
    /// load or `clu rs` do: running requests fail, then the power-on self-test runs —
    /// known-answer tests of every algorithm, the integrity of every segment image against
    /// its recorded hash and signature, the device key's pairwise check, the RNG's start-up
    /// health test. Returns the driver status afterwards.
    pub fn reset(&self) -> u32 {
        self.interrupt();
        if let Condition::Disabled(_) = self.condition() {
            return self.driver_status();
        }
        let outcome = self.self_test();
        self.set_condition(|_| match outcome {
            Ok(()) => Condition::SelfTest {
                ready_at: self.clock.monotonic() + self.self_test_duration,
            },
            Err(code) => Condition::SelfTestFailed(code),
        });
        self.driver_status()
    }

    fn self_test(&self) -> Result<(), u32> {
        selftest::run(self.failing_kat).map_err(|_| selftest::KAT_FAILURE)?;
        {
            let mut rng = self.rng_lock();
            if rng.fault().is_some() && rng.recover().is_err() {
                self.rng_failed.store(true, Ordering::Release);
            } else {
                self.rng_failed.store(false, Ordering::Release);
            }
        }
        let public = lock(&self.public).clone();
        let signer = Certificate::from_bytes(&public.certificates.code_signer)
            .map(|c| c.public_key)
            .ok();
        let storage = self.storage_lock();
        for (index, segment) in public.segments.iter().enumerate() {
            let Some(record) = &segment.image else {
                continue;
            };
            let code = 0x8440_0A01 + index as u32;
            let bytes = storage
                .flash
                .read(&record.blob)
                .ok()
                .flatten()
                .ok_or(code)?;
            if image_hash(&bytes) != record.hash {
                return Err(code);
            }
            let image = Image::from_bytes(&bytes).map_err(|_| code)?;
            let signer = signer.as_ref().ok_or(code)?;
            if image.verify(signer).is_err() || usize::from(image.segment) != index + 1 {
                return Err(code);
            }
        }
        // Images of loads that never committed (a crash in the middle) are left-overs.
        let referenced: Vec<&str> = public
            .segments
            .iter()
            .filter_map(|s| s.image.as_ref().map(|i| i.blob.as_str()))
            .collect();
        if let Ok(names) = storage.flash.names() {
            for name in names {
                if name.starts_with("segment-") && !referenced.contains(&name.as_str()) {
                    let _ = storage.flash.remove(&name);
                }
            }
        }
        drop(storage);
        if let Some(key) = lock(&self.device_key).as_ref() {
            let probe = b"softcca power-on self-test";
            let signature = key.sign(probe).map_err(|_| DRIVER_DEVICE_KEY_FAULT)?;
            key.public_key()
                .verify(probe, &signature)
                .map_err(|_| DRIVER_DEVICE_KEY_FAULT)?;
        }
        Ok(())
    }

    /// Whether the application in segments 2 and 3 is runnable CCA.
    fn cca_loaded(public: &Public) -> bool {
        let [_, os, app] = &public.segments;
        os.runnable() && app.runnable() && app.owner == OWNER_CCA
    }

    /// Executes one verb. Never panics on any request; every refusal is a CCA code, and a
    /// refused request changes nothing.
    pub fn execute(&self, request: &VerbRequest) -> VerbResponse {
        let epoch = self.epoch.load(Ordering::Acquire);
        let outcome = self.dispatch(request).and_then(|reply| {
            // Reset, reloaded or tampered with while the verb ran: it releases nothing.
            if self.epoch.load(Ordering::Acquire) == epoch {
                Ok(reply)
            } else {
                Err(Failure::CardUnavailable)
            }
        });
        let (codes, reply) = match outcome {
            Ok(reply) => (reply.notice.map_or(Codes::OK, Notice::codes), reply),
            Err(failure) => (failure.codes(), Reply::default()),
        };
        VerbResponse {
            return_code: codes.return_code,
            reason_code: codes.reason_code,
            rule_array: reply.rule_array,
            outputs: reply.outputs,
        }
    }

    fn dispatch(&self, request: &VerbRequest) -> Result<Reply, Failure> {
        if self.blocked.load(Ordering::Acquire) {
            // The self-test may have just run out its time: look again, under the lock.
            self.condition();
            if self.blocked.load(Ordering::Acquire) {
                // Not READY, or no runnable CCA code in segments 2 and 3: IBM's 12/338.
                return Err(Failure::CardUnavailable);
            }
        }
        if self.rng_failed.load(Ordering::Acquire) {
            return Err(Failure::RngFault);
        }
        let rules: &[Element] = &request.rule_array;
        let params = Params(&request.params);
        match request.verb.as_str() {
            "CSUACFC" => verbs::facility::csuacfc(self, rules, params),
            "CSUACFQ" => verbs::facility::csuacfq(self, rules, params),
            "CSUACFV" => verbs::facility::csuacfv(self, rules, params),
            "CSUAACM" => verbs::acm::csuaacm(self, rules, params),
            "CSNBCKI" => verbs::import::csnbcki(self, rules, params),
            "CSNBCKM" => verbs::import::csnbckm(self, rules, params),
            "CSNBKEX" => verbs::transport::csnbkex(self, rules, params),
            "CSNBKGN" => verbs::keygen::csnbkgn(self, rules, params),
            "CSNBKIM" => verbs::transport::csnbkim(self, rules, params),
            "CSNBKTB" => verbs::keytoken::csnbktb(self, rules, params),
            "CSNBKTP" => verbs::keytoken::csnbktp(self, rules, params),
            "CSNBKTR" => verbs::transport::csnbktr(self, rules, params),
            "CSNBKPI" => verbs::keypart::csnbkpi(self, rules, params),
            "CSNBKTC" => verbs::ktc::csnbktc(self, rules, params),
            "CSNBKYT" => verbs::keytest::csnbkyt(self, rules, params),
            "CSNBKYTX" => verbs::keytest::csnbkytx(self, rules, params),
            "CSNBDEC" => verbs::cipher::csnbdec(self, rules, params),
            "CSNBENC" => verbs::cipher::csnbenc(self, rules, params),
            "CSNBMGN" => verbs::mac::csnbmgn(self, rules, params),
            "CSNBMVR" => verbs::mac::csnbmvr(self, rules, params),
            "CSNBMKP" => verbs::mkp::csnbmkp(self, rules, params),
            "CSNDDSG" => verbs::pka::csnddsg(self, rules, params),
            "CSNDDSV" => verbs::pka::csnddsv(self, rules, params),
            "CSNDEDH" => verbs::ecc::csndedh(self, rules, params),
            "CSNDKTC" => verbs::pka::csndktc(self, rules, params),
            "CSNDPKB" => verbs::pka::csndpkb(self, rules, params),
            "CSNDPKD" => verbs::pka::csndpkd(self, rules, params),
            "CSNDPKE" => verbs::rsa::csndpke(self, rules, params),
            "CSNDPKG" => verbs::pka::csndpkg(self, rules, params),
            "CSNDPKI" => verbs::pka::csndpki(self, rules, params),
            "CSNDPKX" => verbs::pka::csndpkx(self, rules, params),
            "CSNDRKD" => verbs::retained::csndrkd(self, rules, params),
            "CSNDRKL" => verbs::retained::csndrkl(self, rules, params),
            "CSNDSYG" => verbs::syx::csndsyg(self, rules, params),
            "CSNDSYI" => verbs::syx::csndsyi(self, rules, params),
            "CSNDSYI2" => verbs::syx::csndsyi2(self, rules, params),
            "CSNDSYX" => verbs::syx::csndsyx(self, rules, params),
            "CSNBHMG" => verbs::hmac::csnbhmg(self, rules, params),
            "CSNBHMV" => verbs::hmac::csnbhmv(self, rules, params),
            "CSNBKGN2" => verbs::var::csnbkgn2(self, rules, params),
            "CSNBKPI2" => verbs::var::csnbkpi2(self, rules, params),
            "CSNBKTB2" => verbs::var::csnbktb2(self, rules, params),
            "CSNBKTC2" => verbs::var::csnbktc2(self, rules, params),
            "CSNBOWH" => verbs::hash::csnbowh(self, rules, params),
            "CSNBRNG" => verbs::random::csnbrng(self, rules, params),
            "CSNBRNGL" => verbs::random::csnbrngl(self, rules, params),
            "CSNBSAD" => verbs::sae::csnbsad(self, rules, params),
            "CSNBSAE" => verbs::sae::csnbsae(self, rules, params),
            _ => Err(Failure::NotSupported),
        }
    }

    /// Whether a request may hold its caller long — a write to flash, a private-key operation
    /// or key generation on the PKA engine, or more than 64 KiB of parameters — so
    /// that a daemon should run it off its I/O threads, where requests from one connection
    /// run in parallel on the card's engines instead of one after the other.
    pub fn may_block(&self, request: &VerbRequest) -> bool {
        const LONG_TEXT: usize = 64 * 1024;
        let pka = matches!(
            request.verb.as_str(),
            "CSNDDSG"
                | "CSNDPKD"
                | "CSNDPKG"
                | "CSNDEDH"
                | "CSNDSYI"
                | "CSNDSYI2"
                | "CSNDSYG"
                | "CSNDPKI"
                | "CSNDKTC"
        );
        let long_text = request
            .params
            .iter()
            .map(|p| match p {
                softcca_wire::Param::Bytes(b) => b.len(),
                softcca_wire::Param::Int(_) => 0,
            })
            .sum::<usize>()
            > LONG_TEXT;
        pka || long_text || matches!(request.verb.as_str(), "CSNBMKP" | "CSUACFC" | "CSNDRKD")
    }

    /// The device-driver status word: 0 when the card is well; otherwise the code of IBM's
    /// table for what is wrong (a disabling tamper, a failed self-test, the reset bit, an RNG
    /// fault, then the warnings: battery, intrusion latch).
    pub fn driver_status(&self) -> u32 {
        let condition = *lock(&self.condition);
        let public = lock(&self.public);
        match condition {
            Condition::Disabled(sensor) => sensor.driver_code(),
            Condition::SelfTestFailed(code) => code,
            Condition::ResetBit => Sensor::ResetBit.driver_code(),
            _ if self.rng_failed.load(Ordering::Acquire) => DRIVER_RNG_FAULT,
            _ if public.battery_low => Sensor::BatteryLow.driver_code(),
            _ if public.intrusion_latch => Sensor::Intrusion.driver_code(),
            _ => 0,
        }
    }

    /// A sensor event: zeroization and permanent disablement, a latch, a warning, or nothing,
    /// as IBM's table says (see [`crate::sensors`]). Returns the driver status afterwards and
    /// a message for the operator.
    pub fn sense(&self, sensor: Sensor) -> (u32, String) {
        if let Condition::Disabled(by) = self.condition() {
            return (
                by.driver_code(),
                format!("the card was zeroized by a {}", by.description()),
            );
        }
        let message = match sensor {
            s if s.zeroizes() => {
                self.zeroize(s);
                format!(
                    "{}: the card is zeroized and permanently disabled",
                    s.description()
                )
            }
            Sensor::BatteryLow | Sensor::BatteryReplaced | Sensor::Intrusion => {
                let committed = self.update_public(|p| match sensor {
                    Sensor::BatteryLow => p.battery_low = true,
                    Sensor::BatteryReplaced => p.battery_low = false,
                    _ => p.intrusion_latch = true,
                });
                match (sensor, committed) {
                    (_, Err(_)) => "the card could not record the event".to_string(),
                    (Sensor::BatteryLow, _) => {
                        "battery warning: replace the batteries while the card is powered".into()
                    }
                    (Sensor::BatteryReplaced, _) => {
                        "batteries replaced under power: the card kept its state".into()
                    }
                    _ => "intrusion latch set: CSUACFC RESET-IL clears it".into(),
                }
            }
            Sensor::XRay => {
                return (
                    sensor.driver_code(),
                    "X-ray tamper does not apply to the PCIe coprocessor: no action".into(),
                );
            }
            _ => {
                self.interrupt();
                self.set_condition(|_| Condition::ResetBit);
                "reset bit on: reset the card (clu rs) to bring it back".into()
            }
        };
        (self.driver_status(), message)
    }

    /// Zeroizes the card for good: master keys and the device key are erased in memory, the
    /// storage key in battery-backed RAM is destroyed, and flash is rewritten as a tombstone
    /// that holds no secret and no certificate. Requests running now fail.
    fn zeroize(&self, sensor: Sensor) {
        {
            let mut condition = lock(&self.condition);
            *condition = Condition::Disabled(sensor);
            self.blocked.store(true, Ordering::Release);
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut retained_keys = lock(&self.retained);
        *retained_keys = Some(retained::Keys::default());
        let mut registers = self.registers_write();
        *registers = Default::default();
        *lock(&self.device_key) = None;
        let mut public = lock(&self.public);
        public.disabled = Some(sensor);
        public.certificates = Certificates::default();
        let mut storage = self.storage_lock();
        let _ = storage.bbram.zeroize();
        storage.storage_key.zeroize();
        let _ = storage.flash.remove(retained::BLOB);
        let tomb = Persistent {
            identity: self.identity.clone(),
            disabled: Some(sensor),
            intrusion_latch: public.intrusion_latch,
            battery_low: public.battery_low,
            segments: public.segments.clone(),
            certificates: Certificates::default(),
            registers: Default::default(),
            device_key: Zeroizing::new(Vec::new()),
        };
        if let Ok(blob) = state::tombstone(&tomb) {
            let _ = storage.flash.write(STATE_BLOB, &blob);
        }
    }

    /// Loads a signed segment image (CLU's PL): establish owner, load, reload or surrender,
    /// as the image says. The card resets afterwards, as IBM's does at the completion of a
    /// code load. A refused image changes nothing; a crash in the middle leaves the previous
    /// image runnable.
    pub fn load(&self, image: &[u8]) -> Result<String, LoadRefused> {
        if let Condition::Disabled(sensor) = self.condition() {
            return Err(LoadRefused {
                code: sensor.driver_code(),
                message: "the card is zeroized".into(),
            });
        }
        // No verb runs on code that is being replaced.
        self.interrupt();
        match self.apply_load(image) {
            Ok(message) => {
                self.reset();
                Ok(message)
            }
            Err(refused) => {
                // Nothing changed: the card serves again as it did.
                self.set_condition(|c| c);
                Err(refused)
            }
        }
    }

    fn apply_load(&self, image: &[u8]) -> Result<String, LoadRefused> {
        let flash_error = |_| LoadRefused {
            code: 0x8440_0806,
            message: "the card could not write its flash".into(),
        };
        let message = {
            let mut retained_keys = lock(&self.retained);
            let mut registers = self.registers_write();
            let mut public = lock(&self.public);
            let signer = Certificate::from_bytes(&public.certificates.code_signer)
                .map_err(|_| LoadRefused {
                    code: 0x8440_0802,
                    message: "the card holds no code-signing key".into(),
                })?
                .public_key;
            let plan = plan_load(&public.segments, image, &signer)?;
            if let Some((blob, bytes)) = &plan.write {
                self.storage_lock()
                    .flash
                    .write(blob, bytes)
                    .map_err(flash_error)?;
            }
            let next_registers = if plan.clear_secrets {
                // The retained keys go with the master keys: removed first, so that no
                // crash leaves them to the next owner.
                self.storage_lock()
                    .flash
                    .remove(retained::BLOB)
                    .map_err(flash_error)?;
                *retained_keys = Some(retained::Keys::default());
                Default::default()
            } else {
                registers.clone()
            };
            let next_public = Public {
                segments: plan.segments.clone(),
                ..public.clone()
            };
            self.commit(&next_registers, &next_public)
                .map_err(|_| LoadRefused {
                    code: 0x8440_0806,
                    message: "the card could not write its flash".into(),
                })?;
            *registers = next_registers;
            *public = next_public;
            let storage = self.storage_lock();
            for blob in &plan.remove {
                let _ = storage.flash.remove(blob);
            }
            plan.message
        };
        Ok(message)
    }

    /// The attestation chain and a status response signed with the device key over `nonce`.
    pub fn attest(&self, nonce: &[u8]) -> Result<Attestation, AttestError> {
        let certificates = lock(&self.public).certificates.clone();
        let fields: Vec<(String, String)> = self
            .device_status_fields()
            .into_iter()
            .filter(|(name, _)| !name.starts_with('#'))
            .collect();
        let key = lock(&self.device_key);
        let key = key.as_ref().ok_or(AttestError::Malformed(
            "the card holds no device key (zeroized)",
        ))?;
        let signed = SignedStatus::sign(key, nonce, fields)?;
        Ok(Attestation {
            class_certificate: certificates.class,
            device_certificate: certificates.device,
            signed_status: signed.to_bytes()?,
        })
    }

    /// Clears the intrusion latch (CSUACFC RESET-IL).
    pub(crate) fn reset_intrusion_latch(&self) -> Result<(), Failure> {
        self.update_public(|p| p.intrusion_latch = false)
    }

    /// Clears the battery-low indicator (CSUACFC RESETBAT).
    pub(crate) fn reset_battery_indicator(&self) -> Result<(), Failure> {
        self.update_public(|p| p.battery_low = false)
    }

    /// The status CLU's ST command shows. Like IBM's card after a random-number fault, the
    /// status request also re-runs the generator's start-up health test, so that the fault
    /// clears on a later status request if the noise source is healthy again ("run CLU ST at
    /// least twice to determine if the condition can be cleared").
    pub fn device_status(&self) -> DeviceStatus {
        let fields = self.device_status_fields();
        if self.rng_failed.load(Ordering::Acquire) {
            let mut rng = self.rng_lock();
            if rng.recover().is_ok() {
                self.rng_failed.store(false, Ordering::Release);
            }
        }
        DeviceStatus { fields }
    }

    /// The status fields, in CLU ST's order. A name starting with `#` is a section heading.
    fn device_status_fields(&self) -> Vec<(String, String)> {
        let id = &self.identity;
        let condition = self.condition();
        let status = self.driver_status();
        let public = lock(&self.public).clone();
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut add = |name: &str, value: String| fields.push((name.to_string(), value));
        add("# Vital Product Data", String::new());
        add("Part Number", id.model.part_number().to_string());
        add("Secure Part Number", id.model.part_number().to_string());
        add("EC Number", "N34012".into());
        add("Serial Number", id.serial_str().to_string());
        add(
            "Description",
            format!(
                "IBM {} PCI-e Cryptographic Coprocessor (softcca)",
                match id.model {
                    Model::Ibm4767 => "4767-002",
                    Model::Ibm4769 => "4769-001",
                }
            ),
        );
        add("# ROM Status", String::new());
        add("Page 1 Certified", "YES".into());
        for (index, segment) in public.segments.iter().enumerate() {
            let n = index + 1;
            add(&format!("Segment-{n} State"), segment.state.label().into());
            if n > 1 && segment.state != SegmentState::Unowned {
                add(&format!("Segment-{n} Owner ID"), segment.owner.to_string());
            }
        }
        for (index, segment) in public.segments.iter().enumerate() {
            let n = index + 1;
            add(&format!("# Segment-{n} Information"), String::new());
            match &segment.image {
                Some(image) => {
                    add(&format!("Segment-{n} Image"), image.name.clone());
                    add(
                        &format!("Segment-{n} Revision"),
                        image.revision().to_string(),
                    );
                    add(&format!("Segment-{n} Hash"), grouped_hex(&image.hash));
                }
                None => add(&format!("Segment-{n} Image"), "(none)".into()),
            }
        }
        add("# Card Status", String::new());
        add("Driver Status", format!("{status:08X}"));
        add(
            "Card State",
            match condition {
                Condition::Ready if Card::cca_loaded(&public) => "READY".into(),
                Condition::Ready => "READY, NO CCA APPLICATION LOADED".into(),
                Condition::SelfTest { ready_at } => format!(
                    "POWER-ON SELF-TEST ({} s left)",
                    ready_at.saturating_sub(self.clock.monotonic()).as_secs() + 1
                ),
                Condition::SelfTestFailed(code) => format!("SELF-TEST FAILED ({code:08X})"),
                Condition::ResetBit => "RESET BIT ON".into(),
                Condition::Disabled(sensor) => {
                    format!("ZEROIZED: {}", sensor.description())
                }
            },
        );
        add(
            "Random Numbers",
            if self.rng_failed.load(Ordering::Acquire) {
                "FAULT".into()
            } else {
                "OK".into()
            },
        );
        add(
            "Intrusion Latch",
            if public.intrusion_latch {
                "SET"
            } else {
                "CLEAR"
            }
            .into(),
        );
        add(
            "Battery",
            if public.battery_low { "LOW" } else { "OK" }.into(),
        );
        add("# Master Keys", String::new());
        for class in Class::ALL {
            let (new, current, old) = self.register_state(class);
            let vps = self.verification_patterns(class);
            let show = |present: bool, vp: Option<[u8; 8]>| match (present, vp) {
                (true, Some(vp)) => format!("LOADED  {}", hex_upper(&vp)),
                _ => "EMPTY".to_string(),
            };
            let new = match (new, vps[0]) {
                (NewState::Clear, _) => "EMPTY".to_string(),
                (NewState::Partial, _) => "PARTIAL".to_string(),
                (NewState::Full, Some(vp)) => format!("FULL    {}", hex_upper(&vp)),
                (NewState::Full, None) => "FULL".to_string(),
            };
            add(&format!("{} New", class.keyword()), new);
            add(
                &format!("{} Current", class.keyword()),
                show(current, vps[1]),
            );
            add(&format!("{} Old", class.keyword()), show(old, vps[2]));
        }
        fields
    }

    /// Latches the card's error state after a failed conditional self-test (an RSA key pair
    /// that fails its pairwise-consistency test): the same latch as a DRBG health-test
    /// failure, so every verb answers 12/338 until CLU ST re-runs the generator's health test.
    pub(crate) fn latch_crypto_fault(&self) {
        self.rng_failed.store(true, Ordering::Release);
    }

    /// Fills `out` from the card's DRBG; a health-test failure latches the card's error state.
    pub(crate) fn random(&self, out: &mut [u8]) -> Result<(), Failure> {
        let mut rng = self.rng_lock();
        match rng.fill(out) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.rng_failed.store(true, Ordering::Release);
                Err(Failure::RngFault)
            }
        }
    }

    /// The card's clock.
    pub(crate) fn now_unix(&self) -> u64 {
        self.clock.now_unix()
    }

    /// NEW state, CURRENT loaded, OLD loaded.
    pub(crate) fn register_state(&self, class: Class) -> (NewState, bool, bool) {
        let regs = self.registers_read();
        let r = &regs[class.index()];
        (r.new_state(), r.current.is_some(), r.old.is_some())
    }

    /// Runs `f` with the current master key of `class`, holding the register read lock only
    /// for the call: a verb wraps a key under exactly the key a concurrent SET would replace,
    /// never a torn one. No current key: 12/764.
    pub(crate) fn with_current_master_key<T>(
        &self,
        class: Class,
        f: impl FnOnce(&MasterKey) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let regs = self.registers_read();
        let mk = regs[class.index()]
            .current
            .as_ref()
            .ok_or(Failure::MasterKeyNotLoaded)?;
        f(mk)
    }

    /// Runs `f` with the contents of one master-key register of `class` (Key_Test KEY-KM,
    /// KEY-NKM, KEY-OKM): `Some(0)` CURRENT, `Some(1)` NEW (full or partial), `Some(2)` OLD.
    /// An empty register gives `f(None)`.
    pub(crate) fn with_register<T>(
        &self,
        class: Class,
        which: u8,
        f: impl FnOnce(Option<&MasterKey>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let regs = self.registers_read();
        let r = &regs[class.index()];
        match which {
            0 => f(r.current.as_ref()),
            1 => match &r.new {
                crate::mk::NewRegister::Full(k) | crate::mk::NewRegister::Partial(k) => f(Some(k)),
                crate::mk::NewRegister::Empty => f(None),
            },
            _ => f(r.old.as_ref()),
        }
    }

    /// Runs `f` with the full NEW master key of `class` (Key_Token_Change RTNMK). NEW empty
    /// or partial: 8/34, as a process keyword that does not fit the register's state.
    pub(crate) fn with_new_master_key<T>(
        &self,
        class: Class,
        f: impl FnOnce(&MasterKey) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let regs = self.registers_read();
        match &regs[class.index()].new {
            crate::mk::NewRegister::Full(k) => f(k),
            _ => Err(Failure::MasterKeyRegisterState),
        }
    }

    /// Runs `f` with the CURRENT and OLD master keys of `class` under one read lock, for
    /// deciphering a key token under whichever of them its MKVP names.
    pub(crate) fn with_master_keys<T>(
        &self,
        class: Class,
        f: impl FnOnce(Option<&MasterKey>, Option<&MasterKey>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let regs = self.registers_read();
        let r = &regs[class.index()];
        f(r.current.as_ref(), r.old.as_ref())
    }

    /// Verification patterns of NEW (when full), CURRENT and OLD.
    pub fn verification_patterns(&self, class: Class) -> [Option<[u8; 8]>; 3] {
        let regs = self.registers_read();
        let r = &regs[class.index()];
        let new = match &r.new {
            crate::mk::NewRegister::Full(k) => Some(verification_pattern(class, k)),
            _ => None,
        };
        [
            new,
            r.current.as_ref().map(|k| verification_pattern(class, k)),
            r.old.as_ref().map(|k| verification_pattern(class, k)),
        ]
    }

    /// Applies a register transition: computes the next register value, commits the card's
    /// whole state to flash, and only then makes it the card's state. A refused transition or
    /// a failed commit changes nothing.
    pub(crate) fn update_register(
        &self,
        class: Class,
        transition: impl FnOnce(&Register) -> Result<(Register, Option<Notice>), Failure>,
    ) -> Result<Option<Notice>, Failure> {
        let mut regs = self.registers_write();
        let (next_register, notice) = transition(&regs[class.index()])?;
        let mut next = regs.clone();
        next[class.index()] = next_register;
        let public = lock(&self.public).clone();
        self.commit(&next, &public)?;
        *regs = next;
        Ok(notice)
    }

    /// Changes the public state and commits it.
    fn update_public(&self, change: impl FnOnce(&mut Public)) -> Result<(), Failure> {
        let regs = self.registers_write();
        let mut public = lock(&self.public);
        let mut next = public.clone();
        change(&mut next);
        self.commit(&regs, &next)?;
        *public = next;
        Ok(())
    }

    /// Seals the whole state and writes it to flash. The caller holds the register lock.
    fn commit(&self, registers: &[Register; 4], public: &Public) -> Result<(), Failure> {
        if public.disabled.is_some() {
            return Err(Failure::CardUnavailable);
        }
        let mut nonce = [0u8; 12];
        self.random(&mut nonce)?;
        let device_key = lock(&self.device_key)
            .as_ref()
            .map(DeviceKey::to_pkcs8)
            .unwrap_or_default();
        let persistent = Persistent {
            identity: self.identity.clone(),
            disabled: public.disabled,
            intrusion_latch: public.intrusion_latch,
            battery_low: public.battery_low,
            segments: public.segments.clone(),
            certificates: public.certificates.clone(),
            registers: registers.clone(),
            device_key,
        };
        let storage = self.storage_lock();
        if storage.storage_key.is_empty() {
            return Err(Failure::CardUnavailable);
        }
        let blob = state::seal(&persistent, &storage.storage_key, nonce)
            .map_err(|_| Failure::StateNotCommitted)?;
        storage
            .flash
            .write(STATE_BLOB, &blob)
            .map_err(|_| Failure::StateNotCommitted)
    }

    /// Runs `f` with the retained keys, reading them from their sealed flash blob on first
    /// use (a blob that does not open: 8/1031).
    pub(crate) fn with_retained<T>(
        &self,
        f: impl FnOnce(&retained::Keys) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut keys = lock(&self.retained);
        f(self.loaded_retained(&mut keys)?)
    }

    /// Changes the retained keys: `change` computes the next set, which is sealed and written
    /// to flash before it takes effect. A refused change or a failed write changes nothing.
    pub(crate) fn update_retained<T>(
        &self,
        change: impl FnOnce(&retained::Keys) -> Result<(retained::Keys, T), Failure>,
    ) -> Result<T, Failure> {
        let mut keys = lock(&self.retained);
        let (next, out) = change(self.loaded_retained(&mut keys)?)?;
        let mut nonce = [0u8; 12];
        self.random(&mut nonce)?;
        let storage = self.storage_lock();
        if storage.storage_key.is_empty() {
            return Err(Failure::CardUnavailable);
        }
        let blob = next.seal(&storage.storage_key, nonce)?;
        storage
            .flash
            .write(retained::BLOB, &blob)
            .map_err(|_| Failure::StateNotCommitted)?;
        drop(storage);
        *keys = Some(next);
        Ok(out)
    }

    fn loaded_retained<'k>(
        &self,
        keys: &'k mut Option<retained::Keys>,
    ) -> Result<&'k retained::Keys, Failure> {
        if keys.is_none() {
            let storage = self.storage_lock();
            if storage.storage_key.is_empty() {
                return Err(Failure::CardUnavailable);
            }
            let loaded = match storage
                .flash
                .read(retained::BLOB)
                .map_err(|_| Failure::RetainedKeyData)?
            {
                None => retained::Keys::default(),
                Some(blob) => retained::Keys::open(&blob, &storage.storage_key)?,
            };
            *keys = Some(loaded);
        }
        keys.as_ref().ok_or(Failure::RetainedKeyData)
    }

    fn registers_read(&self) -> RwLockReadGuard<'_, [Register; 4]> {
        // A panic while holding the lock cannot leave a torn value: writers build the next
        // value aside and assign it whole.
        self.registers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn registers_write(&self) -> std::sync::RwLockWriteGuard<'_, [Register; 4]> {
        self.registers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn rng_lock(&self) -> MutexGuard<'_, CardRng> {
        lock(&self.rng)
    }

    fn storage_lock(&self) -> MutexGuard<'_, Storage> {
        lock(&self.storage)
    }
}

/// Manufacturing: identity, storage key, device key certified by the factory's class key,
/// and the first firmware in segments 1–3.
fn manufacture(
    model: Model,
    factory: &Factory,
    rng: &mut CardRng,
    clock: &dyn Clock,
    flash: &dyn Flash,
) -> Result<(Persistent, Zeroizing<Vec<u8>>), PowerOnError> {
    let mut key = Zeroizing::new(vec![0u8; STORAGE_KEY_LEN]);
    let mut ids = [0u8; 16];
    rng.fill(&mut key).map_err(PowerOnError::Rng)?;
    rng.fill(&mut ids).map_err(PowerOnError::Rng)?;
    let mut serial_random = [0u8; 8];
    serial_random.copy_from_slice(&ids[..8]);
    let mut adapter_id = [0u8; 8];
    adapter_id.copy_from_slice(&ids[8..]);
    let identity = Identity {
        model,
        serial: serial_from_random(&serial_random),
        adapter_id,
        manufactured_at: clock.now_unix(),
    };
    let failed = |e: &dyn std::fmt::Display| PowerOnError::Manufacturing(e.to_string());
    let device_key = DeviceKey::generate().map_err(|e| failed(&e))?;
    let now = clock.now_unix();
    let device_cert = factory
        .class
        .certify_device(
            &device_key.public_key(),
            identity.serial_str(),
            now,
            now.saturating_add(DEVICE_CERT_VALIDITY),
        )
        .map_err(|e| failed(&e))?;
    let mut segments: [SegmentRecord; 3] = std::array::from_fn(|_| SegmentRecord::unowned());
    for (index, segment) in segments.iter_mut().enumerate() {
        let n = index as u8 + 1;
        let bytes = factory.firmware_image(model, n).map_err(|e| failed(&e))?;
        let image = Image::from_bytes(&bytes).map_err(|e| failed(&e))?;
        let record = record_of(&image, &bytes);
        flash
            .write(&record.blob, &bytes)
            .map_err(PowerOnError::Flash)?;
        *segment = SegmentRecord {
            state: if n == 1 {
                SegmentState::Initialized
            } else {
                SegmentState::Runnable
            },
            owner: if n == 1 { 0 } else { image.owner },
            image: Some(record),
        };
    }
    let to_bytes = |c: &Certificate| c.to_bytes().map_err(|e| failed(&e));
    let persistent = Persistent {
        identity,
        disabled: None,
        intrusion_latch: false,
        battery_low: false,
        segments,
        certificates: Certificates {
            class: to_bytes(&factory.class.cert)?,
            device: to_bytes(&device_cert)?,
            code_signer: to_bytes(&factory.code_signer.cert)?,
        },
        registers: Default::default(),
        device_key: device_key.to_pkcs8(),
    };
    Ok((persistent, key))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every writer builds the next value aside and assigns it whole, so a panic elsewhere
    // cannot leave a torn value behind a poisoned lock.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
