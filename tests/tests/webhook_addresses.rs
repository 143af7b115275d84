//! Where a callback host's addresses may lead: never to loopback, private, link-local or
//! cloud metadata addresses unless `WEBHOOK_ALLOWED_ADDRESSES` covers them, checked at upload
//! and again at connect, the connection going to the address just checked (no DNS
//! rebinding). Names get their addresses from a resolver given to the in-process services;
//! the machine's hosts file is never edited.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use imagepipe_entity::webhook_delivery;
use imagepipe_shared::webhooks::{Resolver, SystemResolver, resolve::Lookup};
use imagepipe_tests::{Options, TestSystem, WebhookReceiver, task_id_of};
use sea_orm::EntityTrait;
use serde_json::Value;

use crate::webhooks::{delivered, logo, options, verify, with_callback};

/// Each name answers its scripted answers in turn, the last one ever after; other names go
/// to the system's resolver. Counts the lookups of each name.
#[derive(Debug, Default)]
struct ScriptedNames {
    answers: Mutex<HashMap<String, Vec<Vec<IpAddr>>>>,
    lookups: Mutex<HashMap<String, usize>>,
}

impl ScriptedNames {
    fn new(names: &[(&str, &[&[&str]])]) -> Arc<Self> {
        let answers = names
            .iter()
            .map(|(name, answers)| {
                let answers = answers
                    .iter()
                    .rev()
                    .map(|answer| answer.iter().map(|ip| ip.parse().unwrap()).collect())
                    .collect();
                (name.to_string(), answers)
            })
            .collect();
        Arc::new(Self {
            answers: Mutex::new(answers),
            ..Self::default()
        })
    }

    fn lookups(&self, name: &str) -> usize {
        self.lookups.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

impl Resolver for ScriptedNames {
    fn lookup(&self, host: &str) -> Lookup {
        *self
            .lookups
            .lock()
            .unwrap()
            .entry(host.to_owned())
            .or_default() += 1;
        let mut names = self.answers.lock().unwrap();
        match names.get_mut(host) {
            Some(answers) => {
                let answer = if answers.len() > 1 {
                    answers.pop().unwrap()
                } else {
                    answers[0].clone()
                };
                Box::pin(async move { Ok(answer) })
            }
            None => SystemResolver.lookup(host),
        }
    }
}

fn system_options(port: u16, resolver: Arc<ScriptedNames>, allowed: &[&str]) -> Options {
    Options {
        webhook_allowed_hosts: [
            "hooks.imagepipe.test",
            "private.imagepipe.test",
            "mixed.imagepipe.test",
            "rebind.imagepipe.test",
            "localhost",
        ]
        .iter()
        .map(|host| format!("{host}:{port}"))
        .collect(),
        webhook_allowed_addresses: allowed.iter().map(|a| a.to_string()).collect(),
        webhook_resolver: Some(resolver),
        ..options(port)
    }
}

async fn refused(system: &TestSystem, url: &str) -> String {
    let response = system.upload_form(with_callback(logo(), url), &[]).await;
    assert_eq!(response.status(), 422, "{url}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["code"], "callback_address_refused",
        "{url}: {problem}"
    );
    problem["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_host_resolving_to_a_refused_address_is_refused_at_upload_unless_allowed() {
    let receiver = WebhookReceiver::start(0, 0).await;
    let port = receiver.port;
    let resolver = ScriptedNames::new(&[
        ("hooks.imagepipe.test", &[&["127.0.0.1"]]),
        ("private.imagepipe.test", &[&["10.0.0.7"]]),
        (
            "mixed.imagepipe.test",
            &[&["203.0.113.7", "169.254.169.254"]],
        ),
    ]);
    let system = TestSystem::start(Options {
        start_processor: true,
        ..system_options(port, resolver.clone(), &["127.0.0.1/32"])
    })
    .await;

    let detail = refused(
        &system,
        &format!("http://private.imagepipe.test:{port}/hook"),
    )
    .await;
    assert!(
        detail.contains("private.imagepipe.test") && detail.contains("10.0.0.7 (private)"),
        "{detail}"
    );
    let detail = refused(&system, &format!("http://mixed.imagepipe.test:{port}/hook")).await;
    assert!(
        detail.contains("169.254.169.254 (cloud metadata)"),
        "one refused address is enough: {detail}"
    );
    assert_eq!(system.task_count().await, 0, "nothing stored");
    assert_eq!(system.storage.uploads.count().await.unwrap(), 0);

    // 127.0.0.1 is allowed here: the name (which no DNS knows) is delivered to, by name.
    let url = format!("http://hooks.imagepipe.test:{port}/hook");
    let response = system.upload_form(with_callback(logo(), &url), &[]).await;
    assert_eq!(response.status(), 202);
    let task_id = task_id_of(&response.json().await.unwrap());
    let requests = delivered(&system, &receiver, Duration::from_secs(60)).await;
    let body = verify(requests.last().unwrap());
    assert_eq!(body["task_id"], task_id.to_string());
    assert!(
        resolver.lookups("hooks.imagepipe.test") >= 2,
        "looked up at upload and again to connect"
    );
    system.cleanup().await;
}

#[tokio::test]
async fn a_host_that_rebinds_to_loopback_after_the_upload_check_is_never_connected_to() {
    let receiver = WebhookReceiver::start(0, 0).await;
    let port = receiver.port;
    // Public to the upload's check, loopback ever after (the receiver's address).
    let resolver =
        ScriptedNames::new(&[("rebind.imagepipe.test", &[&["203.0.113.7"], &["127.0.0.1"]])]);
    let system = TestSystem::start(system_options(port, resolver.clone(), &[])).await;

    // The system's own resolver: localhost is loopback, refused although its name is listed.
    let detail = refused(&system, &format!("http://localhost:{port}/hook")).await;
    assert!(detail.contains("(loopback)"), "{detail}");

    let url = format!("http://rebind.imagepipe.test:{port}/hook");
    let response = system.upload_form(with_callback(logo(), &url), &[]).await;
    assert_eq!(response.status(), 202, "public at upload");
    let task_id = task_id_of(&response.json().await.unwrap());
    system.wait_terminal(task_id, Duration::from_secs(60)).await;

    let delivery = || async {
        let rows = webhook_delivery::Entity::find()
            .all(&system.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        rows.into_iter().next().unwrap()
    };
    system
        .eventually(
            "two attempts refused at connect",
            Duration::from_secs(30),
            || async { delivery().await.attempts >= 2 && delivery().await.last_error.is_some() },
        )
        .await;
    let row = delivery().await;
    let reason = row.last_error.unwrap();
    assert!(
        reason.contains("not sent")
            && reason.contains("rebind.imagepipe.test")
            && reason.contains("127.0.0.1 (loopback)"),
        "{reason}"
    );
    assert!(row.delivered_at.is_none());
    assert!(
        row.abandoned_at.is_none(),
        "a refused address is a failed attempt, retried"
    );
    assert!(resolver.lookups("rebind.imagepipe.test") >= 3);
    assert!(
        receiver.received().is_empty(),
        "the local receiver got nothing"
    );
    system.cleanup().await;
}
