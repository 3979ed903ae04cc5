//! The stock images instances can boot when AMIID is not given, and the processor architecture
//! an instance type needs: the image and the fetch binary must both match it.

use std::fmt;

/// A stock image whose current AMI AWS's public SSM parameters name in every region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseImage {
    /// Canonical's Ubuntu 24.04 LTS, the default.
    Ubuntu2404,
    /// Debian 13 (trixie): the image the project's real boot rehearsal boots.
    Debian13,
}

/// The spellings BASE_IMAGE takes, in the order the help lists them.
pub const BASE_IMAGES: [(&str, BaseImage); 2] = [
    ("ubuntu-24.04", BaseImage::Ubuntu2404),
    ("debian-13", BaseImage::Debian13),
];

impl BaseImage {
    /// The image named `text` (`ubuntu-24.04`, `debian-13`), if it is one.
    pub fn parse(text: &str) -> Option<BaseImage> {
        BASE_IMAGES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
            .map(|&(_, image)| image)
    }

    /// The SSM parameter holding the image's current AMI id for `arch`.
    pub fn parameter(self, arch: Arch) -> &'static str {
        match (self, arch) {
            (BaseImage::Ubuntu2404, Arch::X86_64) => {
                "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
            }
            (BaseImage::Ubuntu2404, Arch::Arm64) => {
                "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"
            }
            (BaseImage::Debian13, Arch::X86_64) => "/aws/service/debian/release/13/latest/amd64",
            (BaseImage::Debian13, Arch::Arm64) => "/aws/service/debian/release/13/latest/arm64",
        }
    }
}

impl fmt::Display for BaseImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BaseImage::Ubuntu2404 => "Ubuntu 24.04 LTS",
            BaseImage::Debian13 => "Debian 13",
        })
    }
}

/// The processor architecture of an instance type or of a Linux executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Intel and AMD instances.
    X86_64,
    /// Graviton instances.
    Arm64,
}

impl Arch {
    /// Graviton families carry a `g` after the generation digit (t4g, m7g, c7gn, r8gd); GPU
    /// families start with it (g5, g6e) and are x86_64.
    pub fn of_instance_type(instance_type: &str) -> Arch {
        let family = instance_type.split('.').next().unwrap_or_default();
        let after_generation = family
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .trim_start_matches(|c: char| c.is_ascii_digit());
        if after_generation.contains('g') {
            Arch::Arm64
        } else {
            Arch::X86_64
        }
    }

    /// The architecture of a 64-bit little-endian ELF executable from its first bytes
    /// (`e_machine` at offset 18); `None` for anything else.
    pub fn of_executable(header: &[u8]) -> Option<Arch> {
        const EM_X86_64: u16 = 62;
        const EM_AARCH64: u16 = 183;
        let is_elf64_le = header.len() >= 20 && header[..4] == *b"\x7fELF" && header[4] == 2;
        if !is_elf64_le || header[5] != 1 {
            return None;
        }
        match u16::from_le_bytes([header[18], header[19]]) {
            EM_X86_64 => Some(Arch::X86_64),
            EM_AARCH64 => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// The Rust target a static build for this architecture is made for.
    pub fn musl_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_types_are_arm64() {
        for t in ["t3.micro", "g5.xlarge", "m7i.large", "c6in.large"] {
            assert_eq!(Arch::of_instance_type(t), Arch::X86_64, "{t}");
        }
        for t in ["t4g.small", "c7gn.large", "m7g.medium", "r8gd.xlarge"] {
            assert_eq!(Arch::of_instance_type(t), Arch::Arm64, "{t}");
        }
    }

    #[test]
    fn each_image_has_a_parameter_per_architecture() {
        assert_eq!(
            BaseImage::Debian13.parameter(Arch::Arm64),
            "/aws/service/debian/release/13/latest/arm64"
        );
        assert!(
            BaseImage::Ubuntu2404
                .parameter(Arch::X86_64)
                .contains("/24.04/")
        );
        assert!(
            BaseImage::Ubuntu2404
                .parameter(Arch::Arm64)
                .contains("/arm64/")
        );
        assert_eq!(BaseImage::parse("Debian-13"), Some(BaseImage::Debian13));
        assert_eq!(
            BaseImage::parse("ubuntu-24.04"),
            Some(BaseImage::Ubuntu2404)
        );
        assert_eq!(BaseImage::parse("debian-12"), None);
    }

    #[test]
    fn executables_are_told_apart_by_their_elf_header() {
        let elf = |machine: u16| {
            let mut h = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
            h.extend_from_slice(&machine.to_le_bytes());
            h
        };
        assert_eq!(Arch::of_executable(&elf(62)), Some(Arch::X86_64));
        assert_eq!(Arch::of_executable(&elf(183)), Some(Arch::Arm64));
        assert_eq!(Arch::of_executable(&elf(40)), None, "32-bit ARM");
        assert_eq!(Arch::of_executable(b"#!/bin/sh\necho fetch\n"), None);
        assert_eq!(Arch::of_executable(&elf(62)[..10]), None);
    }
}
