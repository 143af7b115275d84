//! The scaled-out system a chaos run loads and breaks: one [`TestSystem`] (its database, queue
//! prefix and buckets, with a [`FaultProxy`](crate::FaultProxy) in front of the object store,
//! the broker and the database) whose in-process services are stopped, and in their place
//! several instances of each service as processes, as a deployment past one machine runs
//! them: 2 ingest, 3 processors, 2 result-writers. SIGKILL and SIGTERM are real.

use std::{path::PathBuf, time::Duration};

use crate::{Options, ServiceProcess, TestSystem, WebhookReceiver, claim_port};

/// Retry delays of the chaos system's jobs: an outage of the object store of up to 8 s (the
/// longest the driver holds one) is within the retry budget of 5 attempts (1 + 2 + 4 + 4 s of
/// waiting), so most tasks complete and a few may fail `storage_unavailable`.
pub(crate) const RETRY_DELAYS_MS: [u64; 3] = [1000, 2000, 4000];
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// The default chain's simulated inference: short, so tasks end during the run.
pub(crate) const PROCESSING_DELAY_MS: u64 = 300;
/// The webhook secret the result-writers sign with.
pub(crate) const WEBHOOK_SECRET: &str = "chaos-webhook-secret";

/// How many instances of each service run.
const INGESTS: usize = 2;
const PROCESSORS: usize = 3;
const RESULT_WRITERS: usize = 2;
/// How long a SIGTERMed service may take to exit before it counts as an unclean stop (its
/// grace is 10 s, ingest's in-flight requests 10 s).
const STOP_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Service {
    Ingest,
    Processor,
    ResultWriter,
}

impl Service {
    pub(crate) const ALL: [Self; 3] = [Self::Ingest, Self::Processor, Self::ResultWriter];

    fn binary(self) -> &'static str {
        match self {
            Self::Ingest => "imagepipe-ingest",
            Self::Processor => "imagepipe-processor",
            Self::ResultWriter => "imagepipe-result-writer",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Processor => "processor",
            Self::ResultWriter => "result-writer",
        }
    }
}

/// One instance: its port (ingest's HTTP, a worker's health endpoint) stays the same across
/// restarts, as a pod's address behind its service would.
struct Instance {
    service: Service,
    index: usize,
    port: u16,
    args: Vec<String>,
    process: Option<ServiceProcess>,
}

pub(crate) struct Cluster {
    pub(crate) system: TestSystem,
    pub(crate) receiver: WebhookReceiver,
    instances: Vec<Instance>,
    log_dir: Option<PathBuf>,
    /// Instances found dead that no fault killed (a crash), as `service#index (exit code)`.
    pub(crate) unexpected_exits: Vec<String>,
    /// SIGTERMs not followed by exit 0 within [`STOP_DEADLINE`].
    pub(crate) unclean_stops: Vec<String>,
}

/// What the load needs to reach the system: the ingest base URLs and the webhook target.
#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) ingests: Vec<String>,
    pub(crate) callback_url: String,
}

impl Cluster {
    pub(crate) async fn start(log_dir: Option<PathBuf>) -> Self {
        if let Some(dir) = &log_dir {
            std::fs::create_dir_all(dir).expect("CHAOS_LOG_DIR can be created");
        }
        let receiver = WebhookReceiver::start(claim_port(), 0).await;
        let mut system = TestSystem::start(Options {
            processing_delay_ms: PROCESSING_DELAY_MS,
            processor_concurrency: 4,
            max_attempts: MAX_ATTEMPTS,
            retry_delays_ms: RETRY_DELAYS_MS.to_vec(),
            start_processor: false,
            proxy_s3: true,
            proxy_amqp: true,
            proxy_db: true,
            webhook_allowed_hosts: vec![format!("127.0.0.1:{}", receiver.port)],
            // The receiver is local: loopback is refused unless allowed.
            webhook_allowed_addresses: vec!["127.0.0.0/8".to_owned()],
            webhook_secret: Some(WEBHOOK_SECRET.to_owned()),
            ..Options::default()
        })
        .await;
        // Every service runs as a process instead.
        system.stop_ingest().await;
        system.stop_result_writer().await;

        let mut instances = Vec::new();
        for (service, count) in [
            (Service::Ingest, INGESTS),
            (Service::Processor, PROCESSORS),
            (Service::ResultWriter, RESULT_WRITERS),
        ] {
            for index in 0..count {
                let port = claim_port();
                let args = match service {
                    Service::Ingest => system.ingest_args(port),
                    Service::Processor => system.processor_args_on(port),
                    Service::ResultWriter => system.result_writer_args_on(port),
                };
                instances.push(Instance {
                    service,
                    index,
                    port,
                    args,
                    process: None,
                });
            }
        }
        let mut cluster = Self {
            system,
            receiver,
            instances,
            log_dir,
            unexpected_exits: Vec::new(),
            unclean_stops: Vec::new(),
        };
        for i in 0..cluster.instances.len() {
            cluster.spawn(i);
        }
        cluster.wait_ready().await;
        cluster
    }

    pub(crate) fn clients(&self) -> Clients {
        Clients {
            ingests: self
                .instances
                .iter()
                .filter(|i| i.service == Service::Ingest)
                .map(|i| format!("http://127.0.0.1:{}", i.port))
                .collect(),
            callback_url: self.receiver.url(),
        }
    }

    /// The positions of `service`'s instances.
    pub(crate) fn instances_of(&self, service: Service) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|&i| self.instances[i].service == service)
            .collect()
    }

    pub(crate) fn label(&self, i: usize) -> String {
        let instance = &self.instances[i];
        format!("{}#{}", instance.service.name(), instance.index)
    }

    fn spawn(&mut self, i: usize) {
        let log = self
            .log_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.log", self.label(i))));
        let instance = &mut self.instances[i];
        instance.process = Some(ServiceProcess::spawn_logged(
            instance.service.binary(),
            &instance.args,
            &[],
            log.as_deref(),
        ));
    }

    /// SIGKILL instance `i` (it stays down until [`restart`](Self::restart)).
    pub(crate) async fn kill(&mut self, i: usize) {
        if let Some(process) = self.instances[i].process.take() {
            process.kill().await;
        }
    }

    /// SIGTERM instance `i` and wait for it to exit; anything but exit 0 within the deadline
    /// is recorded as an unclean stop.
    pub(crate) async fn terminate(&mut self, i: usize) {
        let label = self.label(i);
        if let Some(process) = self.instances[i].process.take() {
            match process.terminate_or_kill(STOP_DEADLINE).await {
                Some(Some(0)) => {}
                other => self.unclean_stops.push(format!("{label}: {other:?}")),
            }
        }
    }

    /// Start instance `i` again if it is down.
    pub(crate) fn restart(&mut self, i: usize) {
        if self.instances[i].process.is_none() {
            self.spawn(i);
        }
    }

    /// Restart every instance that died without a fault, recording it.
    pub(crate) fn revive_crashed(&mut self) {
        for i in 0..self.instances.len() {
            let exited = self.instances[i]
                .process
                .as_mut()
                .and_then(ServiceProcess::exited);
            if let Some(code) = exited {
                let label = self.label(i);
                self.unexpected_exits.push(format!("{label} ({code:?})"));
                self.instances[i].process = None;
                self.spawn(i);
            }
        }
    }

    /// Wait until every instance answers ready: ingest on its API port, the workers on their
    /// health ports.
    pub(crate) async fn wait_ready(&self) {
        for instance in &self.instances {
            let url = format!("http://127.0.0.1:{}/health/ready", instance.port);
            let what = format!("{}#{} ready", instance.service.name(), instance.index);
            self.system
                .eventually(&what, Duration::from_secs(90), || async {
                    self.system
                        .http
                        .get(&url)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200)
                })
                .await;
        }
    }

    /// Stop every instance (SIGTERM, as a rollout would) and remove what the system made.
    pub(crate) async fn stop(mut self) {
        for i in 0..self.instances.len() {
            self.terminate(i).await;
        }
        self.system.cleanup().await;
    }
}
