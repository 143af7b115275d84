//! Completion webhooks: which callback URLs are allowed, and how deliveries are signed.
//!
//! A delivery carries `Imagepipe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC
//! taken over `<t>.<body>` with the shared secret. Receivers recompute it, compare in constant
//! time, and reject a timestamp older than they tolerate (5 minutes is usual): a replayed
//! delivery carries its old timestamp, and changing the timestamp breaks the signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

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

/// The allow-list of callback destinations.
#[derive(Debug, Clone, Default)]
pub struct CallbackPolicy {
    allowed: Vec<HostPattern>,
}

impl CallbackPolicy {
    pub fn new(entries: &[String]) -> Self {
        Self {
            allowed: entries
                .iter()
                .filter_map(|e| HostPattern::parse(e))
                .collect(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// The URL, parsed, if callbacks may go there.
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
        if self.allowed.iter().any(|p| p.matches(&host, port)) {
            Ok(url)
        } else {
            Err(CallbackRejected::HostNotAllowed(host))
        }
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
        CallbackPolicy::new(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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
