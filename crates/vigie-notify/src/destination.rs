//! Where a notification may go (server-side request forgery). A webhook URL is `https`
//! or `http`, carries no user name or password, and its host must be a public address,
//! unless the operator allows private ones (`VIGIE_WEBHOOK_ALLOW_PRIVATE`, which the
//! tests need): not loopback, link-local, private, shared (carrier-grade NAT),
//! multicast, reserved or documentation ranges, nor the server's own addresses. The URL
//! is checked when a channel is saved ([`Policy::check_url`]: a literal address at once,
//! a name for what it plainly is), and every address a name resolves to is checked
//! again when the delivery connects ([`Policy::check_address`]), so a name that later
//! resolves to a private address is refused then.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a URL.
    #[error("not a URL")]
    Malformed,
    /// Another scheme than `https` or `http`.
    #[error("the URL must start with https:// or http://")]
    Scheme,
    /// A user name or password in the URL.
    #[error("the URL must not carry a user name or password (the payload is signed instead)")]
    UserInfo,
    /// A host that is not public.
    #[error(
        "{0} is not a public address; private destinations are refused unless the operator allows them"
    )]
    NotPublic(String),
}

/// The operator's rule.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Whether private, loopback and link-local destinations are allowed.
    pub allow_private: bool,
    /// The server's own addresses, refused unless private ones are allowed.
    pub own_addresses: Vec<IpAddr>,
}

impl Policy {
    /// Checks a webhook URL as saved.
    ///
    /// # Errors
    /// The [`Refusal`].
    pub fn check_url(&self, text: &str) -> Result<Url, Refusal> {
        let url = Url::parse(text).map_err(|_| Refusal::Malformed)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Refusal::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::UserInfo);
        }
        match url.host() {
            None => return Err(Refusal::Malformed),
            Some(Host::Ipv4(ip)) => self.check_address(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_address(IpAddr::V6(ip))?,
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let local = name == "localhost" || name.ends_with(".localhost");
                if local && !self.allow_private {
                    return Err(Refusal::NotPublic(name));
                }
            }
        }
        Ok(url)
    }

    /// Checks an address a delivery is about to connect to.
    ///
    /// # Errors
    /// [`Refusal::NotPublic`].
    pub fn check_address(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.allow_private || (is_public(ip) && !self.own_addresses.contains(&ip)) {
            Ok(())
        } else {
            Err(Refusal::NotPublic(ip.to_string()))
        }
    }
}

/// Whether an address is reachable on the public Internet (IANA special-purpose
/// registries; an IPv6 address embedding an IPv4 one is judged by that one).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network"
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)              // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded = |high: usize| {
        let [a, b] = segments[high].to_be_bytes();
        let [c, d] = segments[high + 1].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match segments {
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => false, // unspecified, loopback
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => is_public_v4(embedded(6)), // NAT64
        [0x2002, _, _, _, _, _, _, _] => is_public_v4(embedded(1)),   // 6to4
        [0x2001, 0x0db8, _, _, _, _, _, _] => false,                  // documentation
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00        // unique local
                || (first & 0xffc0) == 0xfe80   // link-local
                || (first & 0xffc0) == 0xfec0   // site-local (deprecated)
                || (first & 0xff00) == 0xff00   // multicast
                || first == 0) // other IPv4-compatible and reserved forms
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Policy {
        Policy::default()
    }

    #[test]
    fn only_public_addresses_pass() {
        let public = [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
            "64:ff9b::808:808",
        ];
        let private = [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "100.64.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "2002:7f00:0001::1",
            "64:ff9b::a00:1",
        ];
        for text in public {
            let ip: IpAddr = text.parse().unwrap();
            assert!(is_public(ip), "{text} is public");
            assert_eq!(strict().check_address(ip), Ok(()), "{text}");
        }
        for text in private {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_public(ip), "{text} is not public");
            assert!(strict().check_address(ip).is_err(), "{text}");
        }
    }

    #[test]
    fn urls_are_https_or_http_without_credentials_to_public_hosts() {
        let policy = strict();
        assert!(
            policy
                .check_url("https://hooks.example.com/vigie?x=1")
                .is_ok()
        );
        assert!(policy.check_url("http://8.8.8.8:8080/hook").is_ok());
        let refused = [
            ("ftp://example.com/", Refusal::Scheme),
            ("file:///etc/passwd", Refusal::Scheme),
            ("https://user:pw@example.com/", Refusal::UserInfo),
            ("not a url", Refusal::Malformed),
            (
                "http://127.0.0.1:9000/",
                Refusal::NotPublic("127.0.0.1".into()),
            ),
            // Other spellings of loopback that URL parsing normalises.
            ("http://2130706433/", Refusal::NotPublic("127.0.0.1".into())),
            ("http://0x7f.1/", Refusal::NotPublic("127.0.0.1".into())),
            ("http://[::1]/", Refusal::NotPublic("::1".into())),
            (
                "http://[::ffff:169.254.169.254]/",
                Refusal::NotPublic("::ffff:169.254.169.254".into()),
            ),
            (
                "http://localhost:8080/",
                Refusal::NotPublic("localhost".into()),
            ),
            (
                "http://api.LOCALHOST./",
                Refusal::NotPublic("api.localhost".into()),
            ),
        ];
        for (url, refusal) in refused {
            assert_eq!(policy.check_url(url).map(|_| ()), Err(refusal), "{url}");
        }
    }

    #[test]
    fn the_operator_may_allow_private_destinations_and_the_server_itself_is_refused() {
        let open = Policy {
            allow_private: true,
            own_addresses: Vec::new(),
        };
        assert!(open.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(open.check_url("http://localhost/").is_ok());
        assert_eq!(open.check_address("10.0.0.1".parse().unwrap()), Ok(()));
        let own: IpAddr = "8.8.4.4".parse().unwrap();
        let strict = Policy {
            allow_private: false,
            own_addresses: vec![own],
        };
        assert!(strict.check_address(own).is_err());
        assert!(strict.check_url("https://8.8.4.4/").is_err());
    }
}
