//! The SSRF guard: which outbound URLs (webhook targets, audio URLs) the server may call.
//!
//! A URL whose host is, or resolves to, a private, loopback, link-local, unspecified or otherwise
//! non-public address is refused unless the configuration allows private targets. The check runs
//! when a URL is accepted (a registered webhook, a job's `webhook_url`) and again before every
//! delivery, since what a name resolves to can change in between.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a target URL is refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("{0} is not an http:// or https:// URL with a host")]
    NotHttp(String),
    #[error("{host} could not be resolved: {reason}")]
    Unresolvable { host: String, reason: String },
    #[error(
        "{host} resolves to {address}, a private or local address; the server does not call \
         those (webhooks.allow_private_targets allows them)"
    )]
    Private { host: String, address: IpAddr },
}

/// Whether `address` is one the public internet cannot route to (so calling it would reach the
/// server's own network): loopback, private, link-local, unspecified, shared (CGNAT),
/// broadcast, multicast, documentation and benchmarking ranges, unique-local IPv6, and IPv6
/// forms of any of those IPv4 addresses.
pub fn is_non_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local
                || (first & 0xfe00) == 0xfc00
                // fe80::/10 link-local
                || (first & 0xffc0) == 0xfe80
                // 2001:db8::/32 documentation
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                // ::a.b.c.d (deprecated IPv4-compatible) and 64:ff9b::/96 NAT64 of a local v4
                || embedded_v4(v6).is_some_and(is_non_public_v4)
        }
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let prefix_zero = s[..6].iter().all(|&x| x == 0);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    (prefix_zero || nat64).then(|| {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    })
}

fn is_non_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        // 0.0.0.0/8 "this network"
        || a == 0
        // 100.64.0.0/10 shared address space (CGNAT)
        || (a == 100 && (b & 0xc0) == 64)
        // 192.0.0.0/24 protocol assignments
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15 benchmarking
        || (a == 198 && (b & 0xfe) == 18)
        // 240.0.0.0/4 reserved
        || a >= 240
}

/// Checks that `url` is http(s) and that every address its host resolves to is public (or that
/// private ones are allowed).
///
/// # Errors
/// A [`TargetError`] saying why the URL is refused.
pub async fn check(url: &str, allow_private: bool) -> Result<(), TargetError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| TargetError::NotHttp(url.to_owned()))?;
    let host = match parsed.host_str() {
        Some(host) if matches!(parsed.scheme(), "http" | "https") && !host.is_empty() => host,
        _ => return Err(TargetError::NotHttp(url.to_owned())),
    };
    if allow_private {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match literal.parse::<IpAddr>() {
        Ok(address) => vec![address],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| TargetError::Unresolvable {
                host: host.to_owned(),
                reason: error.to_string(),
            })?
            .map(|socket| socket.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(TargetError::Unresolvable {
            host: host.to_owned(),
            reason: "no addresses".into(),
        });
    }
    match addresses
        .into_iter()
        .find(|&address| is_non_public(address))
    {
        Some(address) => Err(TargetError::Private {
            host: host.to_owned(),
            address,
        }),
        None => Ok(()),
    }
}

/// A DNS resolver for outbound clients that resolves as the system does and refuses a name any
/// of whose addresses is non-public. [`check`] runs before a request; this runs when the client
/// connects, so a name re-pointed at a private address in between (DNS rebinding) is still not
/// called. Addresses written in the URL are not resolved, and [`check`] covers those.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(address) = addresses
                .iter()
                .map(std::net::SocketAddr::ip)
                .find(|&address| is_non_public(address))
            {
                return Err(Box::new(TargetError::Private { host, address }) as _);
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn local_and_private_addresses_are_non_public() {
        for address in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(is_non_public(ip(address)), "{address} should be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "172.15.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_non_public(ip(address)), "{address} should be allowed");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_by_the_addresses_they_name() {
        assert!(check("https://8.8.8.8/hook", false).await.is_ok());
        assert!(matches!(
            check("http://127.0.0.1:9000/hook", false).await,
            Err(TargetError::Private { .. })
        ));
        assert!(matches!(
            check("http://[::1]:9000/hook", false).await,
            Err(TargetError::Private { .. })
        ));
        // `localhost` resolves (from /etc/hosts) to loopback.
        assert!(matches!(
            check("http://localhost:9000/hook", false).await,
            Err(TargetError::Private { .. })
        ));
        assert!(check("http://127.0.0.1:9000/hook", true).await.is_ok());
        assert!(matches!(
            check("ftp://example.com", true).await,
            Err(TargetError::NotHttp(_))
        ));
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_local_addresses_at_connect_time() {
        use reqwest::dns::Resolve as _;
        let name = "localhost".parse().expect("a name");
        let refused = PublicOnlyResolver.resolve(name).await.err();
        assert!(
            refused
                .as_deref()
                .and_then(|error| error.downcast_ref::<TargetError>())
                .is_some_and(|error| matches!(error, TargetError::Private { .. })),
            "{refused:?}"
        );
        // A client using it cannot reach a local server by name, whatever a check said before.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let client = reqwest::Client::builder()
            .dns_resolver(PublicOnlyResolver)
            .build()
            .expect("client");
        let sent = client.get(format!("http://localhost:{port}/")).send().await;
        let error = sent.expect_err("a refused name is not connected to");
        // The refusal is in the error's chain, where the URL fetcher finds it.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        let mut found = false;
        while let Some(current) = cause {
            found |= current.downcast_ref::<TargetError>().is_some();
            cause = current.source();
        }
        assert!(found, "{error:?}");
    }
}
