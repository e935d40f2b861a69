//! The card: the secure boundary that executes verbs.
//!
//! A [`Card`] is shared by every thread of the daemon (or of an embedded host). Its engines
//! are independent: the random-number engine and the master-key registers have locks of
//! their own, so a verb waits only for the engine it uses, as on IBM's card, where "the RSA
//! engine, DES engine, CPU, random number generator, and PCIe communications interface …
//! work independently".

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use aws_lc_rs::digest;
use softcca_wire::{DeviceStatus, VerbRequest, VerbResponse};
use zeroize::Zeroizing;

use crate::error::{Codes, Failure, Notice};
use crate::mk::{Class, NewState, Register, verification_pattern};
use crate::model::{Identity, Model, serial_from_random};
use crate::platform::{BatteryRam, Clock, Flash, Platform};
use crate::rng::{CardRng, RngFault};
use crate::rules::Element;
use crate::state::{self, Persistent, STORAGE_KEY_LEN, StateError};
use crate::verbs::{self, Params, Reply};

/// The device-driver status a card in the RNG-fault state reports (IBM FAQ, "What do CLU's
/// return codes mean?": 8340038F, "Random number generation fault").
pub const DRIVER_RNG_FAULT: u32 = 0x8340_038F;

/// The flash blob that holds the card's state.
pub const STATE_BLOB: &str = "card.state";

/// Personalization string of the card's Hash_DRBG.
const DRBG_PERSONALIZATION: &[u8] = b"softcca coprocessor Hash_DRBG v1";

/// Why a card could not power on.
#[derive(Debug)]
pub enum PowerOnError {
    /// Flash could not be read or written.
    Flash(io::Error),
    /// Battery-backed RAM could not be read or written.
    BatteryRam(io::Error),
    /// The state in flash could not be read back.
    State(StateError),
    /// Flash holds a card's state but battery-backed RAM holds no storage key: the card was
    /// zeroized (or its battery-backed RAM was lost), and its secrets are gone.
    Zeroized,
    /// The card was asked to manufacture itself while its random number generator is in the
    /// fault state.
    Rng(RngFault),
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
            PowerOnError::Zeroized => {
                f.write_str("the card is zeroized: its battery-backed RAM holds no storage key")
            }
            PowerOnError::Rng(e) => write!(f, "cannot manufacture the card: {e}"),
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

struct Storage {
    flash: Box<dyn Flash>,
    // Kept for zeroization, which the tamper work adds.
    #[allow(dead_code)]
    bbram: Box<dyn BatteryRam>,
    storage_key: Zeroizing<Vec<u8>>,
}

/// The emulated coprocessor.
pub struct Card {
    identity: Identity,
    clock: Box<dyn Clock>,
    rng: Mutex<CardRng>,
    rng_failed: AtomicBool,
    registers: RwLock<[Register; 4]>,
    storage: Mutex<Storage>,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("identity", &self.identity)
            .field("rng_failed", &self.rng_failed)
            .finish_non_exhaustive()
    }
}

impl Card {
    /// Powers the card on: reads its state from flash, or manufactures a new card of `model`
    /// (IBM 4767 when `None`) if flash is empty. A card already manufactured keeps its model;
    /// asking for another one is an error.
    pub fn power_on(
        platform: Platform,
        model: Option<Model>,
    ) -> Result<(Card, PowerOn), PowerOnError> {
        let Platform {
            entropy,
            clock,
            flash,
            bbram,
        } = platform;
        let mut rng = CardRng::start(entropy, DRBG_PERSONALIZATION);
        let (persistent, storage_key, how) =
            match flash.read(STATE_BLOB).map_err(PowerOnError::Flash)? {
                Some(blob) => {
                    let key = bbram
                        .read()
                        .map_err(PowerOnError::BatteryRam)?
                        .ok_or(PowerOnError::Zeroized)?;
                    let persistent = state::unseal(&blob, &key).map_err(PowerOnError::State)?;
                    if let Some(requested) = model
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
                    let mut key = Zeroizing::new(vec![0u8; STORAGE_KEY_LEN]);
                    let mut ids = [0u8; 16];
                    rng.fill(&mut key).map_err(PowerOnError::Rng)?;
                    rng.fill(&mut ids).map_err(PowerOnError::Rng)?;
                    let mut serial_random = [0u8; 8];
                    serial_random.copy_from_slice(&ids[..8]);
                    let mut adapter_id = [0u8; 8];
                    adapter_id.copy_from_slice(&ids[8..]);
                    let persistent = Persistent {
                        identity: Identity {
                            model: model.unwrap_or(Model::Ibm4767),
                            serial: serial_from_random(&serial_random),
                            adapter_id,
                            manufactured_at: clock.now_unix(),
                        },
                        registers: Default::default(),
                    };
                    let mut nonce = [0u8; 12];
                    rng.fill(&mut nonce).map_err(PowerOnError::Rng)?;
                    let blob =
                        state::seal(&persistent, &key, nonce).map_err(PowerOnError::State)?;
                    // Battery-backed RAM first: a crash between the two writes leaves an empty
                    // flash, and the next power-on manufactures again.
                    bbram.write(&key).map_err(PowerOnError::BatteryRam)?;
                    flash
                        .write(STATE_BLOB, &blob)
                        .map_err(PowerOnError::Flash)?;
                    (persistent, key, PowerOn::Manufactured)
                }
            };
        let rng_failed = AtomicBool::new(rng.fault().is_some());
        let card = Card {
            identity: persistent.identity,
            clock,
            rng: Mutex::new(rng),
            rng_failed,
            registers: RwLock::new(persistent.registers),
            storage: Mutex::new(Storage {
                flash,
                bbram,
                storage_key,
            }),
        };
        Ok((card, how))
    }

    /// The card's identity from manufacturing.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Executes one verb. Never panics on any request; every refusal is a CCA code, and a
    /// refused request changes nothing.
    pub fn execute(&self, request: &VerbRequest) -> VerbResponse {
        let outcome = self.dispatch(request);
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
        if self.rng_failed.load(Ordering::Acquire) {
            return Err(Failure::RngFault);
        }
        let rules: &[Element] = &request.rule_array;
        let params = Params(&request.params);
        match request.verb.as_str() {
            "CSUACFQ" => verbs::facility::csuacfq(self, rules, params),
            "CSUACFV" => verbs::facility::csuacfv(self, rules, params),
            "CSNBMKP" => verbs::mkp::csnbmkp(self, rules, params),
            "CSNBRNG" => verbs::random::csnbrng(self, rules, params),
            "CSNBRNGL" => verbs::random::csnbrngl(self, rules, params),
            _ => Err(Failure::NotSupported),
        }
    }

    /// Whether a request may wait on something slower than the card's engines (a write to
    /// flash), so that a daemon should run it off its I/O threads.
    pub fn may_block(&self, request: &VerbRequest) -> bool {
        matches!(request.verb.as_str(), "CSNBMKP")
    }

    /// The device-driver status word: 0 when the card is well, [`DRIVER_RNG_FAULT`] when its
    /// random number generator is in the fault state.
    pub fn driver_status(&self) -> u32 {
        if self.rng_failed.load(Ordering::Acquire) {
            DRIVER_RNG_FAULT
        } else {
            0
        }
    }

    /// The status CLU's ST command shows. Like IBM's card after a random-number fault, the
    /// status request also re-runs the generator's start-up health test, so that the fault
    /// clears on a later status request if the noise source is healthy again ("run CLU ST at
    /// least twice to determine if the condition can be cleared").
    pub fn device_status(&self) -> DeviceStatus {
        let id = &self.identity;
        let status = self.driver_status();
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut add = |name: &str, value: String| fields.push((name.to_string(), value));
        add("Model", format!("IBM {}", id.model.number()));
        add("Serial Number", id.serial_str().to_string());
        add("Secure P/N", id.model.part_number().to_string());
        add("Page 1 Certified", "YES".into());
        for segment in 1..=3u8 {
            let (state, image) = segment_image(id.model, segment);
            add(&format!("Segment-{segment} State"), state.into());
            if segment > 1 {
                add(&format!("Segment-{segment} Owner ID"), "2".into());
            }
            add(&format!("Segment-{segment} Image"), image.clone());
            add(
                &format!("Segment-{segment} Hash"),
                hex_upper(digest::digest(&digest::SHA256, image.as_bytes()).as_ref()),
            );
        }
        add("Driver Status", format!("{status:08X}"));
        add(
            "Card State",
            if status == 0 {
                "READY".into()
            } else {
                "ERROR: random number generation fault".into()
            },
        );
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
        if status != 0 {
            let mut rng = self.rng_lock();
            if rng.recover().is_ok() {
                self.rng_failed.store(false, Ordering::Release);
            }
        }
        DeviceStatus { fields }
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
        let mut regs = self
            .registers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (next_register, notice) = transition(&regs[class.index()])?;
        let mut next = regs.clone();
        next[class.index()] = next_register;
        let mut nonce = [0u8; 12];
        self.random(&mut nonce)?;
        let persistent = Persistent {
            identity: self.identity.clone(),
            registers: next,
        };
        {
            let storage = self.storage_lock();
            let blob = state::seal(&persistent, &storage.storage_key, nonce)
                .map_err(|_| Failure::StateNotCommitted)?;
            storage
                .flash
                .write(STATE_BLOB, &blob)
                .map_err(|_| Failure::StateNotCommitted)?;
        }
        *regs = persistent.registers.clone();
        Ok(notice)
    }

    fn registers_read(&self) -> RwLockReadGuard<'_, [Register; 4]> {
        // A panic while holding the lock cannot leave a torn value: writers build the next
        // value aside and assign it whole.
        self.registers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn rng_lock(&self) -> MutexGuard<'_, CardRng> {
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn storage_lock(&self) -> MutexGuard<'_, Storage> {
        self.storage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Segment state and image name. Segments are fixed descriptions of the model's firmware
/// until the firmware-loading work makes them loadable images.
fn segment_image(model: Model, segment: u8) -> (&'static str, String) {
    match segment {
        1 => ("INITIALIZED", format!("{} POST/MB", model.miniboot())),
        2 => {
            let (name, version) = model.os();
            ("RUNNABLE", format!("{version} {name}"))
        }
        _ => (
            "RUNNABLE",
            format!("{} CCA {}", model.cca_version(), model.cca_build_date()),
        ),
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
