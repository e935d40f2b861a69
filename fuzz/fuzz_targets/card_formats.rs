//! Parses arbitrary bytes as every format the card reads from outside its boundary or from
//! its own flash — certificates, signed status responses, segment images, DES and AES key
//! tokens, PKA token sections, rule-array keywords — and checks that whatever parses re-encodes to the same bytes.
//! its own flash — certificates, signed status responses, segment images, DES, AES and
//! variable-length (X'05') key tokens, rule-array keywords — and checks that whatever parses re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softcca_card::attest::{Certificate, PublicKey, SignedStatus};
use softcca_card::firmware::Image;
use softcca_card::rules;
use softcca_card::tokens::aes::AesToken;
use softcca_card::tokens::des::DesToken;
use softcca_card::tokens::var::VarToken;
use softcca_card::tokens::{pka, pka_ecc, pka_rsa};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::from_bytes(data) {
        assert_eq!(c.to_bytes().expect("re-encodes"), data);
    }
    if let Ok(s) = SignedStatus::from_bytes(data) {
        assert_eq!(s.to_bytes().expect("re-encodes"), data);
    }
    if let Ok(i) = Image::from_bytes(data) {
        assert_eq!(i.to_bytes().expect("re-encodes"), data);
    }
    if let Ok(k) = PublicKey::from_bytes(data) {
        assert_eq!(k.to_bytes().expect("re-encodes"), data);
    }
    // A null DES token may carry bytes IBM leaves free (16-39, 48-55: Key_Import reads an
    // enciphered single key at 16); the parser does not keep them, so only the other kinds
    // must re-encode exactly.
    if let Ok(t) = DesToken::parse(data)
        && !matches!(t, DesToken::Null)
    {
        assert_eq!(&t.to_bytes()[..], data);
    }
    if let Ok(t) = AesToken::parse(data) {
        assert_eq!(&t.to_bytes()[..], data);
    }
    // PKA tokens: framing never reads past the declared length; the public sections
    // re-encode to values that parse the same (IBM lets leading zero bytes be dropped, so the
    // bytes themselves may shrink).
    if let Ok(pka::Framed::Token { sections, .. }) = pka::frame(data) {
        for s in sections {
            if let Ok(p) = pka::RsaPublic::parse(s.bytes) {
                let again = p.to_bytes().expect("re-encodes");
                assert_eq!(pka::RsaPublic::parse(&again).expect("parses again"), p);
            }
            if let Ok(p) = pka::EccPublic::parse(s.bytes) {
                assert_eq!(p.to_bytes().expect("re-encodes"), s.bytes);
            }
            if let Ok(name) = pka::parse_name(s.bytes) {
                assert_eq!(pka::name_section(&name), s.bytes);
            }
            // The private sections: whatever parses re-encodes to something that parses the
            // same (never a panic on either side).
            if let Ok(p) = pka_ecc::EccPrivate::parse(s.bytes)
                && let Ok(again) = p.to_bytes()
            {
                assert_eq!(
                    pka_ecc::EccPrivate::parse(&again).map(|q| q.to_bytes().ok()),
                    Ok(Some(again.clone()))
                );
            }
            if let Ok(p) = pka_rsa::AesRsa::parse(s.bytes)
                && let Ok(again) = p.to_bytes()
            {
                assert_eq!(
                    pka_rsa::AesRsa::parse(&again).map(|q| q.to_bytes().ok()),
                    Ok(Some(again.clone()))
                );
            }
            if let Ok(p) = pka_rsa::ClearCrt::parse(s.bytes)
                && let Ok(again) = p.to_bytes()
            {
                assert_eq!(
                    pka_rsa::ClearCrt::parse(&again).map(|q| q.to_bytes().ok()),
                    Ok(Some(again.clone()))
                );
            }
        }
    }
    if let Ok(t) = VarToken::parse(data) {
        assert_eq!(t.to_bytes(), data);
    }
    for chunk in data.chunks_exact(8) {
        let mut element = [0u8; 8];
        element.copy_from_slice(chunk);
        let _ = rules::keyword(&element);
    }
});
