//! Resolving a callback's host, and connecting only where the check allowed.
//!
//! A name is checked at upload and again at every delivery, and the delivery connects to the
//! addresses of that second check, never to a fresh lookup: [`CheckedDns`] is the HTTP
//! client's resolver, so a name that answered a public address to the check cannot answer
//! 127.0.0.1 to the connection (DNS rebinding).

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use futures::future::BoxFuture;

use super::{CallbackRejected, addresses::AddressRules};

/// Longest a lookup may take, at upload and at delivery.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a lookup returns: the host's addresses.
pub type Lookup = BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;

/// Turns a host name into addresses. The system's resolver in service; tests inject their own
/// (never by editing the machine's hosts file).
pub trait Resolver: fmt::Debug + Send + Sync {
    fn lookup(&self, host: &str) -> Lookup;
}

/// The operating system's resolver (getaddrinfo, on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A host's addresses, each one checked: refused if it has none (or none in time), or if any
/// is refused. Any, not all: a name that answers one public and one private address is what
/// a rebinding attack looks like, and the same rule holds at upload and at delivery.
pub(super) async fn checked_addresses(
    resolver: &dyn Resolver,
    rules: &AddressRules,
    host: &str,
) -> Result<Vec<IpAddr>, CallbackRejected> {
    let unresolvable = |reason: String| CallbackRejected::Unresolvable {
        host: host.to_owned(),
        reason,
    };
    let addresses = tokio::time::timeout(LOOKUP_TIMEOUT, resolver.lookup(host))
        .await
        .map_err(|_| unresolvable(format!("no answer within {LOOKUP_TIMEOUT:?}")))?
        .map_err(|e| unresolvable(e.to_string()))?;
    if addresses.is_empty() {
        return Err(unresolvable("no addresses".into()));
    }
    for &address in &addresses {
        rules
            .check(address)
            .map_err(|refused| CallbackRejected::AddressRefused {
                host: host.to_owned(),
                address,
                range: refused.range,
            })?;
    }
    Ok(addresses)
}

/// The webhook client's resolver (`reqwest::ClientBuilder::dns_resolver`): the addresses it
/// hands the connector are the ones it checked. Its error is a [`CallbackRejected`], found
/// again in the request's error chain to record why nothing was sent.
#[derive(Debug, Clone)]
pub struct CheckedDns {
    pub(super) resolver: Arc<dyn Resolver>,
    pub(super) rules: AddressRules,
}

impl reqwest::dns::Resolve for CheckedDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addresses = checked_addresses(&*this.resolver, &this.rules, name.as_str()).await?;
            // Port 0: reqwest puts the URL's port in.
            let addrs: reqwest::dns::Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// The address check that stopped a request, if one did (a delivery refused at connect).
pub fn refusal_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a CallbackRejected> {
    let mut source = Some(err);
    while let Some(err) = source {
        if let Some(rejected) = err.downcast_ref::<CallbackRejected>() {
            return Some(rejected);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Read, Write},
        sync::{
            Mutex,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use super::*;
    use crate::webhooks::CallbackPolicy;

    /// Answers each lookup with the next of its answers, the last one ever after.
    #[derive(Debug)]
    struct Scripted {
        answers: Mutex<Vec<Vec<IpAddr>>>,
        lookups: AtomicUsize,
    }

    impl Scripted {
        fn new(answers: &[&[&str]]) -> Arc<Self> {
            let answers = answers
                .iter()
                .rev()
                .map(|a| a.iter().map(|ip| ip.parse().unwrap()).collect())
                .collect();
            Arc::new(Self {
                answers: Mutex::new(answers),
                lookups: AtomicUsize::new(0),
            })
        }
    }

    impl Resolver for Scripted {
        fn lookup(&self, _host: &str) -> Lookup {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let mut answers = self.answers.lock().unwrap();
            let answer = if answers.len() > 1 {
                answers.pop().unwrap()
            } else {
                answers[0].clone()
            };
            Box::pin(async move { Ok(answer) })
        }
    }

    /// Never answers.
    #[derive(Debug)]
    struct Silent;

    impl Resolver for Silent {
        fn lookup(&self, _host: &str) -> Lookup {
            Box::pin(futures::future::pending())
        }
    }

    fn policy(hosts: &[&str], addresses: &str, resolver: Arc<dyn Resolver>) -> CallbackPolicy {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        CallbackPolicy::new(&hosts, addresses.parse().unwrap()).with_resolver(resolver)
    }

    /// An HTTP server on its own thread that answers 204 and counts connections.
    fn receiver() -> (u16, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buf = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            }
        });
        (port, connections)
    }

    fn client(policy: &CallbackPolicy) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(policy.dns())
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_name_with_any_refused_address_or_none_is_refused_at_the_check() {
        let cases: [(&[&str], Option<&str>); 4] = [
            (&["10.0.0.7"], Some("10.0.0.7")),
            (&["203.0.113.7", "169.254.169.254"], Some("169.254.169.254")),
            (&["::ffff:127.0.0.1"], Some("::ffff:127.0.0.1")),
            (&[], None),
        ];
        for (answer, refused) in cases {
            let p = policy(&["hooks.test"], "", Scripted::new(&[answer]));
            let result = p.check_destination("http://hooks.test/hook").await;
            match refused {
                Some(address) => assert!(
                    matches!(&result, Err(CallbackRejected::AddressRefused { host, address: a, .. })
                        if host == "hooks.test" && a.to_string() == address),
                    "{answer:?}: {result:?}"
                ),
                None => assert!(
                    matches!(&result, Err(CallbackRejected::Unresolvable { host, .. }) if host == "hooks.test"),
                    "{answer:?}: {result:?}"
                ),
            }
        }
        let p = policy(&["hooks.test"], "", Scripted::new(&[&["203.0.113.7"]]));
        assert!(p.check_destination("http://hooks.test/hook").await.is_ok());
        let p = policy(
            &["hooks.test"],
            "10.0.0.0/8",
            Scripted::new(&[&["10.0.0.7"]]),
        );
        assert!(p.check_destination("http://hooks.test/hook").await.is_ok());
        let message = policy(&["hooks.test"], "", Scripted::new(&[&["127.0.0.1"]]))
            .check_destination("http://hooks.test/hook")
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "callback_url host hooks.test has address 127.0.0.1 (loopback), refused unless WEBHOOK_ALLOWED_ADDRESSES covers it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_that_does_not_answer_in_time_is_refused() {
        let p = policy(&["hooks.test"], "", Arc::new(Silent));
        let result = p.check_destination("http://hooks.test/hook").await;
        assert!(
            matches!(&result, Err(CallbackRejected::Unresolvable { reason, .. }) if reason.contains("5s")),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn an_address_in_the_url_is_checked_without_a_lookup() {
        let resolver = Scripted::new(&[&["203.0.113.7"]]);
        let hosts = ["127.0.0.1", "[::ffff:7f00:1]", "169.254.169.254", "0.0.0.0"];
        let p = policy(&hosts, "", resolver.clone());
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/hook",
        ] {
            assert!(
                matches!(p.check(url), Err(CallbackRejected::AddressRefused { .. })),
                "{url}"
            );
            assert!(p.check_destination(url).await.is_err(), "{url}");
        }
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 0);
        let p = policy(&hosts, "127.0.0.1/32", resolver);
        assert!(p.check("http://127.0.0.1:8080/hook").is_ok());
        assert!(p.check("http://[::ffff:127.0.0.1]/hook").is_ok());
    }

    /// DNS rebinding: the name answers a public address to the check, then 127.0.0.1. The
    /// connection must not reach the local receiver.
    #[tokio::test]
    async fn a_name_that_rebinds_to_loopback_after_the_check_is_not_connected_to() {
        let (port, connections) = receiver();
        let resolver = Scripted::new(&[&["203.0.113.7"], &["127.0.0.1"]]);
        let p = policy(&["hooks.test"], "", resolver.clone());
        let url = format!("http://hooks.test:{port}/hook");
        assert!(p.check_destination(&url).await.is_ok(), "public at upload");

        let err = client(&p).post(&url).send().await.unwrap_err();
        assert_eq!(
            refusal_in(&err),
            Some(&CallbackRejected::AddressRefused {
                host: "hooks.test".into(),
                address: "127.0.0.1".parse().unwrap(),
                range: "loopback",
            }),
            "{err:?}"
        );
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 2);
        assert_eq!(connections.load(Ordering::SeqCst), 0, "nothing reached it");
    }

    /// The same request with the address allowed arrives: the client connects where the
    /// injected resolver said (`hooks.test` exists in no DNS), so the test above can fail.
    #[tokio::test]
    async fn an_allowed_address_is_connected_to_by_name() {
        let (port, connections) = receiver();
        let p = policy(
            &["hooks.test"],
            "127.0.0.1/32",
            Scripted::new(&[&["127.0.0.1"]]),
        );
        let url = format!("http://hooks.test:{port}/hook");
        assert!(p.check_destination(&url).await.is_ok());
        let response = client(&p).post(&url).send().await.unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }
}
