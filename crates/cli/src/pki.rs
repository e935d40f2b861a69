//! `softcca firmware` and `softcca factory`: signing segment images, and making the PKI a
//! fleet of cards is manufactured with (a P-521 root, one class key per secure part number,
//! and a code-signing key).
//!
//! A factory directory holds `root.cert`, `code-signing.key`/`code-signing.cert` and, per
//! part number, `class-<PN>.key`/`class-<PN>.cert` and the class-key certificate file
//! `<PN>v.clu` that CLU's VA may be given. Private keys are PKCS#8 DER, written mode 0600;
//! the root's key (`root.key`) belongs offline once the class and code-signing keys exist.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use softcca_card::attest::Certificate;
use softcca_card::factory::{Factory, Issuer, parse_version};
use softcca_card::firmware::Image;
use softcca_card::model::Model;

#[derive(Args, Debug)]
pub struct FirmwareArgs {
    #[command(subcommand)]
    command: FirmwareCommand,
}

#[derive(Subcommand, Debug)]
enum FirmwareCommand {
    /// Build and sign a segment image (a `.clu` file for `softcca clu pl`).
    Build {
        /// Segment: 1 (Miniboot/POST), 2 (operating system), 3 (application).
        #[arg(long)]
        segment: u8,
        /// Version, `v.r.m`.
        #[arg(long)]
        version: String,
        /// Image name CLU shows, e.g. "5.6.10 CCA".
        #[arg(long)]
        name: String,
        /// Owner ID (2 = CCA).
        #[arg(long, default_value_t = 2)]
        owner: u16,
        /// Let the image replace a newer version.
        #[arg(long)]
        allow_rollback: bool,
        /// Make a Surrender Owner file instead of code.
        #[arg(long)]
        surrender: bool,
        /// Factory directory holding code-signing.key/.cert [default: the development keys].
        #[arg(long)]
        factory: Option<PathBuf>,
        /// Where to write the image.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct FactoryArgs {
    #[command(subcommand)]
    command: FactoryCommand,
}

#[derive(Subcommand, Debug)]
enum FactoryCommand {
    /// Make a new P-521 root and a code-signing key in DIR.
    NewRoot {
        /// The root's name.
        #[arg(long, default_value = "softcca operator root P-521")]
        subject: String,
        /// The factory directory to create.
        dir: PathBuf,
    },
    /// Make a class key for a secure part number, certified by DIR's root.
    NewClass {
        /// The secure part number (00LV498 for a 4767, 02WN769 for a 4769).
        #[arg(long)]
        part_number: String,
        /// The factory directory.
        dir: PathBuf,
    },
}

const VALID_FROM: u64 = 1_577_836_800; // 2020-01-01
const VALID_TO: u64 = 4_102_444_799; // 2099-12-31

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn load_issuer(dir: &Path, name: &str) -> Result<Issuer, String> {
    let key = zeroize::Zeroizing::new(read(&dir.join(format!("{name}.key")))?);
    let cert = Certificate::from_bytes(&read(&dir.join(format!("{name}.cert")))?)
        .map_err(|e| format!("{name}.cert: {e}"))?;
    Issuer::from_parts(&key, cert).map_err(|e| format!("{name}: {e}"))
}

fn save_issuer(dir: &Path, name: &str, issuer: &Issuer) -> Result<(), String> {
    write(&dir.join(format!("{name}.key")), issuer.pkcs8(), true)?;
    let cert = issuer.cert.to_bytes().map_err(|e| e.to_string())?;
    write(&dir.join(format!("{name}.cert")), &cert, false)
}

/// The factory in `dir` for `model`, or the development factory.
pub fn factory(dir: Option<&Path>, model: Model) -> Result<Factory, String> {
    let Some(dir) = dir else {
        return Factory::development(model).map_err(|e| e.to_string());
    };
    let root = Certificate::from_bytes(&read(&dir.join("root.cert"))?)
        .map_err(|e| format!("root.cert: {e}"))?;
    Ok(Factory {
        root,
        class: load_issuer(dir, &format!("class-{}", model.part_number()))?,
        code_signer: load_issuer(dir, "code-signing")?,
    })
}

pub fn firmware(args: FirmwareArgs) -> Result<(), String> {
    match args.command {
        FirmwareCommand::Build {
            segment,
            version,
            name,
            owner,
            allow_rollback,
            surrender,
            factory: dir,
            out,
        } => {
            let signer = match &dir {
                Some(d) => load_issuer(d, "code-signing")?,
                None => {
                    Factory::development(Model::Ibm4767)
                        .map_err(|e| e.to_string())?
                        .code_signer
                }
            };
            let mut image = Image {
                segment,
                owner,
                version: parse_version(&version)
                    .ok_or_else(|| format!("version {version}: use v.r.m"))?,
                allow_rollback,
                surrender,
                name,
                payload: b"softcca segment image".to_vec(),
                signature: Vec::new(),
            };
            signer.sign_image(&mut image).map_err(|e| e.to_string())?;
            write(&out, &image.to_bytes().map_err(|e| e.to_string())?, false)?;
            println!("softcca: wrote {}", out.display());
            Ok(())
        }
    }
}

pub fn factory_command(args: FactoryArgs) -> Result<(), String> {
    match args.command {
        FactoryCommand::NewRoot { subject, dir } => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let (root, _) =
                Issuer::new_root(&subject, VALID_FROM, VALID_TO).map_err(|e| e.to_string())?;
            save_issuer(&dir, "root", &root)?;
            let (signer, _) = Issuer::new_code_signer(
                &root,
                &format!("{subject} code signing"),
                VALID_FROM,
                VALID_TO,
            )
            .map_err(|e| e.to_string())?;
            save_issuer(&dir, "code-signing", &signer)?;
            println!(
                "softcca: root and code-signing key in {}; keep root.key offline",
                dir.display()
            );
            Ok(())
        }
        FactoryCommand::NewClass { part_number, dir } => {
            let root = load_issuer(&dir, "root")?;
            let (class, _) = Issuer::new_class(
                &root,
                &format!("{} class {part_number}", root.cert.subject),
                VALID_FROM,
                VALID_TO,
            )
            .map_err(|e| e.to_string())?;
            save_issuer(&dir, &format!("class-{part_number}"), &class)?;
            let cert = class.cert.to_bytes().map_err(|e| e.to_string())?;
            write(&dir.join(format!("{part_number}v.clu")), &cert, false)?;
            println!(
                "softcca: class key for {part_number} in {}, class-key certificate file {part_number}v.clu",
                dir.display()
            );
            Ok(())
        }
    }
}
