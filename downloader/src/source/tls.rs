//! TLS settings for https URLs: the system's trusted roots plus any `--ca-cert`, with the system
//! roots read on the first certificate check instead of at start.
//!
//! Reading them means opening and parsing about 150 files; measured on 1000 small files over plain
//! http that was 5 % of the run's CPU time, spent on certificates no http URL ever needs.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

/// The CA certificates of `--ca-cert`, checked once when the options are read: the PEM as given
/// (the AWS SDK's trust store takes PEM) and the certificates in it (what rustls takes).
#[derive(Debug, Clone)]
pub struct CaCert {
    /// The file's contents.
    pub pem: Vec<u8>,
    /// Its certificates, each usable as a trust anchor.
    pub roots: Vec<CertificateDer<'static>>,
}

impl CaCert {
    /// The certificates of a PEM bundle; the error says why it cannot serve as trust anchors.
    pub fn parse(pem: Vec<u8>) -> std::result::Result<CaCert, String> {
        let roots = parse_roots(&pem)?;
        Ok(CaCert { pem, roots })
    }
}

/// The client TLS configuration every http client of a run shares (and with it one verifier, so
/// the roots are read at most once). `extra_roots` are the certificates of `--ca-cert`.
pub fn client_config(extra_roots: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = LazyVerifier {
        provider: provider.clone(),
        extra_roots: extra_roots.to_vec(),
        inner: OnceLock::new(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("cannot set up https: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Whether an HTTP client's error text says the TLS handshake or certificate check failed, the
/// case `--ca-cert` can fix; reqwest reports it only as text (the AWS SDK's errors carry
/// rustls's own, see [`crate::source::cause`]). A connection
/// closed without TLS's `close_notify` is a dropped connection, to be retried like any other.
pub fn is_certificate_failure(cause: &str) -> bool {
    let lower = cause.to_ascii_lowercase();
    let dropped = lower.contains("close_notify") || lower.contains("unexpected eof");
    !dropped
        && (lower.contains("certificate")
            || lower.contains("unknownissuer")
            || lower.contains("tls"))
}

/// The certificates of a PEM bundle, each checked to be usable as a trust anchor; the error says
/// why not.
fn parse_roots(pem: &[u8]) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("it holds no PEM certificate".into());
    }
    let mut check = RootCertStore::empty();
    for cert in &certs {
        check.add(cert.clone()).map_err(|e| e.to_string())?;
    }
    Ok(certs)
}

/// Verifies server certificates like `rustls-platform-verifier` (system roots plus the extra
/// ones), building that verifier on first use. Handshake signatures need no roots and are checked
/// straight away.
#[derive(Debug)]
struct LazyVerifier {
    provider: Arc<CryptoProvider>,
    extra_roots: Vec<CertificateDer<'static>>,
    inner: OnceLock<std::result::Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyVerifier {
    fn inner(&self) -> std::result::Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.inner
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    self.provider.clone(),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_handshake_and_certificate_failures_ask_for_a_ca() {
        for handshake in [
            "invalid peer certificate: UnknownIssuer",
            "received fatal alert: HandshakeFailure (tls)",
        ] {
            assert!(is_certificate_failure(handshake), "{handshake}");
        }
        for dropped in [
            "peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof",
            "connection reset by peer",
        ] {
            assert!(!is_certificate_failure(dropped), "{dropped}");
        }
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        let why = CaCert::parse(b"not a certificate\n".to_vec()).unwrap_err();
        assert!(why.contains("no PEM certificate"), "{why}");
    }

    #[test]
    fn no_roots_are_read_before_a_certificate_is_checked() {
        let config = client_config(&[]).unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
        let debug = format!("{config:?}");
        assert!(debug.contains("LazyVerifier"), "{debug}");
        assert!(debug.contains("inner: OnceLock(<uninit>)"), "{debug}");
    }
}
