//! `softcca`: the emulated IBM 4767 coprocessor's one command.
//!
//! - `softcca serve` runs the card daemon (the card and its bus);
//! - `softcca clu …` is the Coprocessor Load Utility;
//! - `softcca panel …` manages master keys (the CCA "panel" / CNM utility);
//! - `softcca bench …` measures the bus.
//!
//! Every subcommand but `serve` is a thin client of the host library.

#![forbid(unsafe_code)]

mod bench;
mod clu;
mod panel;
mod pki;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use softcca_card::card::PowerOnOptions;
use softcca_card::sensors::Sensor;
use softcca_card::{Card, Model, PowerOn};
use softcca_host::Cca;
use softcca_platform::{StateDir, resolve_home, socket_path};

#[derive(Parser, Debug)]
#[command(
    name = "softcca",
    version,
    about = "An emulated IBM 4767 CCA coprocessor"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the card daemon on a Unix socket in its state directory.
    Serve(ServeArgs),
    /// Coprocessor Load Utility: status of the card.
    Clu(clu::CluArgs),
    /// Master-key panel: load parts, set, clear, show verification patterns.
    Panel(panel::PanelArgs),
    /// Measure the card through the bus.
    Bench(bench::BenchArgs),
    /// Play a sensor event on the card: mesh, temp-high, temp-low, volt-high, volt-low,
    /// battery-dead, battery-low, battery-replaced, intrusion, xray, reset-bit.
    Tamper(TamperArgs),
    /// Build and sign firmware segment images.
    Firmware(pki::FirmwareArgs),
    /// Make the PKI cards are manufactured with (root, class keys, code signing).
    Factory(pki::FactoryArgs),
}

#[derive(Args, Debug)]
struct TamperArgs {
    /// The event.
    event: String,
    #[command(flatten)]
    target: Target,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The card's state directory [default: $SOFTCCA_HOME, else ./softcca-data].
    #[arg(long)]
    home: Option<PathBuf>,
    /// The model to manufacture on first start (4767 reports CCA 5.x, 4769 CCA 7.x).
    #[arg(long, value_parser = parse_model)]
    model: Option<Model>,
    /// Developer mode: load random master keys into a card that has none, and print their
    /// verification patterns.
    #[arg(long)]
    dev: bool,
    /// Seconds every power-on self-test keeps the card busy (IBM's card: minutes).
    #[arg(long, default_value_t = 3.0)]
    post_seconds: f64,
    /// Factory directory (see `softcca factory`) to manufacture the card with
    /// [default: softcca's development PKI].
    #[arg(long)]
    factory: Option<PathBuf>,
}

/// Which card a client subcommand talks to.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The card's state directory; the daemon's socket is inside it.
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// The daemon's socket (overrides --home).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// Run the card in this process instead of connecting to a daemon.
    #[arg(long, global = true)]
    embedded: bool,
}

impl Target {
    /// Whether the card runs in this process.
    pub fn is_embedded(&self) -> bool {
        self.embedded
    }
}

impl Target {
    /// Opens the host library on the chosen card.
    pub fn open(&self) -> Result<Cca, String> {
        let home = resolve_home(self.home.as_deref());
        let result = if self.embedded {
            Cca::embedded(&home, None)
        } else {
            let socket = self.socket.clone().unwrap_or_else(|| socket_path(&home));
            Cca::connect(&socket)
        };
        result.map_err(|e| e.to_string())
    }
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse::<u16>()
        .ok()
        .and_then(Model::from_number)
        .ok_or_else(|| format!("unknown model {s}: use 4767 or 4769"))
}

/// mimalloc keeps freed pages for reuse: a daemon moving megabyte texts otherwise spends a
/// quarter of its time in page faults, as glibc maps and unmaps every large buffer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Clu(args) => clu::run(args),
        Command::Panel(args) => panel::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Tamper(args) => tamper(args),
        Command::Firmware(args) => pki::firmware(args),
        Command::Factory(args) => pki::factory_command(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("softcca: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let home = resolve_home(args.home.as_deref());
    let dir = StateDir::open(&home).map_err(|e| e.to_string())?;
    let factory = match &args.factory {
        Some(d) => Some(pki::factory(Some(d), args.model.unwrap_or(Model::Ibm4767))?),
        None => None,
    };
    let options = PowerOnOptions {
        model: args.model,
        self_test: std::time::Duration::from_secs_f64(args.post_seconds.max(0.0)),
        factory: factory.as_ref(),
        insecure_failing_kat: None,
    };
    let (card, how) = Card::power_on_with(dir.platform(), options).map_err(|e| e.to_string())?;
    let card = Arc::new(card);
    let id = card.identity();
    println!(
        "softcca: IBM {} card {} {} in {}",
        id.model.number(),
        id.serial_str(),
        match how {
            PowerOn::Manufactured => "manufactured",
            PowerOn::Resumed => "powered on",
        },
        home.display()
    );
    println!(
        "softcca: power-on self-test: {:.1} s; driver status {:08X}",
        args.post_seconds,
        card.driver_status()
    );
    if args.dev {
        while card.condition() != softcca_card::card::Condition::Ready && card.driver_status() == 0
        {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let cca = Cca::with_card(Arc::clone(&card));
        panel::load_dev_master_keys(&cca)?;
    }
    let socket = socket_path(&home);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("softcca-daemon")
        .build()
        .map_err(|e| e.to_string())?;
    println!("softcca: listening on {}", socket.display());
    runtime
        .block_on(softcca_daemon::serve(card, &socket, shutdown_signal()))
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    println!("softcca: stopped");
    drop(dir);
    Ok(())
}

fn tamper(args: TamperArgs) -> Result<(), String> {
    let sensor = Sensor::from_name(&args.event).ok_or_else(|| {
        let names: Vec<&str> = Sensor::ALL.iter().map(|s| s.name()).collect();
        format!("unknown event {}: one of {}", args.event, names.join(", "))
    })?;
    let cca = args.target.open()?;
    let result = cca.sense(sensor).map_err(|e| e.to_string())?;
    println!(
        "driver status {:08X}: {}",
        result.driver_status, result.message
    );
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
