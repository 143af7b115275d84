//! The API's rate limit (`RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_BURST`), off by default: one
//! bucket per API key's owner when keys are configured, else per client address (see
//! [`TrustedProxies`]), shared by every `/api/v1` operation. A request over it is answered
//! `429 rate_limited` with `Retry-After` before anything else is done: no key checked beyond
//! the bucket's choice, no body read, no database touched.
//!
//! The limiter is `governor`'s GCRA, keyed, in this process's memory: each ingest instance
//! counts on its own, so N instances behind a load balancer let a client through up to N
//! times the rate. Keys idle long enough to have a full bucket again are forgotten every
//! minute, so the memory held follows the clients of the last minute, not of all time.

use std::{
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use imagepipe_shared::periodic::Ticks;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, http::HeaderValue};
use tokio_util::sync::CancellationToken;

use crate::{auth::ApiKeys, client_address::TrustedProxies, config::IngestConfig, error::ApiError};

/// How often buckets back to full are dropped.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Whose bucket a request draws from.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
enum Client {
    /// A valid API key's owner id (never the key itself).
    Owner(String),
    /// An address: anyone without a valid key, when keys are configured, and everyone when
    /// they are not. IPv6 clients by their /64, which one host usually holds whole.
    Address(IpAddr),
    /// No IP peer at all (not on TCP): one shared bucket.
    Unknown,
}

/// The rate limit of the API, or its absence.
#[derive(Clone)]
pub(crate) struct RateLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<Client>>>,
    keys: Arc<ApiKeys>,
    proxies: Arc<TrustedProxies>,
}

impl RateLimit {
    /// From the settings: off when `RATE_LIMIT_PER_MINUTE` is 0; a bad `TRUSTED_PROXIES`
    /// entry is an error (ingest refuses to start).
    pub(crate) fn from_config(config: &IngestConfig, keys: Arc<ApiKeys>) -> anyhow::Result<Self> {
        let proxies = Arc::new(TrustedProxies::parse(&config.trusted_proxies)?);
        let limiter = quota(config.rate_limit_per_minute, config.rate_limit_burst)
            .map(|quota| Arc::new(RateLimiter::keyed(quota)));
        Ok(Self {
            limiter,
            keys,
            proxies,
        })
    }

    pub(crate) fn enabled(&self) -> bool {
        self.limiter.is_some()
    }

    /// Whose bucket `request` draws from.
    fn client_of(&self, request: &Request) -> Client {
        let owner = request
            .headers()
            .get("x-api-key")
            .and_then(|value| value.to_str().ok())
            .and_then(|key| self.keys.owner_of(key));
        if let Some(owner) = owner {
            return Client::Owner(owner);
        }
        match self.proxies.client_of(request) {
            Some(IpAddr::V6(address)) => Client::Address(IpAddr::V6(slash_64(address))),
            Some(address) => Client::Address(address),
            None => Client::Unknown,
        }
    }

    /// The answer to `request` if it is over the limit.
    fn refusal(&self, request: &Request) -> Option<Response> {
        let limiter = self.limiter.as_ref()?;
        let not_until = limiter.check_key(&self.client_of(request)).err()?;
        let wait = not_until.wait_time_from(limiter.clock().now());
        let retry_after_secs = retry_after(wait);
        let mut response = ApiError::RateLimited { retry_after_secs }
            .problem()
            .into_response();
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(retry_after_secs));
        Some(response)
    }

    /// Every minute until `shutdown`, drop the buckets that are full again: remembering them
    /// changes nothing, and an address seen once must not stay in memory forever.
    pub(crate) async fn forget_idle(self, shutdown: CancellationToken) {
        let Some(limiter) = self.limiter else {
            return;
        };
        let mut ticks = Ticks::every(FORGET_EVERY, &shutdown);
        while ticks.next().await {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// One request per `60 s / per_minute`, `burst` at once; `None` (no limit) for 0.
fn quota(per_minute: u32, burst: u32) -> Option<Quota> {
    let per_minute = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs(60) / per_minute.get();
    Quota::with_period(period).map(|quota| quota.allow_burst(burst))
}

/// `Retry-After` is whole seconds: rounded up, so that a client waiting that long finds a
/// request's worth in its bucket, and at least 1.
fn retry_after(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// The /64 network of an IPv6 address.
fn slash_64(address: Ipv6Addr) -> Ipv6Addr {
    Ipv6Addr::from(address.to_bits() & !u128::from(u64::MAX))
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimited<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimited {
            inner,
            limit: self.clone(),
        }
    }
}

pub(crate) struct RateLimited<E> {
    inner: E,
    limit: RateLimit,
}

impl<E: Endpoint> Endpoint for RateLimited<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        if let Some(refusal) = self.limit.refusal(&request) {
            return Ok(refusal);
        }
        self.inner
            .call(request)
            .await
            .map(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use poem::{EndpointExt, handler, http::StatusCode};

    use super::*;

    #[handler]
    fn ok() -> &'static str {
        "ok"
    }

    fn limit(flags: &[&str]) -> RateLimit {
        let config =
            IngestConfig::parse_from(std::iter::once("ingest").chain(flags.iter().copied()));
        let keys = Arc::new(ApiKeys::new(&config.api_keys));
        RateLimit::from_config(&config, keys).expect("valid settings")
    }

    #[test]
    fn off_by_default() {
        assert!(!limit(&[]).enabled());
        assert!(limit(&["--rate-limit-per-minute", "60"]).enabled());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(1)), 1);
        assert_eq!(retry_after(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after(Duration::from_secs(6)), 6);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let address: Ipv6Addr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().expect("v6");
        assert_eq!(
            slash_64(address),
            "2001:db8:1:2::".parse::<Ipv6Addr>().expect("v6")
        );
    }

    /// What `endpoint` answers a GET with `key` in `X-API-Key`, if any.
    async fn answer(endpoint: &impl Endpoint<Output = Response>, key: Option<&str>) -> Response {
        let mut request = Request::builder();
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        endpoint.call(request.finish()).await.expect("an answer")
    }

    #[tokio::test]
    async fn over_the_burst_is_a_429_problem_with_retry_after() {
        let limit = limit(&["--rate-limit-per-minute", "1", "--rate-limit-burst", "2"]);
        let endpoint = ok.with(limit);
        for _ in 0..2 {
            assert_eq!(answer(&endpoint, None).await.status(), StatusCode::OK);
        }
        let response = answer(&endpoint, None).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.content_type(),
            Some(crate::error::PROBLEM_CONTENT_TYPE)
        );
        // One request a minute: the next is a minute away at most.
        let retry_after: u64 = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        assert!((59..=60).contains(&retry_after), "{retry_after}");
        let body: serde_json::Value =
            serde_json::from_str(&response.into_body().into_string().await.expect("a body"))
                .expect("JSON");
        assert_eq!(
            (body["code"].as_str(), body["status"].as_u64()),
            (Some("rate_limited"), Some(429))
        );
    }

    #[tokio::test]
    async fn each_key_has_its_own_bucket_and_a_wrong_key_draws_from_the_addresss() {
        let limit = limit(&[
            "--rate-limit-per-minute",
            "1",
            "--rate-limit-burst",
            "1",
            "--api-keys",
            "alpha,beta",
        ]);
        let endpoint = ok.with(limit);
        let status = async |key: Option<&str>| answer(&endpoint, key).await.status();
        assert_eq!(status(Some("alpha")).await, StatusCode::OK);
        assert_eq!(status(Some("alpha")).await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status(Some("beta")).await, StatusCode::OK);
        // Wrong keys and no key share the address's one bucket.
        assert_eq!(status(Some("gamma")).await, StatusCode::OK);
        assert_eq!(status(Some("delta")).await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status(None).await, StatusCode::TOO_MANY_REQUESTS);
    }
}
