//! The card's sensors and what each event does, from IBM's table of device-driver return
//! codes (IBM 4767 FAQ, "What do CLU's return codes mean?").
//!
//! | sensor | driver code | consequence |
//! |---|---|---|
//! | mesh | 8040FFF9 | zeroized, permanently disabled |
//! | temperature (high or low) | 8040FFEB | zeroized, permanently disabled |
//! | voltage (high or low) | 8040FFF3 | zeroized, permanently disabled |
//! | dead battery (batteries removed without power, or run out) | 8040FFDA | zeroized, permanently disabled |
//! | battery warning | 8040FFFE | the card keeps working; replace the batteries |
//! | battery replaced, with the card powered (the correct procedure) | — | clears the warning, keeps everything |
//! | intrusion latch | 8040FFBF | the card keeps working; CSUACFC RESET-IL clears it |
//! | X-ray | 8040FFDB | "does not apply to the PCIe coprocessor": reported, no effect |
//! | reset bit | 8040FFFB | the card stops until it is reset ("remove and reinsert") |

/// A sensor event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sensor {
    /// The tamper-detecting mesh was damaged.
    Mesh,
    /// High temperature threshold exceeded.
    TemperatureHigh,
    /// Low temperature threshold exceeded.
    TemperatureLow,
    /// High voltage threshold exceeded.
    VoltageHigh,
    /// Low voltage threshold exceeded.
    VoltageLow,
    /// The batteries ran out or were removed without power.
    BatteryDead,
    /// Battery power is marginal.
    BatteryLow,
    /// The batteries were replaced while the card was powered, as IBM's manual describes.
    BatteryReplaced,
    /// The external intrusion latch closed.
    Intrusion,
    /// X-ray sensor (not present on the PCIe card).
    XRay,
    /// Low voltage, temperature out of limits, or a reset command set the reset bit.
    ResetBit,
}

impl Sensor {
    /// Every event, in code order.
    pub const ALL: [Sensor; 11] = [
        Sensor::Mesh,
        Sensor::TemperatureHigh,
        Sensor::TemperatureLow,
        Sensor::VoltageHigh,
        Sensor::VoltageLow,
        Sensor::BatteryDead,
        Sensor::BatteryLow,
        Sensor::BatteryReplaced,
        Sensor::Intrusion,
        Sensor::XRay,
        Sensor::ResetBit,
    ];

    /// The code on the bus and in flash.
    pub const fn code(self) -> u16 {
        match self {
            Sensor::Mesh => 1,
            Sensor::TemperatureHigh => 2,
            Sensor::TemperatureLow => 3,
            Sensor::VoltageHigh => 4,
            Sensor::VoltageLow => 5,
            Sensor::BatteryDead => 6,
            Sensor::BatteryLow => 7,
            Sensor::BatteryReplaced => 8,
            Sensor::Intrusion => 9,
            Sensor::XRay => 10,
            Sensor::ResetBit => 11,
        }
    }

    /// The event with this code.
    pub fn from_code(code: u16) -> Option<Sensor> {
        Sensor::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The name `softcca tamper` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Sensor::Mesh => "mesh",
            Sensor::TemperatureHigh => "temp-high",
            Sensor::TemperatureLow => "temp-low",
            Sensor::VoltageHigh => "volt-high",
            Sensor::VoltageLow => "volt-low",
            Sensor::BatteryDead => "battery-dead",
            Sensor::BatteryLow => "battery-low",
            Sensor::BatteryReplaced => "battery-replaced",
            Sensor::Intrusion => "intrusion",
            Sensor::XRay => "xray",
            Sensor::ResetBit => "reset-bit",
        }
    }

    /// The event with this name.
    pub fn from_name(name: &str) -> Option<Sensor> {
        Sensor::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The device-driver return code IBM documents for the event (0 for a battery
    /// replacement, which is not an alarm).
    pub const fn driver_code(self) -> u32 {
        match self {
            Sensor::Mesh => 0x8040_FFF9,
            Sensor::TemperatureHigh | Sensor::TemperatureLow => 0x8040_FFEB,
            Sensor::VoltageHigh | Sensor::VoltageLow => 0x8040_FFF3,
            Sensor::BatteryDead => 0x8040_FFDA,
            Sensor::BatteryLow => 0x8040_FFFE,
            Sensor::BatteryReplaced => 0,
            Sensor::Intrusion => 0x8040_FFBF,
            Sensor::XRay => 0x8040_FFDB,
            Sensor::ResetBit => 0x8040_FFFB,
        }
    }

    /// Whether the event zeroizes the card and disables it for good.
    pub const fn zeroizes(self) -> bool {
        matches!(
            self,
            Sensor::Mesh
                | Sensor::TemperatureHigh
                | Sensor::TemperatureLow
                | Sensor::VoltageHigh
                | Sensor::VoltageLow
                | Sensor::BatteryDead
        )
    }

    /// IBM's words for the event.
    pub const fn description(self) -> &'static str {
        match self {
            Sensor::Mesh => "mesh tamper",
            Sensor::TemperatureHigh => "temperature tamper (high)",
            Sensor::TemperatureLow => "temperature tamper (low)",
            Sensor::VoltageHigh => "voltage tamper (high)",
            Sensor::VoltageLow => "voltage tamper (low)",
            Sensor::BatteryDead => "dead battery",
            Sensor::BatteryLow => "battery warning",
            Sensor::BatteryReplaced => "batteries replaced under power",
            Sensor::Intrusion => "external intrusion",
            Sensor::XRay => "X-ray tamper (does not apply to the PCIe coprocessor)",
            Sensor::ResetBit => "reset bit is on",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for s in Sensor::ALL {
            assert_eq!(Sensor::from_code(s.code()), Some(s));
            assert_eq!(Sensor::from_name(s.name()), Some(s));
        }
        assert_eq!(Sensor::from_code(0), None);
        assert_eq!(Sensor::from_name("MESH"), None);
    }
}
