//! The benchmarks, one module each; what they share is here. Each prints one JSON object on
//! stdout; progress goes to stderr.

pub(crate) mod e2e;
pub(crate) mod ingest;
pub(crate) mod latency;
pub(crate) mod memory;

use std::{
    collections::BTreeMap,
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use bytes::Bytes;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    Target,
    client::{Api, Db, Sample, closed_loop},
    procfs::Services,
};

pub(crate) struct Upload {
    pub bytes: Bytes,
    pub name: String,
    pub mime: &'static str,
}

impl Upload {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload")
            .to_owned();
        let mime = match path.extension().and_then(|e| e.to_str()) {
            Some("png") => "image/png",
            _ => "image/jpeg",
        };
        Ok(Self {
            bytes: Bytes::from(bytes),
            name,
            mime,
        })
    }
}

/// `n` uploads of the same file through `concurrency` clients.
pub(crate) async fn upload_many(
    api: &Api,
    file: &Upload,
    n: usize,
    concurrency: usize,
) -> (Vec<Sample>, f64) {
    let (api, bytes, name, mime) = (
        api.clone(),
        file.bytes.clone(),
        file.name.clone(),
        file.mime,
    );
    let (samples, wall) = closed_loop(n, concurrency, move |_| {
        let (api, bytes, name) = (api.clone(), bytes.clone(), name.clone());
        async move { api.upload(&name, bytes, mime).await }
    })
    .await;
    (samples, wall.as_secs_f64())
}

/// Accepted count, refusals by status, accepted ids, latency of every request.
pub(crate) fn tally(samples: &[Sample]) -> (usize, BTreeMap<String, usize>, Vec<Uuid>, Vec<f64>) {
    let mut refused = BTreeMap::new();
    let mut ids = Vec::new();
    for s in samples {
        match s.task_id {
            Some(id) if s.status == 202 => ids.push(id),
            _ => *refused.entry(s.status.to_string()).or_insert(0) += 1,
        }
    }
    let ms = samples.iter().map(|s| s.ms).collect();
    (ids.len(), refused, ids, ms)
}

pub(crate) fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub(crate) fn emit(value: &Value) {
    println!("{value}");
}

/// What every benchmark against the running system starts from: the file, the API, the
/// services' pids and the task database.
pub(crate) struct Bench {
    pub upload: Upload,
    pub api: Api,
    pub services: Services,
    pub db: Db,
}

impl Bench {
    pub(crate) async fn open(target: &Target, file: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            upload: Upload::read(file)?,
            api: Api::new(&target.ingest_url)?,
            services: Services::read(&target.state)?,
            db: Db::connect(&target.database.database_url).await?,
        })
    }
}
