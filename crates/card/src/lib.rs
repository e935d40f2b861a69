//! softcca's card: the emulated IBM 4767 / 4769 coprocessor running CCA, the secure boundary.
//!
//! This crate does no I/O and has no `unsafe`. It takes a verb request (the parameter block
//! the host library built) and returns a verb response; its clock, entropy, flash and
//! battery-backed RAM come in through the traits of [`platform`]. The daemon and the
//! embedded host run exactly this code.
//!
//! Inside the card:
//! - [`card::Card`]: the engines and their state, shared by every thread;
//! - [`verbs`]: the CCA verbs, one module per chapter of IBM's reference;
//! - [`rng`]: the SP 800-90A Hash_DRBG and the SP 800-90B health tests, the card's only source
//!   of randomness;
//! - [`mk`]: the master-key registers and their verification patterns;
//! - [`tokens`]: the fixed-length DES and AES key tokens, control vectors, key wrapping;
//! - [`error`]: every return/reason code, decided in one function.

#![forbid(unsafe_code)]

pub mod access;
pub mod attest;
pub mod bus;
pub mod card;
pub mod error;
pub mod factory;
pub mod firmware;
pub mod labels;
pub mod mk;
pub mod model;
pub mod platform;
mod retained;
pub mod rng;
pub mod rules;
pub mod segments;
pub mod selftest;
pub mod sensors;
pub mod state;
pub mod time;
pub mod tokens;
mod verbs;

pub use card::{Card, DRIVER_RNG_FAULT, PowerOn, PowerOnError};
pub use error::{Codes, Failure, Notice};
pub use model::Model;
pub use verbs::facility::{STATICSB_LEN, VERSION_DATA_LEN};
pub use verbs::random::MAX_RANDOM_LONG;
