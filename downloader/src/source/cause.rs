//! What happened to a connection that brought no answer, read from an HTTP client's chain of
//! causes: the words for a sentence, where the chain's own text ends in the AWS SDK's debug dump
//! ("... connection: Unknown } }))").

use std::error::Error as StdError;

use aws_sdk_s3::error::ConnectorError;

/// What stopped a request before (or while) its answer arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens at the address (yet).
    Refused,
    /// The server reset or closed the connection.
    Reset,
    /// No route leads to the address.
    Unreachable,
    /// The host name did not resolve; carries the resolver's reason.
    Dns(String),
    /// The connection (with its TLS handshake) was not made within the connect timeout.
    ConnectTimeout,
    /// The connection was made, but no answer arrived within the read timeout.
    Stalled,
    /// The TLS handshake failed; `certificate` when the server's certificate was not trusted,
    /// the case `--ca-cert` can fix.
    Tls {
        /// The certificate check failed.
        certificate: bool,
        /// rustls's reason.
        reason: String,
    },
    /// Anything else, in the words of its innermost cause.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused => write!(f, "the connection was refused"),
            Failure::Reset => write!(f, "the connection was reset"),
            Failure::Unreachable => write!(f, "no network route leads there"),
            Failure::Dns(reason) => write!(f, "its name could not be resolved ({reason})"),
            Failure::ConnectTimeout => write!(f, "the connection timed out"),
            Failure::Stalled => write!(f, "no answer arrived"),
            Failure::Tls { reason, .. } => write!(f, "the TLS handshake failed ({reason})"),
            Failure::Other(reason) => write!(f, "{reason}"),
        }
    }
}

impl Failure {
    /// Reads `err`'s chain of causes.
    pub fn of(err: &(dyn StdError + 'static)) -> Failure {
        let chain: Vec<&(dyn StdError + 'static)> = causes(err).collect();
        if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
            return Failure::Tls {
                certificate: matches!(
                    tls,
                    rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
                ),
                reason: tls.to_string(),
            };
        }
        let timed_out = chain.iter().any(|e| {
            e.downcast_ref::<ConnectorError>()
                .is_some_and(ConnectorError::is_timeout)
        });
        if timed_out {
            // The SDK's HTTP client names which of its timeouts fired only in words.
            let connecting = chain
                .iter()
                .any(|e| e.to_string().starts_with("HTTP connect timeout"));
            return if connecting {
                Failure::ConnectTimeout
            } else {
                Failure::Stalled
            };
        }
        let innermost = chain.last().map(|e| e.to_string()).unwrap_or_default();
        // hyper-util says only in words that the name did not resolve.
        if chain.iter().any(|e| e.to_string() == "dns error") {
            return Failure::Dns(innermost);
        }
        if chain
            .iter()
            .any(|e| e.to_string() == "connection closed before message completed")
        {
            return Failure::Reset;
        }
        let io_kind = chain
            .iter()
            .rev()
            .find_map(|e| e.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        use std::io::ErrorKind;
        match io_kind {
            Some(ErrorKind::ConnectionRefused) => Failure::Refused,
            Some(
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof,
            ) => Failure::Reset,
            Some(ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable) => {
                Failure::Unreachable
            }
            Some(ErrorKind::TimedOut) => Failure::ConnectTimeout,
            _ => Failure::Other(innermost),
        }
    }
}

/// `err`, then each of its causes. An `io::Error`'s next cause is its payload
/// (`io::Error::get_ref`): its `source()` would skip the payload, where rustls's error sits.
fn causes<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&err| {
        match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => err.source(),
        }
    })
}

/// The first of `err`'s causes (itself included) that is a `T`.
pub fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    causes(err).find_map(|e| e.downcast_ref::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error as IoError, ErrorKind};

    #[test]
    fn a_wrapped_io_error_is_read_through_its_payload() {
        // As hyper-util wraps a TCP error: an io::Error whose payload is the system's.
        let refused = IoError::other(IoError::from(ErrorKind::ConnectionRefused));
        assert_eq!(Failure::of(&refused), Failure::Refused);
        assert_eq!(
            Failure::of(&IoError::from(ErrorKind::ConnectionReset)).to_string(),
            "the connection was reset"
        );
        let odd = IoError::other("something odd");
        assert_eq!(Failure::of(&odd), Failure::Other("something odd".into()));
    }
}
