//! `softcca bench`: round trips through the host library and the bus, measured, not tested.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::Target;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum, default_value = "rngl")]
    what: What,
    /// Client thread counts to run, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    threads: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Bytes per CSNBRNGL call.
    #[arg(long, default_value_t = 32)]
    bytes: usize,
    #[command(flatten)]
    target: Target,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum What {
    /// Random_Number_Generate_Long (CSNBRNGL) round trips.
    Rngl,
    /// Bus ping round trips (no verb).
    Ping,
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let cca = Arc::new(args.target.open()?);
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    println!(
        "{:<6} {:>8} {:>14} {:>12}",
        "what", "threads", "calls/s", "us/call"
    );
    for &threads in &args.threads {
        let threads = threads.max(1);
        let calls = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for _ in 0..threads {
            let (cca, calls, stop, failed) = (
                Arc::clone(&cca),
                Arc::clone(&calls),
                Arc::clone(&stop),
                Arc::clone(&failed),
            );
            let (what, bytes) = (args.what, args.bytes);
            handles.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let ok = match what {
                        What::Rngl => cca
                            .random_number_generate_long(&["RANDOM"], bytes)
                            .is_ok_and(|r| r.len() == bytes),
                        What::Ping => cca.ping(b"bench").is_ok(),
                    };
                    if !ok {
                        failed.store(true, Ordering::Relaxed);
                        return;
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Warm up, then count over the measured window only.
        std::thread::sleep(Duration::from_millis(300));
        let start_calls = calls.load(Ordering::Relaxed);
        let start = Instant::now();
        std::thread::sleep(duration);
        let done = calls.load(Ordering::Relaxed) - start_calls;
        let elapsed = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            let _ = h.join();
        }
        if failed.load(Ordering::Relaxed) {
            return Err("a call failed during the benchmark".into());
        }
        let rate = done as f64 / elapsed;
        println!(
            "{:<6} {:>8} {:>14.0} {:>12.2}",
            format!("{:?}", args.what).to_lowercase(),
            threads,
            rate,
            threads as f64 * 1e6 / rate
        );
    }
    Ok(())
}
