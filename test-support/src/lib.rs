//! What the integration tests of both tools share: the TLS side of their test servers, and the
//! moto server ([`moto`]).
//!
//! The servers are real (hyper, s3s-fs) and so is their TLS, with a certificate from a CA made
//! for the one test, so that each test also checks that the tool trusts what it is told to trust.

pub mod moto;

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// TLS for a test server on this machine: a certificate for `127.0.0.1` and `localhost` signed by
/// a fresh CA called `ca_name`, and that CA's PEM for the client under test to trust. HTTP/2 and
/// HTTP/1.1 are offered.
pub fn tls_acceptor(ca_name: &str) -> (TlsAcceptor, String) {
    tls_acceptor_for(ca_name, &[b"h2", b"http/1.1"])
}

/// As [`tls_acceptor`], offering only the `alpn` protocols (e.g. HTTP/1.1 alone, as many servers).
pub fn tls_acceptor_for(ca_name: &str, alpn: &[&[u8]]) -> (TlsAcceptor, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    (TlsAcceptor::from(Arc::new(config)), ca.pem())
}
