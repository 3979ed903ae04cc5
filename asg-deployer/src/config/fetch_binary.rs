//! The fetch the boot script runs when the image has none: a Linux build of it uploaded with each
//! build to the config bucket (by default the one built beside asg-deploy), or one the operator
//! hosts at FETCH_URL. Stock images have none; an AMIID image is taken to have it baked in.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::image::Arch;

/// A Linux fetch executable checked to match the instances' architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// Where it is on this machine.
    pub path: PathBuf,
    /// Its SHA-256 (lower-case hex): the boot script runs it only if this matches.
    pub sha256: String,
    /// Its size in bytes, for the upload's message.
    pub len: u64,
    /// Its architecture.
    pub arch: Arch,
}

/// Where the instances' fetch comes from, as the settings say (before the image is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchSource {
    /// FETCH_URL and FETCH_SHA256: the operator hosts it.
    Url { url: String, sha256: String },
    /// FETCH_BINARY: uploaded with every build, whatever the image.
    Given(Binary),
    /// The fetch beside asg-deploy, uploaded when the image has none; the reason it cannot be
    /// when there is no such binary or it does not fit the instance type.
    Beside(Result<Binary, String>),
    /// AMIID or CLOUD_INIT_PATH, and nothing else given: the image or the script provides fetch.
    Image,
}

/// What the stack's instances get: the template's FetchUrl and FetchSha256 and what to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// The image has fetch; both parameters stay empty.
    Baked,
    /// Downloaded from the operator's URL.
    Url { url: String, sha256: String },
    /// Uploaded to `builds/<BUILD_NUMBER>/fetch`; FetchUrl stays empty, FetchSha256 says so.
    Upload(Binary),
}

impl FetchSource {
    /// What to install on an image that `has_fetch` or not; the reason when nothing fits.
    pub fn install(&self, has_fetch: bool) -> Result<Install, String> {
        match self {
            FetchSource::Url { url, sha256 } => Ok(Install::Url {
                url: url.clone(),
                sha256: sha256.clone(),
            }),
            FetchSource::Given(binary) => Ok(Install::Upload(binary.clone())),
            FetchSource::Beside(_) | FetchSource::Image if has_fetch => Ok(Install::Baked),
            FetchSource::Beside(found) => found.clone().map(Install::Upload),
            FetchSource::Image => Ok(Install::Baked),
        }
    }

    /// The longest FetchUrl and FetchSha256 these settings can put into the user data.
    pub fn longest_parameters(&self) -> (&str, &str) {
        const ANY_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";
        match self {
            FetchSource::Url { url, sha256 } => (url, sha256),
            FetchSource::Given(_) | FetchSource::Beside(_) => ("", ANY_SHA256),
            FetchSource::Image => ("", ""),
        }
    }
}

impl Install {
    /// The template's FetchUrl and FetchSha256.
    pub fn parameters(&self) -> (String, String) {
        match self {
            Install::Baked => Default::default(),
            Install::Url { url, sha256 } => (url.clone(), sha256.clone()),
            Install::Upload(binary) => (String::new(), binary.sha256.clone()),
        }
    }
}

/// The file FETCH_BINARY names, checked to be a Linux executable for `arch`.
pub fn given(path: &Path, arch: Arch) -> Result<Binary, String> {
    let shown = path.display();
    let what = format!(
        "a Linux fetch for {arch} instances (a static build: cargo build --release -p downloader --target {})",
        arch.musl_target()
    );
    let binary =
        read(path).map_err(|why| format!("FETCH_BINARY {shown} {why}: point it at {what}."))?;
    if binary.arch != arch {
        return Err(format!(
            "FETCH_BINARY {shown} is an {} build, but the instance type runs {arch}: point it at {what}.",
            binary.arch
        ));
    }
    Ok(binary)
}

/// The fetch in the directory of the running asg-deploy (as `cargo install` and release archives
/// put them), checked to be a Linux executable for `arch`.
pub fn beside_this_program(arch: Arch) -> Result<Binary, String> {
    let advice = format!(
        "set FETCH_BINARY to a Linux fetch for {arch} instances (cargo build --release -p downloader --target {}), FETCH_URL and FETCH_SHA256 to one you host, or AMIID to an image with /usr/local/bin/fetch",
        arch.musl_target()
    );
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .ok_or_else(|| format!("The directory of asg-deploy is unknown: {advice}."))?;
    let path = dir.join("fetch");
    let shown = path.display();
    let binary = read(&path).map_err(|why| {
        format!("Stock images have no fetch for the boot script, and {shown} {why}: {advice}.")
    })?;
    if binary.arch != arch {
        return Err(format!(
            "Stock images have no fetch for the boot script, and {shown} is an {} build while the instance type runs {arch}: {advice}.",
            binary.arch
        ));
    }
    Ok(binary)
}

/// Reads and hashes `path`; says what is wrong when it is no 64-bit Linux executable.
fn read(path: &Path) -> Result<Binary, String> {
    let mut file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_string(),
        _ => format!("cannot be read ({e})"),
    })?;
    let mut hasher = Sha256::new();
    let mut header = Vec::with_capacity(20);
    let mut buf = vec![0; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot be read ({e})"))?;
        if n == 0 {
            break;
        }
        if header.len() < 20 {
            header.extend_from_slice(&buf[..n.min(20 - header.len())]);
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    let arch = Arch::of_executable(&header)
        .ok_or_else(|| "is not a 64-bit Linux executable for x86_64 or arm64".to_string())?;
    let sha256 = hex::encode(hasher.finalize());
    Ok(Binary {
        path: path.to_path_buf(),
        sha256,
        len,
        arch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(dir: &Path, machine: u16) -> PathBuf {
        let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
        bytes.extend_from_slice(&machine.to_le_bytes());
        bytes.extend_from_slice(&[0; 100]);
        let path = dir.join(format!("fetch-{machine}"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_given_binary_must_be_a_linux_executable_of_the_instances_architecture() {
        let dir = tempfile::tempdir().unwrap();
        let x86 = executable(dir.path(), 62);
        let binary = given(&x86, Arch::X86_64).unwrap();
        assert_eq!(binary.len, 120);
        assert_eq!(binary.sha256.len(), 64);
        let wrong = given(&x86, Arch::Arm64).unwrap_err();
        assert!(
            wrong.contains("is an x86_64 build, but the instance type runs arm64"),
            "{wrong}"
        );
        assert!(
            wrong.contains("--target aarch64-unknown-linux-musl"),
            "{wrong}"
        );
        let script = dir.path().join("fetch.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let not_elf = given(&script, Arch::X86_64).unwrap_err();
        assert!(
            not_elf.contains("is not a 64-bit Linux executable"),
            "{not_elf}"
        );
        let missing = given(&dir.path().join("nothing"), Arch::X86_64).unwrap_err();
        assert!(
            missing.contains("nothing does not exist: point it at"),
            "{missing}"
        );
    }

    #[test]
    fn the_binary_beside_is_uploaded_only_to_images_without_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let binary = given(&executable(dir.path(), 62), Arch::X86_64).unwrap();
        let beside = FetchSource::Beside(Ok(binary.clone()));
        assert_eq!(beside.install(true), Ok(Install::Baked));
        assert_eq!(beside.install(false), Ok(Install::Upload(binary.clone())));
        let none = FetchSource::Beside(Err("no fetch".into()));
        assert_eq!(none.install(true), Ok(Install::Baked));
        assert_eq!(none.install(false), Err("no fetch".into()));
        let given = FetchSource::Given(binary.clone());
        assert_eq!(given.install(true), Ok(Install::Upload(binary.clone())));
        assert_eq!(
            Install::Upload(binary.clone()).parameters(),
            (String::new(), binary.sha256)
        );
    }
}
