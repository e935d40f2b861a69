//! The master-key panel: what IBM's CCA panel utility (and the CNM utility on AIX) does for
//! master keys, as subcommands: load key parts, generate a random key, set, clear, and show
//! the registers with their verification patterns. Every action is one Master_Key_Process
//! (CSNBMKP) call through the host library.

use clap::{Args, Subcommand, ValueEnum};
use softcca_host::Cca;

use crate::Target;

#[derive(Args, Debug)]
pub struct PanelArgs {
    #[command(subcommand)]
    command: PanelCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    #[value(name = "SYM-MK", alias = "sym")]
    Sym,
    #[value(name = "ASYM-MK", alias = "asym")]
    Asym,
    #[value(name = "AES-MK", alias = "aes")]
    Aes,
    #[value(name = "APKA-MK", alias = "apka")]
    Apka,
}

impl Class {
    fn keyword(self) -> &'static str {
        match self {
            Class::Sym => "SYM-MK",
            Class::Asym => "ASYM-MK",
            Class::Aes => "AES-MK",
            Class::Apka => "APKA-MK",
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum Part {
    #[value(name = "FIRST", alias = "first")]
    First,
    #[value(name = "MIDDLE", alias = "middle")]
    Middle,
    #[value(name = "LAST", alias = "last")]
    Last,
}

#[derive(Subcommand, Debug)]
enum PanelCommand {
    /// Show every master-key register and its verification pattern.
    Show,
    /// Load a key part into the new-master-key register.
    Load {
        /// The register class.
        #[arg(long, value_enum)]
        class: Class,
        /// Which part.
        #[arg(long, value_enum)]
        part: Part,
        /// The key part in hex (48 digits for SYM-MK/ASYM-MK, 64 for AES-MK/APKA-MK); `-`
        /// reads it from standard input.
        #[arg(long)]
        hex: String,
    },
    /// Generate a random new master key inside the card (SYM-MK and ASYM-MK).
    Random {
        #[arg(long, value_enum)]
        class: Class,
    },
    /// Make the new master key current (current becomes old).
    Set {
        #[arg(long, value_enum)]
        class: Class,
    },
    /// Clear the new-master-key register (or, with --old, the old one).
    Clear {
        #[arg(long, value_enum)]
        class: Class,
        #[arg(long)]
        old: bool,
    },
    /// Re-encipher every DES and AES key-storage record under the current master key
    /// (Key_Token_Change RTCMK); safe to run again after an interruption.
    Reencipher,
}

pub fn run(args: PanelArgs) -> Result<(), String> {
    let cca = args.target.open()?;
    let mkp = |class: Class, process: &str, part: &[u8]| -> Result<(), String> {
        let codes = cca
            .master_key_process(&[class.keyword(), process], part)
            .map_err(|e| format!("{} {process}: {e}", class.keyword()))?;
        println!("{} {process}: return/reason code {codes}", class.keyword());
        Ok(())
    };
    match args.command {
        PanelCommand::Show => {}
        PanelCommand::Load { class, part, hex } => {
            let text = if hex == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_line(&mut s)
                    .map_err(|e| e.to_string())?;
                s
            } else {
                hex
            };
            let bytes = zeroize::Zeroizing::new(
                hex::decode(text.trim()).map_err(|e| format!("key part: {e}"))?,
            );
            let process = match part {
                Part::First => "FIRST",
                Part::Middle => "MIDDLE",
                Part::Last => "LAST",
            };
            mkp(class, process, &bytes)?;
        }
        PanelCommand::Random { class } => mkp(class, "RANDOM", &[])?,
        PanelCommand::Set { class } => mkp(class, "SET", &[])?,
        PanelCommand::Clear { class, old } => {
            mkp(class, if old { "CLR-OLD" } else { "CLEAR" }, &[])?
        }
        PanelCommand::Reencipher => return reencipher(&cca),
    }
    show(&cca)
}

/// `panel reencipher`: prints one line per record and a summary; fails (exit status) when a
/// record could not be re-enciphered.
fn reencipher(cca: &Cca) -> Result<(), String> {
    let report = cca
        .reencipher_key_storage()
        .map_err(|e| format!("key storage: {e}"))?;
    for label in &report.changed {
        println!("re-enciphered    {label}");
    }
    for label in &report.already_current {
        println!("already current  {label}");
    }
    for (label, why) in &report.skipped {
        println!("skipped          {label}: {why}");
    }
    for (label, codes) in &report.failed {
        println!("FAILED           {label}: return/reason code {codes}");
    }
    println!(
        "{} re-enciphered, {} already current, {} skipped, {} failed",
        report.changed.len(),
        report.already_current.len(),
        report.skipped.len(),
        report.failed.len()
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} record(s) could not be re-enciphered",
            report.failed.len()
        ))
    }
}

/// Prints the registers and their verification patterns.
pub fn show(cca: &Cca) -> Result<(), String> {
    let status = cca.device_status().map_err(|e| e.to_string())?;
    for (name, value) in &status.fields {
        if name.ends_with(" New") || name.ends_with(" Current") || name.ends_with(" Old") {
            println!("{name:<16} {value}");
        }
    }
    Ok(())
}

/// `serve --dev`: loads random master keys into every empty current register, through the
/// same verbs an officer would use, and prints the verification patterns.
pub fn load_dev_master_keys(cca: &Cca) -> Result<(), String> {
    let err = |e: softcca_host::CcaError| e.to_string();
    for class in [Class::Sym, Class::Asym, Class::Aes, Class::Apka] {
        let state = cca
            .cryptographic_facility_query(&[match class {
                Class::Sym => "STATCCA",
                Class::Asym => "STATCCAE",
                Class::Aes => "STATAES",
                Class::Apka => "STATAPKA",
            }])
            .map_err(err)?;
        let current_index = if class == Class::Asym { 7 } else { 1 };
        let loaded = state.get(current_index).is_some_and(|e| e[0] == b'2');
        if loaded {
            continue;
        }
        cca.master_key_process(&[class.keyword(), "CLEAR"], &[])
            .map_err(err)?;
        match class {
            Class::Sym | Class::Asym => {
                cca.master_key_process(&[class.keyword(), "RANDOM"], &[])
                    .map_err(err)?;
            }
            Class::Aes | Class::Apka => {
                // IBM loads AES and APKA master keys from clear parts only: two random parts.
                for process in ["FIRST", "LAST"] {
                    let part = zeroize::Zeroizing::new(
                        cca.random_number_generate_long(&["RANDOM"], 32)
                            .map_err(err)?,
                    );
                    cca.master_key_process(&[class.keyword(), process], &part)
                        .map_err(err)?;
                }
            }
        }
        cca.master_key_process(&[class.keyword(), "SET"], &[])
            .map_err(err)?;
    }
    println!("softcca: developer master keys (verification patterns):");
    show(cca)
}
