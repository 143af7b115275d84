//! What tests do to a running system and how they look at it: upload, poll, count, wait.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use uuid::Uuid;

use crate::TestSystem;

impl TestSystem {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `GET path` on ingest, with no headers of the test's own: its answer.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `POST /api/v1/analyze` with `bytes` as the multipart field `file`.
    pub async fn upload(&self, file_name: &str, bytes: Vec<u8>) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.http
            .post(self.url("/api/v1/analyze"))
            .multipart(form)
            .send()
            .await
            .expect("ingest answers")
    }

    /// A form with `bytes` as the field `file`.
    pub fn file_form(file_name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned());
        reqwest::multipart::Form::new().part("file", part)
    }

    /// `POST /api/v1/analyze` with any form and extra headers (API key, Idempotency-Key).
    pub async fn upload_form(
        &self,
        form: reqwest::multipart::Form,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url("/api/v1/analyze")).multipart(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("ingest answers")
    }

    /// Any API call, with an optional API key: status code and JSON body (`Null` if none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        api_key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = api_key {
            request = request.header("X-API-Key", key);
        }
        let response = request.send().await.expect("ingest answers");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Upload a file and return its task id, asserting the 202.
    pub async fn upload_accepted(&self, file_name: &str, bytes: Vec<u8>) -> Uuid {
        let response = self.upload(file_name, bytes).await;
        assert_eq!(response.status(), 202, "upload of {file_name} accepted");
        task_id_of(&response.json().await.expect("JSON body"))
    }

    /// `GET /openapi.json`.
    pub async fn openapi_document(&self) -> Value {
        self.http
            .get(self.url("/openapi.json"))
            .send()
            .await
            .expect("ingest answers")
            .json()
            .await
            .expect("JSON body")
    }

    /// `GET /api/v1/tasks/{id}` as JSON, with its status code.
    pub async fn task(&self, task_id: Uuid) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(&format!("/api/v1/tasks/{task_id}")))
            .send()
            .await
            .expect("ingest answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Poll a task until it is COMPLETED, FAILED or CANCELLED; panics after `deadline`.
    pub async fn wait_terminal(&self, task_id: Uuid, deadline: Duration) -> Value {
        let start = tokio::time::Instant::now();
        loop {
            let (status, task) = self.task(task_id).await;
            assert_eq!(status, 200, "task {task_id} exists: {task}");
            if matches!(
                task["status"].as_str(),
                Some("COMPLETED" | "FAILED" | "CANCELLED")
            ) {
                return task;
            }
            assert!(
                start.elapsed() < deadline,
                "task {task_id} not finished within {deadline:?}: {task}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Messages ready in one of this system's queues.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let connection = Connection::connect(&self.amqp_url, ConnectionProperties::default())
            .await
            .expect("RabbitMQ reachable");
        let channel = connection.create_channel().await.expect("channel");
        let depth = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::default().passive(),
                FieldTable::default(),
            )
            .await
            .expect("queue exists")
            .message_count();
        connection.close(200, "bye".into()).await.ok();
        depth
    }

    /// Publish a raw message, as any client of the broker could.
    pub async fn publish_raw(&self, exchange: &str, routing_key: &str, body: &[u8]) {
        let connection = Connection::connect(&self.amqp_url, ConnectionProperties::default())
            .await
            .expect("RabbitMQ reachable");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(Default::default())
            .await
            .expect("confirm mode");
        imagepipe_shared::amqp::publish_confirmed(
            &channel,
            exchange,
            routing_key,
            &Uuid::new_v4().to_string(),
            body,
            FieldTable::default(),
        )
        .await
        .expect("published");
        connection.close(200, "bye".into()).await.ok();
    }

    /// `POST /api/v1/tasks/{id}/cancel`, which must cancel the task.
    pub async fn cancel_accepted(&self, id: Uuid) {
        let (status, task) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/tasks/{id}/cancel"),
                None,
            )
            .await;
        assert_eq!(
            (status, task["status"].as_str()),
            (200, Some("CANCELLED")),
            "{task}"
        );
    }

    /// What a processor that never heard of a task's cancellation stores: a result at the
    /// first run's key, returned.
    pub async fn store_late_result(&self, id: Uuid) -> String {
        let key = format!("results/{id}.png");
        self.storage
            .processed
            .upload_file(&key, crate::good_image("logo.png").into(), "image/png")
            .await
            .expect("the result stored");
        key
    }

    /// Report `key` as the first run's COMPLETED result on the events exchange, as that
    /// processor would next.
    pub async fn report_completed(&self, id: Uuid, key: &str) {
        let event = imagepipe_shared::messages::StatusEvent::completed(
            id,
            1,
            key.to_owned(),
            crate::a_png_result(),
        );
        self.publish_raw(
            &self.topology.events_exchange(),
            imagepipe_shared::topology::EVENT_ROUTING_KEY,
            &serde_json::to_vec(&event).expect("an event serializes"),
        )
        .await;
    }

    /// A task created the way ingest would, but without ingest or its checks: the original
    /// written straight to the bucket, the row inserted, the job published to the work queue.
    pub async fn enqueue_directly(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        width: i32,
        height: i32,
    ) -> Uuid {
        self.enqueue_with_steps(bytes, content_type, (width, height), None)
            .await
    }

    /// [`enqueue_directly`](Self::enqueue_directly) with a job that carries `steps` (JSON
    /// never checked by ingest; `None`: the default chain), as any client of the broker could
    /// publish it.
    pub async fn enqueue_with_steps(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        (width, height): (i32, i32),
        steps: Option<Value>,
    ) -> Uuid {
        let id = Uuid::now_v7();
        let key = imagepipe_shared::keys::original_key(id);
        let size = bytes.len() as i64;
        self.storage
            .uploads
            .upload_file(&key, bytes.into(), content_type)
            .await
            .expect("original stored");
        self.db
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "INSERT INTO tasks (id, status, original_key, content_type, size_bytes, width, height)
                 VALUES ($1, 'PENDING', $2, $3, $4, $5, $6)",
                vec![
                    id.into(),
                    key.clone().into(),
                    content_type.into(),
                    size.into(),
                    width.into(),
                    height.into(),
                ],
            ))
            .await
            .expect("task row inserted");
        let job = imagepipe_shared::messages::JobMessage::new(id, key, content_type.to_owned())
            .with_steps(steps);
        self.publish_raw(
            &self.topology.jobs_exchange(),
            imagepipe_shared::topology::JOB_ROUTING_KEY,
            &serde_json::to_vec(&job).expect("JSON"),
        )
        .await;
        id
    }

    /// Wait until `condition` holds, polling; panics after `deadline`.
    pub async fn eventually<F, Fut>(&self, what: &str, deadline: Duration, mut condition: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let start = tokio::time::Instant::now();
        while !condition().await {
            assert!(
                start.elapsed() < deadline,
                "not within {deadline:?}: {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Rows in the outbox (jobs committed but not yet confirmed by the broker).
    pub async fn outbox_len(&self) -> i64 {
        self.count("SELECT count(*) AS n FROM outbox").await
    }

    /// Rows in the task table.
    pub async fn task_count(&self) -> i64 {
        self.count("SELECT count(*) AS n FROM tasks").await
    }

    /// Idempotency keys claimed or recorded.
    pub async fn idempotency_key_count(&self) -> i64 {
        self.count("SELECT count(*) AS n FROM idempotency_keys")
            .await
    }

    /// Run one SQL statement on the test's database (to set up states no API call makes).
    pub async fn sql(&self, statement: &str) {
        self.db
            .execute_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                statement,
            ))
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .expect("query")
            .expect("one row");
        row.try_get("", "n").expect("a count")
    }

    /// `GET /health/ready`: status code and body.
    pub async fn readiness(&self) -> (u16, Value) {
        let response = self
            .http
            .get(self.url("/health/ready"))
            .send()
            .await
            .expect("ingest answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// `GET /health/ready` of the processor or the result-writer (by port): its status code,
    /// or 0 when it does not answer.
    pub async fn worker_readiness(&self, port: u16) -> u16 {
        self.http
            .get(format!("http://127.0.0.1:{port}/health/ready"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    /// Wait until a worker's readiness answers `status`.
    pub async fn wait_worker_readiness(&self, port: u16, status: u16, what: &str) {
        self.eventually(what, Duration::from_secs(60), || async {
            self.worker_readiness(port).await == status
        })
        .await;
    }

    /// Wait until a task reads PROCESSING.
    pub async fn wait_processing(&self, task_id: Uuid, deadline: Duration) {
        self.eventually("the task is PROCESSING", deadline, || async {
            self.task(task_id).await.1["status"] == "PROCESSING"
        })
        .await;
    }
}

/// The `task_id` of a task or of an upload's answer.
pub fn task_id_of(body: &Value) -> Uuid {
    body["task_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a task_id in {body}"))
        .parse()
        .expect("a UUID")
}
