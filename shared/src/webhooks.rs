//! Completion webhooks: which callback URLs are allowed, and how deliveries are signed.
//!
//! A delivery carries `Imagepipe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC
//! taken over `<t>.<body>` with the shared secret. Receivers recompute it, compare in constant
//! time, and reject a timestamp older than they tolerate (5 minutes is usual): a replayed
//! delivery carries its old timestamp, and changing the timestamp breaks the signature.
//!
//! Where a callback may go is checked in two layers: its host must be on the allow-list
//! (`WEBHOOK_ALLOWED_HOSTS`), and every address the host has must pass the address rules
//! ([`addresses`], `WEBHOOK_ALLOWED_ADDRESSES`), at upload and again at delivery, where the
//! connection goes only to the addresses just checked ([`resolve`]).

pub mod addresses;
pub mod resolve;

use std::{net::IpAddr, sync::Arc};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::{Host, Url};

pub use addresses::{AddressList, AddressRules};
pub use resolve::{CheckedDns, Resolver, SystemResolver, refusal_in};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Imagepipe-Signature";
/// Unique per delivery (the same on its retries), so receivers can drop duplicates.
pub const DELIVERY_ID_HEADER: &str = "Imagepipe-Delivery";

/// Why a callback URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRejected {
    #[error("callback_url is not a valid absolute URL: {0}")]
    Invalid(String),
    #[error("callback_url must use http or https")]
    Scheme,
    #[error("callback_url must not carry credentials")]
    Credentials,
    #[error("callbacks are turned off on this server (WEBHOOK_ALLOWED_HOSTS is empty)")]
    Disabled,
    #[error("callback_url host {0} is not in the allowed list")]
    HostNotAllowed(String),
    #[error(
        "callback_url host {host} has address {address} ({range}), refused unless WEBHOOK_ALLOWED_ADDRESSES covers it"
    )]
    AddressRefused {
        host: String,
        address: IpAddr,
        range: &'static str,
    },
    #[error("callback_url host {host} does not resolve: {reason}")]
    Unresolvable { host: String, reason: String },
}

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    /// Lower-case host; a leading `*.` allows any subdomain (not the bare domain).
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

impl HostPattern {
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            return None;
        }
        // `[::1]:8080`, `host:8080`, `host`.
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') && port.parse::<u16>().is_ok() => {
                (host.to_owned(), port.parse().ok())
            }
            _ => (entry.clone(), None),
        };
        Some(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        let host_ok = match self.host.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == self.host,
        };
        host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// Where callbacks may go: the host allow-list, the address rules, and the resolver that
/// turns one into the other.
#[derive(Debug, Clone)]
pub struct CallbackPolicy {
    allowed: Vec<HostPattern>,
    dns: CheckedDns,
}

impl Default for CallbackPolicy {
    fn default() -> Self {
        Self::new(&[], AddressList::default())
    }
}

impl CallbackPolicy {
    /// `hosts` as `WEBHOOK_ALLOWED_HOSTS` lists them; `addresses` allowed inside the refused
    /// ranges. Names are looked up by the system's resolver.
    pub fn new(hosts: &[String], addresses: AddressList) -> Self {
        Self {
            allowed: hosts.iter().filter_map(|e| HostPattern::parse(e)).collect(),
            dns: CheckedDns {
                resolver: Arc::new(SystemResolver),
                rules: AddressRules::new(addresses),
            },
        }
    }

    /// The same policy, names looked up by `resolver`.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.dns.resolver = resolver;
        self
    }

    /// The resolver of the client that delivers: it hands the connection only addresses
    /// that pass the rules, so what is checked is what is connected to.
    pub fn dns(&self) -> CheckedDns {
        self.dns.clone()
    }

    pub fn is_enabled(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// The URL, parsed, if callbacks may go there as far as can be told without a lookup: the
    /// host is allowed, and an address written in the URL passes the address rules. A name's
    /// addresses are checked by [`Self::check_destination`] and, at delivery, by [`Self::dns`]
    /// (the HTTP client never looks an address literal up, so this is its only check).
    pub fn check(&self, raw: &str) -> Result<Url, CallbackRejected> {
        if !self.is_enabled() {
            return Err(CallbackRejected::Disabled);
        }
        let url = Url::parse(raw.trim()).map_err(|e| CallbackRejected::Invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallbackRejected::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CallbackRejected::Credentials);
        }
        let host = url
            .host_str()
            .ok_or_else(|| CallbackRejected::Invalid("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(80);
        if !self.allowed.iter().any(|p| p.matches(&host, port)) {
            return Err(CallbackRejected::HostNotAllowed(host));
        }
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(address) = literal {
            self.dns
                .rules
                .check(address)
                .map_err(|refused| CallbackRejected::AddressRefused {
                    host,
                    address,
                    range: refused.range,
                })?;
        }
        Ok(url)
    }

    /// [`Self::check`], then the host's addresses looked up (within
    /// [`resolve::LOOKUP_TIMEOUT`]) and every one checked: the check at upload. A name that
    /// does not resolve is refused, as nothing could be delivered to it now.
    pub async fn check_destination(&self, raw: &str) -> Result<Url, CallbackRejected> {
        let url = self.check(raw)?;
        if let Some(Host::Domain(name)) = url.host() {
            resolve::checked_addresses(&*self.dns.resolver, &self.dns.rules, name).await?;
        }
        Ok(url)
    }
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `timestamp` (unix seconds).
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> CallbackPolicy {
        CallbackPolicy::new(
            &entries.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "127.0.0.1".parse().unwrap(),
        )
    }

    #[test]
    fn an_empty_list_turns_callbacks_off() {
        assert_eq!(
            policy(&[]).check("https://example.com/hook"),
            Err(CallbackRejected::Disabled)
        );
        assert_eq!(
            policy(&[""]).check("https://example.com/hook"),
            Err(CallbackRejected::Disabled)
        );
    }

    #[test]
    fn only_listed_hosts_and_ports_pass() {
        let p = policy(&["hooks.example.com", "127.0.0.1:9999", "*.corp.example"]);
        assert!(p.check("https://hooks.example.com/x").is_ok());
        assert!(p.check("http://HOOKS.example.com:8080/x").is_ok());
        assert!(p.check("http://127.0.0.1:9999/x").is_ok());
        assert!(p.check("http://a.b.corp.example/x").is_ok());
        assert_eq!(
            p.check("http://127.0.0.1:5432/x"),
            Err(CallbackRejected::HostNotAllowed("127.0.0.1".into()))
        );
        assert!(p.check("http://corp.example/x").is_err());
        assert!(p.check("http://169.254.169.254/latest/meta-data").is_err());
        assert!(p.check("http://localhost:9999/x").is_err());
        assert!(p.check("http://hooks.example.com.evil.net/x").is_err());
    }

    #[test]
    fn odd_urls_are_refused_with_a_reason() {
        let p = policy(&["example.com"]);
        assert_eq!(
            p.check("ftp://example.com/x"),
            Err(CallbackRejected::Scheme)
        );
        assert_eq!(
            p.check("http://user:pw@example.com/x"),
            Err(CallbackRejected::Credentials)
        );
        assert!(matches!(
            p.check("not a url"),
            Err(CallbackRejected::Invalid(_))
        ));
    }

    #[test]
    fn signatures_depend_on_secret_time_and_body() {
        let a = signature_header(b"s", 1, b"{}");
        assert!(a.starts_with("t=1,v1="));
        assert_eq!(a.len(), "t=1,v1=".len() + 64);
        assert_ne!(a, signature_header(b"t", 1, b"{}"));
        assert_ne!(a, signature_header(b"s", 2, b"{}"));
        assert_ne!(a, signature_header(b"s", 1, b"{ }"));
    }
}
