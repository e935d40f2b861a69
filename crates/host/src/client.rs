//! The bus client: one Unix-socket connection to the card daemon, shared by every thread of
//! the process, with many requests in flight at once.
//!
//! Each call writes its frame under a short lock and waits on its own slot; a reader thread
//! reads the daemon's responses (many per read) and hands each to the slot its request id
//! names. If the daemon goes away, every waiting call fails at once and the next call
//! connects again.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use softcca_wire::{self as wire, FrameKind, HEADER_LEN, Header, Op, RequestBody, ResponseBody};

/// How long a call waits for its answer before it gives up on the daemon.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a request got no answer from the card.
#[derive(Debug)]
pub enum TransportError {
    /// The daemon could not be reached.
    Connect(PathBuf, io::Error),
    /// The connection broke before the answer came.
    Disconnected,
    /// No answer within the timeout.
    TimedOut,
    /// The daemon answered with something this library cannot read.
    Protocol(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Connect(p, e) => {
                write!(f, "cannot reach the card daemon at {}: {e}", p.display())
            }
            TransportError::Disconnected => f.write_str("the card daemon closed the connection"),
            TransportError::TimedOut => f.write_str("the card daemon did not answer in time"),
            TransportError::Protocol(s) => write!(f, "bus protocol error: {s}"),
        }
    }
}

impl std::error::Error for TransportError {}

type Answer = Result<ResponseBody, TransportError>;

#[derive(Default)]
struct Slot {
    answer: Mutex<Option<Answer>>,
    ready: Condvar,
}

impl Slot {
    fn fill(&self, answer: Answer) {
        *lock(&self.answer) = Some(answer);
        self.ready.notify_one();
    }
}

struct Pending {
    slots: HashMap<u64, (Op, Arc<Slot>)>,
    closed: bool,
}

/// Frames waiting to be written. The first caller to find no writer at work becomes the
/// writer and sends everything queued, in as few writes as it can; the others only queue
/// their frame. Under load many requests leave in one system call.
#[derive(Default)]
struct Outbox {
    queue: Vec<u8>,
    writing: bool,
    failed: bool,
}

struct Connection {
    stream: UnixStream,
    outbox: Mutex<Outbox>,
    pending: Mutex<Pending>,
}

impl Connection {
    fn open(socket: &Path) -> Result<Arc<Connection>, TransportError> {
        let stream =
            UnixStream::connect(socket).map_err(|e| TransportError::Connect(socket.into(), e))?;
        let reader = stream
            .try_clone()
            .map_err(|e| TransportError::Connect(socket.into(), e))?;
        let conn = Arc::new(Connection {
            stream,
            outbox: Mutex::new(Outbox::default()),
            pending: Mutex::new(Pending {
                slots: HashMap::new(),
                closed: false,
            }),
        });
        let for_reader = Arc::clone(&conn);
        std::thread::Builder::new()
            .name("softcca-bus-reader".into())
            .spawn(move || for_reader.read_loop(reader))
            .map_err(|e| TransportError::Connect(socket.into(), e))?;
        Ok(conn)
    }

    fn is_closed(&self) -> bool {
        lock(&self.pending).closed
    }

    /// Queues `frame` and, unless another thread is writing already, writes the queue.
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        let mut outbox = lock(&self.outbox);
        if outbox.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if outbox.writing {
            outbox.queue.extend_from_slice(frame);
            return Ok(());
        }
        outbox.writing = true;
        // Nobody is writing: this thread writes its own frame as it is (no copy into the
        // queue, which matters for large texts), then whatever others queued meanwhile.
        let mut batch = Vec::new();
        let mut first = Some(frame);
        loop {
            if first.is_none() {
                std::mem::swap(&mut batch, &mut outbox.queue);
                if batch.is_empty() {
                    outbox.writing = false;
                    return Ok(());
                }
            }
            drop(outbox);
            let written = match first.take() {
                Some(frame) => send_all(&self.stream, frame),
                None => send_all(&self.stream, &batch),
            };
            batch.clear();
            outbox = lock(&self.outbox);
            if let Err(e) = written {
                outbox.failed = true;
                outbox.writing = false;
                outbox.queue.clear();
                // Wakes the reader thread, which fails every waiting call, including those
                // whose frames were queued behind this write.
                let _ = self.stream.shutdown(Shutdown::Both);
                return Err(e);
            }
        }
    }

    fn read_loop(&self, stream: UnixStream) {
        let mut reader = BufReader::with_capacity(64 * 1024, stream);
        let failure = loop {
            let mut header = [0u8; HEADER_LEN];
            if reader.read_exact(&mut header).is_err() {
                break TransportError::Disconnected;
            }
            let h = match Header::decode(&header) {
                Ok(h) if h.kind == FrameKind::Response => h,
                Ok(_) => break TransportError::Protocol("a request frame from the daemon".into()),
                Err(e) => break TransportError::Protocol(e.to_string()),
            };
            // Read into spare capacity: no zeroing of a buffer about to be overwritten.
            let len = h.body_len as usize;
            let mut body = Vec::with_capacity(len);
            match (&mut reader).take(len as u64).read_to_end(&mut body) {
                Ok(n) if n == len => {}
                _ => break TransportError::Disconnected,
            }
            let slot = lock(&self.pending).slots.remove(&h.request_id);
            // No slot: an answer to a request nobody waits for (request id 0 answers a frame
            // the daemon could not read, and the daemon closes the connection after it).
            if let Some((op, slot)) = slot {
                slot.fill(
                    wire::decode_response(op, &body)
                        .map_err(|e| TransportError::Protocol(e.to_string())),
                );
            }
        };
        let slots = {
            let mut pending = lock(&self.pending);
            pending.closed = true;
            std::mem::take(&mut pending.slots)
        };
        let message = failure.to_string();
        for (_, (_, slot)) in slots {
            slot.fill(Err(match &failure {
                TransportError::Disconnected => TransportError::Disconnected,
                _ => TransportError::Protocol(message.clone()),
            }));
        }
    }
}

/// A client of one card daemon.
pub struct Client {
    socket: PathBuf,
    connection: Mutex<Option<Arc<Connection>>>,
    next_id: AtomicU64,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the daemon at `socket`; connects now, so an absent daemon is reported at
    /// once.
    pub fn connect(socket: &Path) -> Result<Client, TransportError> {
        let client = Client {
            socket: socket.to_path_buf(),
            connection: Mutex::new(None),
            next_id: AtomicU64::new(1),
            timeout: DEFAULT_TIMEOUT,
        };
        client.connection()?;
        Ok(client)
    }

    /// Sets how long a call waits for its answer.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    fn connection(&self) -> Result<Arc<Connection>, TransportError> {
        let mut current = lock(&self.connection);
        if let Some(c) = current.as_ref()
            && !c.is_closed()
        {
            return Ok(Arc::clone(c));
        }
        let fresh = Connection::open(&self.socket)?;
        *current = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Sends one request and waits for its answer.
    pub fn call(&self, request: &RequestBody) -> Answer {
        let op = request.op();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::request_frame(id, request)
            .map_err(|e| TransportError::Protocol(e.to_string()))?;
        let conn = self.connection()?;
        let slot = Arc::new(Slot::default());
        {
            let mut pending = lock(&conn.pending);
            if pending.closed {
                return Err(TransportError::Disconnected);
            }
            pending.slots.insert(id, (op, Arc::clone(&slot)));
        }
        if conn.send(&frame).is_err() {
            {
                let mut pending = lock(&conn.pending);
                pending.slots.remove(&id);
                // The next call connects again instead of trying this socket.
                pending.closed = true;
            }
            return Err(TransportError::Disconnected);
        }
        let mut answer = lock(&slot.answer);
        let deadline = std::time::Instant::now() + self.timeout;
        loop {
            if let Some(a) = answer.take() {
                return a;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                drop(answer);
                lock(&conn.pending).slots.remove(&id);
                return Err(TransportError::TimedOut);
            }
            answer = slot
                .ready
                .wait_timeout(answer, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(conn) = lock(&self.connection).take() {
            // Ends the reader thread, which holds the other reference.
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
    }
}

/// Writes all of `buf` with `send(2)` and `MSG_NOSIGNAL`: a daemon that went away is an
/// error here, never a SIGPIPE that kills the process (a C program loading libcsulcca.so
/// does not ignore SIGPIPE the way Rust programs do).
fn send_all(stream: &UnixStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::net::send(stream, buf, rustix::net::SendFlags::NOSIGNAL) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in this module panics while holding a lock; if a caller's thread did, the data
    // (a socket, a map of slots) is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
