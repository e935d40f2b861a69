//! `softcca bench`: verbs through the host library and the bus, measured, not tested.
//!
//! Each workload runs its verb from N client threads for a fixed time and reports calls per
//! second. A workload with cryptography also runs the same operation done directly by the
//! crypto library the card uses, from the same number of threads, in the same run: the ratio
//! of the two is what the card, the bus and the host library cost. The library's operation is
//! the whole of what one call does: key schedule, a copy of the text, the cipher or hash
//! (the card also deciphers the key token under its master key, which the library does not).
//! With `--embedded`, a card without master keys gets random ones first, as `serve --dev` does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use softcca_host::{Cca, SymmetricRequest};

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
    /// Bytes per call (text length, or random bytes for rngl), one measurement each
    /// [default: the workload's own, e.g. 32 for rngl, 1 MiB for owh].
    #[arg(long, value_delimiter = ',')]
    bytes: Vec<usize>,
    /// Skip the crypto library's own measurement.
    #[arg(long)]
    no_library: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    /// Random_Number_Generate_Long (CSNBRNGL) round trips.
    Rngl,
    /// Bus ping round trips (no verb).
    Ping,
    /// One_Way_Hash (CSNBOWH) SHA-256, ONLY.
    Owh,
    /// Symmetric_Algorithm_Encipher (CSNBSAE) AES-256-CBC with an internal X'04' token.
    Sae,
    /// Encipher (CSNBENC) TDES-CBC with a triple-length internal DATA token.
    Enc,
    /// HMAC_Generate (CSNBHMG) HMAC-SHA-256 with a 32-byte key in an internal X'05' token.
    Hmg,
}

impl What {
    fn default_bytes(self) -> &'static [usize] {
        match self {
            What::Rngl | What::Ping => &[32],
            What::Owh => &[1 << 20],
            What::Sae => &[1 << 10, 1 << 20],
            What::Enc | What::Hmg => &[1 << 10],
        }
    }
}

/// One operation, callable from many threads; `false` means it failed.
type Op = Arc<dyn Fn() -> bool + Send + Sync>;

/// What a workload measures: the verb through the card, and the library's own operation.
struct Workload {
    card: Op,
    library: Option<Op>,
}

fn workload(what: What, cca: &Arc<Cca>, bytes: usize) -> Result<Workload, String> {
    let text: Arc<Vec<u8>> = Arc::new((0..bytes).map(|i| (i * 7 + 1) as u8).collect());
    Ok(match what {
        What::Rngl => {
            let cca = Arc::clone(cca);
            Workload {
                card: Arc::new(move || {
                    cca.random_number_generate_long(&["RANDOM"], bytes)
                        .is_ok_and(|r| r.len() == bytes)
                }),
                library: None,
            }
        }
        What::Ping => {
            let cca = Arc::clone(cca);
            Workload {
                card: Arc::new(move || cca.ping(b"bench").is_ok()),
                library: None,
            }
        }
        What::Owh => {
            let (cca, t) = (Arc::clone(cca), Arc::clone(&text));
            let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &text);
            let expected = expected.as_ref().to_vec();
            check(
                &cca.one_way_hash(&["SHA-256", "ONLY"], &text, &mut [0; 128], 32),
                &expected,
            )?;
            Workload {
                card: Arc::new(move || {
                    cca.one_way_hash(&["SHA-256", "ONLY"], &t, &mut [0; 128], 32)
                        .is_ok_and(|h| h.len() == 32)
                }),
                library: Some(Arc::new(move || {
                    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &text)
                        .as_ref()
                        .len()
                        == 32
                })),
            }
        }
        What::Sae => {
            let key = [0x5Au8; 32];
            let (token, _) = cca
                .multiple_clear_key_import(&["AES"], &key, &[0; 64])
                .map_err(verb_failed)?;
            let iv = [0x11u8; 16];
            let chain = [0u8; 32];
            let encipher = {
                let (cca, t, token) = (Arc::clone(cca), Arc::clone(&text), token.clone());
                move || {
                    cca.symmetric_algorithm_encipher(&SymmetricRequest {
                        rule_array: &["AES", "CBC", "KEYIDENT"],
                        key_identifier: &token,
                        key_parms_length: 0,
                        key_parms: &[],
                        block_size: 16,
                        initialization_vector: &iv,
                        chain_data: &chain,
                        text: &t,
                        output_length: i32::try_from(t.len()).unwrap_or(i32::MAX),
                        optional_data: &[],
                    })
                    .map(|o| o.text)
                }
            };
            let library = move |text: &[u8]| -> Option<Vec<u8>> {
                use aws_lc_rs::cipher::{
                    AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey,
                };
                use aws_lc_rs::iv::FixedLength;
                let k = EncryptingKey::cbc(UnboundCipherKey::new(&AES_256, &key).ok()?).ok()?;
                let mut out = text.to_vec();
                k.less_safe_encrypt(&mut out, EncryptionContext::Iv128(FixedLength::from(iv)))
                    .ok()?;
                Some(out)
            };
            check(&encipher(), &library(&text).unwrap_or_default())?;
            Workload {
                card: Arc::new(move || encipher().is_ok_and(|c| c.len() == bytes)),
                library: Some(Arc::new(move || library(&text).is_some())),
            }
        }
        What::Enc => {
            // SP 800-67's example key: three different thirds.
            let key: [u8; 24] = [
                0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD,
                0xEF, 0x01, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23,
            ];
            let (token, _) = cca
                .multiple_clear_key_import(&["DES"], &key, &[0; 64])
                .map_err(verb_failed)?;
            let iv = [0x22u8; 8];
            let encipher = {
                let (cca, t) = (Arc::clone(cca), Arc::clone(&text));
                move || {
                    cca.encipher(&token, &t, &iv, &["CBC"], 0, &[0; 18])
                        .map(|c| c.text)
                }
            };
            let library = move |text: &[u8]| -> Vec<u8> {
                use des::cipher::generic_array::GenericArray;
                use des::cipher::{BlockEncrypt, KeyInit};
                let cipher = des::TdesEde3::new(GenericArray::from_slice(&key));
                let mut out = text.to_vec();
                let mut chain = iv;
                for block in out.chunks_exact_mut(8) {
                    block.iter_mut().zip(&chain).for_each(|(b, c)| *b ^= c);
                    cipher.encrypt_block(GenericArray::from_mut_slice(block));
                    chain.copy_from_slice(block);
                }
                out
            };
            check(&encipher(), &library(&text))?;
            Workload {
                card: Arc::new(move || encipher().is_ok_and(|c| c.len() == bytes)),
                library: Some(Arc::new(move || library(&text).len() == bytes)),
            }
        }
        What::Hmg => {
            let key = [0x0Bu8; 32];
            let skeleton = cca
                .key_token_build2(
                    &["INTERNAL", "NO-KEY", "HMAC", "MAC", "GENERATE"],
                    &[],
                    &[],
                    &[],
                    725,
                )
                .map_err(verb_failed)?;
            let (partial, _) = cca
                .key_part_import2(&["HMAC", "FIRST", "MIN1PART"], &key, &skeleton)
                .map_err(verb_failed)?;
            let (token, _) = cca
                .key_part_import2(&["HMAC", "COMPLETE"], &[], &partial)
                .map_err(verb_failed)?;
            let generate = {
                let (cca, t) = (Arc::clone(cca), Arc::clone(&text));
                move || {
                    cca.hmac_generate(&["HMAC", "SHA-256"], &token, &t, &mut [0; 128], 32)
                        .map(|(mac, _)| mac)
                }
            };
            let library = move |text: &[u8]| {
                use aws_lc_rs::hmac;
                hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), text)
                    .as_ref()
                    .to_vec()
            };
            check(&generate(), &library(&text))?;
            Workload {
                card: Arc::new(move || generate().is_ok_and(|m| m.len() == 32)),
                library: Some(Arc::new(move || library(&text).len() == 32)),
            }
        }
    })
}

fn verb_failed(e: softcca_host::CcaError) -> String {
    format!(
        "setting up the benchmark's key failed: {e} (a card without master keys answers \
         12/764: start it with `softcca serve --dev`)"
    )
}

/// Checks a verb's first answer against the library's before measuring anything.
fn check<E: std::fmt::Display>(got: &Result<Vec<u8>, E>, expected: &[u8]) -> Result<(), String> {
    match got {
        Ok(v) if v == expected => Ok(()),
        Ok(_) => Err("the card's answer differs from the library's".into()),
        Err(e) => Err(format!(
            "the verb failed: {e} (a card without master keys answers 12/764: start it with \
             `softcca serve --dev`)"
        )),
    }
}

/// Runs `op` from `threads` threads for `duration` after a warm-up; calls per second.
fn measure(op: &Op, threads: usize, duration: Duration) -> Result<f64, String> {
    let calls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (op, calls, stop, failed) = (
            Arc::clone(op),
            Arc::clone(&calls),
            Arc::clone(&stop),
            Arc::clone(&failed),
        );
        handles.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if !op() {
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
    Ok(done as f64 / elapsed)
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let cca = Arc::new(args.target.open()?);
    if args.target.is_embedded() {
        // As `serve --dev` does for a daemon: random master keys into a card that has none.
        crate::panel::load_dev_master_keys(&cca)?;
    }
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let sizes = if args.bytes.is_empty() {
        args.what.default_bytes().to_vec()
    } else {
        args.bytes.clone()
    };
    let name = format!("{:?}", args.what).to_lowercase();
    println!(
        "{:<6} {:>8} {:>8} {:>12} {:>10} {:>10} {:>12} {:>10} {:>7}",
        "what",
        "bytes",
        "threads",
        "calls/s",
        "us/call",
        "MB/s",
        "lib calls/s",
        "lib MB/s",
        "ratio"
    );
    for &bytes in &sizes {
        let w = workload(args.what, &cca, bytes)?;
        for &threads in &args.threads {
            let threads = threads.max(1);
            let rate = measure(&w.card, threads, duration)?;
            let lib = match (&w.library, args.no_library) {
                (Some(op), false) => Some(measure(op, threads, duration)?),
                _ => None,
            };
            let mbs = |r: f64| r * bytes as f64 / 1e6;
            let (lib_rate, lib_mbs, ratio) = match lib {
                Some(l) => (
                    format!("{l:.0}"),
                    format!("{:.1}", mbs(l)),
                    format!("{:.3}", rate / l),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:<6} {:>8} {:>8} {:>12.0} {:>10.2} {:>10.1} {:>12} {:>10} {:>7}",
                name,
                bytes,
                threads,
                rate,
                threads as f64 * 1e6 / rate,
                mbs(rate),
                lib_rate,
                lib_mbs,
                ratio
            );
        }
    }
    Ok(())
}
