//! Optional API-key authentication. Off when no keys are configured (local use); on, every
//! API endpoint needs a key in `X-API-Key`, and each key owns the tasks it created: it sees
//! and acts on those only, and another key's task reads as not found.
//!
//! A key's owner id is a hash of the key, so the database never holds a usable key. Keys are
//! never logged: no span or event records a header, and the configuration's `Debug` is never
//! written to the log.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{SecurityScheme, auth::ApiKey};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::error::ApiError;

/// The configured keys: each one's SHA-256 and owner id.
#[derive(Debug, Default)]
pub struct ApiKeys {
    owners: Vec<([u8; 32], String)>,
}

impl ApiKeys {
    pub fn new(keys: &[String]) -> Self {
        let owners = keys
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .map(|k| (digest(k), owner_id(k)))
            .collect();
        Self { owners }
    }

    pub fn enabled(&self) -> bool {
        !self.owners.is_empty()
    }

    /// The owner id of a presented key, if it is one of ours. The presented key's digest is
    /// compared with every configured one, in full and in constant time, whichever matches:
    /// how long it takes says neither which key nor how much of one was right (a hash map's
    /// probe would stop at the first differing byte).
    pub(crate) fn owner_of(&self, key: &str) -> Option<String> {
        let presented = digest(key.trim());
        // 1 + the index of the matching key; 0: none.
        let mut found = 0u64;
        for (index, (configured, _)) in (1u64..).zip(&self.owners) {
            found.conditional_assign(&index, configured[..].ct_eq(&presented[..]));
        }
        let index = usize::try_from(found).ok()?.checked_sub(1)?;
        self.owners.get(index).map(|(_, owner)| owner.clone())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Stable id of a key's owner: the first 16 hex digits of its SHA-256.
pub(crate) fn owner_id(key: &str) -> String {
    hex::encode(&digest(key)[..8])
}

/// An API key, sent in the `X-API-Key` header. Needed only when the server has keys
/// configured (`API_KEYS`); each key sees only the tasks it created.
#[derive(SecurityScheme)]
#[oai(
    rename = "ApiKey",
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header",
    checker = "known_key"
)]
pub(crate) struct KeyAuth(String);

/// Reads the keys the routes registered as request data.
async fn known_key(request: &Request, key: ApiKey) -> Option<String> {
    request.data::<Arc<ApiKeys>>()?.owner_of(&key.key)
}

/// What the caller presented: a known key, or nothing usable (allowed when authentication
/// is off).
#[derive(SecurityScheme)]
pub(crate) enum Auth {
    Key(KeyAuth),
    #[oai(fallback)]
    Anonymous,
}

/// Whose tasks a request may see and touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Authentication is off: every task.
    Everyone,
    /// Only this owner's.
    Owner(String),
}

impl Scope {
    /// The owner recorded on new tasks, and the filter on existing ones.
    pub(crate) fn owner(&self) -> Option<&str> {
        match self {
            Self::Everyone => None,
            Self::Owner(owner) => Some(owner),
        }
    }

    /// Idempotency keys are per owner.
    pub(crate) fn idempotency_scope(&self) -> &str {
        self.owner().unwrap_or("")
    }
}

impl Auth {
    /// The caller's scope, or 401 when a key is needed and none valid was given.
    pub(crate) fn scope(self, keys: &ApiKeys) -> Result<Scope, ApiError> {
        if !keys.enabled() {
            return Ok(Scope::Everyone);
        }
        match self {
            Self::Key(KeyAuth(owner)) => Ok(Scope::Owner(owner)),
            Self::Anonymous => Err(ApiError::Unauthorized),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_stable_owner_ids_and_blanks_are_ignored() {
        let keys = ApiKeys::new(&["alpha".into(), " beta ".into(), "".into()]);
        assert!(keys.enabled());
        assert_eq!(keys.owner_of("alpha"), Some(owner_id("alpha")));
        assert_eq!(keys.owner_of("beta"), Some(owner_id("beta")));
        assert_eq!(keys.owner_of("gamma"), None);
        assert_ne!(owner_id("alpha"), owner_id("beta"));
        assert_eq!(owner_id("alpha").len(), 16);
        assert!(!ApiKeys::new(&["".into()]).enabled());
    }

    #[test]
    fn every_key_is_found_and_near_misses_are_not() {
        let keys: Vec<String> = (0..5).map(|i| format!("key-number-{i}")).collect();
        let configured = ApiKeys::new(&keys);
        for key in &keys {
            assert_eq!(configured.owner_of(key), Some(owner_id(key)));
        }
        // The same length, one character off; a prefix; nothing.
        for wrong in ["key-number-5", "key-number-", "", "key-number-00"] {
            assert_eq!(configured.owner_of(wrong), None, "{wrong:?}");
        }
        assert_eq!(ApiKeys::default().owner_of("key-number-0"), None);
    }
}
