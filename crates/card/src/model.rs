//! Which coprocessor the card emulates, and the card's identity from manufacturing.

/// The hardware model, which fixes the CCA release the card reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// IBM 4767-002 (Crypto Express5S), CCA 5.x. IBM's last CCA release for it on x64 is 5.6.9
    /// (2 October 2020).
    Ibm4767,
    /// IBM 4769 (Crypto Express7S), CCA 7.x, the level current opencryptoki requires (≥ 7.1).
    Ibm4769,
}

impl Model {
    /// The model number, as the bus reports it.
    pub const fn number(self) -> u16 {
        match self {
            Model::Ibm4767 => 4767,
            Model::Ibm4769 => 4769,
        }
    }

    /// The model with this number.
    pub fn from_number(n: u16) -> Option<Model> {
        match n {
            4767 => Some(Model::Ibm4767),
            4769 => Some(Model::Ibm4769),
            _ => None,
        }
    }

    /// The CCA application version (`v.r.m`), as STATCCA element 4 and CSUACFV report it.
    ///
    /// 4767: 5.6.9 is IBM's last release for the card. 4769: IBM publishes no release list
    /// for x64 firmware; 7.5.52 is the level opencryptoki's own examples show, and reports the
    /// 7.5 mechanism set (AES-GCM, ECDH, EdDSA) to opencryptoki 3.27.
    pub const fn cca_version(self) -> &'static str {
        match self {
            Model::Ibm4767 => "5.6.9",
            Model::Ibm4769 => "7.5.52",
        }
    }

    /// The CCA build date (`yyyymmdd`).
    pub const fn cca_build_date(self) -> &'static str {
        match self {
            Model::Ibm4767 => "20201002",
            Model::Ibm4769 => "20240301",
        }
    }

    /// The secure part number CLU reports (seven characters). 00LV498 is the 4767 part
    /// number IBM's FAQ uses; the 4769 number is softcca's own.
    pub const fn part_number(self) -> &'static str {
        match self {
            Model::Ibm4767 => "00LV498",
            Model::Ibm4769 => "02WN769",
        }
    }

    /// The coprocessor operating system's name and version (segment 2).
    pub const fn os(self) -> (&'static str, &'static str) {
        match self {
            Model::Ibm4767 => ("CCA-OS", "5.6.9"),
            Model::Ibm4769 => ("CCA-OS", "7.5.52"),
        }
    }

    /// Miniboot / POST (segment 1) version.
    pub const fn miniboot(self) -> &'static str {
        match self {
            Model::Ibm4767 => "1.3.1",
            Model::Ibm4769 => "3.1.0",
        }
    }
}

/// What manufacturing gives a card: its model, serial number and adapter ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The hardware model.
    pub model: Model,
    /// Eight-character serial number (STATCRD2 element 15).
    pub serial: [u8; 8],
    /// Eight-byte adapter ID.
    pub adapter_id: [u8; 8],
    /// When the card was manufactured (seconds since the Unix epoch).
    pub manufactured_at: u64,
}

impl Identity {
    /// The serial number as text.
    pub fn serial_str(&self) -> &str {
        std::str::from_utf8(&self.serial).unwrap_or("????????")
    }
}

/// Makes a serial number from eight random bytes: "93" (IBM's prefix for 4767 serials in the
/// field is not documented; softcca marks its cards with 93) and six characters of 0-9A-Z.
pub fn serial_from_random(random: &[u8; 8]) -> [u8; 8] {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut serial = *b"93000000";
    for (out, r) in serial[2..].iter_mut().zip(random) {
        *out = ALPHABET[usize::from(*r) % ALPHABET.len()];
    }
    serial
}
