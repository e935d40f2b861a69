//! Re-enciphering all of key storage after a master-key change: what IBM's CCA utilities
//! do on Linux, AIX and Windows after SET (IBM Docs "CCA for Linux", "Key storage for
//! traditional IBM systems other than IBM Z (RTCMK-focused)": "Re-encipher all of an
//! existing CCA host key storage data file's key tokens, which are enciphered under the OMK,
//! to be enciphered under the CMK … using the RTCMK rule_array keyword of Key Token Change
//! (CSNBKTC)"). `softcca panel reencipher` prints the [`ReencipherReport`].
//!
//! Every record of DES and AES key storage is read, its token sent to Key_Token_Change RTCMK,
//! and written back only when the card changed it. Each record write is one SQLite
//! transaction, so an interruption leaves every record either as it was (under OLD, still
//! usable) or re-enciphered; running again finishes the work, reporting the records done
//! before as already current. Variable-length (X'05') AES and HMAC tokens go through
//! Key_Token_Change2 RTCMK instead. Records that hold no key (null tokens) and external
//! tokens (under a transport key, not the master key) are skipped and listed. A record whose token the card refuses (for
//! instance 8/24: under neither CURRENT nor OLD) is listed with its codes; the run goes on.
//!
//! Known limit, as for labels (see `labels`): read, re-encipher and write are three steps; a
//! process writing the same record in between can be overwritten.

use softcca_card::Codes;

use crate::keystore::{Family, WriteMode};
use crate::{Cca, CcaError};

/// What one run of [`Cca::reencipher_key_storage`] did, by record label (DES labels first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReencipherReport {
    /// Records re-enciphered from the old to the current master key.
    pub changed: Vec<String>,
    /// Records already under the current master key.
    pub already_current: Vec<String>,
    /// Records with nothing to re-encipher (null or external tokens), with the reason.
    pub skipped: Vec<(String, &'static str)>,
    /// Records the card refused, with its codes (or the key-storage error's).
    pub failed: Vec<(String, Codes)>,
}

impl Cca {
    /// Re-enciphers every DES and AES token of key storage under the current master key:
    /// fixed-length tokens through Key_Token_Change RTCMK, variable-length ones through
    /// Key_Token_Change2 RTCMK. Safe to run again after an interruption.
    /// Fails as a whole only when key storage cannot be opened or listed.
    pub fn reencipher_key_storage(&self) -> Result<ReencipherReport, CcaError> {
        let keys = self.key_store()?;
        let mut report = ReencipherReport::default();
        for family in [Family::Des, Family::Aes] {
            let labels = keys.list(family, b"*").map_err(CcaError::from_failure)?;
            for label in labels {
                let name = format!("{}:{}", family_name(family), label.as_str());
                let field = label.field();
                let token = match keys.read(family, &field) {
                    Ok(t) => t,
                    Err(f) => {
                        report.failed.push((name, f.codes()));
                        continue;
                    }
                };
                if let Some(why) = skip_reason(family, &token) {
                    report.skipped.push((name, why));
                    continue;
                }
                let algorithm = if family == Family::Aes { "AES" } else { "DES" };
                let changed = if is_variable_length(&token) {
                    self.key_token_change2(&["RTCMK"], &token)
                } else {
                    self.key_token_change(&["RTCMK", algorithm], &token)
                };
                let new = match changed {
                    Ok(t) => t,
                    Err(e) => {
                        report.failed.push((name, e.codes));
                        continue;
                    }
                };
                if new == token {
                    report.already_current.push(name);
                    continue;
                }
                match keys.write(family, &field, &new, WriteMode::Overlay) {
                    Ok(()) => report.changed.push(name),
                    Err(f) => report.failed.push((name, f.codes())),
                }
            }
        }
        Ok(report)
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Des => "DES",
        Family::Aes => "AES",
        Family::Pka => "PKA",
    }
}

/// Whether a token is a variable-length symmetric token (version X'05'), for CSNBKTC2.
fn is_variable_length(token: &[u8]) -> bool {
    token.get(4) == Some(&0x05)
}

/// Why a record's token has nothing to re-encipher, if it has not.
fn skip_reason(family: Family, token: &[u8]) -> Option<&'static str> {
    if family.is_null(token) || token.first() == Some(&0x00) {
        return Some("null token (no key)");
    }
    match token.first() {
        Some(0x02) => Some("external token (not under the master key)"),
        _ => None,
    }
}
