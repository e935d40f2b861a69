#![allow(clippy::unwrap_used)]

use super::*;

// ----------------------------------------------------------------------------
// Samples
// ----------------------------------------------------------------------------

fn text(n: usize) -> String {
    (0..n).map(|i| char::from(b' ' + (i % 95) as u8)).collect()
}

fn ping_req(echo_len: usize) -> PingRequest {
    PingRequest {
        min_version: 1,
        max_version: 3,
        echo: (0..echo_len).map(|i| i as u8).collect(),
    }
}

fn ping_resp(sw_len: usize, echo_len: usize) -> PingResponse {
    PingResponse {
        min_version: 1,
        max_version: 1,
        card_model: 4767,
        software: text(sw_len),
        echo: (0..echo_len).map(|i| (i * 7) as u8).collect(),
    }
}

fn verb_req(rules: usize, params: usize) -> VerbRequest {
    VerbRequest {
        verb: VerbName::new("CSNBRNGL").unwrap(),
        rule_array: (0..rules)
            .map(|i| [i as u8, 0xFF, 0, 1, 2, 3, 4, 5])
            .collect(),
        params: (0..params)
            .map(|i| {
                if i % 2 == 0 {
                    Param::Int(-(i as i32) - 1)
                } else {
                    Param::Bytes(vec![i as u8; i])
                }
            })
            .collect(),
    }
}

fn verb_resp(rules: usize, outputs: usize) -> VerbResponse {
    VerbResponse {
        return_code: 8,
        reason_code: -72,
        rule_array: (0..rules)
            .map(|i| {
                let mut k = *b"KEYWORD0";
                k[7] = b'0' + (i % 10) as u8;
                k
            })
            .collect(),
        outputs: (0..outputs)
            .map(|i| {
                if i % 2 == 1 {
                    Param::Int(i32::MIN)
                } else {
                    Param::Bytes(vec![0xA5; 3 * i])
                }
            })
            .collect(),
    }
}

fn dev_status(n: usize, name_len: usize, value_len: usize) -> DeviceStatus {
    DeviceStatus {
        fields: (0..n).map(|_| (text(name_len), text(value_len))).collect(),
    }
}

/// A varied set of valid (op, request) samples, including bounds.
fn requests() -> Vec<RequestBody> {
    vec![
        RequestBody::Ping(ping_req(0)),
        RequestBody::Ping(ping_req(5)),
        RequestBody::Ping(ping_req(MAX_ECHO as usize)),
        RequestBody::Verb(verb_req(0, 0)),
        RequestBody::Verb(verb_req(2, 3)),
        RequestBody::Verb(verb_req(MAX_RULE_ARRAY as usize, MAX_PARAMS as usize)),
        RequestBody::DeviceStatus,
        RequestBody::Reset,
        RequestBody::Load(LoadRequest { image: vec![] }),
        RequestBody::Load(LoadRequest {
            image: vec![0xA5; 4096],
        }),
        RequestBody::Sense(SenseRequest { sensor: 7 }),
        RequestBody::Attest(AttestRequest { nonce: vec![] }),
        RequestBody::Attest(AttestRequest {
            nonce: vec![1; MAX_NONCE as usize],
        }),
    ]
}

fn responses() -> Vec<(Op, ResponseBody)> {
    let mut v = vec![
        (Op::Ping, ResponseBody::Ping(ping_resp(0, 0))),
        (Op::Ping, ResponseBody::Ping(ping_resp(12, 4))),
        (
            Op::Ping,
            ResponseBody::Ping(ping_resp(MAX_SOFTWARE as usize, MAX_ECHO as usize)),
        ),
        (Op::Verb, ResponseBody::Verb(verb_resp(0, 0))),
        (Op::Verb, ResponseBody::Verb(verb_resp(1, 3))),
        (
            Op::Verb,
            ResponseBody::Verb(verb_resp(MAX_RULE_ARRAY as usize, MAX_PARAMS as usize)),
        ),
        (
            Op::DeviceStatus,
            ResponseBody::DeviceStatus(dev_status(0, 0, 0)),
        ),
        (
            Op::DeviceStatus,
            ResponseBody::DeviceStatus(dev_status(3, 8, 20)),
        ),
        (
            Op::DeviceStatus,
            ResponseBody::DeviceStatus(dev_status(
                MAX_STATUS_FIELDS as usize,
                MAX_FIELD_NAME as usize,
                MAX_FIELD_VALUE as usize,
            )),
        ),
        (
            Op::Reset,
            ResponseBody::Admin(AdminResult {
                driver_status: 0,
                message: String::new(),
            }),
        ),
        (
            Op::Sense,
            ResponseBody::Admin(AdminResult {
                driver_status: 0x8040_FFF9,
                message: "mesh tamper: card zeroized".into(),
            }),
        ),
        (
            Op::Load,
            ResponseBody::Admin(AdminResult {
                driver_status: 0,
                message: "x".repeat(MAX_DETAIL as usize),
            }),
        ),
        (
            Op::Attest,
            ResponseBody::Attest(AttestResponse {
                class_certificate: vec![1; 300],
                device_certificate: vec![],
                signed_status: vec![3; MAX_BLOB as usize],
            }),
        ),
    ];
    for op in Op::ALL {
        for (status, detail) in [
            (Status::BadFrame, String::new()),
            (Status::Busy, "try later".to_string()),
            (Status::Internal, text(MAX_DETAIL as usize)),
        ] {
            v.push((op, ResponseBody::Error { status, detail }));
        }
    }
    v
}

fn enc_req(b: &RequestBody) -> Vec<u8> {
    encode_request(b).unwrap().1
}

fn enc_resp(op: Op, b: &ResponseBody) -> Vec<u8> {
    encode_response(op, b).unwrap()
}

fn limit(field: &'static str, value: u32, max: u32) -> DecodeError {
    DecodeError::LimitExceeded { field, value, max }
}

fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

// ----------------------------------------------------------------------------
// Round trips
// ----------------------------------------------------------------------------

#[test]
fn request_round_trips() {
    for b in requests() {
        let (op, bytes) = encode_request(&b).unwrap();
        assert_eq!(op, b.op());
        assert_eq!(decode_request(op, &bytes).unwrap(), b);
    }
}

#[test]
fn response_round_trips() {
    for (op, b) in responses() {
        let bytes = enc_resp(op, &b);
        assert_eq!(decode_response(op, &bytes).unwrap(), b, "{op:?}");
    }
}

#[test]
fn whole_frames_equal_header_plus_body() {
    for (i, b) in requests().iter().enumerate() {
        let id = 1000 + i as u64;
        let (op, body) = encode_request(b).unwrap();
        assert_eq!(
            request_frame(id, b).unwrap(),
            frame(FrameKind::Request, op as u16, id, &body).unwrap()
        );
    }
    for (i, (op, b)) in responses().iter().enumerate() {
        let id = 2000 + i as u64;
        assert_eq!(
            response_frame(*op, id, b).unwrap(),
            frame(FrameKind::Response, *op as u16, id, &enc_resp(*op, b)).unwrap()
        );
    }
}

#[test]
fn every_status_round_trips() {
    for code in 1..=7u16 {
        let status = Status::from_u16(code).unwrap();
        assert_eq!(status.code(), code);
        let b = ResponseBody::Error {
            status,
            detail: "x".into(),
        };
        let bytes = enc_resp(Op::Verb, &b);
        assert_eq!(decode_response(Op::Verb, &bytes).unwrap(), b);
    }
    assert_eq!(Status::from_u16(0), Some(Status::Ok));
    assert_eq!(Status::from_u16(8), None);
    let mut bytes = enc_resp(Op::Verb, &responses()[14].1);
    put_u16(&mut bytes, 0, 8);
    assert_eq!(
        decode_response(Op::Verb, &bytes),
        Err(DecodeError::BadStatus(8))
    );
}

#[test]
fn known_encodings() {
    let (op, b) = encode_request(&RequestBody::Ping(PingRequest {
        min_version: 1,
        max_version: 2,
        echo: vec![0xAB],
    }))
    .unwrap();
    assert_eq!(op, Op::Ping);
    assert_eq!(b, [1, 2, 0, 0, 0, 1, 0xAB]);

    let mut w = Writer::new();
    Param::Int(-2).encode(&mut w).unwrap();
    Param::Bytes(vec![9, 8]).encode(&mut w).unwrap();
    assert_eq!(
        w.into_inner(),
        [1, 0, 0xFF, 0xFF, 0xFF, 0xFE, 2, 0, 0, 0, 0, 2, 9, 8]
    );

    let e = enc_resp(
        Op::Ping,
        &ResponseBody::Error {
            status: Status::Busy,
            detail: "b".into(),
        },
    );
    assert_eq!(e, [0, 6, 0, 0, 0, 1, b'b']);

    let h = Header::new(FrameKind::Response, 0x0010, 0x0102030405060708, 0x1234);
    assert_eq!(
        h.encode(),
        [
            b'S', b'C', b'C', b'A', 1, 2, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x12, 0x34, 0,
            0, 0, 0
        ]
    );
}

#[test]
fn max_param_len_round_trips_and_one_over_is_rejected() {
    let max = MAX_PARAM_LEN as usize;
    let b = RequestBody::Verb(VerbRequest {
        verb: VerbName::new("CSNDPKE").unwrap(),
        rule_array: vec![],
        params: vec![Param::Bytes(vec![7; max])],
    });
    let bytes = enc_req(&b);
    assert_eq!(decode_request(Op::Verb, &bytes).unwrap(), b);

    // One over, on the encode side.
    let mut w = Writer::new();
    assert!(matches!(
        Param::Bytes(vec![0; max + 1]).encode(&mut w),
        Err(EncodeError::LimitExceeded { .. })
    ));
    // One over, on the decode side (length field patched; the bytes are there).
    let mut raw = vec![2, 0];
    raw.extend_from_slice(&(MAX_PARAM_LEN + 1).to_be_bytes());
    raw.resize(raw.len() + max + 1, 0);
    assert_eq!(
        Param::decode(&mut Reader::new(&raw)),
        Err(limit("param length", MAX_PARAM_LEN + 1, MAX_PARAM_LEN))
    );
}

#[test]
fn body_over_max_is_not_encoded() {
    let big = Param::Bytes(vec![0; MAX_PARAM_LEN as usize]);
    let b = RequestBody::Verb(VerbRequest {
        verb: VerbName::new("A").unwrap(),
        rule_array: vec![],
        params: vec![big.clone(), big],
    });
    assert!(matches!(
        encode_request(&b),
        Err(EncodeError::BodyTooLarge { .. })
    ));
}

// ----------------------------------------------------------------------------
// Header
// ----------------------------------------------------------------------------

#[test]
fn header_round_trip_and_boundaries() {
    for (kind, body_len) in [
        (FrameKind::Request, 0),
        (FrameKind::Response, MAX_BODY),
        (FrameKind::Request, 17),
    ] {
        let h = Header::new(kind, 0xBEEF, u64::MAX, body_len);
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
    }
}

#[test]
fn header_errors() {
    let good = Header::new(FrameKind::Request, 0x0010, 42, 100).encode();

    let mut b = good;
    b[0] = b'X';
    assert_eq!(Header::decode(&b), Err(DecodeError::BadMagic(*b"XCCA")));

    for v in [0u8, 2, 255] {
        let mut b = good;
        b[4] = v;
        b[5] = 9; // bad kind too: version is checked first
        let e = Header::decode(&b).unwrap_err();
        assert_eq!(
            e,
            DecodeError::UnsupportedVersion {
                version: v,
                kind: 9,
                op: 0x0010,
                request_id: 42
            }
        );
        assert_eq!(e.request_id(), Some(42));
        assert_eq!(status_of(&e), Status::UnsupportedVersion);
    }

    for k in [0u8, 3, 255] {
        let mut b = good;
        b[5] = k;
        assert_eq!(Header::decode(&b), Err(DecodeError::BadKind(k)));
    }

    let mut b = good;
    b[16..20].copy_from_slice(&(MAX_BODY + 1).to_be_bytes());
    let e = Header::decode(&b).unwrap_err();
    assert_eq!(
        e,
        DecodeError::BodyTooLarge {
            request_id: 42,
            op: 0x0010,
            len: MAX_BODY + 1
        }
    );
    assert_eq!(status_of(&e), Status::TooLarge);

    for i in 20..24 {
        let mut b = good;
        b[i] = 1;
        assert_eq!(
            Header::decode(&b),
            Err(DecodeError::ReservedNotZero {
                field: "header.reserved"
            })
        );
    }

    // Op codes are not validated by the header.
    let mut b = good;
    b[6] = 0xFF;
    assert_eq!(Header::decode(&b).unwrap().op, 0xFF10);
}

#[test]
fn frames() {
    let body = enc_req(&RequestBody::Ping(ping_req(3)));
    let f = frame(FrameKind::Request, Op::Ping.code(), 7, &body).unwrap();
    assert_eq!(f.len(), HEADER_LEN + body.len());
    let (h, b) = decode_frame(&f).unwrap();
    assert_eq!(h, Header::new(FrameKind::Request, 1, 7, body.len() as u32));
    assert_eq!(b, &body[..]);

    // Body length must match exactly.
    let mut longer = f.clone();
    longer.push(0);
    assert!(matches!(
        decode_frame(&longer),
        Err(DecodeError::BodyLengthMismatch { .. })
    ));
    for cut in 0..f.len() {
        assert!(decode_frame(&f[..cut]).is_err());
    }

    let max = vec![0u8; MAX_BODY as usize];
    assert!(frame(FrameKind::Response, 1, 1, &max).is_ok());
    let over = vec![0u8; MAX_BODY as usize + 1];
    assert_eq!(
        frame(FrameKind::Response, 1, 1, &over),
        Err(EncodeError::BodyTooLarge {
            len: MAX_BODY as usize + 1
        })
    );
}

#[test]
fn ops() {
    for op in Op::ALL {
        assert_eq!(Op::from_u16(op.code()), Some(op));
        assert_eq!(Op::try_from(op.code()), Ok(op));
    }
    assert_eq!(Op::from_u16(0), None);
    let e = Op::try_from(0x0002).unwrap_err();
    assert_eq!(e, DecodeError::UnknownOp(2));
    assert_eq!(status_of(&e), Status::UnknownOp);
    assert_eq!(
        status_of(&DecodeError::TrailingBytes { count: 1 }),
        Status::BadFrame
    );
    assert_eq!(
        status_of(&DecodeError::BadMagic(*b"ABCD")),
        Status::BadFrame
    );
}

// ----------------------------------------------------------------------------
// Verb names
// ----------------------------------------------------------------------------

#[test]
fn verb_names() {
    let n = VerbName::new("CSNBRNGL").unwrap();
    assert_eq!(n.as_str(), "CSNBRNGL");
    assert_eq!(n.to_string(), "CSNBRNGL");
    let n = VerbName::new("A1").unwrap();
    assert_eq!(n.as_bytes(), b"A1      ");
    assert_eq!(n.as_str(), "A1");
    for bad in ["", "csnbrngl", "CSNBRNGLX", "A B", "A-", " A", "É"] {
        assert_eq!(VerbName::new(bad), None, "{bad:?}");
    }
    for bad in [
        *b"        ",
        *b" CSNBRNG",
        *b"CSN RNGL",
        *b"CSNB\0\0\0\0",
        *b"CSNB   \0",
        *b"csnbrngl",
    ] {
        let v = VerbName(bad);
        assert!(!v.is_valid());
        assert_eq!(v.as_str(), "");
        let req = RequestBody::Verb(VerbRequest {
            verb: v,
            rule_array: vec![],
            params: vec![],
        });
        assert_eq!(encode_request(&req), Err(EncodeError::BadVerbName(bad)));
        let mut bytes = enc_req(&RequestBody::Verb(verb_req(0, 0)));
        bytes[..8].copy_from_slice(&bad);
        assert_eq!(
            decode_request(Op::Verb, &bytes),
            Err(DecodeError::BadVerbName(bad))
        );
    }
}

// ----------------------------------------------------------------------------
// Strictness
// ----------------------------------------------------------------------------

/// Every cut point of an encoding of `len` bytes; for the few very large
/// (maximum-size) samples, every cut in the first and last 4 KiB and every
/// 61st in between, to keep the quadratic cost of the test in check.
fn cuts(len: usize) -> impl Iterator<Item = usize> {
    (0..len).filter(move |&c| len <= 16384 || c < 4096 || c + 4096 >= len || c % 61 == 0)
}

#[test]
fn truncation_at_every_cut_is_rejected() {
    for b in requests() {
        let bytes = enc_req(&b);
        for cut in cuts(bytes.len()) {
            assert!(
                decode_request(b.op(), &bytes[..cut]).is_err(),
                "{b:?} {cut}"
            );
        }
    }
    for (op, b) in responses() {
        let bytes = enc_resp(op, &b);
        for cut in cuts(bytes.len()) {
            assert!(decode_response(op, &bytes[..cut]).is_err(), "{op:?} {cut}");
        }
    }
    let h = Header::new(FrameKind::Request, 1, 1, 0).encode();
    for cut in 0..HEADER_LEN {
        assert!(decode_frame(&h[..cut]).is_err());
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    for b in requests() {
        let mut bytes = enc_req(&b);
        bytes.push(0);
        assert_eq!(
            decode_request(b.op(), &bytes),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }
    for (op, b) in responses() {
        let mut bytes = enc_resp(op, &b);
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(
            decode_response(op, &bytes),
            Err(DecodeError::TrailingBytes { count: 2 })
        );
    }
    let mut r = Reader::new(&[1, 2, 3]);
    assert_eq!(r.u16().unwrap(), 0x0102);
    assert_eq!(r.finish(), Err(DecodeError::TrailingBytes { count: 1 }));
}

fn reserved(field: &'static str) -> DecodeError {
    DecodeError::ReservedNotZero { field }
}

#[test]
fn reserved_fields_are_rejected() {
    // Ping request: bytes 2..4.
    let bytes = enc_req(&RequestBody::Ping(ping_req(2)));
    for i in 2..4 {
        let mut b = bytes.clone();
        b[i] = 0x80;
        assert_eq!(decode_request(Op::Ping, &b), Err(reserved("ping.reserved")));
    }

    // Verb request with 1 rule and [Int, Bytes]: verb(8) rc(2) res(2) rule(8)
    // pc(2) res(2) param0: tag, res, i32 param1: tag, res, ...
    let bytes = enc_req(&RequestBody::Verb(verb_req(1, 2)));
    let cases: [(usize, &'static str); 4] = [
        (10, "verb.rule reserved"),
        (22, "verb.param reserved"),
        (25, "param.reserved"),
        (31, "param.reserved"),
    ];
    for (at, field) in cases {
        let mut b = bytes.clone();
        b[at] = 1;
        assert_eq!(decode_request(Op::Verb, &b), Err(reserved(field)), "{at}");
    }

    // Verb response with 1 rule and [Bytes(empty), Int]: status(4) rc(4)
    // reason(4) count(2) res(2) rule(8) oc(2) res(2) p0: tag res len(4) p1: tag res
    let bytes = enc_resp(Op::Verb, &ResponseBody::Verb(verb_resp(1, 2)));
    let cases: [(usize, &'static str); 5] = [
        (2, "response.status reserved"),
        (14, "verb.rule reserved"),
        (26, "verb.output reserved"),
        (29, "param.reserved"),
        (35, "param.reserved"),
    ];
    for (at, field) in cases {
        let mut b = bytes.clone();
        b[at] = 1;
        assert_eq!(decode_response(Op::Verb, &b), Err(reserved(field)), "{at}");
    }

    // Device status: status(4), count(2), reserved(2).
    let bytes = enc_resp(
        Op::DeviceStatus,
        &ResponseBody::DeviceStatus(dev_status(1, 1, 1)),
    );
    for i in 6..8 {
        let mut b = bytes.clone();
        b[i] = 1;
        assert_eq!(
            decode_response(Op::DeviceStatus, &b),
            Err(reserved("status.reserved"))
        );
    }

    // Status reserved, for every op and on error responses.
    for (op, body) in responses() {
        let bytes = enc_resp(op, &body);
        for i in 2..4 {
            let mut b = bytes.clone();
            b[i] = 0x01;
            assert_eq!(
                decode_response(op, &b),
                Err(reserved("response.status reserved"))
            );
        }
    }
}

#[test]
fn lengths_one_over_are_rejected() {
    // Ping echo: request at offset 4, response after status(4)+2+2 = 8,
    // then software length, then echo length.
    let mut b = enc_req(&RequestBody::Ping(ping_req(0)));
    put_u16(&mut b, 4, MAX_ECHO + 1);
    b.resize(b.len() + MAX_ECHO as usize + 1, 0);
    assert_eq!(
        decode_request(Op::Ping, &b),
        Err(limit("ping.echo length", 257, 256))
    );

    let mut b = enc_resp(Op::Ping, &ResponseBody::Ping(ping_resp(0, 0)));
    put_u16(&mut b, 8, MAX_SOFTWARE + 1);
    assert_eq!(
        decode_response(Op::Ping, &b),
        Err(limit("ping.software", 65, 64))
    );
    let mut b = enc_resp(Op::Ping, &ResponseBody::Ping(ping_resp(0, 0)));
    put_u16(&mut b, 10, MAX_ECHO + 1);
    assert_eq!(
        decode_response(Op::Ping, &b),
        Err(limit("ping.echo length", 257, 256))
    );

    // Verb request counts.
    let mut b = enc_req(&RequestBody::Verb(verb_req(0, 0)));
    put_u16(&mut b, 8, MAX_RULE_ARRAY + 1);
    assert_eq!(
        decode_request(Op::Verb, &b),
        Err(limit("verb.rule count", 65, 64))
    );
    let mut b = enc_req(&RequestBody::Verb(verb_req(0, 0)));
    put_u16(&mut b, 12, MAX_PARAMS + 1);
    assert_eq!(
        decode_request(Op::Verb, &b),
        Err(limit("verb.param count", 17, 16))
    );

    // Verb response counts: status(4) rc(4) reason(4) then rule count at 12.
    let mut b = enc_resp(Op::Verb, &ResponseBody::Verb(verb_resp(0, 0)));
    put_u16(&mut b, 12, MAX_RULE_ARRAY + 1);
    assert_eq!(
        decode_response(Op::Verb, &b),
        Err(limit("verb.rule count", 65, 64))
    );
    let mut b = enc_resp(Op::Verb, &ResponseBody::Verb(verb_resp(0, 0)));
    put_u16(&mut b, 16, MAX_PARAMS + 1);
    assert_eq!(
        decode_response(Op::Verb, &b),
        Err(limit("verb.output count", 17, 16))
    );

    // Device status: count at 4; first name length at 8; first value length
    // at 10 when the name is empty.
    let mut b = enc_resp(
        Op::DeviceStatus,
        &ResponseBody::DeviceStatus(dev_status(0, 0, 0)),
    );
    put_u16(&mut b, 4, MAX_STATUS_FIELDS + 1);
    assert_eq!(
        decode_response(Op::DeviceStatus, &b),
        Err(limit("status.field count", 129, 128))
    );
    let mut b = enc_resp(
        Op::DeviceStatus,
        &ResponseBody::DeviceStatus(dev_status(1, 0, 0)),
    );
    put_u16(&mut b, 8, MAX_FIELD_NAME + 1);
    assert_eq!(
        decode_response(Op::DeviceStatus, &b),
        Err(limit("status.field name", 65, 64))
    );
    let mut b = enc_resp(
        Op::DeviceStatus,
        &ResponseBody::DeviceStatus(dev_status(1, 0, 0)),
    );
    put_u16(&mut b, 10, MAX_FIELD_VALUE + 1);
    assert_eq!(
        decode_response(Op::DeviceStatus, &b),
        Err(limit("status.field value", 513, 512))
    );

    // Error detail at 4.
    let mut b = enc_resp(
        Op::Ping,
        &ResponseBody::Error {
            status: Status::Busy,
            detail: String::new(),
        },
    );
    put_u16(&mut b, 4, MAX_DETAIL + 1);
    assert_eq!(
        decode_response(Op::Ping, &b),
        Err(limit("error.detail", 257, 256))
    );
}

#[test]
fn encoders_reject_what_decoders_would() {
    let over = |r: Result<Vec<u8>, EncodeError>| {
        assert!(matches!(r, Err(EncodeError::LimitExceeded { .. })), "{r:?}")
    };
    let req = |b: RequestBody| encode_request(&b).map(|(_, v)| v);
    over(req(RequestBody::Ping(ping_req(MAX_ECHO as usize + 1))));
    over(req(RequestBody::Verb(verb_req(
        MAX_RULE_ARRAY as usize + 1,
        0,
    ))));
    over(req(RequestBody::Verb(verb_req(0, MAX_PARAMS as usize + 1))));
    let resp = |op, b| encode_response(op, &b);
    over(resp(
        Op::Ping,
        ResponseBody::Ping(ping_resp(MAX_SOFTWARE as usize + 1, 0)),
    ));
    over(resp(
        Op::Ping,
        ResponseBody::Ping(ping_resp(0, MAX_ECHO as usize + 1)),
    ));
    over(resp(
        Op::Verb,
        ResponseBody::Verb(verb_resp(MAX_RULE_ARRAY as usize + 1, 0)),
    ));
    over(resp(
        Op::Verb,
        ResponseBody::Verb(verb_resp(0, MAX_PARAMS as usize + 1)),
    ));
    over(resp(
        Op::DeviceStatus,
        ResponseBody::DeviceStatus(dev_status(MAX_STATUS_FIELDS as usize + 1, 0, 0)),
    ));
    over(resp(
        Op::DeviceStatus,
        ResponseBody::DeviceStatus(dev_status(1, MAX_FIELD_NAME as usize + 1, 0)),
    ));
    over(resp(
        Op::DeviceStatus,
        ResponseBody::DeviceStatus(dev_status(1, 0, MAX_FIELD_VALUE as usize + 1)),
    ));
    over(resp(
        Op::Verb,
        ResponseBody::Error {
            status: Status::Internal,
            detail: text(MAX_DETAIL as usize + 1),
        },
    ));
    // A u16 wrap-around must not sneak through.
    over(req(RequestBody::Ping(ping_req(65536))));

    assert_eq!(
        resp(
            Op::Ping,
            ResponseBody::Error {
                status: Status::Ok,
                detail: String::new()
            }
        ),
        Err(EncodeError::OkStatusInError)
    );
    assert_eq!(
        resp(Op::Verb, ResponseBody::Ping(ping_resp(0, 0))),
        Err(EncodeError::OpMismatch { op: Op::Verb })
    );
    for bad in ["tab\there", "é", "nl\n", "\u{7f}"] {
        let fields = vec![("name".to_string(), bad.to_string())];
        assert_eq!(
            resp(
                Op::DeviceStatus,
                ResponseBody::DeviceStatus(DeviceStatus { fields })
            ),
            Err(EncodeError::NotPrintable {
                field: "status.field value"
            })
        );
    }
}

#[test]
fn non_printable_text_is_rejected() {
    // Error detail "ab": status(4) len(2) 'a' 'b'.
    let good = enc_resp(
        Op::Verb,
        &ResponseBody::Error {
            status: Status::Busy,
            detail: "ab".into(),
        },
    );
    for bad in [0x00u8, 0x1F, 0x7F, 0x80, 0xFF] {
        let mut b = good.clone();
        b[7] = bad;
        assert_eq!(
            decode_response(Op::Verb, &b),
            Err(DecodeError::NotPrintable {
                field: "error.detail"
            })
        );
    }
    // Ping software: status(4) min max model(2) len(2) then text at 10.
    let good = enc_resp(Op::Ping, &ResponseBody::Ping(ping_resp(3, 0)));
    let mut b = good.clone();
    b[10] = b'\n';
    assert_eq!(
        decode_response(Op::Ping, &b),
        Err(DecodeError::NotPrintable {
            field: "ping.software"
        })
    );
    // Device status name at 10.
    let good = enc_resp(
        Op::DeviceStatus,
        &ResponseBody::DeviceStatus(dev_status(1, 2, 2)),
    );
    let mut b = good.clone();
    b[10] = 0;
    assert_eq!(
        decode_response(Op::DeviceStatus, &b),
        Err(DecodeError::NotPrintable {
            field: "status.field name"
        })
    );
}

#[test]
fn bad_param_tags_are_rejected() {
    // Verb request, no rules, one param: param tag at 16.
    let good = enc_req(&RequestBody::Verb(verb_req(0, 1)));
    for tag in [0u8, 3, 0xFF] {
        let mut b = good.clone();
        b[16] = tag;
        assert_eq!(
            decode_request(Op::Verb, &b),
            Err(DecodeError::BadParamTag(tag))
        );
    }
}

#[test]
fn device_status_request_is_empty() {
    assert_eq!(
        decode_request(Op::DeviceStatus, &[]),
        Ok(RequestBody::DeviceStatus)
    );
    assert_eq!(
        decode_request(Op::DeviceStatus, &[0]),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
}

#[test]
fn errors_display() {
    let errors = [
        DecodeError::BadMagic(*b"ABCD"),
        DecodeError::Truncated {
            needed: 4,
            remaining: 1,
        },
        limit("x", 2, 1),
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
        let _: &dyn std::error::Error = &e;
    }
    assert!(!EncodeError::OkStatusInError.to_string().is_empty());
}

// ----------------------------------------------------------------------------
// Mutation loop
// ----------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Decodes `bytes` every possible way; every success must re-encode to the
/// very same bytes (the encoding is canonical).
pub(crate) fn check_all(bytes: &[u8]) -> usize {
    let mut ok = 0;
    for op in Op::ALL {
        if let Ok(v) = decode_request(op, bytes) {
            let (op2, again) = encode_request(&v).unwrap();
            assert_eq!(op2, op);
            assert_eq!(again, bytes);
            ok += 1;
        }
        if let Ok(v) = decode_response(op, bytes) {
            let again = encode_response(op, &v).unwrap();
            assert_eq!(again, bytes);
            ok += 1;
        }
    }
    if let Some(h) = bytes.first_chunk::<HEADER_LEN>()
        && let Ok(h2) = Header::decode(h)
    {
        assert_eq!(&h2.encode(), h);
    }
    if let Ok((h, body)) = decode_frame(bytes) {
        assert_eq!(frame(h.kind, h.op, h.request_id, body).unwrap(), bytes);
    }
    ok
}

#[test]
fn mutation_loop_never_panics() {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for b in requests() {
        let (op, body) = encode_request(&b).unwrap();
        // Keep the big ones out: they make the loop slow without adding much.
        if body.len() < 4096 {
            seeds.push(frame(FrameKind::Request, op.code(), 1, &body).unwrap());
            seeds.push(body);
        }
    }
    for (op, b) in responses() {
        let body = enc_resp(op, &b);
        if body.len() < 4096 {
            seeds.push(frame(FrameKind::Response, op.code(), 2, &body).unwrap());
            seeds.push(body);
        }
    }
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut successes = 0usize;
    for _ in 0..20_000 {
        let mut buf = seeds[rng.below(seeds.len())].clone();
        let rounds = 1 + rng.below(4);
        for _ in 0..rounds {
            match rng.below(6) {
                0 if !buf.is_empty() => {
                    let i = rng.below(buf.len());
                    buf[i] ^= 1 << rng.below(8);
                }
                1 if !buf.is_empty() => {
                    let i = rng.below(buf.len());
                    buf[i] = rng.next() as u8;
                }
                2 => {
                    let cut = rng.below(buf.len() + 1);
                    buf.truncate(cut);
                }
                3 => {
                    let i = rng.below(buf.len() + 1);
                    buf.insert(i, rng.next() as u8);
                }
                4 if !buf.is_empty() => {
                    // Small counts / lengths are the interesting values.
                    let i = rng.below(buf.len());
                    buf[i] = [0, 1, 0x3F, 0x40, 0x41, 0x7F, 0x80, 0xFF][rng.below(8)];
                }
                _ => {
                    let i = rng.below(buf.len() + 1);
                    buf.truncate(i);
                    buf.extend_from_slice(&[0; 4][..rng.below(5)]);
                }
            }
        }
        successes += check_all(&buf);
    }
    // Sanity: the loop does reach the success path.
    assert!(successes > 100, "{successes}");
}

#[test]
fn seeds_are_canonical() {
    for b in requests() {
        assert!(check_all(&enc_req(&b)) >= 1);
    }
    for (op, b) in responses() {
        assert!(check_all(&enc_resp(op, &b)) >= 1);
    }
}
