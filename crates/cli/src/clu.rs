//! CLU, the Coprocessor Load Utility. `ST` (status) prints the card's status in the layout of
//! IBM's CLU: one `name : value` line per field, the ROM status, each segment's state, owner
//! ID, image and hash, the secure part number, then the driver status and master-key
//! registers.

use clap::{Args, Subcommand};

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
}

pub fn run(args: CluArgs) -> Result<(), String> {
    let cca = args.target.open()?;
    match args.command {
        CluCommand::St => {
            let status = cca.device_status().map_err(|e| e.to_string())?;
            print!("{}", format_status(&status.fields));
            Ok(())
        }
    }
}

/// The ST report: `name : value` lines, with the "ROM Status" heading before the first
/// segment line, as IBM's CLU prints it.
pub fn format_status(fields: &[(String, String)]) -> String {
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::from("CLU ST\n");
    for (name, value) in fields {
        if name == "Page 1 Certified" {
            out.push_str("ROM Status\n");
        }
        out.push_str(&format!("{name:<width$} : {value}\n"));
    }
    out
}
