//! Decodes arbitrary bytes every way the wire allows and checks that every
//! successful decode re-encodes to an equal value (and, the encoding being
//! canonical, to the very same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use softcca_wire::{
    HEADER_LEN, Header, Op, decode_frame, decode_request, decode_response, encode_request,
    encode_response, frame, status_of,
};

fuzz_target!(|data: &[u8]| {
    // Header from the first 24 bytes, if present; the rest is a body.
    let body = match data.split_first_chunk::<HEADER_LEN>() {
        Some((head, rest)) => {
            match Header::decode(head) {
                Ok(h) => {
                    let again = Header::decode(&h.encode()).expect("header re-decodes");
                    assert_eq!(again, h);
                    assert_eq!(&h.encode(), head);
                }
                Err(e) => {
                    // Must map to a status without panicking.
                    let _ = status_of(&e);
                }
            }
            rest
        }
        None => data,
    };

    for op in [Op::Ping, Op::Verb, Op::DeviceStatus] {
        for input in [body, data] {
            if let Ok(req) = decode_request(op, input) {
                let (op2, bytes) = encode_request(&req).expect("decoded request re-encodes");
                assert_eq!(op2, op);
                assert_eq!(decode_request(op, &bytes).expect("re-decodes"), req);
                assert_eq!(bytes, input);
            }
            if let Ok(resp) = decode_response(op, input) {
                let bytes = encode_response(op, &resp).expect("decoded response re-encodes");
                assert_eq!(decode_response(op, &bytes).expect("re-decodes"), resp);
                assert_eq!(bytes, input);
            }
        }
    }

    if let Ok((h, b)) = decode_frame(data) {
        let bytes = frame(h.kind, h.op, h.request_id, b).expect("decoded frame re-encodes");
        assert_eq!(bytes, data);
    }
});
