//! CLU, the Coprocessor Load Utility, with IBM's command names:
//!
//! - `ST`: status, in the layout of IBM's CLU (vital product data, ROM status, each
//!   segment's image, revision and hash), followed by softcca's card status and master keys;
//! - `VA`: validate — the class-key certificate against the pinned root, the device-key
//!   certificate against the class key, and a status response the card signs with its device
//!   key over a fresh nonce;
//! - `PL`: process a segment file — establish owner, load, reload or surrender, as the
//!   signed file says;
//! - `RS`: reset the card (it runs its power-on self-test again).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use softcca_card::attest::{Certificate, MIN_NONCE_LEN};
use softcca_card::factory::development_root;

use crate::Target;

#[derive(Args, Debug)]
pub struct CluArgs {
    #[command(subcommand)]
    command: CluCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum CluCommand {
    /// ST: coprocessor status.
    #[command(alias = "ST")]
    St,
    /// VA: validate the card's certificate chain and its signed status.
    #[command(alias = "VA")]
    Va {
        /// The class-key certificate file (`<part number>v.clu`). As in CCA 5.4 and later it
        /// is optional; the card's own class certificate is checked against the root.
        class_file: Option<PathBuf>,
        /// The root certificate to trust [default: softcca's development root].
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// PL: process a signed segment file (load, reload or surrender).
    #[command(alias = "PL")]
    Pl {
        /// The segment image, as `softcca firmware build` writes it.
        file: PathBuf,
    },
    /// RS: reset the coprocessor.
    #[command(alias = "RS")]
    Rs,
}

pub fn run(args: CluArgs) -> Result<(), String> {
    let invocation = std::env::args().collect::<Vec<_>>().join(" ");
    print!("{}", banner(&invocation));
    let cca = match args.target.open() {
        Ok(cca) => cca,
        Err(e) => {
            // What the device driver reports when it cannot talk to the card.
            println!("  Driver Status      : 80400005 (general communication problem)");
            return Err(e);
        }
    };
    let transport = |e: softcca_host::TransportError| e.to_string();
    match args.command {
        CluCommand::St => {
            let status = cca.device_status().map_err(transport)?;
            print!("{}", format_status(&status.fields));
            Ok(())
        }
        CluCommand::Rs => {
            let result = cca.reset().map_err(transport)?;
            println!("  Driver Status      : {:08X}", result.driver_status);
            println!("  {}", result.message);
            finish(result.driver_status)
        }
        CluCommand::Pl { file } => {
            let image = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let result = cca.load(&image).map_err(transport)?;
            println!("  Driver Status      : {:08X}", result.driver_status);
            println!("  {}", result.message);
            finish(result.driver_status)
        }
        CluCommand::Va { class_file, root } => {
            let root = match root {
                Some(path) => Certificate::from_bytes(
                    &std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
                )
                .map_err(|e| format!("{}: {e}", path.display()))?,
                None => development_root().map_err(|e| e.to_string())?,
            };
            if let Some(path) = class_file {
                println!(
                    "  Class-key file     : {} (not needed since CCA 5.4; ignored)",
                    path.display()
                );
            }
            let mut nonce = [0u8; MIN_NONCE_LEN * 2];
            getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
            let attestation = cca.attest(&nonce).map_err(|e| {
                println!("  Validation         : FAILED");
                format!("the card gave no attestation: {e}")
            })?;
            println!("  Root               : {}", root.subject);
            match softcca_host::verify_attestation(
                &root.public_key,
                &attestation,
                &nonce,
                now_unix(),
            ) {
                Ok(v) => {
                    println!("  Class Certificate  : VALID  {}", v.class.subject);
                    println!("  Device Certificate : VALID  {}", v.device.subject);
                    println!(
                        "  Signed Status      : VALID  ({} fields over a {}-byte nonce)",
                        v.status.fields.len(),
                        nonce.len()
                    );
                    println!("  Validation         : SUCCESSFUL");
                    Ok(())
                }
                Err(e) => {
                    println!("  Validation         : FAILED ({e})");
                    Err(format!("validation failed: {e}"))
                }
            }
        }
    }
}

fn finish(driver_status: u32) -> Result<(), String> {
    if driver_status == 0 {
        Ok(())
    } else {
        Err(format!("driver status {driver_status:08X}"))
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// CLU's banner.
fn banner(invocation: &str) -> String {
    let rule = "-".repeat(70);
    let title = format!(
        "Coprocessor Load Utility (CLU) -- softcca {}",
        env!("CARGO_PKG_VERSION")
    );
    let title = format!("{title:^70}");
    format!(
        "{rule}\n{}\n{rule}\nInvocation :  {invocation}\nStarted    :  {}\n{rule}\n",
        title.trim_end(),
        softcca_card::time::format_utc(now_unix())
    )
}

/// The ST report: section headings, then `  name : value` lines with the names padded to
/// 19 characters, as IBM's CLU prints them.
pub fn format_status(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        match name.strip_prefix("# ") {
            Some(heading) => {
                out.push_str(heading);
                out.push('\n');
            }
            None => out.push_str(&format!("  {name:<19}: {value}\n")),
        }
    }
    out
}
