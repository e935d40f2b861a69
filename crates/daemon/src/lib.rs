//! The card daemon: one card served on a Unix socket to many host processes and threads.
//!
//! The bus is `softcca-wire`. Each connection is read by one task; requests on it may be in
//! flight many at a time and are answered as they complete, matched by request id. Quick
//! verbs run on the reading task; verbs that write the card's flash (and the device-status
//! request, which may re-run the RNG start-up test) run on the blocking pool, so a slow
//! request never holds up the quick ones behind it. Responses are gathered by a writer task
//! that sends as many as are ready in one write.
//!
//! Bad input never reaches the card as such:
//! - a body that does not decode gets a `BadFrame` response and the connection goes on
//!   (the header said how long the body was, so the stream stays in step);
//! - an unknown operation gets `UnknownOp` and the connection goes on;
//! - an unknown protocol version gets `UnsupportedVersion`, a body over the limit gets
//!   `TooLarge`, and a bad magic, kind or reserved field gets `BadFrame`; then that one
//!   connection is closed, since the stream can no longer be trusted;
//! - a client that disconnects mid-frame just ends its connection; requests it had in
//!   flight finish inside the card and their answers are dropped.

#![forbid(unsafe_code)]

use std::io;
use std::path::Path;
use std::sync::Arc;

use softcca_card::Card;
use softcca_wire::{
    self as wire, DecodeError, FrameKind, HEADER_LEN, Header, Op, RequestBody, Status,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Requests one connection may have in flight on the blocking pool; a client that sends
/// more waits (the socket applies back-pressure), as IBM's card queues its requests: "it is
/// not possible to overload the HSM".
pub const MAX_IN_FLIGHT: usize = 256;

/// Responses one connection may have waiting to be written.
pub const RESPONSE_QUEUE: usize = 1024;

/// Serves `card` on a Unix socket at `socket` until `shutdown` completes. A stale socket file
/// is replaced (the caller holds the card's state-directory lock, so no other daemon can be
/// serving this card). On shutdown every connection is closed at its next frame boundary,
/// requests already running in the card finish, and only then does `serve` remove the
/// socket file and return — so the caller may release the card's lock at once.
pub async fn serve(
    card: Arc<Card>,
    socket: &Path,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(socket)?;
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let card = Arc::clone(&card);
                    let (read, write) = stream.into_split();
                    connections.spawn(connection(card, read, write, stopping.clone()));
                    while connections.try_join_next().is_some() {}
                }
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => break Err(e),
            },
        }
    };
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    let _ = std::fs::remove_file(socket);
    result
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            23 /* ENFILE */ | 24 /* EMFILE */ | 12 /* ENOMEM */ | 105 /* ENOBUFS */ | 103 /* ECONNABORTED */
        )
    ) || e.kind() == io::ErrorKind::ConnectionAborted
}

/// One connection: reads frames, answers each, closes on a frame it cannot trust.
async fn connection(
    card: Arc<Card>,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    mut stopping: watch::Receiver<bool>,
) {
    // Bounded: a client that sends without reading fills this, then the socket, and is
    // slowed down instead of growing the daemon's memory.
    let (tx, rx) = mpsc::channel::<Vec<u8>>(RESPONSE_QUEUE);
    let writer = tokio::spawn(write_loop(write, rx));
    let mut reader = BufReader::with_capacity(64 * 1024, read);
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut header = [0u8; HEADER_LEN];
    loop {
        // EOF or a reset, between frames or in the middle of one: the client is gone.
        // A daemon shutting down closes the connection between frames.
        tokio::select! {
            read = reader.read_exact(&mut header) => if read.is_err() {
                break;
            },
            _ = stopping.wait_for(|stop| *stop) => break,
        }
        let h = match Header::decode(&header) {
            Ok(h) if h.kind == FrameKind::Request => h,
            Ok(h) => {
                let reply = error_frame(h.op, h.request_id, Status::BadFrame, "not a request");
                let _ = tx.send(reply).await;
                break;
            }
            Err(e) => {
                let (op, id) = match &e {
                    DecodeError::UnsupportedVersion { op, request_id, .. }
                    | DecodeError::BodyTooLarge { op, request_id, .. } => (*op, *request_id),
                    _ => (0, 0),
                };
                let reply = error_frame(op, id, wire::status_of(&e), &e.to_string());
                let _ = tx.send(reply).await;
                break;
            }
        };
        // Read into spare capacity: no zeroing of a buffer about to be overwritten.
        let len = h.body_len as usize;
        let mut body = Vec::with_capacity(len);
        match (&mut reader).take(len as u64).read_to_end(&mut body).await {
            Ok(n) if n == len => {}
            _ => break,
        }
        let decoded = match Op::from_u16(h.op) {
            None => Err(error_frame(
                h.op,
                h.request_id,
                Status::UnknownOp,
                "unknown operation",
            )),
            Some(op) => wire::decode_request(op, &body)
                .map(|request| (op, request))
                .map_err(|e| error_frame(h.op, h.request_id, wire::status_of(&e), &e.to_string())),
        };
        let (op, request) = match decoded {
            Ok(d) => d,
            // The header fixed the body's length, so the stream is still in step.
            Err(reply) => {
                if tx.send(reply).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let id = h.request_id;
        if runs_inline(&card, &request) {
            if tx.send(answer(&card, op, id, request)).await.is_err() {
                break;
            }
        } else {
            let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                break;
            };
            let card = Arc::clone(&card);
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                let _ = tx.blocking_send(answer(&card, op, id, request));
                drop(permit);
            });
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// Whether a request is quick enough to run on the connection's reading task.
fn runs_inline(card: &Card, request: &RequestBody) -> bool {
    match request {
        RequestBody::Ping(_) => true,
        RequestBody::Verb(v) => !card.may_block(v),
        RequestBody::DeviceStatus
        | RequestBody::Reset
        | RequestBody::Load(_)
        | RequestBody::Sense(_)
        | RequestBody::Attest(_) => false,
    }
}

/// Answers one decoded request: the response frame.
pub fn answer(card: &Card, op: Op, request_id: u64, request: RequestBody) -> Vec<u8> {
    let body = card.handle(request);
    match wire::response_frame(op, request_id, &body) {
        Ok(frame) => frame,
        Err(e) => error_frame(op as u16, request_id, Status::Internal, &e.to_string()),
    }
}

/// A response frame carrying only a status and a short detail (made printable and short
/// enough for the wire first).
fn error_frame(op: u16, request_id: u64, status: Status, detail: &str) -> Vec<u8> {
    let detail: String = detail
        .chars()
        .filter(|c| (' '..='~').contains(c))
        .take(usize::from(wire::MAX_DETAIL))
        .collect();
    let body = wire::encode_error(status, &detail).unwrap_or_default();
    wire::frame(FrameKind::Response, op, request_id, &body).unwrap_or_default()
}

/// Sends responses, as many as are ready in one write.
async fn write_loop(mut write: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    while let Some(frame) = rx.recv().await {
        // A lone frame (the common case for large answers) is written as it is; frames that
        // are ready together go out in one write.
        let Ok(next) = rx.try_recv() else {
            if write.write_all(&frame).await.is_err() {
                break;
            }
            continue;
        };
        batch.extend_from_slice(&frame);
        batch.extend_from_slice(&next);
        while batch.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        if write.write_all(&batch).await.is_err() {
            break;
        }
        batch.clear();
    }
    let _ = write.shutdown().await;
}
