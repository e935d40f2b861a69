//! # softcca-wire: the bus between the host library and the card daemon
//!
//! This crate is the pure (no I/O) codec of every byte that crosses the bus.
//! It is versioned from byte 0 and **strict**: reserved fields must be zero,
//! every length and count is bounded, unknown tags are rejected and trailing
//! bytes are an error. Consequently the encoding is canonical: for every input
//! `x` that decodes to `v`, encoding `v` gives back exactly `x`. No input makes
//! a decoder panic, and decoders never allocate more than the input size.
//!
//! All integers are **big-endian**. Signed integers (`i32`) are two's
//! complement. "Text" below means bytes in the printable ASCII range
//! `0x20..=0x7E` only.
//!
//! ## Frame
//!
//! A frame is a 24-byte [`Header`] followed by exactly `body length` bytes of
//! body.
//!
//! | off | len | field                                                                  |
//! |----:|----:|------------------------------------------------------------------------|
//! |   0 |   4 | magic `b"SCCA"` ([`MAGIC`])                                            |
//! |   4 |   1 | protocol version, currently 1 ([`PROTOCOL_VERSION`])                   |
//! |   5 |   1 | frame kind ([`FrameKind`]): 1 = request, 2 = response                  |
//! |   6 |   2 | operation code (u16, see [`Op`]); not validated by [`Header::decode`]  |
//! |   8 |   8 | request id (u64), chosen by the client, echoed in the response         |
//! |  16 |   4 | body length (u32), at most [`MAX_BODY`] = 1 MiB + 64 KiB = 1_114_112  |
//! |  20 |   4 | reserved, must be zero                                                 |
//!
//! [`Header::decode`] checks, in this order: magic ([`DecodeError::BadMagic`]),
//! version ([`DecodeError::UnsupportedVersion`], which still carries kind, op
//! and request id so that the server can answer), kind
//! ([`DecodeError::BadKind`]), reserved ([`DecodeError::ReservedNotZero`]) and
//! body length ([`DecodeError::BodyTooLarge`], which carries the request id).
//! [`status_of`] is the one mapping from a decode error to the [`Status`] the
//! server answers with.
//!
//! ## Operations
//!
//! | code     | [`Op`]                 | request body       | response body (after the status, if `Ok`) |
//! |----------|------------------------|--------------------|-------------------------------------------|
//! | `0x0001` | [`Op::Ping`]           | [`PingRequest`]    | [`PingResponse`]                          |
//! | `0x0010` | [`Op::Verb`]           | [`VerbRequest`]    | [`VerbResponse`]                          |
//! | `0x0020` | [`Op::DeviceStatus`]   | empty              | [`DeviceStatus`]                          |
//! | `0x0021` | [`Op::Reset`]          | empty              | [`AdminResult`]                           |
//! | `0x0022` | [`Op::Load`]           | [`LoadRequest`]    | [`AdminResult`]                           |
//! | `0x0023` | [`Op::Sense`]          | [`SenseRequest`]   | [`AdminResult`]                           |
//! | `0x0024` | [`Op::Attest`]         | [`AttestRequest`]  | [`AttestResponse`]                        |
//!
//! Reset, Load, Sense and Attest are the card's administrative interface (what IBM's CLU
//! and the device driver reach below CCA); Sense plays the card's tamper sensors.
//!
//! [`AdminResult`]: u32 driver status after the request, then u16 message length
//! (≤ [`MAX_DETAIL`]) and message text. [`LoadRequest`]: u32 image length (≤
//! [`MAX_PARAM_LEN`]) and the image. [`SenseRequest`]: u16 sensor, u16 reserved.
//! [`AttestRequest`]: u16 nonce length (≤ [`MAX_NONCE`]) and the nonce.
//! [`AttestResponse`]: three u32-length-prefixed blobs (each ≤ [`MAX_BLOB`]): the class-key
//! certificate, the device-key certificate and the signed status.
//!
//! An unknown operation code decodes to [`DecodeError::UnknownOp`] through
//! [`Op::try_from`], which [`status_of`] maps to [`Status::UnknownOp`].
//!
//! ## Response status prefix
//!
//! Every response body starts with:
//!
//! | len | field                                         |
//! |----:|-----------------------------------------------|
//! |   2 | status (u16, see [`Status`])                  |
//! |   2 | reserved, must be zero                        |
//!
//! If the status is `Ok` (0) the op-specific response follows. Otherwise,
//! whatever the op, the rest of the body is ([`ResponseBody::Error`]):
//!
//! | len | field                                         |
//! |----:|-----------------------------------------------|
//! |   2 | detail length (u16, ≤ [`MAX_DETAIL`] = 256)   |
//! |   n | detail, text                                  |
//!
//! | status | [`Status`]            |
//! |-------:|-----------------------|
//! |      0 | `Ok`                  |
//! |      1 | `BadFrame`            |
//! |      2 | `UnsupportedVersion`  |
//! |      3 | `UnknownOp`           |
//! |      4 | `TooLarge`            |
//! |      5 | `CardUnavailable`     |
//! |      6 | `Busy`                |
//! |      7 | `Internal`            |
//!
//! ## Ping
//!
//! Request ([`PingRequest`]):
//!
//! | len | field                                         |
//! |----:|-----------------------------------------------|
//! |   1 | min version supported by the client           |
//! |   1 | max version supported by the client           |
//! |   2 | reserved, must be zero                        |
//! |   2 | echo length (u16, ≤ [`MAX_ECHO`] = 256)       |
//! |   n | echo, any bytes                               |
//!
//! Response ([`PingResponse`], after the status prefix):
//!
//! | len | field                                             |
//! |----:|---------------------------------------------------|
//! |   1 | min version supported by the daemon               |
//! |   1 | max version supported by the daemon               |
//! |   2 | card model (u16, e.g. 4767)                       |
//! |   2 | software length (u16, ≤ [`MAX_SOFTWARE`] = 64)    |
//! |   n | software description, text                       |
//! |   2 | echo length (u16, ≤ [`MAX_ECHO`] = 256)           |
//! |   n | echo, any bytes (a copy of the request's)         |
//!
//! ## Param
//!
//! A verb parameter ([`Param`]):
//!
//! | len | field                                                       |
//! |----:|-------------------------------------------------------------|
//! |   1 | tag: 1 = `Int`, 2 = `Bytes`                                 |
//! |   1 | reserved, must be zero                                      |
//! |   4 | `Int`: the value (i32)                                      |
//! |   4 | `Bytes`: length (u32, ≤ [`MAX_PARAM_LEN`] = 1 MiB)          |
//! |   n | `Bytes`: the bytes                                          |
//!
//! ## Verb (the CPRB)
//!
//! Request ([`VerbRequest`]):
//!
//! | len   | field                                                          |
//! |------:|----------------------------------------------------------------|
//! |     8 | verb name ([`VerbName`]): 1..=8 of `A-Z0-9`, then spaces only  |
//! |     2 | rule-array count (u16, ≤ [`MAX_RULE_ARRAY`] = 64)              |
//! |     2 | reserved, must be zero                                         |
//! | 8 × n | rule-array keywords, any bytes (the card validates them)      |
//! |     2 | parameter count (u16, ≤ [`MAX_PARAMS`] = 16)                   |
//! |     2 | reserved, must be zero                                         |
//! |     … | parameters ([`Param`])                                         |
//!
//! Response ([`VerbResponse`], after the status prefix):
//!
//! | len   | field                                                          |
//! |------:|----------------------------------------------------------------|
//! |     4 | return code (i32)                                              |
//! |     4 | reason code (i32)                                              |
//! |     2 | rule-array count (u16, ≤ [`MAX_RULE_ARRAY`] = 64)              |
//! |     2 | reserved, must be zero                                         |
//! | 8 × n | rule-array keywords, any bytes                                 |
//! |     2 | output count (u16, ≤ [`MAX_PARAMS`] = 16)                      |
//! |     2 | reserved, must be zero                                         |
//! |     … | outputs ([`Param`])                                            |
//!
//! The total size of a verb request or response is bounded by [`MAX_BODY`].
//!
//! ## Device status
//!
//! The request body is empty. Response ([`DeviceStatus`], after the status
//! prefix):
//!
//! | len | field                                                      |
//! |----:|------------------------------------------------------------|
//! |   2 | field count (u16, ≤ [`MAX_STATUS_FIELDS`] = 128)           |
//! |   2 | reserved, must be zero                                     |
//! |     | then, for each field, in order:                            |
//! |   2 | name length (u16, ≤ [`MAX_FIELD_NAME`] = 64)               |
//! |   n | name, text                                                 |
//! |   2 | value length (u16, ≤ [`MAX_FIELD_VALUE`] = 512)            |
//! |   n | value, text                                                |
//!
//! ## Encoding
//!
//! Encoders never panic either: values that would not decode (a count or
//! length over its bound, non-printable text, an invalid verb name, an `Ok`
//! status in an error response, a body variant that does not match the op, a
//! body over [`MAX_BODY`]) make them return an [`EncodeError`].
#![forbid(unsafe_code)]

use std::fmt;

/// The four magic bytes that open every frame.
pub const MAGIC: [u8; 4] = *b"SCCA";
/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// Length of a frame header.
pub const HEADER_LEN: usize = 24;
/// Largest body length accepted in a header: 1 MiB + 64 KiB.
pub const MAX_BODY: u32 = 1_114_112;
/// Largest [`Param::Bytes`] length: 1 MiB.
pub const MAX_PARAM_LEN: u32 = 1_048_576;
/// Largest rule-array count (in 8-byte keywords).
pub const MAX_RULE_ARRAY: u16 = 64;
/// Largest number of parameters in a verb request, or outputs in a response.
pub const MAX_PARAMS: u16 = 16;
/// Largest ping echo.
pub const MAX_ECHO: u16 = 256;
/// Largest ping software description.
pub const MAX_SOFTWARE: u16 = 64;
/// Largest number of device-status fields.
pub const MAX_STATUS_FIELDS: u16 = 128;
/// Largest device-status field name.
pub const MAX_FIELD_NAME: u16 = 64;
/// Largest device-status field value.
pub const MAX_FIELD_VALUE: u16 = 512;
/// Largest error-response detail.
pub const MAX_DETAIL: u16 = 256;
/// Maximum attestation nonce length.
pub const MAX_NONCE: u16 = 64;
/// Maximum length of one attestation blob (certificate or signed status).
pub const MAX_BLOB: u32 = 65_536;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Every way decoding can fail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame does not start with [`MAGIC`].
    BadMagic([u8; 4]),
    /// The header's protocol version is not [`PROTOCOL_VERSION`]. The rest of
    /// the header is carried (unvalidated) so that the server can answer.
    UnsupportedVersion {
        /// The version seen.
        version: u8,
        /// The raw frame kind.
        kind: u8,
        /// The raw operation code.
        op: u16,
        /// The request id.
        request_id: u64,
    },
    /// The frame kind is neither request nor response.
    BadKind(u8),
    /// The header announces a body longer than [`MAX_BODY`].
    BodyTooLarge {
        /// The request id.
        request_id: u64,
        /// The raw operation code.
        op: u16,
        /// The announced body length.
        len: u32,
    },
    /// A reserved field is not zero.
    ReservedNotZero {
        /// Which field.
        field: &'static str,
    },
    /// The input ended early.
    Truncated {
        /// Bytes needed by the read that failed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// Bytes remain after a complete value.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A count or length is over its bound.
    LimitExceeded {
        /// Which field.
        field: &'static str,
        /// The value seen.
        value: u32,
        /// The bound.
        max: u32,
    },
    /// A text field holds a byte outside printable ASCII (`0x20..=0x7E`).
    NotPrintable {
        /// Which field.
        field: &'static str,
    },
    /// The verb name is not 1..=8 of `A-Z0-9` followed by space padding.
    BadVerbName([u8; 8]),
    /// Unknown [`Param`] tag.
    BadParamTag(u8),
    /// Unknown [`Status`] code.
    BadStatus(u16),
    /// Unknown [`Op`] code.
    UnknownOp(u16),
    /// A whole frame's length does not match its header's body length.
    BodyLengthMismatch {
        /// The length announced by the header.
        announced: u32,
        /// The length actually present.
        actual: usize,
    },
}

impl DecodeError {
    /// The request id carried by the error, if the header was readable far
    /// enough to know it.
    pub fn request_id(&self) -> Option<u64> {
        match self {
            DecodeError::UnsupportedVersion { request_id, .. }
            | DecodeError::BodyTooLarge { request_id, .. } => Some(*request_id),
            _ => None,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadMagic(m) => write!(f, "bad magic {m:02x?}"),
            DecodeError::UnsupportedVersion {
                version,
                request_id,
                ..
            } => write!(
                f,
                "unsupported protocol version {version} (request id {request_id}); \
                 this side speaks {PROTOCOL_VERSION}"
            ),
            DecodeError::BadKind(k) => write!(f, "bad frame kind {k}"),
            DecodeError::BodyTooLarge {
                request_id, len, ..
            } => write!(
                f,
                "body length {len} over the maximum {MAX_BODY} (request id {request_id})"
            ),
            DecodeError::ReservedNotZero { field } => {
                write!(f, "reserved field {field} is not zero")
            }
            DecodeError::Truncated { needed, remaining } => {
                write!(f, "truncated: needed {needed} bytes, {remaining} left")
            }
            DecodeError::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            DecodeError::LimitExceeded { field, value, max } => {
                write!(f, "{field} is {value}, over the maximum {max}")
            }
            DecodeError::NotPrintable { field } => {
                write!(f, "{field} is not printable ASCII")
            }
            DecodeError::BadVerbName(n) => write!(f, "bad verb name {n:02x?}"),
            DecodeError::BadParamTag(t) => write!(f, "bad parameter tag {t}"),
            DecodeError::BadStatus(s) => write!(f, "bad status {s}"),
            DecodeError::UnknownOp(op) => write!(f, "unknown operation {op:#06x}"),
            DecodeError::BodyLengthMismatch { announced, actual } => write!(
                f,
                "header announces a {announced}-byte body but {actual} bytes follow"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Every way encoding can fail: the value would not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The body would be longer than [`MAX_BODY`].
    BodyTooLarge {
        /// The body length.
        len: usize,
    },
    /// A count or length is over its bound.
    LimitExceeded {
        /// Which field.
        field: &'static str,
        /// The value.
        value: usize,
        /// The bound.
        max: u32,
    },
    /// A text field holds a byte outside printable ASCII (`0x20..=0x7E`).
    NotPrintable {
        /// Which field.
        field: &'static str,
    },
    /// The verb name is not 1..=8 of `A-Z0-9` followed by space padding.
    BadVerbName([u8; 8]),
    /// [`ResponseBody::Error`] with [`Status::Ok`].
    OkStatusInError,
    /// The body variant does not belong to the given op.
    OpMismatch {
        /// The op given.
        op: Op,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BodyTooLarge { len } => {
                write!(f, "body length {len} over the maximum {MAX_BODY}")
            }
            EncodeError::LimitExceeded { field, value, max } => {
                write!(f, "{field} is {value}, over the maximum {max}")
            }
            EncodeError::NotPrintable { field } => {
                write!(f, "{field} is not printable ASCII")
            }
            EncodeError::BadVerbName(n) => write!(f, "bad verb name {n:02x?}"),
            EncodeError::OkStatusInError => {
                write!(f, "an error response cannot carry status Ok")
            }
            EncodeError::OpMismatch { op } => {
                write!(f, "body does not belong to operation {op:?}")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

// ---------------------------------------------------------------------------
// Reader / Writer
// ---------------------------------------------------------------------------

/// A strict big-endian reader over a byte slice. Every read is bounds
/// checked; [`Reader::finish`] rejects leftover bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(DecodeError::Truncated {
                needed: n,
                remaining: self.buf.len(),
            }),
        }
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        match self.buf.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(*head)
            }
            None => Err(DecodeError::Truncated {
                needed: N,
                remaining: self.buf.len(),
            }),
        }
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.array::<1>().map(|[b]| b)
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A big-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    /// A big-endian two's-complement i32.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    /// A reserved byte, which must be zero.
    pub fn reserved_u8(&mut self, field: &'static str) -> Result<(), DecodeError> {
        match self.u8()? {
            0 => Ok(()),
            _ => Err(DecodeError::ReservedNotZero { field }),
        }
    }

    /// A reserved u16, which must be zero.
    pub fn reserved_u16(&mut self, field: &'static str) -> Result<(), DecodeError> {
        match self.u16()? {
            0 => Ok(()),
            _ => Err(DecodeError::ReservedNotZero { field }),
        }
    }

    /// A u16 count or length, checked against `max`.
    pub fn bounded_u16(&mut self, field: &'static str, max: u16) -> Result<u16, DecodeError> {
        let value = self.u16()?;
        if value > max {
            return Err(DecodeError::LimitExceeded {
                field,
                value: u32::from(value),
                max: u32::from(max),
            });
        }
        Ok(value)
    }

    /// A u16-length-prefixed byte string of at most `max` bytes.
    pub fn bytes16(&mut self, field: &'static str, max: u16) -> Result<&'a [u8], DecodeError> {
        let len = self.bounded_u16(field, max)?;
        self.bytes(usize::from(len))
    }

    /// A u16-length-prefixed printable-ASCII string of at most `max` bytes.
    pub fn text16(&mut self, field: &'static str, max: u16) -> Result<String, DecodeError> {
        let raw = self.bytes16(field, max)?;
        if !is_text(raw) {
            return Err(DecodeError::NotPrintable { field });
        }
        Ok(raw.iter().map(|&b| char::from(b)).collect())
    }

    /// Succeeds only if every byte has been read.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                count: self.buf.len(),
            })
        }
    }
}

/// A big-endian writer into a `Vec<u8>`.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    /// A big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    /// A big-endian two's-complement i32.
    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A u16 count or length, checked against `max`.
    pub fn bounded_u16(
        &mut self,
        field: &'static str,
        value: usize,
        max: u16,
    ) -> Result<(), EncodeError> {
        match u16::try_from(value) {
            Ok(v) if v <= max => {
                self.u16(v);
                Ok(())
            }
            _ => Err(EncodeError::LimitExceeded {
                field,
                value,
                max: u32::from(max),
            }),
        }
    }

    /// A u16-length-prefixed byte string of at most `max` bytes.
    pub fn bytes16(&mut self, field: &'static str, b: &[u8], max: u16) -> Result<(), EncodeError> {
        self.bounded_u16(field, b.len(), max)?;
        self.bytes(b);
        Ok(())
    }

    /// A u16-length-prefixed printable-ASCII string of at most `max` bytes.
    pub fn text16(&mut self, field: &'static str, s: &str, max: u16) -> Result<(), EncodeError> {
        if !is_text(s.as_bytes()) {
            return Err(EncodeError::NotPrintable { field });
        }
        self.bytes16(field, s.as_bytes(), max)
    }
}

fn is_text(b: &[u8]) -> bool {
    b.iter().all(|c| (0x20..=0x7E).contains(c))
}

// ---------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------

/// Whether a frame is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// Host to card.
    Request = 1,
    /// Card to host.
    Response = 2,
}

impl FrameKind {
    /// The kind with wire code `v`.
    pub fn from_u8(v: u8) -> Option<FrameKind> {
        match v {
            1 => Some(FrameKind::Request),
            2 => Some(FrameKind::Response),
            _ => None,
        }
    }
}

/// Operation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Op {
    /// Version negotiation and liveness.
    Ping = 0x0001,
    /// A CCA verb call.
    Verb = 0x0010,
    /// Device status for the CLU utility.
    DeviceStatus = 0x0020,
    /// Reset the card (it runs its power-on self-test again).
    Reset = 0x0021,
    /// Load a firmware segment image.
    Load = 0x0022,
    /// A sensor event (the tamper model).
    Sense = 0x0023,
    /// The attestation chain and a status response signed over a nonce.
    Attest = 0x0024,
}

impl Op {
    /// Every op, in code order.
    pub const ALL: [Op; 7] = [
        Op::Ping,
        Op::Verb,
        Op::DeviceStatus,
        Op::Reset,
        Op::Load,
        Op::Sense,
        Op::Attest,
    ];

    /// The op with wire code `v`.
    pub fn from_u16(v: u16) -> Option<Op> {
        match v {
            0x0001 => Some(Op::Ping),
            0x0010 => Some(Op::Verb),
            0x0020 => Some(Op::DeviceStatus),
            0x0021 => Some(Op::Reset),
            0x0022 => Some(Op::Load),
            0x0023 => Some(Op::Sense),
            0x0024 => Some(Op::Attest),
            _ => None,
        }
    }

    /// The wire code.
    pub fn code(self) -> u16 {
        self as u16
    }
}

impl TryFrom<u16> for Op {
    type Error = DecodeError;

    /// Fails with [`DecodeError::UnknownOp`], which [`status_of`] maps to
    /// [`Status::UnknownOp`].
    fn try_from(v: u16) -> Result<Op, DecodeError> {
        Op::from_u16(v).ok_or(DecodeError::UnknownOp(v))
    }
}

/// A frame header. See the crate documentation for the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol version; [`Header::decode`] only accepts [`PROTOCOL_VERSION`].
    pub version: u8,
    /// Request or response.
    pub kind: FrameKind,
    /// Operation code, not validated here.
    pub op: u16,
    /// Chosen by the client, echoed in the response.
    pub request_id: u64,
    /// Length of the body that follows.
    pub body_len: u32,
}

impl Header {
    /// A header for the current [`PROTOCOL_VERSION`].
    pub fn new(kind: FrameKind, op: u16, request_id: u64, body_len: u32) -> Header {
        Header {
            version: PROTOCOL_VERSION,
            kind,
            op,
            request_id,
            body_len,
        }
    }

    /// The 24 header bytes. Writes the fields as they are (a `body_len` over
    /// [`MAX_BODY`] or another version will be rejected by the peer).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer::new();
        w.bytes(&MAGIC);
        w.u8(self.version);
        w.u8(self.kind as u8);
        w.u16(self.op);
        w.u64(self.request_id);
        w.u32(self.body_len);
        w.u32(0);
        out.copy_from_slice(w.as_slice());
        out
    }

    /// Parses and validates a header (everything but the op code).
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, DecodeError> {
        let mut r = Reader::new(bytes);
        let magic = r.array::<4>()?;
        let version = r.u8()?;
        let kind = r.u8()?;
        let op = r.u16()?;
        let request_id = r.u64()?;
        let body_len = r.u32()?;
        let reserved = r.u32()?;
        r.finish()?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                version,
                kind,
                op,
                request_id,
            });
        }
        let kind = FrameKind::from_u8(kind).ok_or(DecodeError::BadKind(kind))?;
        if reserved != 0 {
            return Err(DecodeError::ReservedNotZero {
                field: "header.reserved",
            });
        }
        if body_len > MAX_BODY {
            return Err(DecodeError::BodyTooLarge {
                request_id,
                op,
                len: body_len,
            });
        }
        Ok(Header {
            version,
            kind,
            op,
            request_id,
            body_len,
        })
    }
}

/// A whole frame: header followed by `body`. Fails if `body` is longer than
/// [`MAX_BODY`].
pub fn frame(
    kind: FrameKind,
    op: u16,
    request_id: u64,
    body: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    let body_len = check_body_len(body.len())?;
    let header = Header::new(kind, op, request_id, body_len);
    let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(body.len()));
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(body);
    Ok(out)
}

/// Splits a whole frame into its validated header and its body, which must be
/// exactly `body_len` bytes long.
pub fn decode_frame(bytes: &[u8]) -> Result<(Header, &[u8]), DecodeError> {
    let mut r = Reader::new(bytes);
    let header = Header::decode(&r.array::<HEADER_LEN>()?)?;
    let body = r.bytes(r.remaining())?;
    if usize::try_from(header.body_len).ok() != Some(body.len()) {
        return Err(DecodeError::BodyLengthMismatch {
            announced: header.body_len,
            actual: body.len(),
        });
    }
    Ok((header, body))
}

fn check_body_len(len: usize) -> Result<u32, EncodeError> {
    match u32::try_from(len) {
        Ok(l) if l <= MAX_BODY => Ok(l),
        _ => Err(EncodeError::BodyTooLarge { len }),
    }
}

// ---------------------------------------------------------------------------
// Administrative bodies
// ---------------------------------------------------------------------------

fn write_blob32(
    w: &mut Writer,
    field: &'static str,
    b: &[u8],
    max: u32,
) -> Result<(), EncodeError> {
    let len =
        u32::try_from(b.len())
            .ok()
            .filter(|l| *l <= max)
            .ok_or(EncodeError::LimitExceeded {
                field,
                value: b.len(),
                max,
            })?;
    w.u32(len);
    w.bytes(b);
    Ok(())
}

fn read_blob32(r: &mut Reader<'_>, field: &'static str, max: u32) -> Result<Vec<u8>, DecodeError> {
    let len = r.u32()?;
    if len > max {
        return Err(DecodeError::LimitExceeded {
            field,
            value: len,
            max,
        });
    }
    let n = usize::try_from(len).map_err(|_| DecodeError::Truncated {
        needed: usize::MAX,
        remaining: r.remaining(),
    })?;
    Ok(r.bytes(n)?.to_vec())
}

/// The answer to Reset, Load or Sense: the device-driver status word after the request
/// (0 when the card is well) and a message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminResult {
    /// The device-driver status word, e.g. `0x8040FFF9` after a mesh tamper.
    pub driver_status: u32,
    /// Printable ASCII, at most [`MAX_DETAIL`] bytes.
    pub message: String,
}

impl AdminResult {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u32(self.driver_status);
        w.text16("admin.message", &self.message, MAX_DETAIL)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AdminResult {
            driver_status: r.u32()?,
            message: r.text16("admin.message", MAX_DETAIL)?,
        })
    }
}

/// A firmware segment image to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    /// The signed image file, as `softcca firmware build` writes it.
    pub image: Vec<u8>,
}

impl LoadRequest {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        write_blob32(w, "load.image", &self.image, MAX_PARAM_LEN)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(LoadRequest {
            image: read_blob32(r, "load.image", MAX_PARAM_LEN)?,
        })
    }
}

/// A sensor event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenseRequest {
    /// The sensor's code (the card defines them).
    pub sensor: u16,
}

impl SenseRequest {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u16(self.sensor);
        w.u16(0);
        Ok(())
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let sensor = r.u16()?;
        r.reserved_u16("sense.reserved")?;
        Ok(SenseRequest { sensor })
    }
}

/// A request for the attestation chain and a status response signed over `nonce`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestRequest {
    /// A fresh nonce chosen by the verifier, at most [`MAX_NONCE`] bytes.
    pub nonce: Vec<u8>,
}

impl AttestRequest {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.bytes16("attest.nonce", &self.nonce, MAX_NONCE)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AttestRequest {
            nonce: r.bytes16("attest.nonce", MAX_NONCE)?.to_vec(),
        })
    }
}

/// The card's attestation answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestResponse {
    /// The class-key certificate (issued by the root).
    pub class_certificate: Vec<u8>,
    /// The device-key certificate (issued by the class key).
    pub device_certificate: Vec<u8>,
    /// The status response signed by the device key over the nonce.
    pub signed_status: Vec<u8>,
}

impl AttestResponse {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        write_blob32(w, "attest.class", &self.class_certificate, MAX_BLOB)?;
        write_blob32(w, "attest.device", &self.device_certificate, MAX_BLOB)?;
        write_blob32(w, "attest.status", &self.signed_status, MAX_BLOB)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AttestResponse {
            class_certificate: read_blob32(r, "attest.class", MAX_BLOB)?,
            device_certificate: read_blob32(r, "attest.device", MAX_BLOB)?,
            signed_status: read_blob32(r, "attest.status", MAX_BLOB)?,
        })
    }
}

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

/// The status that opens every response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Status {
    /// Success; the op-specific response follows.
    Ok = 0,
    /// The request frame or body was malformed.
    BadFrame = 1,
    /// The request's protocol version is not supported.
    UnsupportedVersion = 2,
    /// The operation code is unknown.
    UnknownOp = 3,
    /// The request body is over [`MAX_BODY`].
    TooLarge = 4,
    /// The card is not available.
    CardUnavailable = 5,
    /// The daemon is busy.
    Busy = 6,
    /// An internal error in the daemon.
    Internal = 7,
}

impl Status {
    /// The status with wire code `v`.
    pub fn from_u16(v: u16) -> Option<Status> {
        Some(match v {
            0 => Status::Ok,
            1 => Status::BadFrame,
            2 => Status::UnsupportedVersion,
            3 => Status::UnknownOp,
            4 => Status::TooLarge,
            5 => Status::CardUnavailable,
            6 => Status::Busy,
            7 => Status::Internal,
            _ => return None,
        })
    }

    /// The wire code.
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// The one mapping from a decode error to the status the server answers with.
pub fn status_of(err: &DecodeError) -> Status {
    match err {
        DecodeError::UnsupportedVersion { .. } => Status::UnsupportedVersion,
        DecodeError::BodyTooLarge { .. } => Status::TooLarge,
        DecodeError::UnknownOp(_) => Status::UnknownOp,
        DecodeError::BadMagic(_)
        | DecodeError::BadKind(_)
        | DecodeError::ReservedNotZero { .. }
        | DecodeError::Truncated { .. }
        | DecodeError::TrailingBytes { .. }
        | DecodeError::LimitExceeded { .. }
        | DecodeError::NotPrintable { .. }
        | DecodeError::BadVerbName(_)
        | DecodeError::BadParamTag(_)
        | DecodeError::BadStatus(_)
        | DecodeError::BodyLengthMismatch { .. } => Status::BadFrame,
    }
}

// ---------------------------------------------------------------------------
// Ping
// ---------------------------------------------------------------------------

/// Ping request: the client's version range and an echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingRequest {
    /// Lowest protocol version the client speaks.
    pub min_version: u8,
    /// Highest protocol version the client speaks.
    pub max_version: u8,
    /// At most [`MAX_ECHO`] bytes, copied into the response.
    pub echo: Vec<u8>,
}

impl PingRequest {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u8(self.min_version);
        w.u8(self.max_version);
        w.u16(0);
        w.bytes16("ping.echo length", &self.echo, MAX_ECHO)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let min_version = r.u8()?;
        let max_version = r.u8()?;
        r.reserved_u16("ping.reserved")?;
        let echo = r.bytes16("ping.echo length", MAX_ECHO)?.to_vec();
        Ok(PingRequest {
            min_version,
            max_version,
            echo,
        })
    }
}

/// Ping response: the daemon's version range, card model and software.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingResponse {
    /// Lowest protocol version the daemon speaks.
    pub min_version: u8,
    /// Highest protocol version the daemon speaks.
    pub max_version: u8,
    /// Card model number, e.g. 4767.
    pub card_model: u16,
    /// Printable ASCII, at most [`MAX_SOFTWARE`] bytes.
    pub software: String,
    /// The request's echo.
    pub echo: Vec<u8>,
}

impl PingResponse {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.u8(self.min_version);
        w.u8(self.max_version);
        w.u16(self.card_model);
        w.text16("ping.software", &self.software, MAX_SOFTWARE)?;
        w.bytes16("ping.echo length", &self.echo, MAX_ECHO)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let min_version = r.u8()?;
        let max_version = r.u8()?;
        let card_model = r.u16()?;
        let software = r.text16("ping.software", MAX_SOFTWARE)?;
        let echo = r.bytes16("ping.echo length", MAX_ECHO)?.to_vec();
        Ok(PingResponse {
            min_version,
            max_version,
            card_model,
            software,
            echo,
        })
    }
}

// ---------------------------------------------------------------------------
// Param
// ---------------------------------------------------------------------------

/// A verb parameter or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A 32-bit integer.
    Int(i32),
    /// A byte string of at most [`MAX_PARAM_LEN`] bytes.
    Bytes(Vec<u8>),
}

const PARAM_INT: u8 = 1;
const PARAM_BYTES: u8 = 2;

impl Param {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        match self {
            Param::Int(v) => {
                w.u8(PARAM_INT);
                w.u8(0);
                w.i32(*v);
            }
            Param::Bytes(b) => {
                let len = match u32::try_from(b.len()) {
                    Ok(l) if l <= MAX_PARAM_LEN => l,
                    _ => {
                        return Err(EncodeError::LimitExceeded {
                            field: "param length",
                            value: b.len(),
                            max: MAX_PARAM_LEN,
                        });
                    }
                };
                w.u8(PARAM_BYTES);
                w.u8(0);
                w.u32(len);
                w.bytes(b);
            }
        }
        Ok(())
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8()?;
        r.reserved_u8("param.reserved")?;
        match tag {
            PARAM_INT => Ok(Param::Int(r.i32()?)),
            PARAM_BYTES => {
                let len = r.u32()?;
                if len > MAX_PARAM_LEN {
                    return Err(DecodeError::LimitExceeded {
                        field: "param length",
                        value: len,
                        max: MAX_PARAM_LEN,
                    });
                }
                let n = usize::try_from(len).map_err(|_| DecodeError::Truncated {
                    needed: usize::MAX,
                    remaining: r.remaining(),
                })?;
                Ok(Param::Bytes(r.bytes(n)?.to_vec()))
            }
            other => Err(DecodeError::BadParamTag(other)),
        }
    }
}

fn encode_params(w: &mut Writer, field: &'static str, params: &[Param]) -> Result<(), EncodeError> {
    w.bounded_u16(field, params.len(), MAX_PARAMS)?;
    w.u16(0);
    params.iter().try_for_each(|p| p.encode(w))
}

fn decode_params(
    r: &mut Reader<'_>,
    field: &'static str,
    reserved: &'static str,
) -> Result<Vec<Param>, DecodeError> {
    let n = r.bounded_u16(field, MAX_PARAMS)?;
    r.reserved_u16(reserved)?;
    (0..n).map(|_| Param::decode(r)).collect()
}

fn encode_rules(w: &mut Writer, field: &'static str, rules: &[[u8; 8]]) -> Result<(), EncodeError> {
    w.bounded_u16(field, rules.len(), MAX_RULE_ARRAY)?;
    w.u16(0);
    rules.iter().for_each(|k| w.bytes(k));
    Ok(())
}

fn decode_rules(
    r: &mut Reader<'_>,
    field: &'static str,
    reserved: &'static str,
) -> Result<Vec<[u8; 8]>, DecodeError> {
    let n = r.bounded_u16(field, MAX_RULE_ARRAY)?;
    r.reserved_u16(reserved)?;
    (0..n).map(|_| r.array::<8>()).collect()
}

// ---------------------------------------------------------------------------
// Verb
// ---------------------------------------------------------------------------

/// A CCA verb name such as `CSNBRNGL`: 1..=8 of `A-Z0-9`, padded with spaces.
///
/// The field is public, so a `VerbName` may hold invalid bytes; encoding such
/// a name fails and decoding never produces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerbName(pub [u8; 8]);

impl VerbName {
    /// A name of 1..=8 characters of `A-Z0-9`, or `None`.
    pub fn new(name: &str) -> Option<VerbName> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > 8 {
            return None;
        }
        let mut out = [b' '; 8];
        for (o, &c) in out.iter_mut().zip(b) {
            *o = c;
        }
        let v = VerbName(out);
        v.is_valid().then_some(v)
    }

    /// Whether the bytes are 1..=8 of `A-Z0-9` followed only by spaces.
    pub fn is_valid(&self) -> bool {
        let n = self.name_len();
        n >= 1
            && self
                .0
                .iter()
                .enumerate()
                .all(|(i, &c)| if i < n { is_name_char(c) } else { c == b' ' })
    }

    fn name_len(&self) -> usize {
        self.0.iter().take_while(|&&c| is_name_char(c)).count()
    }

    /// The name without its padding (empty if the name is invalid).
    pub fn as_str(&self) -> &str {
        if !self.is_valid() {
            return "";
        }
        self.0
            .get(..self.name_len())
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// The 8 padded bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

impl fmt::Display for VerbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verb call (the CPRB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerbRequest {
    /// Which verb.
    pub verb: VerbName,
    /// At most [`MAX_RULE_ARRAY`] keywords; any bytes (the card validates).
    pub rule_array: Vec<[u8; 8]>,
    /// At most [`MAX_PARAMS`] parameters.
    pub params: Vec<Param>,
}

impl VerbRequest {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        if !self.verb.is_valid() {
            return Err(EncodeError::BadVerbName(self.verb.0));
        }
        w.bytes(&self.verb.0);
        encode_rules(w, "verb.rule count", &self.rule_array)?;
        encode_params(w, "verb.param count", &self.params)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let verb = VerbName(r.array::<8>()?);
        if !verb.is_valid() {
            return Err(DecodeError::BadVerbName(verb.0));
        }
        let rule_array = decode_rules(r, "verb.rule count", "verb.rule reserved")?;
        let params = decode_params(r, "verb.param count", "verb.param reserved")?;
        Ok(VerbRequest {
            verb,
            rule_array,
            params,
        })
    }
}

/// A verb's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerbResponse {
    /// CCA return code.
    pub return_code: i32,
    /// CCA reason code.
    pub reason_code: i32,
    /// The returned rule array, at most [`MAX_RULE_ARRAY`] keywords.
    pub rule_array: Vec<[u8; 8]>,
    /// At most [`MAX_PARAMS`] outputs.
    pub outputs: Vec<Param>,
}

impl VerbResponse {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.i32(self.return_code);
        w.i32(self.reason_code);
        encode_rules(w, "verb.rule count", &self.rule_array)?;
        encode_params(w, "verb.output count", &self.outputs)
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let return_code = r.i32()?;
        let reason_code = r.i32()?;
        let rule_array = decode_rules(r, "verb.rule count", "verb.rule reserved")?;
        let outputs = decode_params(r, "verb.output count", "verb.output reserved")?;
        Ok(VerbResponse {
            return_code,
            reason_code,
            rule_array,
            outputs,
        })
    }
}

// ---------------------------------------------------------------------------
// Device status
// ---------------------------------------------------------------------------

/// Device status: an ordered list of (name, value) printable-ASCII pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceStatus {
    /// At most [`MAX_STATUS_FIELDS`] pairs; names at most [`MAX_FIELD_NAME`]
    /// bytes, values at most [`MAX_FIELD_VALUE`] bytes.
    pub fields: Vec<(String, String)>,
}

impl DeviceStatus {
    /// Appends the encoding to `w`.
    pub fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.bounded_u16("status.field count", self.fields.len(), MAX_STATUS_FIELDS)?;
        w.u16(0);
        for (name, value) in &self.fields {
            w.text16("status.field name", name, MAX_FIELD_NAME)?;
            w.text16("status.field value", value, MAX_FIELD_VALUE)?;
        }
        Ok(())
    }

    /// Reads one value from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = r.bounded_u16("status.field count", MAX_STATUS_FIELDS)?;
        r.reserved_u16("status.reserved")?;
        let fields = (0..n)
            .map(|_| {
                let name = r.text16("status.field name", MAX_FIELD_NAME)?;
                let value = r.text16("status.field value", MAX_FIELD_VALUE)?;
                Ok((name, value))
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(DeviceStatus { fields })
    }
}

// ---------------------------------------------------------------------------
// Request / response bodies
// ---------------------------------------------------------------------------

/// A decoded request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// [`Op::Ping`].
    Ping(PingRequest),
    /// [`Op::Verb`].
    Verb(VerbRequest),
    /// [`Op::DeviceStatus`] (empty body).
    DeviceStatus,
    /// [`Op::Reset`] (empty body).
    Reset,
    /// [`Op::Load`].
    Load(LoadRequest),
    /// [`Op::Sense`].
    Sense(SenseRequest),
    /// [`Op::Attest`].
    Attest(AttestRequest),
}

impl RequestBody {
    /// The op this body belongs to.
    pub fn op(&self) -> Op {
        match self {
            RequestBody::Ping(_) => Op::Ping,
            RequestBody::Verb(_) => Op::Verb,
            RequestBody::DeviceStatus => Op::DeviceStatus,
            RequestBody::Reset => Op::Reset,
            RequestBody::Load(_) => Op::Load,
            RequestBody::Sense(_) => Op::Sense,
            RequestBody::Attest(_) => Op::Attest,
        }
    }
}

fn encode_request_into(w: &mut Writer, body: &RequestBody) -> Result<(), EncodeError> {
    match body {
        RequestBody::Ping(p) => p.encode(w),
        RequestBody::Verb(v) => v.encode(w),
        RequestBody::DeviceStatus | RequestBody::Reset => Ok(()),
        RequestBody::Load(l) => l.encode(w),
        RequestBody::Sense(x) => x.encode(w),
        RequestBody::Attest(a) => a.encode(w),
    }
}

/// Encodes a request body (without header) and returns its op.
pub fn encode_request(body: &RequestBody) -> Result<(Op, Vec<u8>), EncodeError> {
    let mut w = Writer::new();
    encode_request_into(&mut w, body)?;
    check_body_len(w.len())?;
    Ok((body.op(), w.into_inner()))
}

/// The bytes a verb's parameters and rule array take, for sizing a frame's buffer once.
fn params_hint(rule_array: &[[u8; 8]], params: &[Param]) -> usize {
    let bytes: usize = params
        .iter()
        .map(|p| match p {
            Param::Int(_) => 8,
            Param::Bytes(b) => 8 + b.len(),
        })
        .sum();
    64 + 8 * rule_array.len() + bytes
}

/// Builds a whole frame in one buffer: the header, then what `encode` writes. The same bytes
/// as [`frame`] of the encoded body, without copying a large body a second time.
fn whole_frame(
    kind: FrameKind,
    op: u16,
    request_id: u64,
    hint: usize,
    encode: impl FnOnce(&mut Writer) -> Result<(), EncodeError>,
) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer {
        buf: Vec::with_capacity(HEADER_LEN.saturating_add(hint)),
    };
    w.buf.resize(HEADER_LEN, 0);
    encode(&mut w)?;
    let body_len = check_body_len(w.len() - HEADER_LEN)?;
    let header = Header::new(kind, op, request_id, body_len);
    w.buf[..HEADER_LEN].copy_from_slice(&header.encode());
    Ok(w.buf)
}

/// A whole request frame (header and body) for `request_id`.
pub fn request_frame(request_id: u64, body: &RequestBody) -> Result<Vec<u8>, EncodeError> {
    let hint = match body {
        RequestBody::Verb(v) => params_hint(&v.rule_array, &v.params),
        _ => 256,
    };
    whole_frame(
        FrameKind::Request,
        body.op() as u16,
        request_id,
        hint,
        |w| encode_request_into(w, body),
    )
}

/// Decodes a request body (without header) for `op`; the whole of `body` must
/// be consumed.
pub fn decode_request(op: Op, body: &[u8]) -> Result<RequestBody, DecodeError> {
    let mut r = Reader::new(body);
    let out = match op {
        Op::Ping => RequestBody::Ping(PingRequest::decode(&mut r)?),
        Op::Verb => RequestBody::Verb(VerbRequest::decode(&mut r)?),
        Op::DeviceStatus => RequestBody::DeviceStatus,
        Op::Reset => RequestBody::Reset,
        Op::Load => RequestBody::Load(LoadRequest::decode(&mut r)?),
        Op::Sense => RequestBody::Sense(SenseRequest::decode(&mut r)?),
        Op::Attest => RequestBody::Attest(AttestRequest::decode(&mut r)?),
    };
    r.finish()?;
    Ok(out)
}

/// A decoded response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// [`Op::Ping`] with [`Status::Ok`].
    Ping(PingResponse),
    /// [`Op::Verb`] with [`Status::Ok`].
    Verb(VerbResponse),
    /// [`Op::DeviceStatus`] with [`Status::Ok`].
    DeviceStatus(DeviceStatus),
    /// [`Op::Reset`], [`Op::Load`] or [`Op::Sense`] with [`Status::Ok`].
    Admin(AdminResult),
    /// [`Op::Attest`] with [`Status::Ok`].
    Attest(AttestResponse),
    /// Any op, any status but [`Status::Ok`].
    Error {
        /// Never [`Status::Ok`].
        status: Status,
        /// Printable ASCII, at most [`MAX_DETAIL`] bytes.
        detail: String,
    },
}

impl ResponseBody {
    /// The status the body is encoded with.
    pub fn status(&self) -> Status {
        match self {
            ResponseBody::Error { status, .. } => *status,
            _ => Status::Ok,
        }
    }
}

/// Encodes a response body (without header, with the status prefix) for
/// `op`. Fails if the body belongs to another op, if an `Error` carries
/// [`Status::Ok`], or if any bound is exceeded.
pub fn encode_response(op: Op, body: &ResponseBody) -> Result<Vec<u8>, EncodeError> {
    if let ResponseBody::Error { status, detail } = body {
        return encode_error(*status, detail);
    }
    let mut w = Writer::new();
    encode_response_into(&mut w, op, body)?;
    check_body_len(w.len())?;
    Ok(w.into_inner())
}

/// Encodes a response that is not an error.
fn encode_response_into(w: &mut Writer, op: Op, body: &ResponseBody) -> Result<(), EncodeError> {
    w.u16(body.status().code());
    w.u16(0);
    match (op, body) {
        (Op::Ping, ResponseBody::Ping(p)) => p.encode(w),
        (Op::Verb, ResponseBody::Verb(v)) => v.encode(w),
        (Op::DeviceStatus, ResponseBody::DeviceStatus(d)) => d.encode(w),
        (Op::Reset | Op::Load | Op::Sense, ResponseBody::Admin(a)) => a.encode(w),
        (Op::Attest, ResponseBody::Attest(a)) => a.encode(w),
        _ => Err(EncodeError::OpMismatch { op }),
    }
}

/// A whole response frame (header and body) answering `request_id`: the same bytes as
/// [`frame`] of [`encode_response`], built in one buffer.
pub fn response_frame(
    op: Op,
    request_id: u64,
    body: &ResponseBody,
) -> Result<Vec<u8>, EncodeError> {
    if let ResponseBody::Error { status, detail } = body {
        return frame(
            FrameKind::Response,
            op as u16,
            request_id,
            &encode_error(*status, detail)?,
        );
    }
    let hint = match body {
        ResponseBody::Verb(v) => params_hint(&v.rule_array, &v.outputs),
        _ => 1024,
    };
    whole_frame(FrameKind::Response, op as u16, request_id, hint, |w| {
        encode_response_into(w, op, body)
    })
}

/// Encodes an error response body, whatever the operation (also one the server does not
/// know, which has no [`Op`]). Fails for [`Status::Ok`] or a detail that is not printable
/// ASCII of at most [`MAX_DETAIL`] bytes.
pub fn encode_error(status: Status, detail: &str) -> Result<Vec<u8>, EncodeError> {
    if status == Status::Ok {
        return Err(EncodeError::OkStatusInError);
    }
    let mut w = Writer::new();
    w.u16(status.code());
    w.u16(0);
    w.text16("error.detail", detail, MAX_DETAIL)?;
    Ok(w.into_inner())
}

/// Decodes a response body (without header) for `op`; the whole of `body`
/// must be consumed. A status other than `Ok` gives [`ResponseBody::Error`]
/// whatever the op.
pub fn decode_response(op: Op, body: &[u8]) -> Result<ResponseBody, DecodeError> {
    let mut r = Reader::new(body);
    let code = r.u16()?;
    let status = Status::from_u16(code).ok_or(DecodeError::BadStatus(code))?;
    r.reserved_u16("response.status reserved")?;
    let out = match (status, op) {
        (Status::Ok, Op::Ping) => ResponseBody::Ping(PingResponse::decode(&mut r)?),
        (Status::Ok, Op::Verb) => ResponseBody::Verb(VerbResponse::decode(&mut r)?),
        (Status::Ok, Op::DeviceStatus) => ResponseBody::DeviceStatus(DeviceStatus::decode(&mut r)?),
        (Status::Ok, Op::Reset | Op::Load | Op::Sense) => {
            ResponseBody::Admin(AdminResult::decode(&mut r)?)
        }
        (Status::Ok, Op::Attest) => ResponseBody::Attest(AttestResponse::decode(&mut r)?),
        (status, _) => ResponseBody::Error {
            status,
            detail: r.text16("error.detail", MAX_DETAIL)?,
        },
    };
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests;
