//! The daemon's bus, driven with raw frames over a Unix socket: pipelining, and every kind of
//! bad input the daemon documents (what it answers, whether it keeps the connection, and that
//! it goes on serving new connections with the card unchanged).

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use softcca_card::Card;
use softcca_card::Model;
use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_wire::{
    self as wire, FrameKind, HEADER_LEN, Header, MAX_BODY, Op, Param, PingRequest, RequestBody,
    ResponseBody, Status, VerbName, VerbRequest, VerbResponse,
};

/// Bound on every socket read and write of these tests: a bug fails a test, it hangs nothing.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The daemon under test
// ---------------------------------------------------------------------------------------------

fn memory_card(seed: u64) -> Card {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Card::power_on(platform, Some(Model::Ibm4767))
        .expect("power on")
        .0
}

/// A daemon on its own thread and tokio runtime, as `softcca serve` runs it. Stopping it
/// completes its shutdown future, waits for `serve` to return and drops the runtime (as the
/// daemon process does when it exits).
struct Daemon {
    socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(card: Card) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("card.sock");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let card = Arc::new(card);
        let path = socket.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(softcca_daemon::serve(card, &path, async {
                let _ = stopped.await;
            }))
        });
        wait_for_socket(&socket, &thread);
        Daemon {
            socket,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn path(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn wait_for_socket(socket: &Path, thread: &std::thread::JoinHandle<std::io::Result<()>>) {
    for _ in 0..2000 {
        // Listening, not just bound: the socket file appears at bind(), a moment before
        // listen(), and a connect in between is refused (a flake seen under load).
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return;
        }
        assert!(
            !thread.is_finished(),
            "the daemon stopped before it listened"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the daemon's socket {} never appeared", socket.display());
}

// ---------------------------------------------------------------------------------------------
// Raw frames
// ---------------------------------------------------------------------------------------------

fn connect(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).expect("connect to the daemon");
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    s.set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    s
}

fn keywords(words: &[&str]) -> Vec<[u8; 8]> {
    words
        .iter()
        .map(|w| softcca_card::rules::element(w).expect("keyword fits"))
        .collect()
}

fn verb(name: &str, rules: &[&str], params: Vec<Param>) -> RequestBody {
    RequestBody::Verb(VerbRequest {
        verb: VerbName::new(name).expect("verb name"),
        rule_array: keywords(rules),
        params,
    })
}

fn rngl(len: i32) -> RequestBody {
    verb(
        "CSNBRNGL",
        &["RANDOM"],
        vec![Param::Bytes(Vec::new()), Param::Int(len)],
    )
}

fn facility_query(what: &str) -> RequestBody {
    verb(
        "CSUACFQ",
        &[what],
        vec![Param::Int(0), Param::Bytes(Vec::new())],
    )
}

fn mkp(rules: &[&str], part: &[u8]) -> RequestBody {
    verb("CSNBMKP", rules, vec![Param::Bytes(part.to_vec())])
}

fn ping(echo: &[u8]) -> RequestBody {
    RequestBody::Ping(PingRequest {
        min_version: wire::PROTOCOL_VERSION,
        max_version: wire::PROTOCOL_VERSION,
        echo: echo.to_vec(),
    })
}

fn request_frame(id: u64, body: &RequestBody) -> Vec<u8> {
    let (op, bytes) = wire::encode_request(body).expect("encode request");
    wire::frame(FrameKind::Request, op.code(), id, &bytes).expect("frame")
}

/// Reads one whole frame; `None` on a clean end of stream (or a reset) before its header.
fn read_frame(s: &mut UnixStream) -> Option<(Header, Vec<u8>)> {
    let mut header = [0u8; HEADER_LEN];
    match s.read_exact(&mut header) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return None;
        }
        Err(e) => panic!("reading a response header: {e}"),
    }
    let h = Header::decode(&header).expect("a valid response header");
    assert_eq!(
        h.kind,
        FrameKind::Response,
        "the daemon sends responses only"
    );
    let mut body = vec![0u8; h.body_len as usize];
    s.read_exact(&mut body).expect("a whole response body");
    Some((h, body))
}

/// Reads one response and decodes it for `op` (an error response decodes whatever the op).
fn read_response(s: &mut UnixStream, op: Op) -> (Header, ResponseBody) {
    let (h, body) = read_frame(s).expect("a response, not the end of the stream");
    let decoded = wire::decode_response(op, &body).expect("a response body that decodes");
    (h, decoded)
}

/// Sends one request and reads its answer, checking the request id and op are echoed.
fn round_trip(s: &mut UnixStream, id: u64, body: &RequestBody) -> ResponseBody {
    s.write_all(&request_frame(id, body))
        .expect("write request");
    let (h, r) = read_response(s, body.op());
    assert_eq!(h.request_id, id, "response to the right request");
    assert_eq!(h.op, body.op().code(), "response for the right op");
    r
}

fn verb_response(r: ResponseBody) -> VerbResponse {
    match r {
        ResponseBody::Verb(v) => v,
        other => panic!("expected a verb response, got {other:?}"),
    }
}

fn error_status(r: &ResponseBody) -> Status {
    match r {
        ResponseBody::Error { status, .. } => *status,
        other => panic!("expected an error response, got {other:?}"),
    }
}

/// The daemon closed this connection: end of stream (or a reset), and nothing else to read.
fn expect_closed(s: &mut UnixStream) {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("expected the daemon to close, got {n} more bytes"),
        Err(e) => panic!("expected the daemon to close the connection, got {e}"),
    }
}

/// A NEW connection gets a ping and a CSNBRNGL answered correctly.
fn assert_serves(path: &Path) {
    let mut s = connect(path);
    match round_trip(&mut s, 9_000_001, &ping(b"still there?")) {
        ResponseBody::Ping(p) => {
            assert_eq!(p.card_model, 4767);
            assert_eq!(p.echo, b"still there?");
        }
        other => panic!("ping: {other:?}"),
    }
    let v = verb_response(round_trip(&mut s, 9_000_002, &rngl(40)));
    assert_eq!((v.return_code, v.reason_code), (0, 0));
    match v.outputs.as_slice() {
        [Param::Bytes(b)] => assert_eq!(b.len(), 40),
        other => panic!("CSNBRNGL outputs: {other:?}"),
    }
}

/// The card's master-key registers, as CSUACFQ reports them (over a new connection).
fn card_state(path: &Path) -> Vec<Vec<[u8; 8]>> {
    let mut s = connect(path);
    ["STATCCAE", "STATAES", "STATAPKA"]
        .iter()
        .zip(1u64..)
        .map(|(what, id)| {
            let v = verb_response(round_trip(&mut s, 8_000_000 + id, &facility_query(what)));
            assert_eq!((v.return_code, v.reason_code), (0, 0), "CSUACFQ {what}");
            v.rule_array
        })
        .collect()
}

fn stat_aes(s: &mut UnixStream, id: u64) -> Vec<[u8; 8]> {
    let v = verb_response(round_trip(s, id, &facility_query("STATAES")));
    assert_eq!((v.return_code, v.reason_code), (0, 0));
    v.rule_array
}

fn header_bytes(kind: FrameKind, op: u16, id: u64, body_len: u32) -> [u8; HEADER_LEN] {
    Header::new(kind, op, id, body_len).encode()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn ping_reports_the_card_and_refuses_other_versions() {
    let d = Daemon::start(memory_card(1));
    let mut s = connect(d.path());
    let echo = [0u8, 1, 2, 0xFF, b'S', b'C', b'C', b'A'];
    match round_trip(&mut s, 1, &ping(&echo)) {
        ResponseBody::Ping(p) => {
            assert_eq!(p.card_model, 4767);
            assert_eq!(p.echo, echo);
            assert_eq!((p.min_version, p.max_version), (1, 1));
            assert_eq!(p.software, softcca_card::bus::SOFTWARE);
        }
        other => panic!("ping: {other:?}"),
    }
    let r = round_trip(
        &mut s,
        2,
        &RequestBody::Ping(PingRequest {
            min_version: 2,
            max_version: 3,
            echo: b"future".to_vec(),
        }),
    );
    assert_eq!(error_status(&r), Status::UnsupportedVersion);
    // A ping-level refusal is an answer like any other: the connection goes on.
    assert!(matches!(
        round_trip(&mut s, 3, &ping(b"")),
        ResponseBody::Ping(_)
    ));
    assert_serves(d.path());
}

#[test]
fn a_hundred_requests_in_flight_on_one_connection() {
    let d = Daemon::start(memory_card(2));
    let mut s = connect(d.path());
    let mut expected: HashMap<u64, Option<usize>> = HashMap::new();
    let mut frames = Vec::new();
    for i in 0..100u64 {
        let id = 0x1_0000_0000 + i * 7;
        if i % 4 == 3 {
            frames.extend(request_frame(id, &facility_query("STATCCA")));
            expected.insert(id, None);
        } else {
            let len = usize::try_from((i * 997) % 8192 + 1).unwrap();
            frames.extend(request_frame(id, &rngl(i32::try_from(len).unwrap())));
            expected.insert(id, Some(len));
        }
    }
    s.write_all(&frames).unwrap();

    let mut seen = HashSet::new();
    let mut outputs = HashSet::new();
    for _ in 0..100 {
        let (h, r) = read_response(&mut s, Op::Verb);
        assert!(
            seen.insert(h.request_id),
            "id {} answered twice",
            h.request_id
        );
        let want = expected
            .get(&h.request_id)
            .unwrap_or_else(|| panic!("answer to an id never sent: {}", h.request_id));
        let v = verb_response(r);
        assert_eq!((v.return_code, v.reason_code), (0, 0));
        match want {
            Some(len) => match v.outputs.as_slice() {
                [Param::Bytes(b)] => {
                    assert_eq!(b.len(), *len, "request {}", h.request_id);
                    if b.len() >= 16 {
                        assert!(outputs.insert(b.clone()), "repeated random output");
                    }
                }
                other => panic!("CSNBRNGL outputs: {other:?}"),
            },
            None => {
                assert_eq!(v.rule_array.len(), 6, "STATCCA has six elements");
                assert!(v.outputs.is_empty());
                assert_eq!(&v.rule_array[3], b"5.6.9   ");
            }
        }
    }
    assert_eq!(seen.len(), 100);
    // Nothing more comes, and the connection still works.
    assert!(matches!(
        round_trip(&mut s, 7, &ping(b"after")),
        ResponseBody::Ping(_)
    ));
    assert_serves(d.path());
}

#[test]
fn truncated_frames_end_only_their_connection() {
    let d = Daemon::start(memory_card(3));
    let before = card_state(d.path());

    // Half a header, then close.
    {
        let mut s = connect(d.path());
        let h = header_bytes(FrameKind::Request, Op::Ping.code(), 1, 10);
        s.write_all(&h[..HEADER_LEN / 2]).unwrap();
    }
    assert_serves(d.path());

    // A whole header announcing 100 bytes, 10 of them, then close.
    {
        let mut s = connect(d.path());
        s.write_all(&header_bytes(FrameKind::Request, Op::Verb.code(), 2, 100))
            .unwrap();
        s.write_all(&[0x43; 10]).unwrap();
    }
    assert_serves(d.path());

    // The same, but the client stays and shuts down its write side only: the daemon must not
    // answer anything for the incomplete frame, and ends the connection.
    {
        let mut s = connect(d.path());
        s.write_all(&header_bytes(FrameKind::Request, Op::Verb.code(), 3, 100))
            .unwrap();
        s.write_all(&[0x43; 10]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        expect_closed(&mut s);
    }
    assert_serves(d.path());
    assert_eq!(card_state(d.path()), before);
}

#[test]
fn oversized_body_gets_too_large_then_close() {
    let d = Daemon::start(memory_card(4));
    let before = card_state(d.path());
    for (id, len) in [(0xDEAD_BEEF_u64, MAX_BODY + 1), (u64::MAX, u32::MAX)] {
        let mut s = connect(d.path());
        s.write_all(&header_bytes(FrameKind::Request, Op::Verb.code(), id, len))
            .unwrap();
        let (h, r) = read_response(&mut s, Op::Verb);
        assert_eq!(error_status(&r), Status::TooLarge);
        assert_eq!(h.request_id, id);
        assert_eq!(h.op, Op::Verb.code());
        expect_closed(&mut s);
        assert_serves(d.path());
    }
    // Exactly MAX_BODY is not too large: the body is read, then refused as a bad body, and
    // the connection goes on.
    {
        let mut s = connect(d.path());
        let mut frame = header_bytes(FrameKind::Request, Op::Verb.code(), 5, MAX_BODY).to_vec();
        frame.resize(HEADER_LEN + MAX_BODY as usize, 0);
        s.write_all(&frame).unwrap();
        let (h, r) = read_response(&mut s, Op::Verb);
        assert_eq!(h.request_id, 5);
        assert_eq!(error_status(&r), Status::BadFrame);
        assert!(matches!(
            round_trip(&mut s, 6, &ping(b"x")),
            ResponseBody::Ping(_)
        ));
    }
    assert_serves(d.path());
    assert_eq!(card_state(d.path()), before);
}

#[test]
fn unknown_op_is_answered_and_the_connection_goes_on() {
    let d = Daemon::start(memory_card(5));
    let before = card_state(d.path());
    let mut s = connect(d.path());
    for (id, op, body) in [
        (77_u64, 0x7777_u16, b"hello".to_vec()),
        (78, 0x0000, Vec::new()),
        (79, 0xFFFF, vec![0xAA; 300]),
    ] {
        let mut frame = header_bytes(FrameKind::Request, op, id, body.len() as u32).to_vec();
        frame.extend_from_slice(&body);
        s.write_all(&frame).unwrap();
        let (h, r) = read_response(&mut s, Op::Ping);
        assert_eq!(error_status(&r), Status::UnknownOp);
        assert_eq!(h.request_id, id);
        assert_eq!(h.op, op);
        // The same connection keeps working: the body was skipped whole.
        match round_trip(&mut s, id + 1000, &ping(b"next")) {
            ResponseBody::Ping(p) => assert_eq!(p.echo, b"next"),
            other => panic!("ping after unknown op: {other:?}"),
        }
    }
    let v = verb_response(round_trip(&mut s, 2000, &rngl(9)));
    assert_eq!(v.outputs.len(), 1);
    assert_serves(d.path());
    assert_eq!(card_state(d.path()), before);
}

#[test]
fn bad_bodies_get_bad_frame_and_the_connection_goes_on() {
    let d = Daemon::start(memory_card(6));
    let before = card_state(d.path());
    let (_, good) = wire::encode_request(&rngl(16)).unwrap();
    let (_, good_ping) = wire::encode_request(&ping(b"abc")).unwrap();

    let mut reserved = good.clone();
    reserved[10] = 0x01; // the rule array's reserved u16
    let mut trailing = good.clone();
    trailing.push(0);
    let mut lower_name = good.clone();
    lower_name[..8].copy_from_slice(b"csnbrngl");
    let mut too_many_rules = good.clone();
    too_many_rules[8..10].copy_from_slice(&65u16.to_be_bytes());
    let mut bad_tag = good.clone();
    bad_tag[8 + 4 + 8 + 4] = 9; // the first param's tag
    let truncated = good[..good.len() - 2].to_vec();
    let mut ping_reserved = good_ping.clone();
    ping_reserved[2] = 0x80;

    let cases: Vec<(&str, Op, Vec<u8>)> = vec![
        ("verb reserved field", Op::Verb, reserved),
        ("trailing byte", Op::Verb, trailing),
        ("lower-case verb name", Op::Verb, lower_name),
        ("65 rule-array keywords", Op::Verb, too_many_rules),
        ("bad param tag", Op::Verb, bad_tag),
        ("truncated body", Op::Verb, truncated),
        ("empty verb body", Op::Verb, Vec::new()),
        ("ping reserved field", Op::Ping, ping_reserved),
        ("device status with a body", Op::DeviceStatus, vec![0]),
    ];
    let mut s = connect(d.path());
    for (i, (what, op, body)) in cases.into_iter().enumerate() {
        let id = 500 + i as u64;
        s.write_all(&wire::frame(FrameKind::Request, op.code(), id, &body).unwrap())
            .unwrap();
        let (h, r) = read_response(&mut s, op);
        assert_eq!(error_status(&r), Status::BadFrame, "{what}");
        assert_eq!(h.request_id, id, "{what}");
        assert_eq!(h.op, op.code(), "{what}");
        // The same connection keeps working.
        let v = verb_response(round_trip(&mut s, id + 100, &rngl(16)));
        assert_eq!((v.return_code, v.reason_code), (0, 0), "after {what}");
    }
    assert_serves(d.path());
    assert_eq!(card_state(d.path()), before);
}

#[test]
fn untrustworthy_headers_are_answered_then_the_connection_closes() {
    let d = Daemon::start(memory_card(7));
    let before = card_state(d.path());
    let (_, ping_body) = wire::encode_request(&ping(b"p")).unwrap();
    let good = header_bytes(
        FrameKind::Request,
        Op::Ping.code(),
        42,
        ping_body.len() as u32,
    );

    let mut bad_magic = good;
    bad_magic[..4].copy_from_slice(b"SCCB");
    let mut version9 = good;
    version9[4] = 9;
    let mut reserved = good;
    reserved[23] = 1;
    let mut bad_kind = good;
    bad_kind[5] = 7;
    // A response-kind frame from the client, with an empty body.
    let response_kind = header_bytes(FrameKind::Response, Op::Ping.code(), 43, 0);

    // (what, header, whether a body follows, the status answered, the request id echoed)
    type Case = (&'static str, [u8; HEADER_LEN], bool, Status, Option<u64>);
    let cases: [Case; 5] = [
        ("bad magic", bad_magic, true, Status::BadFrame, None),
        (
            "version 9",
            version9,
            true,
            Status::UnsupportedVersion,
            Some(42),
        ),
        ("reserved not zero", reserved, true, Status::BadFrame, None),
        ("kind 7", bad_kind, true, Status::BadFrame, None),
        (
            "response kind",
            response_kind,
            false,
            Status::BadFrame,
            Some(43),
        ),
    ];
    for (what, header, with_body, status, id) in cases {
        let mut s = connect(d.path());
        let mut frame = header.to_vec();
        if with_body {
            frame.extend_from_slice(&ping_body);
        }
        s.write_all(&frame).unwrap();
        let (h, r) = read_response(&mut s, Op::Ping);
        assert_eq!(error_status(&r), status, "{what}");
        if let Some(id) = id {
            assert_eq!(h.request_id, id, "{what}");
        }
        assert_eq!(h.version, wire::PROTOCOL_VERSION, "{what}");
        expect_closed(&mut s);
        assert_serves(d.path());
    }
    assert_eq!(card_state(d.path()), before);
}

#[test]
fn cca_level_bad_input_gets_cca_codes() {
    let d = Daemon::start(memory_card(8));
    let mut s = connect(d.path());

    let none = verb(
        "CSNBRNGL",
        &[],
        vec![Param::Bytes(Vec::new()), Param::Int(8)],
    );
    let v = verb_response(round_trip(&mut s, 1, &none));
    assert_eq!((v.return_code, v.reason_code), (8, 35));
    assert!(v.outputs.is_empty());

    let bogus = verb(
        "CSNBRNGL",
        &["BOGUS"],
        vec![Param::Bytes(Vec::new()), Param::Int(8)],
    );
    let v = verb_response(round_trip(&mut s, 2, &bogus));
    assert_eq!((v.return_code, v.reason_code), (8, 33));
    assert!(v.outputs.is_empty());

    // Give the AES registers something to lose first: a partial new master key.
    let part = [0x5Au8; 32];
    let v = verb_response(round_trip(&mut s, 3, &mkp(&["AES-MK", "FIRST"], &part)));
    assert_eq!((v.return_code, v.reason_code), (0, 0));
    let aes_before = stat_aes(&mut s, 4);
    assert_eq!(&aes_before[0], b"2       ");

    for (id, rules) in [
        (5, &["AES-MK", "BOGUS"][..]),
        (6, &["BOGUS", "LAST"][..]),
        (7, &["AES-MK", "LAST", "NOSUCH"][..]),
    ] {
        let v = verb_response(round_trip(&mut s, id, &mkp(rules, &[0x11; 32])));
        assert_eq!((v.return_code, v.reason_code), (8, 33), "{rules:?}");
    }
    assert_eq!(stat_aes(&mut s, 8), aes_before);
    assert_serves(d.path());
    assert_eq!(stat_aes(&mut connect(d.path()), 9), aes_before);
}

#[test]
fn client_gone_mid_request() {
    let d = Daemon::start(memory_card(9));
    {
        let mut s = connect(d.path());
        let v = verb_response(round_trip(
            &mut s,
            1,
            &mkp(&["AES-MK", "FIRST"], &[0x33; 32]),
        ));
        assert_eq!((v.return_code, v.reason_code), (0, 0));
    }
    let before = card_state(d.path());
    for round in 0..5u64 {
        let mut s = connect(d.path());
        let mut frames = Vec::new();
        for i in 0..50u64 {
            let id = round * 100 + i;
            let body = match i % 3 {
                0 => mkp(&["SYM-MK", "CLEAR"], &[]),
                1 => mkp(&["ASYM-MK", "BOGUS"], &[]),
                _ => rngl(8192),
            };
            frames.extend(request_frame(id, &body));
        }
        s.write_all(&frames).unwrap();
        drop(s);
        assert_serves(d.path());
    }
    // Nothing the vanished clients sent changed a register that matters here.
    assert_eq!(card_state(d.path()), before);
    // And the card still completes a master-key ceremony for a new client.
    let mut s = connect(d.path());
    let v = verb_response(round_trip(
        &mut s,
        1,
        &mkp(&["AES-MK", "LAST"], &[0x44; 32]),
    ));
    assert_eq!((v.return_code, v.reason_code), (0, 0));
    let v = verb_response(round_trip(&mut s, 2, &mkp(&["AES-MK", "SET"], &[])));
    assert_eq!((v.return_code, v.reason_code), (0, 0));
    assert_eq!(
        stat_aes(&mut s, 3),
        vec![*b"1       ", *b"2       ", *b"1       "]
    );
}

/// After its shutdown future completes and `serve` returns, the daemon should serve no one:
/// connections it accepted earlier must be closed, not left running on the caller's runtime.
#[test]
fn shutdown_ends_existing_connections() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("card.sock");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let card = Arc::new(memory_card(10));
    let path = socket.clone();
    let server = runtime.spawn(async move {
        softcca_daemon::serve(card, &path, async {
            let _ = stopped.await;
        })
        .await
    });
    for _ in 0..2000 {
        // Listening, not just bound: the socket file appears at bind(), a moment before
        // listen(), and a connect in between is refused (a flake seen under load).
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut s = connect(&socket);
    assert!(matches!(
        round_trip(&mut s, 1, &ping(b"before")),
        ResponseBody::Ping(_)
    ));
    stop.send(()).unwrap();
    runtime.block_on(server).unwrap().unwrap();
    assert!(!socket.exists(), "serve removes its socket file");
    // serve has returned; the runtime is still alive (as in `softcca serve` between the
    // return of serve and the end of main, where the state directory's lock is released).
    // The daemon closed the connection: either the write already fails (broken pipe) or the
    // read that follows sees end-of-file.
    if s.write_all(&request_frame(2, &ping(b"after"))).is_ok() {
        expect_closed(&mut s);
    }
}
