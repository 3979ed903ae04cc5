//! Whether a URL names this machine, where the server's work and ours share the same cores.

use url::{Host, Url};

/// Whether `url` names this machine: a loopback address, `localhost` or a name under it.
pub fn is_this_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => {
            // Parsing already lowercased the host of an http(s) URL.
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_is_loopback_or_localhost() {
        let local = |url: &str| is_this_host(&Url::parse(url).unwrap());
        for url in [
            "http://127.0.0.1:8080/a",
            "http://127.9.9.9/a",
            "http://[::1]:9000/",
            "https://localhost/a",
            "http://LocalHost./a",
            "http://minio.localhost:9000/",
        ] {
            assert!(local(url), "{url} is this machine");
        }
        for url in [
            "https://example.com/a",
            "http://10.0.0.5/a",
            "http://[2001:db8::1]/",
            "http://localhost.example.com/",
            "http://notlocalhost/",
        ] {
            assert!(!local(url), "{url} is another machine");
        }
    }
}
