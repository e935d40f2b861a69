//! softcca "factory": the signing side of attestation and firmware.
//!
//! An [`Issuer`] holds an EC P-521 private key and its certificate. The root
//! issuer is self-signed; class issuers certify card device keys; code-signing
//! issuers sign firmware images. Keys are stored as PKCS#8 v1 DER, certificates
//! in softcca's own format ([`Certificate::to_bytes`]).

use std::fmt;

use crate::attest::{AttestError, Certificate, PublicKey, Role};
use crate::firmware::{FirmwareError, Image};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use zeroize::Zeroizing;

/// Longest device serial accepted by [`Issuer::certify_device`]
/// (the subject `"softcca device <serial>"` must fit in 64 characters).
pub const MAX_DEVICE_SERIAL_LEN: usize = 32;

/// Every failure of this crate.
#[derive(Debug)]
pub enum FactoryError {
    /// A certificate was malformed or failed to verify.
    Attest(AttestError),
    /// A firmware image was malformed.
    Firmware(FirmwareError),
    /// The private key could not be parsed as a P-521 PKCS#8 key.
    KeyRejected,
    /// Key generation, signing or random generation failed.
    Crypto,
    /// The issuer's role does not allow this operation.
    WrongRole {
        /// Role needed.
        expected: Role,
        /// Role of this issuer.
        found: Role,
    },
    /// The certificate's public key is not the private key's public half.
    KeyMismatch,
    /// The device serial is empty, too long or not printable ASCII.
    BadSerial,
}

impl fmt::Display for FactoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attest(e) => write!(f, "{e}"),
            Self::Firmware(e) => write!(f, "{e}"),
            Self::KeyRejected => f.write_str("private key is not a P-521 PKCS#8 key"),
            Self::Crypto => f.write_str("cryptographic operation failed"),
            Self::WrongRole { expected, found } => {
                write!(f, "issuer role is {found}, this needs {expected}")
            }
            Self::KeyMismatch => f.write_str("certificate does not match the private key"),
            Self::BadSerial => {
                f.write_str("device serial must be 1..=32 printable ASCII characters")
            }
        }
    }
}

impl std::error::Error for FactoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Attest(e) => Some(e),
            Self::Firmware(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AttestError> for FactoryError {
    fn from(e: AttestError) -> Self {
        Self::Attest(e)
    }
}

impl From<FirmwareError> for FactoryError {
    fn from(e: FirmwareError) -> Self {
        Self::Firmware(e)
    }
}

/// An EC P-521 signing key with its certificate.
///
/// The PKCS#8 copy is held in [`Zeroizing`] storage (wiped on drop); the
/// parsed key lives inside AWS-LC, which cleanses it when freed. `Debug`
/// shows the certificate's role and subject and the public key fingerprint,
/// never key bytes.
pub struct Issuer {
    key: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    /// This issuer's certificate.
    pub cert: Certificate,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("role", &self.cert.role)
            .field("subject", &self.cert.subject)
            .field(
                "public_key_sha256",
                &crate::attest::hex_string(&self.cert.public_key.fingerprint()),
            )
            .finish_non_exhaustive()
    }
}

fn generate_key() -> Result<(EcdsaKeyPair, Zeroizing<Vec<u8>>), FactoryError> {
    let key = EcdsaKeyPair::generate(&ECDSA_P521_SHA512_ASN1_SIGNING)
        .map_err(|_| FactoryError::Crypto)?;
    let doc = key.to_pkcs8v1().map_err(|_| FactoryError::Crypto)?;
    let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
    Ok((key, pkcs8))
}

fn ec_public(key: &EcdsaKeyPair) -> PublicKey {
    PublicKey::EcP521(key.public_key().as_ref().to_vec())
}

fn random_serial() -> Result<Vec<u8>, FactoryError> {
    let mut serial = vec![0u8; 16];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| FactoryError::Crypto)?;
    Ok(serial)
}

fn sign(key: &EcdsaKeyPair, msg: &[u8]) -> Result<Vec<u8>, FactoryError> {
    let sig = key
        .sign(&SystemRandom::new(), msg)
        .map_err(|_| FactoryError::Crypto)?;
    Ok(sig.as_ref().to_vec())
}

impl Issuer {
    fn require(&self, expected: Role) -> Result<(), FactoryError> {
        if self.cert.role != expected {
            return Err(FactoryError::WrongRole {
                expected,
                found: self.cert.role,
            });
        }
        Ok(())
    }

    /// Signs a certificate for `public_key` with this issuer's key.
    fn issue(
        &self,
        role: Role,
        subject: &str,
        serial: Vec<u8>,
        public_key: PublicKey,
        not_before: u64,
        not_after: u64,
    ) -> Result<Certificate, FactoryError> {
        let mut cert = Certificate {
            role,
            subject: subject.to_owned(),
            issuer: self.cert.subject.clone(),
            serial,
            not_before,
            not_after,
            public_key,
            signature: Vec::new(),
        };
        cert.signature = sign(&self.key, &cert.tbs()?)?;
        cert.verify_issued_by(&self.cert.public_key)?;
        Ok(cert)
    }

    fn new_subordinate(
        root: &Issuer,
        role: Role,
        subject: &str,
        not_before: u64,
        not_after: u64,
    ) -> Result<(Issuer, Zeroizing<Vec<u8>>), FactoryError> {
        root.require(Role::Root)?;
        let (key, pkcs8) = generate_key()?;
        let cert = root.issue(
            role,
            subject,
            random_serial()?,
            ec_public(&key),
            not_before,
            not_after,
        )?;
        let out = pkcs8.clone();
        Ok((Issuer { key, pkcs8, cert }, out))
    }

    /// Generates a self-signed root (role Root). Returns the issuer and its
    /// PKCS#8 v1 DER private key.
    pub fn new_root(
        subject: &str,
        not_before: u64,
        not_after: u64,
    ) -> Result<(Issuer, Zeroizing<Vec<u8>>), FactoryError> {
        let (key, pkcs8) = generate_key()?;
        let mut cert = Certificate {
            role: Role::Root,
            subject: subject.to_owned(),
            issuer: subject.to_owned(),
            serial: random_serial()?,
            not_before,
            not_after,
            public_key: ec_public(&key),
            signature: Vec::new(),
        };
        cert.signature = sign(&key, &cert.tbs()?)?;
        cert.verify_issued_by(&cert.public_key)?;
        let out = pkcs8.clone();
        Ok((Issuer { key, pkcs8, cert }, out))
    }

    /// Generates a class key certified by `root` (which must have role Root).
    pub fn new_class(
        root: &Issuer,
        subject: &str,
        not_before: u64,
        not_after: u64,
    ) -> Result<(Issuer, Zeroizing<Vec<u8>>), FactoryError> {
        Self::new_subordinate(root, Role::Class, subject, not_before, not_after)
    }

    /// Generates a code-signing key certified by `root` (which must have role Root).
    pub fn new_code_signer(
        root: &Issuer,
        subject: &str,
        not_before: u64,
        not_after: u64,
    ) -> Result<(Issuer, Zeroizing<Vec<u8>>), FactoryError> {
        Self::new_subordinate(root, Role::CodeSigning, subject, not_before, not_after)
    }

    /// Builds an issuer from PKCS#8 DER and a certificate, checking that the
    /// certificate's role is Root, Class or CodeSigning and that its public
    /// key is the key's public half.
    pub fn from_parts(pkcs8: &[u8], cert: Certificate) -> Result<Issuer, FactoryError> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_ASN1_SIGNING, pkcs8)
            .map_err(|_| FactoryError::KeyRejected)?;
        if cert.role == Role::Device {
            return Err(FactoryError::WrongRole {
                expected: Role::Class,
                found: Role::Device,
            });
        }
        if cert.public_key != ec_public(&key) {
            return Err(FactoryError::KeyMismatch);
        }
        Ok(Issuer {
            key,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
            cert,
        })
    }

    /// The issuer's private key, PKCS#8 v1 DER, for whoever stores it.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// This issuer's public key.
    pub fn public_key(&self) -> PublicKey {
        self.cert.public_key.clone()
    }

    /// Certifies a card's RSA device key (this issuer must have role Class).
    /// Subject is `"softcca device <serial>"`; the serial bytes are the
    /// certificate's serial number.
    pub fn certify_device(
        &self,
        device: &PublicKey,
        serial: &str,
        not_before: u64,
        not_after: u64,
    ) -> Result<Certificate, FactoryError> {
        self.require(Role::Class)?;
        if !matches!(device, PublicKey::Rsa(_)) {
            return Err(FactoryError::Attest(AttestError::WrongKeyType));
        }
        device.validate()?;
        if serial.is_empty()
            || serial.len() > MAX_DEVICE_SERIAL_LEN
            || !serial.bytes().all(|b| (0x20..=0x7e).contains(&b))
        {
            return Err(FactoryError::BadSerial);
        }
        self.issue(
            Role::Device,
            &format!("softcca device {serial}"),
            serial.as_bytes().to_vec(),
            device.clone(),
            not_before,
            not_after,
        )
    }

    /// Fills `image.signature` (this issuer must have role CodeSigning).
    pub fn sign_image(&self, image: &mut Image) -> Result<(), FactoryError> {
        self.require(Role::CodeSigning)?;
        let msg = image.signed_bytes()?;
        image.signature = sign(&self.key, &msg)?;
        image.verify(&self.cert.public_key)?;
        Ok(())
    }
}

/// What manufacturing needs: the root (whose public key CLU pins), the class key that
/// certifies device keys for one secure part number, and the code-signing key that signs
/// firmware images.
#[derive(Debug)]
pub struct Factory {
    /// The root certificate.
    pub root: Certificate,
    /// The class issuer.
    pub class: Issuer,
    /// The code-signing issuer.
    pub code_signer: Issuer,
}

/// The development PKI's files, compiled in.
mod development_pki {
    pub const ROOT_CERT: &[u8] = include_bytes!("../pki/dev-root.cert");
    pub const CODE_SIGNING_KEY: &[u8] = include_bytes!("../pki/dev-code-signing.key");
    pub const CODE_SIGNING_CERT: &[u8] = include_bytes!("../pki/dev-code-signing.cert");
    pub const CLASS_4767_KEY: &[u8] = include_bytes!("../pki/dev-class-00LV498.key");
    pub const CLASS_4767_CERT: &[u8] = include_bytes!("../pki/dev-class-00LV498.cert");
    pub const CLASS_4769_KEY: &[u8] = include_bytes!("../pki/dev-class-02WN769.key");
    pub const CLASS_4769_CERT: &[u8] = include_bytes!("../pki/dev-class-02WN769.cert");
}

/// The development root certificate: the root `softcca clu va` trusts unless told otherwise.
pub fn development_root() -> Result<Certificate, FactoryError> {
    Ok(Certificate::from_bytes(development_pki::ROOT_CERT)?)
}

impl Factory {
    /// softcca's development factory. **Its private keys are published in softcca's
    /// repository** (`crates/card/pki/`): a card it certified proves it is a softcca card,
    /// nothing more. An operator who needs more makes a root, class keys and a code-signing
    /// key of their own with `softcca factory` and gives them to `softcca serve --factory`.
    pub fn development(model: crate::model::Model) -> Result<Factory, FactoryError> {
        use crate::model::Model;
        let (class_key, class_cert) = match model {
            Model::Ibm4767 => (
                development_pki::CLASS_4767_KEY,
                development_pki::CLASS_4767_CERT,
            ),
            Model::Ibm4769 => (
                development_pki::CLASS_4769_KEY,
                development_pki::CLASS_4769_CERT,
            ),
        };
        Ok(Factory {
            root: development_root()?,
            class: Issuer::from_parts(class_key, Certificate::from_bytes(class_cert)?)?,
            code_signer: Issuer::from_parts(
                development_pki::CODE_SIGNING_KEY,
                Certificate::from_bytes(development_pki::CODE_SIGNING_CERT)?,
            )?,
        })
    }

    /// A signed image for `segment` of `model`'s firmware: the images a new card gets.
    pub fn firmware_image(
        &self,
        model: crate::model::Model,
        segment: u8,
    ) -> Result<Vec<u8>, FactoryError> {
        let (name, version, owner) = match segment {
            1 => (format!("{} POST/MB", model.miniboot()), model.miniboot(), 0),
            2 => {
                let (os, v) = model.os();
                (format!("{v} {os}"), v, crate::segments::OWNER_CCA)
            }
            _ => (
                format!("{} CCA {}", model.cca_version(), model.cca_build_date()),
                model.cca_version(),
                crate::segments::OWNER_CCA,
            ),
        };
        let mut image = Image {
            segment,
            owner,
            version: parse_version(version).ok_or(FactoryError::Crypto)?,
            allow_rollback: false,
            surrender: false,
            name,
            payload: format!(
                "softcca firmware for the IBM {} segment {segment}",
                model.number()
            )
            .into_bytes(),
            signature: Vec::new(),
        };
        self.code_signer.sign_image(&mut image)?;
        Ok(image.to_bytes()?)
    }
}

/// `v.r.m` as numbers.
pub fn parse_version(text: &str) -> Option<(u16, u16, u16)> {
    let mut parts = text.split('.').map(|p| p.parse::<u16>().ok());
    let v = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::{DeviceKey, SignedStatus, verify_chain};
    use crate::firmware::{OWNER_CCA, check_load};

    const NB: u64 = 1_700_000_000;
    const NA: u64 = 2_000_000_000;

    #[test]
    fn end_to_end_chain_and_status() {
        let (root, root_pkcs8) = Issuer::new_root("softcca root", NB, NA).unwrap();
        assert_eq!(root.cert.role, Role::Root);
        root.cert.verify_issued_by(&root.public_key()).unwrap();
        assert!(!root_pkcs8.is_empty());
        let (class, _) = Issuer::new_class(&root, "softcca class 4767", NB, NA).unwrap();
        assert_eq!(class.cert.issuer, "softcca root");
        let device = DeviceKey::generate().unwrap();
        let cert = class
            .certify_device(&device.public_key(), "SCCA0001", NB, NA)
            .unwrap();
        assert_eq!(cert.subject, "softcca device SCCA0001");
        assert_eq!(cert.serial, b"SCCA0001");
        verify_chain(&root.public_key(), &class.cert, &cert, NB + 1).unwrap();
        // Round trip through bytes.
        let class_cert = Certificate::from_bytes(&class.cert.to_bytes().unwrap()).unwrap();
        let dev_cert = Certificate::from_bytes(&cert.to_bytes().unwrap()).unwrap();
        verify_chain(&root.public_key(), &class_cert, &dev_cert, NB + 1).unwrap();
        // Another root rejects the chain.
        let (other, _) = Issuer::new_root("softcca root", NB, NA).unwrap();
        assert!(verify_chain(&other.public_key(), &class_cert, &dev_cert, NB + 1).is_err());
        // Status.
        let nonce = [0x5a; 32];
        let status =
            SignedStatus::sign(&device, &nonce, vec![("serial".into(), "SCCA0001".into())])
                .unwrap();
        status.verify(&dev_cert.public_key, &nonce).unwrap();
        assert!(status.verify(&dev_cert.public_key, &[0; 32]).is_err());
    }

    #[test]
    fn role_enforcement() {
        let (root, _) = Issuer::new_root("root", NB, NA).unwrap();
        let (class, _) = Issuer::new_class(&root, "class", NB, NA).unwrap();
        let (cs, _) = Issuer::new_code_signer(&root, "code", NB, NA).unwrap();
        assert_eq!(cs.cert.role, Role::CodeSigning);
        let device = DeviceKey::generate().unwrap().public_key();
        assert!(matches!(
            root.certify_device(&device, "1", NB, NA),
            Err(FactoryError::WrongRole { .. })
        ));
        assert!(matches!(
            cs.certify_device(&device, "1", NB, NA),
            Err(FactoryError::WrongRole { .. })
        ));
        assert!(matches!(
            Issuer::new_class(&class, "c2", NB, NA),
            Err(FactoryError::WrongRole { .. })
        ));
        assert!(matches!(
            class.certify_device(&root.public_key(), "1", NB, NA),
            Err(FactoryError::Attest(AttestError::WrongKeyType))
        ));
        assert!(matches!(
            class.certify_device(&device, "", NB, NA),
            Err(FactoryError::BadSerial)
        ));
        assert!(matches!(
            class.certify_device(&device, &"9".repeat(33), NB, NA),
            Err(FactoryError::BadSerial)
        ));
        class
            .certify_device(&device, &"9".repeat(32), NB, NA)
            .unwrap();
        // A code-signing cert can't stand in for a class cert.
        let cert = class.certify_device(&device, "1", NB, NA).unwrap();
        assert!(verify_chain(&root.public_key(), &cs.cert, &cert, NB).is_err());
        let mut img = sample_image();
        assert!(matches!(
            class.sign_image(&mut img),
            Err(FactoryError::WrongRole { .. })
        ));
        // Debug hides keys.
        let dbg = format!("{class:?}");
        assert!(dbg.contains("Issuer") && dbg.contains("class"));
        assert!(!dbg.contains(&hex::encode(&class.pkcs8[class.pkcs8.len() - 20..])));
    }

    fn sample_image() -> Image {
        Image {
            segment: 3,
            owner: OWNER_CCA,
            version: (5, 6, 9),
            allow_rollback: false,
            surrender: false,
            name: "5.6.9 CCA".into(),
            payload: b"cca application".to_vec(),
            signature: Vec::new(),
        }
    }

    #[test]
    fn sign_image_and_load() {
        let (root, _) = Issuer::new_root("root", NB, NA).unwrap();
        let (cs, _) = Issuer::new_code_signer(&root, "code", NB, NA).unwrap();
        let mut img = sample_image();
        cs.sign_image(&mut img).unwrap();
        let parsed = Image::from_bytes(&img.to_bytes().unwrap()).unwrap();
        parsed.verify(&cs.public_key()).unwrap();
        assert!(parsed.verify(&root.public_key()).is_err());
        check_load(None, &parsed, Some(OWNER_CCA)).unwrap();
    }
}
