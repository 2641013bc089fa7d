//! The HTTP proof of control: the token served by the domain's current origin at
//! `http://<domain>/.well-known/tenant-gateway-challenge`. The domain is resolved first and
//! only a public address is fetched, pinned so that no second lookup can point elsewhere: a
//! tenant cannot make the gateway probe the network it runs in. No redirect is followed and
//! at most 1 KiB of the answer is read.

use hickory_resolver::TokioResolver;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const PATH: &str = "/.well-known/tenant-gateway-challenge";
const MAX_BODY: usize = 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `ip` is an address of the public internet (not loopback, private, link-local,
/// shared, documentation, multicast or reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Fetches the token from the domain's origin on `port`; `Ok` when the answer is the token.
pub async fn check(
    resolver: &TokioResolver,
    domain: &str,
    port: u16,
    token: &str,
    allow_private: bool,
) -> Result<(), String> {
    let ips = resolver
        .lookup_ip(format!("{}.", domain.trim_end_matches('.')))
        .await
        .map_err(|e| format!("HTTP: cannot resolve {domain}: {e}"))?;
    let Some(ip) = ips.iter().find(|ip| allow_private || is_public(*ip)) else {
        return Err(format!("HTTP: {domain} resolves to no public address"));
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .resolve(domain, SocketAddr::new(ip, port))
        .build()
        .map_err(|e| format!("HTTP: {e}"))?;
    let url = format!("http://{domain}:{port}{PATH}");
    let mut resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("HTTP {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {url}: status {}", resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("HTTP {url}: {e}"))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(format!(
                "HTTP {url}: the answer is larger than {MAX_BODY} bytes"
            ));
        }
    }
    if String::from_utf8_lossy(&body).trim() == token {
        Ok(())
    } else {
        Err(format!("HTTP {url}: the answer is not the token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_fetched() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
