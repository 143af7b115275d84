//! What an accepted upload costs PostgreSQL, counted on the wire between ingest and the
//! database (`PgWireLog`; issue 16): the request records the task and its job in one statement,
//! outside any transaction block, and the outbox relay deletes the jobs the broker confirmed in
//! batches, one statement for all the jobs of a pass, on a connection it keeps (so no pings).
//!
//! Ingest's background loops (the relay's poll, the backlog's count) talk to the database
//! meanwhile; their statements are told apart by what they say, so the counts below are the
//! upload's own.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use imagepipe_tests::{Exchange, Options, TestSystem, good_image, task_id_of};

const DEADLINE: Duration = Duration::from_secs(30);

/// What a unit of work on one connection (a transaction block, or one statement in an
/// implicit transaction) is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The outbox relay: `BEGIN`, its `DELETE … (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`,
    /// `COMMIT` once the broker confirmed every job taken (or `ROLLBACK`: nothing was there,
    /// or not every job was confirmed, when a `DELETE … WHERE id = ANY` of the confirmed ones
    /// follows).
    Relay,
    /// The backlog gauge's count of the outbox.
    Backlog,
    /// Anything else: the request's own work.
    Request,
}

/// One transaction block (`BEGIN` … `COMMIT`/`ROLLBACK`) or one statement outside any, on one
/// connection, with the exchanges (round trips) its statements took.
#[derive(Debug, Default)]
struct Unit {
    connection: u64,
    statements: Vec<String>,
    exchanges: usize,
}

impl Unit {
    fn part(&self) -> Part {
        let relay = |sql: &str| {
            ["BEGIN", "COMMIT", "ROLLBACK"].contains(&sql)
                || sql.contains("FOR UPDATE SKIP LOCKED")
                || sql.starts_with("DELETE FROM outbox WHERE id = ANY")
        };
        if self.runs("count(*)") && self.runs("FROM outbox") {
            Part::Backlog
        } else if self.statements.iter().all(|sql| relay(sql.trim())) {
            // A relay transaction (or the end of one begun before the window opened).
            Part::Relay
        } else {
            Part::Request
        }
    }

    fn commits(&self) -> bool {
        self.statements.last().map(|sql| sql.trim()) == Some("COMMIT")
    }

    fn runs(&self, text: &str) -> bool {
        self.statements.iter().any(|sql| sql.contains(text))
    }
}

/// What the exchanges of a window add up to.
#[derive(Debug, Default)]
struct Tally {
    requests: Vec<Unit>,
    relay_passes: usize,
    relay_statements: usize,
    /// Exchanges that ran no statement on a connection the relay used.
    relay_pings: usize,
    deletes: usize,
    backlog: usize,
    pings: usize,
    prepares: usize,
}

/// Group each connection's statements into units, and the units by what they are part of.
fn tally(exchanges: &[Exchange]) -> Tally {
    let mut open: HashMap<u64, Unit> = HashMap::new();
    let mut units = Vec::new();
    let mut tally = Tally::default();
    let mut pings_by_connection: HashMap<u64, usize> = HashMap::new();
    for exchange in exchanges {
        if exchange.is_ping() {
            tally.pings += 1;
            *pings_by_connection.entry(exchange.connection).or_default() += 1;
            continue;
        }
        if exchange.statements.is_empty() {
            tally.prepares += 1;
            continue;
        }
        for (n, sql) in exchange.statements.iter().enumerate() {
            let unit = open.entry(exchange.connection).or_insert_with(|| Unit {
                connection: exchange.connection,
                ..Unit::default()
            });
            unit.statements.push(sql.clone());
            // The exchange counts for the unit its first statement belongs to.
            unit.exchanges += usize::from(n == 0);
            let sql = sql.trim();
            let in_block = unit.statements.first().map(|s| s.trim()) == Some("BEGIN");
            if !in_block || sql == "COMMIT" || sql == "ROLLBACK" {
                units.extend(open.remove(&exchange.connection));
            }
        }
    }
    units.extend(open.into_values());
    let mut relay_connections = HashSet::new();
    for unit in units {
        match unit.part() {
            Part::Relay => {
                relay_connections.insert(unit.connection);
                tally.relay_passes += usize::from(unit.runs("SKIP LOCKED"));
                tally.relay_statements += unit.statements.len();
                // A pass that found nothing ran its DELETE too, and rolled it back.
                tally.deletes += usize::from(unit.runs("DELETE FROM outbox") && unit.commits());
            }
            Part::Backlog => tally.backlog += 1,
            Part::Request => tally.requests.push(unit),
        }
    }
    tally.relay_pings = relay_connections
        .iter()
        .filter_map(|connection| pings_by_connection.get(connection))
        .sum();
    tally
}

/// Upload, wait until the relay has published and deleted the job, and tally what ingest asked
/// of the database meanwhile.
async fn one_upload(system: &TestSystem, name: &str, key: Option<&str>) -> Tally {
    let log = system.ingest_db_log.as_ref().unwrap();
    let mark = log.mark();
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    let response = system
        .upload_form(TestSystem::file_form(name, good_image(name)), &headers)
        .await;
    assert_eq!(response.status(), 202);
    task_id_of(&response.json().await.unwrap());
    system
        .eventually("the job is published", DEADLINE, || async {
            system.outbox_len().await == 0
        })
        .await;
    let tally = tally(&log.since(mark));
    eprintln!(
        "{name} (key: {key:?}): request {:?}; relay {} passes, {} statements, {} DELETE, \
         {} pings; backlog {}; pings {}; prepares {}",
        tally
            .requests
            .iter()
            .map(|u| (u.statements.len(), u.exchanges))
            .collect::<Vec<_>>(),
        tally.relay_passes,
        tally.relay_statements,
        tally.deletes,
        tally.relay_pings,
        tally.backlog,
        tally.pings,
        tally.prepares,
    );
    tally
}

#[tokio::test]
async fn an_accepted_upload_records_its_task_and_job_in_one_statement() {
    let system = TestSystem::start(Options {
        start_processor: false,
        log_ingest_db: true,
        ..Options::default()
    })
    .await;
    let mut relay_pings = 0;
    for name in ["rocket.jpg", "coffee.png", "camera.png"] {
        let tally = one_upload(&system, name, None).await;
        relay_pings += tally.relay_pings;
        let [request] = tally.requests.as_slice() else {
            panic!("one unit of work for the request: {:#?}", tally.requests);
        };
        assert_eq!(
            (request.statements.len(), request.exchanges),
            (1, 1),
            "one statement, one round trip, no BEGIN or COMMIT: {:#?}",
            request.statements
        );
        assert!(
            request.runs("INSERT INTO tasks") && request.runs("INSERT INTO outbox"),
            "the task and its job together: {:#?}",
            request.statements
        );
        assert_eq!(tally.deletes, 1, "the job deleted once, after its confirm");
    }
    // The relay keeps its connection from pass to pass: one checkout in all (its ping before
    // use falls in the first window when the relay's first pass comes after the test's
    // start), never a checkout per pass (three pings each).
    assert!(
        relay_pings <= 1,
        "{relay_pings} pings on the relay's connection"
    );
    system.cleanup().await;
}

#[tokio::test]
async fn an_upload_with_a_key_claims_it_then_records_task_job_and_key_in_one_statement() {
    let system = TestSystem::start(Options {
        start_processor: false,
        log_ingest_db: true,
        ..Options::default()
    })
    .await;
    let tally = one_upload(&system, "rocket.jpg", Some("one-statement")).await;
    let [claim, create] = tally.requests.as_slice() else {
        panic!("the claim, then the task: {:#?}", tally.requests);
    };
    assert!(claim.runs("INSERT INTO idempotency_keys"), "{claim:#?}");
    assert_eq!((claim.statements.len(), claim.exchanges), (1, 1));
    assert_eq!(
        (create.statements.len(), create.exchanges),
        (1, 1),
        "{create:#?}"
    );
    for part in [
        "INSERT INTO tasks",
        "INSERT INTO outbox",
        "UPDATE idempotency_keys",
    ] {
        assert!(create.runs(part), "{part} in {:#?}", create.statements);
    }
    // The key recorded its task: the same request again is a replay.
    let replay = system
        .upload_form(
            TestSystem::file_form("rocket.jpg", good_image("rocket.jpg")),
            &[("Idempotency-Key", "one-statement")],
        )
        .await;
    assert_eq!(replay.status(), 202);
    assert_eq!(system.task_count().await, 1);
    system.cleanup().await;
}

/// Jobs that waited in the outbox for the broker are published together once it is back, and
/// deleted by one statement, not one each.
#[tokio::test]
async fn jobs_confirmed_together_are_deleted_by_one_statement() {
    let system = TestSystem::start(Options {
        start_processor: false,
        proxy_amqp: true,
        log_ingest_db: true,
        ..Options::default()
    })
    .await;
    let broker = system.amqp_proxy.as_ref().unwrap();
    broker.cut();
    for _ in 0..10 {
        system
            .upload_accepted("rocket.jpg", good_image("rocket.jpg"))
            .await;
    }
    assert_eq!(
        system.outbox_len().await,
        10,
        "the jobs wait for the broker"
    );
    let log = system.ingest_db_log.as_ref().unwrap();
    let mark = log.mark();
    broker.restore();
    system
        .eventually("the jobs are published", DEADLINE, || async {
            system.outbox_len().await == 0
        })
        .await;
    let tally = tally(&log.since(mark));
    eprintln!("after the broker's return: {tally:?}");
    assert!(tally.requests.is_empty(), "{:#?}", tally.requests);
    assert_eq!(tally.deletes, 1, "ten confirmed jobs, one DELETE");
    system.cleanup().await;
}
