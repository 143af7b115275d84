//! A real Open Inference Protocol server for the tests of the processor's `oip` runtime:
//! MLServer (PyPI, pinned in tests/reference/mlserver/requirements.txt, installed by
//! scripts/lib.sh's `ensure_mlserver`) serving ONNX files through the custom runtime
//! tests/reference/mlserver/onnx_model.py, run as a child process that a test can stop and
//! start again on the same ports (a model server that goes away and comes back).
//!
//! The executable is `IMAGEPIPE_TEST_MLSERVER`, by default the one in
//! `<repository>/.local/venv-mlserver`. Its log (both runs after a restart) is
//! `<dir>/mlserver.log`.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::{ports::claim_port, process::send_signal};

/// How long MLServer may take to answer ready for every model (about 2 s here).
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A tensor as the model's metadata (`GET v2/models/{name}`) lists it.
#[derive(Clone, Debug, Serialize)]
pub struct TensorMeta {
    pub name: String,
    /// An Open Inference Protocol datatype: `FP32`, `UINT8`...
    pub datatype: String,
    pub shape: Vec<i64>,
}

/// An ONNX file served as the model `name`.
#[derive(Clone, Debug)]
pub struct ServedModel {
    pub name: String,
    pub onnx: PathBuf,
    pub inputs: Vec<TensorMeta>,
    pub outputs: Vec<TensorMeta>,
}

/// A running MLServer, killed (its whole process group) when dropped.
pub struct MlServer {
    dir: PathBuf,
    models: Vec<String>,
    http_port: u16,
    child: Option<Child>,
}

fn executable() -> PathBuf {
    let path = std::env::var_os("IMAGEPIPE_TEST_MLSERVER").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/venv-mlserver/bin/mlserver"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "no MLServer at {} (IMAGEPIPE_TEST_MLSERVER): run `source scripts/lib.sh && \
         ensure_mlserver`, which installs tests/reference/mlserver/requirements.txt into \
         .local/venv-mlserver",
        path.display()
    );
    path
}

fn write_json(path: &Path, value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

impl MlServer {
    /// Write the server's folder (`dir`, emptied first) for `models` and start MLServer on it,
    /// on free ports; returns when every model answers ready.
    pub async fn start(dir: &Path, models: Vec<ServedModel>) -> Self {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let http_port = claim_port();
        // MLServer always serves gRPC too: it needs a port of its own even if no test uses it.
        let grpc_port = claim_port();
        write_json(
            &dir.join("settings.json"),
            &json!({
                "host": "127.0.0.1",
                "http_port": http_port,
                "grpc_port": grpc_port,
                // No metrics server (and no third port).
                "metrics_endpoint": null,
                // The parallel inference pool fails at start here (../shared/TOOLS.md).
                "parallel_workers": 0,
                // FastAPI's debug mode answers a 500 with the traceback: a real server does not.
                "debug": false,
            }),
        );
        // MLServer puts the served folder on sys.path: `onnx_model.OnnxModel` imports from here.
        let runtime =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/mlserver/onnx_model.py");
        std::fs::copy(&runtime, dir.join("onnx_model.py"))
            .unwrap_or_else(|e| panic!("{}: {e}", runtime.display()));
        for model in &models {
            let onnx = std::path::absolute(&model.onnx).expect("absolute path");
            assert!(onnx.is_file(), "no model file {}", onnx.display());
            let folder = dir.join(&model.name);
            std::fs::create_dir_all(&folder).expect("model folder");
            write_json(
                &folder.join("model-settings.json"),
                &json!({
                    "name": model.name,
                    "implementation": "onnx_model.OnnxModel",
                    "parameters": { "uri": onnx },
                    // Declared, or the metadata lists no inputs nor outputs.
                    "inputs": model.inputs,
                    "outputs": model.outputs,
                }),
            );
        }
        let mut server = Self {
            dir: dir.to_owned(),
            models: models.into_iter().map(|model| model.name).collect(),
            http_port,
            child: None,
        };
        server.spawn().await;
        server
    }

    /// `http://127.0.0.1:PORT`, the REST endpoint (`/v2/...` under it).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Kill the server (SIGKILL to its process group, as a crash would) and wait for it: when
    /// this returns, its port refuses connections.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&child);
            child.wait().await.expect("MLServer's exit status");
        }
    }

    /// Start the server again (stopping it first if it runs), on the same folder and ports;
    /// returns when ready.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("mlserver.log")
    }

    async fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("MLServer's log file");
        let mut command = Command::new(executable());
        command
            .arg("start")
            .arg(&self.dir)
            // MLServer reads a `.env` file and resolves its working folders in its cwd.
            .current_dir(&self.dir)
            // Only what Python needs: an `MLSERVER_*` variable where the tests run would
            // override settings.json.
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("PYTHONUNBUFFERED", "1")
            .env("OMP_NUM_THREADS", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            // Its own process group, so that stopping it stops whatever it started too.
            .process_group(0)
            .kill_on_drop(true);
        let started = Instant::now();
        self.child = Some(command.spawn().expect("MLServer starts"));
        self.wait_ready(started).await;
    }

    async fn wait_ready(&mut self, started: Instant) {
        // No pooled connections: a connection to the previous run must not be reused.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        for model in self.models.clone() {
            let url = format!("{}/v2/models/{model}/ready", self.url());
            loop {
                let status = client.get(&url).send().await.map(|r| r.status());
                if status.as_ref().is_ok_and(|s| s.is_success()) {
                    break;
                }
                // A model that fails to load makes MLServer shut down (with exit code 0).
                let child = self.child.as_mut().expect("running");
                if let Ok(Some(exit)) = child.try_wait() {
                    self.fail(&format!("exited ({exit}) before model {model} was ready"));
                }
                if started.elapsed() > READY_DEADLINE {
                    self.fail(&format!(
                        "model {model} not ready within {READY_DEADLINE:?} (last: {status:?})"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    fn fail(&mut self, what: &str) -> ! {
        if let Some(child) = self.child.take() {
            kill_group(&child);
        }
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        panic!(
            "MLServer in {} {what}; the end of {}:\n{tail}",
            self.dir.display(),
            self.log_path().display()
        );
    }
}

/// SIGKILL to the child's process group (its id is the child's pid: `process_group(0)`).
fn kill_group(child: &Child) {
    if let Some(pid) = child.id() {
        send_signal(pid, "KILL", true);
    }
}

impl Drop for MlServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            kill_group(child);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::made_models::{colours_on_server, make_models};

    /// The status and the JSON body (null when none) of a request.
    async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn pixels(data: &[f32]) -> Value {
        let input = json!({ "name": "pixels", "datatype": "FP32", "shape": [1, 3, 24, 32],
                            "data": data });
        json!({ "inputs": [input] })
    }

    #[tokio::test]
    async fn serves_stops_and_restarts() {
        let dir = std::env::temp_dir().join(format!("imagepipe-mlserver-{}", std::process::id()));
        let models = dir.join("models");
        make_models(&models);
        let started = Instant::now();
        let colours = colours_on_server(&models);
        let mut server = MlServer::start(&dir.join("server"), vec![colours]).await;
        eprintln!("MLServer ready in {:?}", started.elapsed());
        let client = reqwest::Client::new();
        let url = server.url();

        let (status, metadata) = call(client.get(format!("{url}/v2/models/colours"))).await;
        assert_eq!(status, 200);
        let pixels_meta = json!({ "name": "pixels", "datatype": "FP32", "shape": [1, 3, 24, 32] });
        assert_eq!(metadata["inputs"], json!([pixels_meta]));

        // Channel 0 all 1.0, the others -1.0: the logits are 2 * each channel's mean.
        let plane = 24 * 32;
        let data: Vec<f32> = (0..3 * plane)
            .map(|i| if i < plane { 1.0 } else { -1.0 })
            .collect();
        let infer = format!("{url}/v2/models/colours/infer");
        let (status, body) = call(client.post(&infer).json(&pixels(&data))).await;
        assert_eq!(status, 200, "{body}");
        let logits = &body["outputs"][0];
        assert_eq!(
            (&logits["name"], &logits["shape"]),
            (&json!("logits"), &json!([1, 3]))
        );
        // Flat (row-major), as every `data` MLServer returns.
        assert_eq!(logits["data"], json!([2.0, -2.0, -2.0]));
        let values: Vec<f64> = serde_json::from_value(logits["data"].clone()).unwrap();
        let argmax = (0..3).max_by(|&a, &b| values[a].total_cmp(&values[b]));
        assert_eq!(argmax, Some(0));

        let (status, error) = call(client.post(&infer).json(&pixels(&[0.0; 3 * 24 * 32]))).await;
        assert_eq!(status, 400, "{error}");
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains("input pixels is blank"), "{error}");

        server.stop().await;
        let live = format!("{url}/v2/health/live");
        let refused = client.get(&live).send().await.unwrap_err();
        assert!(refused.is_connect(), "{refused:?}");

        let restarted = Instant::now();
        server.restart().await;
        eprintln!("MLServer ready again in {:?}", restarted.elapsed());
        assert_eq!(call(client.get(&live)).await.0, 200);
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
