//! Key storage: named key tokens kept on the host, as IBM's CCA Support Program keeps them.
//!
//! In CCA, key storage is a host function: the coprocessor never sees a key label. An
//! application names a record by a 64-byte label and the host library reads the token from
//! key storage before it sends a verb to the card. softcca keeps all three of IBM's key
//! storages (DES, AES, PKA) in one SQLite database, `<home>/keystore.db`, in the card's state
//! directory, so every process using the same card (embedded, or clients of its daemon)
//! shares it.
//!
//! # Labels
//!
//! IBM Docs "CCA for Linux", "Key-label content" (topic=storage-key-label-content) and CCA
//! 2.54 Basic Services Reference, chapter 7: a label is a 64-byte field, left-aligned and
//! padded with blanks; the first blank ends it. It has 1 to 7 name tokens separated by
//! periods; each token is 1 to 8 characters from A–Z, 0–9, `#`, `$`, `@`, and does not start
//! with a digit. A first byte below X'20' means the field holds a key token, not a label; a
//! first byte X'FF' is not valid. Anything else that breaks these rules is refused with
//! 8/32. softcca folds lower-case letters to upper case (IBM notes that some
//! implementations do).
//!
//! Key Record Delete and Key Record List take a wildcard mask (IBM Docs, CSNBAKRD and
//! CSNDKRL parameters: "Use a wild card (*) in the key_label variable to identify multiple
//! records"): `*` may be the first character, the last character or the whole of a token, at
//! most once per token, and matches zero or more characters within that token. softcca's
//! choices where IBM's text is silent: a mask matches labels with the same number of tokens,
//! token by token, except that the mask `*` alone matches every label; the characters of a
//! token other than its `*` follow the label rules (at most eight, the first one not a digit
//! when the token does not start with `*`).
//!
//! # Records
//!
//! One table `records (family, label, token, created, updated)`, keyed by family and label;
//! times are UTC Unix seconds. The database runs in WAL mode with `synchronous=FULL`, and
//! every change is one `BEGIN IMMEDIATE` transaction: once an operation returns, its record
//! survives `kill -9` and a power cut, and a crash at any instant leaves each record whole,
//! old or new. Several processes may use the database at once; a writer waits (busy timeout)
//! for the one before it.
//!
//! # Operations (IBM Docs "CCA for Linux", key storage verbs)
//!
//! - create (CSNBKRC, CSNBAKRC, CSNDKRC; lxcc/wskc_ckrc_create_parameters.html): a record
//!   holding the family's null token, or the given token; a duplicate label is 8/44.
//! - read (CSNBKRR, CSNBAKRR, CSNDKRR; topic=csndkrr-parameters): the stored token; a missing
//!   label is 8/30.
//! - write (CSNBKRW, CSNBAKRW, CSNDKRW; topic=csndkrw-parameters,
//!   lxcc/wskc_ckrw_write_parameters.html): CHECK (default) writes only over a null token,
//!   OVERLAY always; the record must exist (8/30). IBM names no code for a CHECK refusal;
//!   softcca answers 8/44 (see [`Failure::RecordNotNull`]).
//! - delete (CSNBKRD, CSNBAKRD, CSNDKRD; topic=csnbakrd-parameters): TOKEN-DL (default)
//!   replaces the token with the null token, LABEL-DL removes the record; the label may be a
//!   wildcard mask. An exact label that matches nothing is 8/30; a mask that matches nothing
//!   completes with 4/158 ("the verb did not process any key records").
//! - list (CSNBKRL, CSNBAKRL, CSNDKRL; lxcc/wskc_r_dkrlparameters.html): the matching labels;
//!   [`KeyStore::list_to_file`] also writes IBM's key-record-list file `KYRLTnnn.LST` (CCA
//!   2.54 Fig. B-29, p. 397–398) into the state directory.
//!
//! Tokens are opaque here: the store checks only their length (and, for variable-length
//! AES and PKA tokens, that the length in bytes 2–3 is the token's length) and, for CHECK,
//! whether the stored token is the family's null token.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use softcca_card::labels;
use softcca_card::{Failure, Notice};

/// The key-storage database's file name in the state directory.
pub const DB_NAME: &str = "keystore.db";
/// The length of a key-label field.
pub use softcca_card::labels::LABEL_LEN;
/// The longest PKA token key storage accepts.
pub const MAX_PKA_TOKEN: usize = 8000;
/// The longest variable-length AES token key storage accepts (IBM's variable-length
/// symmetric token is at most 725 bytes).
pub const MAX_AES_TOKEN: usize = 725;
/// How long a writer waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The null token of variable-length symmetric and PKA key storage: `00 00 0008 00000000`.
pub const NULL_VARIABLE_TOKEN: [u8; 8] = [0, 0, 0, 8, 0, 0, 0, 0];

/// One of IBM's three key storages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// DES key storage: 64-byte fixed-length DES tokens.
    Des,
    /// AES key storage: 64-byte fixed-length AES tokens or variable-length tokens.
    Aes,
    /// PKA key storage: RSA, ECC and QSA tokens up to 8000 bytes.
    Pka,
}

impl Family {
    fn code(self) -> i64 {
        match self {
            Family::Des => 1,
            Family::Aes => 2,
            Family::Pka => 3,
        }
    }

    /// The token a new or TOKEN-DL-deleted record holds: 64 × 00 for DES and AES (IBM's null
    /// DES and fixed-length AES tokens), the 8-byte null token for PKA.
    pub fn null_token(self) -> Vec<u8> {
        match self {
            Family::Des | Family::Aes => vec![0; 64],
            Family::Pka => NULL_VARIABLE_TOKEN.to_vec(),
        }
    }

    /// True when `token` is a null token of this family. DES: byte 0 is 00 and bytes 1–15,
    /// 40–47 and 56–63 are zero (Key Import may leave an encrypted key at 16–31). AES: 64 × 00
    /// or the 8-byte null token. PKA: the 8-byte null token.
    pub fn is_null(self, token: &[u8]) -> bool {
        let zero =
            |r: std::ops::Range<usize>| token.get(r).is_some_and(|b| b.iter().all(|&x| x == 0));
        match self {
            Family::Des => token.len() == 64 && zero(0..16) && zero(40..48) && zero(56..64),
            Family::Aes => {
                (token.len() == 64 && zero(0..64)) || token == NULL_VARIABLE_TOKEN.as_slice()
            }
            Family::Pka => token == NULL_VARIABLE_TOKEN.as_slice(),
        }
    }

    /// Checks a token's length for this key storage (8/43 when it does not fit).
    pub fn check_token(self, token: &[u8]) -> Result<(), Failure> {
        let declared_len = || {
            token
                .get(2..4)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        };
        let ok = match self {
            Family::Des => token.len() == 64,
            Family::Aes => {
                token.len() == 64
                    || ((8..=MAX_AES_TOKEN).contains(&token.len())
                        && declared_len() == Some(token.len()))
            }
            Family::Pka => {
                (8..=MAX_PKA_TOKEN).contains(&token.len()) && declared_len() == Some(token.len())
            }
        };
        if ok { Ok(()) } else { Err(Failure::KeyLength) }
    }

    fn list_title(self) -> &'static str {
        match self {
            Family::Des => "DES KEY-RECORD-LIST",
            Family::Aes => "AES KEY-RECORD-LIST",
            Family::Pka => "PKA KEY-RECORD-LIST",
        }
    }
}

/// A key label that follows IBM's syntax, held without its blank padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(String);

impl Label {
    /// Parses a label field (64 bytes blank-padded, or shorter). Bad syntax is 8/32
    /// (the rules: [`softcca_card::labels`]).
    pub fn parse(field: &[u8]) -> Result<Label, Failure> {
        let text = labels::label_text(field)?;
        labels::check_label(&text)?;
        String::from_utf8(text)
            .map(Label)
            .map_err(|_| Failure::LabelFormat)
    }

    /// The label without padding.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64-byte blank-padded field.
    pub fn field(&self) -> [u8; LABEL_LEN] {
        let mut f = [b' '; LABEL_LEN];
        for (d, s) in f.iter_mut().zip(self.0.bytes()) {
            *d = s;
        }
        f
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A label or a wildcard mask for Key Record Delete and Key Record List.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    text: String,
    mask: labels::Mask,
}

impl Mask {
    /// Parses a mask field (8/32 when it breaks the label or wildcard rules).
    pub fn parse(field: &[u8]) -> Result<Mask, Failure> {
        let text = labels::label_text(field)?;
        let mask = labels::Mask::parse_text(&text)?;
        let text = String::from_utf8(text).map_err(|_| Failure::LabelFormat)?;
        Ok(Mask { text, mask })
    }

    /// True when the mask has a `*`.
    pub fn is_wildcard(&self) -> bool {
        self.mask.is_wildcard()
    }

    /// The mask as given, without padding.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when `label` matches the mask.
    pub fn matches(&self, label: &Label) -> bool {
        self.mask.matches_text(label.0.as_bytes())
    }
}

/// Key Record Write's processing option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// CHECK (IBM's default): only over a null token.
    #[default]
    Check,
    /// OVERLAY: whatever the record holds.
    Overlay,
}

/// Key Record Delete's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMode {
    /// TOKEN-DL (IBM's default): the record stays, holding the null token.
    #[default]
    Token,
    /// LABEL-DL: the record is removed.
    Label,
}

/// Why key storage could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The directory could not be created.
    Io(PathBuf, io::Error),
    /// The database could not be opened or set up.
    Sql(PathBuf, rusqlite::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            OpenError::Sql(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for OpenError {}

/// One record's metadata, as Key Record List reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// The record's label.
    pub label: Label,
    /// Whether the record holds a null token.
    pub null: bool,
    /// The token's first byte (01 internal, 02 external; 1E/1F PKA private/public …).
    pub token_flag: u8,
    /// Creation time, UTC Unix seconds.
    pub created: u64,
    /// Last update, UTC Unix seconds.
    pub updated: u64,
}

/// The key storage of one state directory. Shared between threads (`&KeyStore`); other
/// processes may open the same database at the same time.
pub struct KeyStore {
    conn: Mutex<Connection>,
    dir: PathBuf,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyStore({})", self.dir.join(DB_NAME).display())
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn sql_failure(_: rusqlite::Error) -> Failure {
    Failure::KeyStorageUnavailable
}

impl KeyStore {
    /// Opens (creating if needed) `<home>/keystore.db`, the key storage of the state
    /// directory `home` — the directory `softcca_platform::resolve_home` names.
    pub fn open(home: &Path) -> Result<KeyStore, OpenError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(home)
            .map_err(|e| OpenError::Io(home.to_path_buf(), e))?;
        KeyStore::open_file(&home.join(DB_NAME))
    }

    /// Opens (creating if needed) a key-storage database at `path`; list files go to its
    /// directory.
    pub fn open_file(path: &Path) -> Result<KeyStore, OpenError> {
        let err = |e| OpenError::Sql(path.to_path_buf(), e);
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(err(rusqlite::Error::InvalidQuery));
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL;
             PRAGMA foreign_keys=ON;
             BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS records (
                 family  INTEGER NOT NULL,
                 label   TEXT    NOT NULL,
                 token   BLOB    NOT NULL,
                 created INTEGER NOT NULL,
                 updated INTEGER NOT NULL,
                 PRIMARY KEY (family, label)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS list_counter (
                 id   INTEGER PRIMARY KEY CHECK (id = 0),
                 last INTEGER NOT NULL
             );
             COMMIT;",
        )
        .map_err(err)?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(KeyStore {
            conn: Mutex::new(conn),
            dir,
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed only when `f` succeeds.
    fn transaction<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Failure::KeyStorageUnavailable)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_failure)?;
        let out = f(&tx)?;
        tx.commit().map_err(sql_failure)?;
        Ok(out)
    }

    /// SQLite's `PRAGMA integrity_check` over the whole database: true when it reports "ok".
    pub fn integrity_ok(&self) -> Result<bool, Failure> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| Failure::KeyStorageUnavailable)?;
        let report: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(sql_failure)?;
        Ok(report == "ok")
    }

    /// Key Record Create: a record labelled `label` holding `token`, or the family's null
    /// token when `token` is empty. 8/32 bad label, 8/43 bad token length, 8/44 duplicate.
    pub fn create(&self, family: Family, label: &[u8], token: &[u8]) -> Result<(), Failure> {
        let label = Label::parse(label)?;
        let token = if token.is_empty() {
            family.null_token()
        } else {
            family.check_token(token)?;
            token.to_vec()
        };
        self.transaction(|tx| {
            let t = now();
            let n = tx
                .execute(
                    "INSERT INTO records (family, label, token, created, updated)
                     VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
                    params![family.code(), label.as_str(), token, t],
                )
                .map_err(sql_failure)?;
            if n == 0 {
                return Err(Failure::LabelExists);
            }
            Ok(())
        })
    }

    /// Key Record Read: the record's token. 8/32 bad label, 8/30 no such record.
    pub fn read(&self, family: Family, label: &[u8]) -> Result<Vec<u8>, Failure> {
        let label = Label::parse(label)?;
        let conn = self
            .conn
            .lock()
            .map_err(|_| Failure::KeyStorageUnavailable)?;
        conn.query_row(
            "SELECT token FROM records WHERE family = ?1 AND label = ?2",
            params![family.code(), label.as_str()],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .optional()
        .map_err(sql_failure)?
        .ok_or(Failure::LabelNotFound)
    }

    /// Key Record Write: replaces the record's token. 8/32 bad label, 8/43 bad token, 8/30 no
    /// such record, 8/44 (CHECK) the record's token is not null.
    pub fn write(
        &self,
        family: Family,
        label: &[u8],
        token: &[u8],
        mode: WriteMode,
    ) -> Result<(), Failure> {
        let label = Label::parse(label)?;
        family.check_token(token)?;
        self.transaction(|tx| {
            let current: Vec<u8> = tx
                .query_row(
                    "SELECT token FROM records WHERE family = ?1 AND label = ?2",
                    params![family.code(), label.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_failure)?
                .ok_or(Failure::LabelNotFound)?;
            if mode == WriteMode::Check && !family.is_null(&current) {
                return Err(Failure::RecordNotNull);
            }
            tx.execute(
                "UPDATE records SET token = ?3, updated = ?4 WHERE family = ?1 AND label = ?2",
                params![family.code(), label.as_str(), token, now()],
            )
            .map_err(sql_failure)?;
            Ok(())
        })
    }

    /// Key Record Delete of the records matching `mask`. Returns how many were processed and,
    /// when a wildcard mask matched none, the notice 4/158. An exact label with no record is
    /// 8/30; a bad label or mask 8/32.
    pub fn delete(
        &self,
        family: Family,
        mask: &[u8],
        mode: DeleteMode,
    ) -> Result<(usize, Option<Notice>), Failure> {
        let mask = Mask::parse(mask)?;
        self.transaction(|tx| {
            let labels = matching_labels(tx, family, &mask)?;
            if labels.is_empty() {
                return if mask.is_wildcard() {
                    Ok((0, Some(Notice::NoRecordsProcessed)))
                } else {
                    Err(Failure::LabelNotFound)
                };
            }
            let t = now();
            for label in &labels {
                match mode {
                    DeleteMode::Token => tx.execute(
                        "UPDATE records SET token = ?3, updated = ?4
                         WHERE family = ?1 AND label = ?2",
                        params![family.code(), label.as_str(), family.null_token(), t],
                    ),
                    DeleteMode::Label => tx.execute(
                        "DELETE FROM records WHERE family = ?1 AND label = ?2",
                        params![family.code(), label.as_str()],
                    ),
                }
                .map_err(sql_failure)?;
            }
            Ok((labels.len(), None))
        })
    }

    /// Key Record List: the labels matching `mask`, in order. 8/32 bad mask.
    pub fn list(&self, family: Family, mask: &[u8]) -> Result<Vec<Label>, Failure> {
        Ok(self
            .records(family, mask)?
            .into_iter()
            .map(|r| r.label)
            .collect())
    }

    /// The metadata of the records matching `mask`, in label order.
    pub fn records(&self, family: Family, mask: &[u8]) -> Result<Vec<RecordInfo>, Failure> {
        let mask = Mask::parse(mask)?;
        let conn = self
            .conn
            .lock()
            .map_err(|_| Failure::KeyStorageUnavailable)?;
        let mut stmt = conn
            .prepare(
                "SELECT label, token, created, updated FROM records WHERE family = ?1
                 ORDER BY label",
            )
            .map_err(sql_failure)?;
        let rows = stmt
            .query_map(params![family.code()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(sql_failure)?;
        let mut out = Vec::new();
        for row in rows {
            let (label, token, created, updated) = row.map_err(sql_failure)?;
            let label = Label::parse(label.as_bytes())?;
            if mask.matches(&label) {
                out.push(RecordInfo {
                    label,
                    null: family.is_null(&token),
                    token_flag: token.first().copied().unwrap_or(0),
                    created: u64::try_from(created).unwrap_or(0),
                    updated: u64::try_from(updated).unwrap_or(0),
                });
            }
        }
        Ok(out)
    }

    /// Key Record List as IBM's library does it: writes the list of the records matching
    /// `mask` to `KYRLTnnn.LST` in the state directory (nnn from 001 to 999, then 001 again;
    /// an older file of the same name is overwritten) and returns the file's full name.
    ///
    /// Layout (CCA 2.54 Basic Services, Fig. B-29): a 154-byte header (title, time, record
    /// count, detail length and offset "154", CR/LF; the mask, CR/LF), then one 154-byte
    /// detail record per label (label at 3, key type at 67, CR/LF at 75, MKVP at 77, created at
    /// 92, updated at 113, token kind at 133, CR/LF at 152). Tokens are opaque to key storage
    /// here, so the key type is NO-KEY for a null token and blank otherwise, and the MKVP is
    /// blank.
    pub fn list_to_file(&self, family: Family, mask: &[u8]) -> Result<PathBuf, Failure> {
        let records = self.records(family, mask)?;
        let mask_text = Mask::parse(mask)?.text;
        let n = self.transaction(|tx| {
            let last: i64 = tx
                .query_row("SELECT last FROM list_counter WHERE id = 0", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql_failure)?
                .unwrap_or(0);
            let next = last % 999 + 1;
            tx.execute(
                "INSERT INTO list_counter (id, last) VALUES (0, ?1)
                 ON CONFLICT (id) DO UPDATE SET last = excluded.last",
                params![next],
            )
            .map_err(sql_failure)?;
            Ok(next)
        })?;
        let bytes = list_file_bytes(family, &mask_text, &records, now());
        let path = self.dir.join(format!("KYRLT{n:03}.LST"));
        softcca_platform::replace_atomically(&path, &bytes)
            .map_err(|_| Failure::KeyStorageUnavailable)?;
        Ok(path)
    }
}

fn matching_labels(
    tx: &rusqlite::Transaction<'_>,
    family: Family,
    mask: &Mask,
) -> Result<Vec<Label>, Failure> {
    let mut stmt = tx
        .prepare("SELECT label FROM records WHERE family = ?1 ORDER BY label")
        .map_err(sql_failure)?;
    let rows = stmt
        .query_map(params![family.code()], |r| r.get::<_, String>(0))
        .map_err(sql_failure)?;
    let mut out = Vec::new();
    for row in rows {
        let label = Label::parse(row.map_err(sql_failure)?.as_bytes())?;
        if mask.matches(&label) {
            out.push(label);
        }
    }
    Ok(out)
}

fn timestamp(unix: u64) -> String {
    // `ccyy-mm-dd hh:tt:ss`: the card's formatter without its " UTC".
    softcca_card::time::format_utc(unix)
        .chars()
        .take(19)
        .collect()
}

/// Puts `text` at `offset` of `buf` (truncated to `len`).
fn put(buf: &mut [u8], offset: usize, len: usize, text: &str) {
    for (d, s) in buf.iter_mut().skip(offset).take(len).zip(text.bytes()) {
        *d = s;
    }
}

/// The bytes of a key-record-list file (see [`KeyStore::list_to_file`]).
pub fn list_file_bytes(family: Family, mask: &str, records: &[RecordInfo], now: i64) -> Vec<u8> {
    const REC: usize = 154;
    let mut header = [b' '; REC];
    put(&mut header, 0, 24, family.list_title());
    put(
        &mut header,
        26,
        19,
        &timestamp(u64::try_from(now).unwrap_or(0)),
    );
    put(&mut header, 50, 6, &records.len().to_string());
    put(&mut header, 58, 4, "154");
    put(&mut header, 62, 4, "154");
    put(&mut header, 75, 2, "\r\n");
    put(&mut header, 77, 64, mask);
    put(&mut header, 152, 2, "\r\n");
    let mut out = header.to_vec();
    for r in records {
        let mut d = [b' '; REC];
        put(&mut d, 3, 64, r.label.as_str());
        if r.null {
            put(&mut d, 67, 8, "NO-KEY");
        }
        put(&mut d, 75, 2, "\r\n");
        put(&mut d, 92, 19, &timestamp(r.created));
        put(&mut d, 113, 19, &timestamp(r.updated));
        let kind = match (r.null, r.token_flag) {
            (true, _) => "NO-KEY",
            (false, 0x01) | (false, 0x1F) => "INTERNAL",
            _ => "EXTERNAL",
        };
        put(&mut d, 133, 8, kind);
        put(&mut d, 152, 2, "\r\n");
        out.extend_from_slice(&d);
    }
    out
}
