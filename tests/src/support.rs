//! Test harness: databases, server processes, HTTP clients, SSE reading.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Which database the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server.
    Postgres,
}

pub fn backend() -> Backend {
    match std::env::var("ARENA_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// The folder holding the workspace's binaries (target/<profile>).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/integration-<hash>
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf()
}

pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first",
        path.display()
    );
    path
}

/// A unique scratch folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("arena-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PostgreSQL server URL (database `postgres`) for admin statements.
pub fn postgres_admin_url() -> String {
    std::env::var("ARENA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database for one test, dropped afterwards.
pub struct TestDb {
    pub url: String,
    pub dir: TempDir,
    postgres_name: Option<String>,
}

impl TestDb {
    pub async fn new() -> Result<Self> {
        let dir = TempDir::new();
        match backend() {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.0.join("arena.db").display());
                Ok(Self {
                    url,
                    dir,
                    postgres_name: None,
                })
            }
            Backend::Postgres => {
                let name = format!("arena_test_{}", uuid::Uuid::new_v4().simple());
                let admin = postgres_admin_url();
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .with_context(|| format!("connecting to {admin}"))?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                let base = admin
                    .rsplit_once('/')
                    .map(|(base, _)| base.to_owned())
                    .unwrap_or(admin.clone());
                Ok(Self {
                    url: format!("{base}/{name}"),
                    dir,
                    postgres_name: Some(name),
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Dropping needs async I/O; run it on a private runtime in a thread so
        // it works from inside or outside the test's runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_admin_url()).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// The admin token every test server uses.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// A running `arena serve` process and everything it printed.
pub struct Arena {
    child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

/// Options for starting a server.
#[derive(Clone)]
pub struct ServeOptions {
    pub demo: bool,
    pub demo_pace_ms: u64,
    pub battles_per_minute: u32,
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            demo: true,
            demo_pace_ms: 1,
            battles_per_minute: 0,
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl ServeOptions {
    /// No demo models: the test registers its own.
    pub fn without_demo() -> Self {
        Self {
            demo: false,
            ..Self::default()
        }
    }

    /// Demo models that answer at once.
    pub fn instant() -> Self {
        Self {
            demo_pace_ms: 0,
            ..Self::default()
        }
    }
}

impl Arena {
    pub async fn start(db: &TestDb) -> Result<Self> {
        Self::start_with(db, ServeOptions::default()).await
    }

    pub async fn start_with(db: &TestDb, options: ServeOptions) -> Result<Self> {
        let mut command = Command::new(binary("arena"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &db.url])
            .args(&options.extra_args)
            .env("ARENA_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("ARENA_DEMO_PACE_MS", options.demo_pace_ms.to_string())
            .env(
                "ARENA_BATTLES_PER_MINUTE",
                options.battles_per_minute.to_string(),
            )
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if options.demo {
            command.arg("--demo");
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().context("spawning arena")?;
        let stderr = child.stderr.take().context("stderr")?;
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut addr_tx = Some(addr_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("listening on http://")
                    && let Ok(addr) = rest.trim().parse::<SocketAddr>()
                    && let Some(tx) = addr_tx.take()
                {
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(60), addr_rx).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let _ = child.kill().await;
                bail!(
                    "arena did not start; its output:\n{}",
                    log.lock().expect("log lock")
                );
            }
        };
        Ok(Self { child, addr, log })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A client with the admin token.
    pub fn admin(&self) -> Client {
        Client::new(self.url(""), Some(ADMIN_TOKEN.to_owned()))
    }

    /// An anonymous voter (its own cookie jar of one cookie).
    pub fn voter(&self) -> Client {
        Client::new(self.url(""), None)
    }

    pub fn logs(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn stop(&mut self) -> Result<std::process::ExitStatus> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        Ok(tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??)
    }
}

/// An HTTP client that keeps the `arena_voter` cookie and an optional token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    cookie: Arc<Mutex<Option<String>>>,
    pub token: Option<String>,
}

/// A response with its parsed JSON body (Null when not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// The contract's error code, if the body is an error.
    pub fn error_code(&self) -> Option<&str> {
        self.json.pointer("/error/code").and_then(Value::as_str)
    }
}

impl Client {
    pub fn new(base: String, token: Option<String>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self {
            http,
            base,
            cookie: Arc::new(Mutex::new(None)),
            token,
        }
    }

    pub fn with_token(&self, token: Option<&str>) -> Self {
        let mut next = self.clone();
        next.token = token.map(str::to_owned);
        next
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(cookie) = self.cookie.lock().expect("cookie lock").as_ref() {
            request = request.header("cookie", cookie.clone());
        }
        request
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply> {
        let response = request.send().await?;
        for value in response.headers().get_all("set-cookie") {
            if let Some(pair) = value.to_str().ok().and_then(|v| v.split(';').next())
                && pair.starts_with("arena_voter=")
            {
                *self.cookie.lock().expect("cookie lock") = Some(pair.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            text,
            json,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Reply> {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Reply> {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Result<Reply> {
        self.send(self.request(Method::PATCH, path).json(&body))
            .await
    }

    /// POST with a raw body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<Reply> {
        self.send(
            self.request(Method::POST, path)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// Reads a battle's events until `end` (or the stream closes).
    pub async fn events(&self, battle: &str) -> Result<Vec<(String, Value)>> {
        let response = self
            .request(Method::GET, &format!("/api/v1/battles/{battle}/events"))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("events: {}", response.status());
        }
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => bail!("events did not end in time; got {events:?}"),
                Ok(None) => return Ok(events),
                Ok(Some(chunk)) => chunk?,
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(at) = buffer.find("\n\n") {
                let block: String = buffer.drain(..at + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue; // keep-alive comment
                }
                let value: Value = serde_json::from_str(&data)?;
                let end = name == "end";
                events.push((name, value));
                if end {
                    return Ok(events);
                }
            }
        }
    }

    /// Registers a model and returns its id.
    pub async fn register(&self, body: Value) -> Result<String> {
        let reply = self.post("/api/v1/admin/models", body).await?;
        if reply.status != StatusCode::CREATED {
            bail!("register failed: {} {}", reply.status, reply.text);
        }
        Ok(reply.json["id"].as_str().context("id")?.to_owned())
    }

    /// Disables every registered model.
    pub async fn disable_all(&self) -> Result<()> {
        let list = self.get("/api/v1/admin/models").await?;
        for model in list.json["models"].as_array().context("models")? {
            let id = model["id"].as_str().context("id")?;
            self.patch(
                &format!("/api/v1/admin/models/{id}"),
                serde_json::json!({"enabled": false}),
            )
            .await?;
        }
        Ok(())
    }

    /// Starts a battle, returns its id.
    pub async fn start_battle(&self, prompt: &str) -> Result<String> {
        let reply = self
            .post("/api/v1/battles", serde_json::json!({ "prompt": prompt }))
            .await?;
        if reply.status != StatusCode::CREATED {
            bail!("create battle failed: {} {}", reply.status, reply.text);
        }
        Ok(reply.json["battle_id"]
            .as_str()
            .context("battle_id")?
            .to_owned())
    }

    /// Casts a vote on a battle; `winner` is sent as given (`model_a`,
    /// `model_b`, `tie`, `both_bad`, or anything a test wants refused).
    pub async fn vote(&self, battle: &str, winner: &str) -> Result<Reply> {
        self.post(
            &format!("/api/v1/battles/{battle}/vote"),
            serde_json::json!({ "winner": winner }),
        )
        .await
    }

    /// Starts a battle, streams it to the end, and returns the events.
    pub async fn full_battle(&self, prompt: &str) -> Result<(String, Vec<(String, Value)>)> {
        let id = self.start_battle(prompt).await?;
        let events = self.events(&id).await?;
        Ok((id, events))
    }
}

/// The text each side streamed, from a list of events.
pub fn answers(events: &[(String, Value)]) -> (String, String) {
    let mut a = String::new();
    let mut b = String::new();
    for (name, data) in events {
        if name == "delta" {
            let text = data["text"].as_str().unwrap_or_default();
            match data["side"].as_str() {
                Some("a") => a.push_str(text),
                Some("b") => b.push_str(text),
                _ => {}
            }
        }
    }
    (a, b)
}

/// The mock OpenAI-compatible server, as a separate process.
pub struct MockUpstream {
    child: Child,
    pub addr: SocketAddr,
}

impl MockUpstream {
    pub async fn start() -> Result<Self> {
        let mut child = Command::new(binary("arena-mock-upstream"))
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("spawning arena-mock-upstream")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("mock did not start")??
            .context("mock closed stdout")?;
        let addr = line
            .strip_prefix("listening on ")
            .context("mock banner")?
            .trim()
            .parse()?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, addr })
    }

    /// The OpenAI-compatible root to register.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub async fn stats(&self) -> Result<Value> {
        Ok(reqwest::get(format!("http://{}/stats", self.addr))
            .await?
            .json()
            .await?)
    }
}

/// The value of a client's `arena_voter` cookie (without the name), once
/// the server has set it: tests check that it never leaks into exports.
pub fn voter_cookie(client: &Client) -> Option<String> {
    client
        .cookie
        .lock()
        .expect("cookie lock")
        .as_deref()
        .and_then(|pair| pair.strip_prefix("arena_voter="))
        .map(str::to_owned)
}

/// Runs the `arena` binary with `args` (no `DATABASE_URL` inherited) and
/// returns its output, whatever its exit status.
pub async fn arena_cli(args: &[&str]) -> Result<std::process::Output> {
    Command::new(binary("arena"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running arena {}", args.join(" ")))
}

/// Runs the `arena` binary and fails unless it exits successfully; returns
/// its standard output and standard error as text.
pub async fn arena_ok(args: &[&str]) -> Result<(String, String)> {
    let output = arena_cli(args).await?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        bail!(
            "arena {} failed ({}):\n{stderr}\n{stdout}",
            args.join(" "),
            output.status
        );
    }
    Ok((stdout, stderr))
}

/// `SELECT COUNT(*) FROM {table}` on a test database, on either backend.
pub async fn count_rows(db: &TestDb, table: &str) -> Result<i64> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    Ok(match backend() {
        Backend::Sqlite => {
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url).await?;
            sqlx::query_scalar(sql).fetch_one(&mut conn).await?
        }
        Backend::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await?;
            sqlx::query_scalar(sql).fetch_one(&mut conn).await?
        }
    })
}

/// Runs one statement on the test database, as an operator with a database
/// shell would (tests use it for states no route produces).
pub async fn execute_sql(db: &TestDb, statement: &str) -> Result<()> {
    let sql = sqlx::AssertSqlSafe(statement.to_owned());
    match backend() {
        Backend::Sqlite => {
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url).await?;
            sqlx::query(sql).execute(&mut conn).await?;
        }
        Backend::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await?;
            sqlx::query(sql).execute(&mut conn).await?;
        }
    }
    Ok(())
}

impl Client {
    /// The same voter (cookie and token) talking to another server.
    pub fn rebased(&self, base: &str) -> Client {
        let mut next = self.clone();
        next.base = base.trim_end_matches('/').to_owned();
        next
    }
}

impl Client {
    /// The given fields (`name`, `model`, `id`, `organization`, …) of every
    /// registered model: strings that must not reach a voter before the vote.
    pub async fn model_identities(&self, keys: &[&str]) -> Result<Vec<String>> {
        let list = self.get("/api/v1/admin/models").await?;
        let models = list.json["models"].as_array().context("models")?;
        Ok(models
            .iter()
            .flat_map(|model| {
                keys.iter()
                    .filter_map(|key| model[*key].as_str().map(str::to_owned))
            })
            .collect())
    }
}
