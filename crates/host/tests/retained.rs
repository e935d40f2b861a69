//! Retained keys through the host library: CSNDPKG RETAIN, signing and extraction by the
//! retained key's label (which is not a key-storage record), CSNDRKL and CSNDRKD, and the
//! keys kept across a restart of an embedded card on its state directory.

use softcca_card::Codes;
use softcca_host::{Cca, Family, PkaBuildExtras};

fn label(text: &str) -> [u8; 64] {
    let mut l = [b' '; 64];
    l[..text.len()].copy_from_slice(text.as_bytes());
    l
}

fn crt_skeleton_kvs() -> Vec<u8> {
    let mut k = vec![0u8; 18];
    k[0..2].copy_from_slice(&2048u16.to_be_bytes());
    k[4..6].copy_from_slice(&3u16.to_be_bytes());
    k.extend_from_slice(&[1, 0, 1]);
    k
}

fn retain(cca: &Cca, name: &str) -> Vec<u8> {
    let skeleton = cca
        .pka_key_token_build(
            &["RSA-CRT", "SIG-ONLY"],
            &crt_skeleton_kvs(),
            PkaBuildExtras {
                private_key_name: &label(name),
                ..PkaBuildExtras::default()
            },
        )
        .expect("CSNDPKB RSA-CRT skeleton");
    let (public, codes) = cca
        .pka_key_generate(&["RETAIN"], &[], &skeleton, &[0u8; 64])
        .expect("CSNDPKG RETAIN");
    assert_eq!(codes, Codes::new(0, 0));
    public
}

fn names(list: &softcca_host::RetainedKeyList) -> Vec<String> {
    list.labels
        .iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .collect()
}

#[test]
fn retained_keys_by_label_beside_key_storage_and_across_a_restart() {
    let home = tempfile::tempdir().expect("tempdir");
    let hash = [0x5Au8; 32];
    let public = {
        let cca = Cca::embedded(home.path(), None).expect("embedded card");
        let public = retain(&cca, "RET.SIGNER");
        // The label is no key-storage record, yet signing and extraction by it work.
        assert!(
            cca.key_record_read(Family::Pka, &label("RET.SIGNER"))
                .is_err()
        );
        let (sig, bits, codes) = cca
            .digital_signature_generate(&["PKCS-1.1"], &label("RET.SIGNER"), &hash, 512)
            .expect("CSNDDSG by retained label");
        assert_eq!((bits, codes), (2048, Codes::new(0, 0)));
        let extracted = cca
            .pka_public_key_extract(&[], &label("RET.SIGNER"))
            .expect("CSNDPKX by retained label");
        assert_eq!(
            cca.digital_signature_verify(&["PKCS-1.1"], &extracted, &hash, &sig)
                .expect("CSNDDSV"),
            Codes::new(0, 0)
        );
        // A label found neither in key storage nor in the card: 8/30.
        let err = cca
            .digital_signature_generate(&["PKCS-1.1"], &label("NOWHERE"), &hash, 512)
            .expect_err("unknown label");
        assert_eq!(err.codes, Codes::new(8, 30));
        // A key-storage record of the same name as a retained key wins (IBM: a retained
        // key's label must not name a host record).
        cca.key_record_create(Family::Pka, &label("RET.SIGNER"), &extracted)
            .expect("record");
        let err = cca
            .digital_signature_generate(&["PKCS-1.1"], &label("RET.SIGNER"), &hash, 512)
            .expect_err("a public record cannot sign");
        assert_eq!(err.codes, Codes::new(8, 47));
        cca.key_record_delete(Family::Pka, &["LABEL-DL"], &label("RET.SIGNER"))
            .expect("record deleted");
        public
    };
    // A restart of the embedded card keeps the retained key.
    let cca = Cca::embedded(home.path(), None).expect("embedded card again");
    retain(&cca, "RET.OTHER");
    let list = cca.retained_key_list(&label("RET.*"), 10).expect("CSNDRKL");
    assert_eq!(list.retained_keys_count, 2);
    assert_eq!(names(&list), ["RET.OTHER", "RET.SIGNER"]);
    let list = cca.retained_key_list(&label("*"), 1).expect("CSNDRKL one");
    assert_eq!((list.retained_keys_count, list.labels.len()), (2, 1));
    let extracted = cca
        .pka_public_key_extract(&[], &label("RET.SIGNER"))
        .expect("CSNDPKX after restart");
    assert_eq!(&public[8..8 + 12], &extracted[8..8 + 12]);
    // Delete.
    assert_eq!(
        cca.retained_key_delete(&label("RET.SIGNER"))
            .expect("CSNDRKD"),
        Codes::new(0, 0)
    );
    let err = cca
        .retained_key_delete(&label("RET.SIGNER"))
        .expect_err("deleted twice");
    assert_eq!(err.codes, Codes::new(8, 1026));
    let err = cca
        .retained_key_list(&label("BAD**"), 1)
        .expect_err("bad mask");
    assert_eq!(err.codes, Codes::new(8, 32));
    assert_eq!(
        names(&cca.retained_key_list(&label("*"), 10).expect("list")),
        ["RET.OTHER"]
    );
}
