//! Card state survives `kill -9` of the daemon at any instant: after a restart the
//! master-key registers hold what was last acknowledged, or the effect of the one request
//! that was in flight, never a torn state.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Daemon, XorShift, status_field};
use softcca_host::Cca;

#[derive(Default, Clone)]
struct Ledger {
    /// AES-MK Current as of the last acknowledged SET.
    acknowledged: Option<String>,
    /// The NEW key's pattern while its SET is in flight.
    pending: Option<String>,
    sets: u64,
}

fn pattern(value: &str) -> String {
    value.split_whitespace().last().unwrap_or("").to_string()
}

#[test]
fn master_keys_survive_kill_9_at_random_instants() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("card");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut serial = None;
    let mut last = Ledger::default();
    let mut total_sets = 0;
    for round in 0..6 {
        let daemon = Daemon::start(&home, &[]);
        let cca = Arc::new(Cca::connect(&daemon.socket()).unwrap());
        let s = status_field(&cca, "Serial Number");
        assert_eq!(
            serial.get_or_insert(s.clone()),
            &s,
            "same card after restart"
        );
        // What the card holds now must be what was acknowledged before the kill, or the
        // effect of the SET that was in flight.
        let current = pattern(&status_field(&cca, "AES-MK Current"));
        if round > 0 {
            let allowed: Vec<String> = [last.acknowledged.clone(), last.pending.clone()]
                .into_iter()
                .flatten()
                .collect();
            if allowed.is_empty() {
                assert_eq!(current, "EMPTY");
            } else {
                assert!(
                    allowed.contains(&current),
                    "round {round}: current {current} is neither acknowledged nor in flight {allowed:?}"
                );
            }
        }
        let ledger = Arc::new(Mutex::new(Ledger {
            acknowledged: (current != "EMPTY").then_some(current),
            pending: None,
            sets: 0,
        }));
        let worker = {
            let (cca, ledger) = (Arc::clone(&cca), Arc::clone(&ledger));
            std::thread::spawn(move || {
                loop {
                    let ceremony = || -> Result<(), softcca_host::CcaError> {
                        for process in ["FIRST", "LAST"] {
                            let part = cca.random_number_generate_long(&["RANDOM"], 32)?;
                            cca.master_key_process(&["AES-MK", process], &part)?;
                        }
                        Ok(())
                    };
                    if ceremony().is_err() {
                        return;
                    }
                    let Ok(new) = cca.device_status() else { return };
                    let new = new
                        .fields
                        .iter()
                        .find(|(n, _)| n == "AES-MK New")
                        .map(|(_, v)| pattern(v))
                        .unwrap_or_default();
                    ledger.lock().unwrap().pending = Some(new.clone());
                    if cca.master_key_process(&["AES-MK", "SET"], &[]).is_err() {
                        return;
                    }
                    let mut l = ledger.lock().unwrap();
                    l.acknowledged = Some(new);
                    l.pending = None;
                    l.sets += 1;
                }
            })
        };
        std::thread::sleep(Duration::from_millis(100 + rng.next() % 400));
        daemon.kill9();
        worker.join().unwrap();
        last = ledger.lock().unwrap().clone();
        total_sets += last.sets;
    }
    eprintln!("{total_sets} acknowledged SETs across 6 kills");
    assert!(
        total_sets > 0,
        "the test never completed a SET before a kill"
    );
}
