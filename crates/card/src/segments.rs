//! Firmware segments 1–3: their records in the card's state and the rules for loading,
//! reloading and surrendering them.
//!
//! IBM (4767 docs, "Coprocessor memory segments" and "Validating the coprocessor software
//! loads"): segment 1 holds Miniboot/POST, segment 2 the card's operating system, segment 3
//! the application (CCA, owner ID 2). *Establish Owner* gives an unowned segment an owner;
//! *Load* puts code into an owned segment whose owner matches; *Reload* replaces it;
//! *Surrender Owner* ends ownership and clears the segment's code and secrets — surrendering
//! segment 2 surrenders segment 3 too. A segment's secrets (CCA's master keys) are cleared
//! when its owner changes. CLU's PL command processes all of these from signed files.
//!
//! softcca's choices where IBM is silent: a load may not roll a segment back to an older
//! version unless the image says so; segment N can be loaded only while segment N−1 is
//! runnable; failures report Miniboot-1 class driver codes (8440xxxx):
//!
//! | code | why |
//! |---|---|
//! | 84400801 | the file is not a segment image |
//! | 84400802 | the image's signature does not verify with the card's code-signing key |
//! | 84400803 | the image's owner is not the segment's owner |
//! | 84400804 | the image is older than the segment's code and does not allow rollback |
//! | 84400805 | the segment below is not runnable, or the segment has nothing to surrender |
//! | 84400A0n | power-on self-test: segment n's image does not match its recorded hash |

use aws_lc_rs::digest;

use crate::attest::PublicKey;
use crate::firmware::Image;

/// The owner ID of IBM's CCA.
pub const OWNER_CCA: u16 = 2;

/// A segment's state, as CLU's ST command prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentState {
    /// Segment 1 after manufacturing.
    Initialized,
    /// No owner.
    Unowned,
    /// An owner but no code (a load has not completed).
    OwnedButUnreliable,
    /// Code loaded and verified.
    Runnable,
}

impl SegmentState {
    /// CLU's word for it.
    pub const fn label(self) -> &'static str {
        match self {
            SegmentState::Initialized => "INITIALIZED",
            SegmentState::Unowned => "UNOWNED",
            SegmentState::OwnedButUnreliable => "OWNED_BUT_UNRELIABLE",
            SegmentState::Runnable => "RUNNABLE",
        }
    }

    pub(crate) const fn code(self) -> u8 {
        match self {
            SegmentState::Initialized => 1,
            SegmentState::Unowned => 2,
            SegmentState::OwnedButUnreliable => 3,
            SegmentState::Runnable => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<SegmentState> {
        match code {
            1 => Some(SegmentState::Initialized),
            2 => Some(SegmentState::Unowned),
            3 => Some(SegmentState::OwnedButUnreliable),
            4 => Some(SegmentState::Runnable),
            _ => None,
        }
    }
}

/// What the card records of a segment's image; the image itself is a flash blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The flash blob holding the image.
    pub blob: String,
    /// The image's name, e.g. `5.6.9 CCA`.
    pub name: String,
    /// The image's version.
    pub version: (u16, u16, u16),
    /// SHA-512 of the image file.
    pub hash: [u8; 64],
}

impl ImageRecord {
    /// CLU's "Revision": the version as one number, e.g. 5.2.20 → 50220.
    pub fn revision(&self) -> u32 {
        let (a, b, c) = self.version;
        u32::from(a) * 10_000 + u32::from(b) * 100 + u32::from(c)
    }
}

/// One segment's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    /// Its state.
    pub state: SegmentState,
    /// Its owner (0: none).
    pub owner: u16,
    /// Its code, if loaded.
    pub image: Option<ImageRecord>,
}

impl SegmentRecord {
    /// An empty, unowned segment.
    pub fn unowned() -> SegmentRecord {
        SegmentRecord {
            state: SegmentState::Unowned,
            owner: 0,
            image: None,
        }
    }

    /// Whether code in this segment can run.
    pub fn runnable(&self) -> bool {
        matches!(
            self.state,
            SegmentState::Runnable | SegmentState::Initialized
        ) && self.image.is_some()
    }
}

/// Why a load was refused: the Miniboot-1 driver code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRefused {
    /// The driver code (8440xxxx).
    pub code: u32,
    /// What went wrong.
    pub message: String,
}

fn refused(code: u32, message: impl Into<String>) -> LoadRefused {
    LoadRefused {
        code,
        message: message.into(),
    }
}

/// What a load will do, computed before anything changes.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The segment table afterwards.
    pub segments: [SegmentRecord; 3],
    /// Whether the application's secrets (master keys) are cleared.
    pub clear_secrets: bool,
    /// The blob to write first (name, bytes).
    pub write: Option<(String, Vec<u8>)>,
    /// The blobs to remove once the new state is committed.
    pub remove: Vec<String>,
    /// What happened, for the operator.
    pub message: String,
}

/// SHA-512 of an image file.
pub fn image_hash(bytes: &[u8]) -> [u8; 64] {
    let d = digest::digest(&digest::SHA512, bytes);
    let mut out = [0u8; 64];
    out.copy_from_slice(d.as_ref());
    out
}

/// Builds the record of an image that has been checked.
pub fn record_of(image: &Image, bytes: &[u8]) -> ImageRecord {
    let hash = image_hash(bytes);
    let short: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    ImageRecord {
        blob: format!("segment-{}-{short}.img", image.segment),
        name: image.name.clone(),
        version: image.version,
        hash,
    }
}

/// Decides what loading `bytes` does to `segments`, or why it is refused.
pub fn plan_load(
    segments: &[SegmentRecord; 3],
    bytes: &[u8],
    signer: &PublicKey,
) -> Result<LoadPlan, LoadRefused> {
    let image = Image::from_bytes(bytes)
        .map_err(|e| refused(0x8440_0801, format!("not a segment image: {e}")))?;
    image
        .verify(signer)
        .map_err(|_| refused(0x8440_0802, "the image's signature does not verify"))?;
    let n = usize::from(image.segment);
    let index = n - 1;
    let mut next = segments.clone();
    let current = &segments[index];
    if n > 1 && !segments[index - 1].runnable() {
        return Err(refused(
            0x8440_0805,
            format!("segment {} is not runnable", n - 1),
        ));
    }
    if image.surrender {
        if n == 1 || current.state == SegmentState::Unowned {
            return Err(refused(0x8440_0805, format!("segment {n} has no owner")));
        }
        if image.owner != current.owner {
            return Err(refused(
                0x8440_0803,
                format!(
                    "segment {n} is owned by {}, not {}",
                    current.owner, image.owner
                ),
            ));
        }
        let mut remove = Vec::new();
        for seg in next.iter_mut().skip(index) {
            if let Some(img) = seg.image.take() {
                remove.push(img.blob);
            }
            *seg = SegmentRecord::unowned();
        }
        return Ok(LoadPlan {
            segments: next,
            clear_secrets: true,
            write: None,
            remove,
            message: format!("segment {n} surrendered; its secrets are cleared"),
        });
    }
    let establishing = n > 1 && current.state == SegmentState::Unowned;
    if !establishing && n > 1 && image.owner != current.owner {
        return Err(refused(
            0x8440_0803,
            format!(
                "segment {n} is owned by {}, not {}",
                current.owner, image.owner
            ),
        ));
    }
    if let Some(old) = &current.image
        && image.version < old.version
        && !image.allow_rollback
    {
        return Err(refused(
            0x8440_0804,
            format!(
                "image {} is older than the loaded {}.{}.{}",
                image.version_string(),
                old.version.0,
                old.version.1,
                old.version.2
            ),
        ));
    }
    let record = record_of(&image, bytes);
    let mut remove: Vec<String> = current
        .image
        .iter()
        .map(|i| i.blob.clone())
        .filter(|b| *b != record.blob)
        .collect();
    next[index] = SegmentRecord {
        state: if n == 1 {
            SegmentState::Initialized
        } else {
            SegmentState::Runnable
        },
        owner: if n == 1 { 0 } else { image.owner },
        image: Some(record.clone()),
    };
    // A new owner of segment 2 starts without segment 3's code.
    if establishing && n == 2 {
        for seg in next.iter_mut().skip(2) {
            if let Some(img) = seg.image.take() {
                remove.push(img.blob);
            }
            *seg = SegmentRecord::unowned();
        }
    }
    Ok(LoadPlan {
        segments: next,
        clear_secrets: establishing,
        write: Some((record.blob.clone(), bytes.to_vec())),
        remove,
        message: format!(
            "segment {n} {} with {} (owner {})",
            if establishing { "loaded" } else { "reloaded" },
            image.name,
            image.owner
        ),
    })
}

/// Hex of a hash in CLU's layout: groups of four hex digits.
pub fn grouped_hex(bytes: &[u8]) -> String {
    bytes
        .chunks(2)
        .map(|c| c.iter().map(|b| format!("{b:02X}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}
