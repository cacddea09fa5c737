//! `spawn_app()`: a real server on port 0 with a temporary data folder and the repository's
//! own `faq/` and `intents/`, plus WebSocket clients that speak JSON frames. Logs are silent
//! unless `TEST_LOG=1`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use faqbot::config::Settings;
use faqbot::store::SqliteStore;
use faqbot::Matcher;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame that must come.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a test waits to be sure a frame does not come.
pub const QUIET: Duration = Duration::from_millis(300);

/// The knowledge is loaded once for the whole test binary: it never changes.
fn matcher() -> Arc<Matcher> {
    static MATCHER: OnceLock<Arc<Matcher>> = OnceLock::new();
    MATCHER
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let (knowledge, errors) =
                faqbot::knowledge::load(&root.join("faq"), &root.join("intents"));
            assert!(
                errors.is_empty(),
                "fixture knowledge has problems: {errors:#?}"
            );
            Arc::new(Matcher::new(Arc::new(knowledge)))
        })
        .clone()
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("debug")
                .with_test_writer()
                .try_init();
        }
    });
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The data folder; kept alive across a restart by [`TestApp::stop`].
    pub dir: TempDir,
    /// The knowledge copy of [`spawn_app_live`].
    knowledge: Option<TempDir>,
    /// Where `GET /metrics` is served, when the settings gave `metrics.listen`.
    pub metrics: Option<SocketAddr>,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(tempfile::tempdir().expect("temp dir"), |_| {}).await
}

/// A server on `dir` with settings adjusted by `tweak`, serving the repository's knowledge.
pub async fn spawn_app_with(dir: TempDir, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    start(dir, repository_knowledge(), None, "127.0.0.1:0", tweak).await
}

/// As [`spawn_app_with`] on a new data folder, listening on `bind` (e.g. `0.0.0.0:0`, every
/// interface); the test's clients still connect through 127.0.0.1.
pub async fn spawn_app_on(bind: &str, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    start(dir, repository_knowledge(), None, bind, tweak).await
}

/// The repository's `faq/` and `intents/`, served unwatched.
fn repository_knowledge() -> Arc<faqbot::live::Live> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Arc::new(faqbot::live::Live::new(
        &root.join("faq"),
        &root.join("intents"),
        matcher(),
        &[],
    ))
}

/// A server on its own copy of `faq/` and `intents/` (in `app.knowledge_dir()`), watched for
/// changes as `faqbot serve` does.
pub async fn spawn_app_live() -> TestApp {
    let knowledge = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("faq"), &knowledge.path().join("faq"));
    copy_dir(&root.join("intents"), &knowledge.path().join("intents"));
    let (live, problems) = faqbot::live::Live::load(
        &knowledge.path().join("faq"),
        &knowledge.path().join("intents"),
    );
    assert!(problems.is_empty(), "{problems:?}");
    let live = Arc::new(live);
    live.watch().expect("watch the knowledge");
    let data = tempfile::tempdir().expect("temp dir");
    start(data, live, Some(knowledge), "127.0.0.1:0", |_| {}).await
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

async fn start(
    dir: TempDir,
    live: Arc<faqbot::live::Live>,
    knowledge: Option<TempDir>,
    bind: &str,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    init_logs();
    let mut settings = Settings::default();
    settings.storage.data_dir = dir.path().to_owned();
    settings.server.web_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web");
    settings.server.drain_secs = 3;
    unlimited(&mut settings);
    tweak(&mut settings);
    let store = SqliteStore::open(dir.path()).expect("open store");
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let scraped = match settings.metrics.listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .expect("bind metrics"),
        ),
        None => None,
    };
    let metrics = scraped
        .as_ref()
        .map(|l| l.local_addr().expect("metrics addr"));
    let listeners = faqbot::server::Listeners {
        public: listener,
        metrics: scraped,
    };
    let state = faqbot::server::AppState::new(settings, live, store).expect("start the store");
    let (shutdown, rx) = oneshot::channel();
    let server = tokio::spawn(async move {
        let stop = async {
            let _ = rx.await;
        };
        faqbot::server::run(listeners, state, stop)
            .await
            .expect("server run");
    });
    TestApp {
        addr,
        dir,
        knowledge,
        metrics,
        shutdown,
        server,
    }
}

impl TestApp {
    /// Graceful shutdown; returns the data folder for a restart.
    pub async fn stop(self) -> TempDir {
        let _ = self.shutdown.send(());
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("server stops in time")
            .expect("server task");
        self.dir
    }

    /// Creates an advisor directly in the store and returns its token.
    pub fn add_advisor(&self, name: &str) -> String {
        add_advisor(self.dir.path(), name)
    }

    /// Creates an advisor with the `support` role (may edit the knowledge).
    pub fn add_support(&self, name: &str) -> String {
        add_advisor_as(self.dir.path(), name, "support")
    }

    /// The folder holding `faq/` and `intents/` of [`spawn_app_live`].
    pub fn knowledge_dir(&self) -> &Path {
        self.knowledge
            .as_ref()
            .expect("a server from spawn_app_live")
            .path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A new visitor (no session).
    pub async fn visitor(&self) -> Client {
        self.visitor_with("").await
    }

    /// A visitor with a query string (`session=…&last_seq=…&page=…`).
    pub async fn visitor_with(&self, query: &str) -> Client {
        let url = format!("ws://{}/ws?{query}", self.addr);
        Client::connect(url.into_client_request().expect("request")).await
    }

    /// An advisor connection with a bearer token; panics if refused.
    pub async fn advisor(&self, token: &str) -> Client {
        self.try_advisor(Some(token), None)
            .await
            .expect("advisor accepted")
    }

    /// An advisor connection attempt: `Err(status)` when the handshake is refused.
    pub async fn try_advisor(
        &self,
        token: Option<&str>,
        cookie: Option<&str>,
    ) -> Result<Client, u16> {
        let mut request = request(self.addr, "/ws/advisor", token);
        if let Some(c) = cookie {
            request
                .headers_mut()
                .insert("cookie", c.parse().expect("header"));
        }
        Client::try_connect(request).await
    }

    pub async fn try_advisor_request(
        &self,
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Client, u16> {
        Client::try_connect(request).await
    }
}

pub fn add_advisor(data: &Path, name: &str) -> String {
    add_advisor_as(data, name, "advisor")
}

/// Creates an advisor with `role` (`advisor` or `support`) and returns its token.
pub fn add_advisor_as(data: &Path, name: &str, role: &str) -> String {
    let mut store = SqliteStore::open(data).expect("open store");
    let token = faqbot::secret::new_token();
    store
        .add_advisor(
            name,
            role,
            &faqbot::secret::hash_token(&token),
            faqbot::clock::now_ms(),
        )
        .expect("add advisor");
    token
}

/// A WebSocket client speaking JSON frames.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// For an advisor: the listed queue, as the console keeps it from the frames read so far.
    pub queue: Vec<Value>,
    pub queue_total: u64,
}

impl Client {
    pub async fn connect(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Client {
        Client::try_connect(request).await.expect("connected")
    }

    async fn try_connect(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Client, u16> {
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Client {
                ws,
                queue: Vec::new(),
                queue_total: 0,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("cannot connect: {e}"),
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends a frame; `false` if the connection is gone (a killed server), where
    /// [`Client::send`] panics.
    pub async fn try_send(&mut self, frame: Value) -> bool {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_ok()
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// Sends a text frame whose payload is `bytes` as they are, UTF-8 or not (as a broken or
    /// hostile client would; the normal API refuses to build such a frame).
    pub async fn send_raw_text(&mut self, bytes: &[u8]) {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        let frame = Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), true);
        self.ws.send(Message::Frame(frame)).await.expect("send");
    }

    /// The next JSON frame, or `None` if none comes within `wait` (or the socket closed).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let msg = match tokio::time::timeout(wait, self.ws.next()).await {
                Ok(Some(Ok(m))) => m,
                _ => return None,
            };
            match msg {
                Message::Text(t) => {
                    let frame = serde_json::from_str(&t).expect("JSON frame");
                    self.track_queue(&frame);
                    return Some(frame);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Applies a queue frame (the whole queue, or one change) to [`Client::queue`]; `false`
    /// for any other frame.
    pub fn track_queue(&mut self, frame: &Value) -> bool {
        let total = frame["total"].as_u64();
        match frame["type"].as_str() {
            Some("queue") => {
                self.queue = frame["conversations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
            Some("queue_added") | Some("queue_updated") => {
                let item = frame["item"].clone();
                match self.queue.iter_mut().find(|q| q["id"] == item["id"]) {
                    Some(listed) => *listed = item,
                    None => self.queue.push(item),
                }
            }
            Some("queue_removed") => self.queue.retain(|q| q["id"] != frame["conversation"]),
            Some("queue_total") => {}
            _ => return false,
        }
        self.queue_total = total.expect("a queue frame has its total");
        true
    }

    /// The next text frame as sent (to measure it); panics if none comes.
    pub async fn recv_text(&mut self) -> String {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return t.to_string(),
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Err(_) | Ok(Some(Err(_))) => {
                    panic!("no text frame")
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next JSON frame; panics if none comes.
    pub async fn recv(&mut self) -> Value {
        self.next_within(WAIT).await.expect("a frame")
    }

    /// Skips frames until one of type `kind`.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] == kind {
                return f;
            }
        }
    }

    /// Asserts that no frame arrives for a short while.
    pub async fn assert_quiet(&mut self) {
        if let Some(f) = self.next_within(QUIET).await {
            panic!("unexpected frame: {f}");
        }
    }

    /// Waits for the server's Close frame and returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(Some(c))))) => return Some(c.code.into()),
                Ok(Some(Ok(Message::Close(None)))) | Ok(None) | Err(_) => return None,
                Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Skips an advisor's frames until an `alert`; returns its conversation id.
    pub async fn alerted(&mut self) -> String {
        self.recv_type("alert").await["conversation"]
            .as_str()
            .expect("an alert names its conversation")
            .to_owned()
    }

    /// Sends a visitor message and returns the bot's reply frame.
    pub async fn ask(&mut self, text: &str, id: &str) -> Value {
        self.send(serde_json::json!({"type": "message", "text": text, "id": id}))
            .await;
        self.recv_type("reply").await
    }
}

/// The welcome frame's session token.
pub fn session(welcome: &Value) -> String {
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    welcome["session"].as_str().expect("session").to_owned()
}

/// Rate limits far above what a test sends, as environment variables for `faqbot serve`.
pub const UNLIMITED_ENV: [(&str, &str); 6] = [
    ("FAQBOT_LIMITS__MESSAGES_PER_MINUTE", "1000000"),
    ("FAQBOT_LIMITS__MESSAGES_BURST", "100000"),
    ("FAQBOT_LIMITS__ADDRESS_MESSAGES_PER_MINUTE", "1000000"),
    ("FAQBOT_LIMITS__ADDRESS_MESSAGES_BURST", "100000"),
    ("FAQBOT_LIMITS__ADDRESS_CONNECTIONS_PER_MINUTE", "1000000"),
    ("FAQBOT_LIMITS__ADDRESS_CONNECTIONS_BURST", "100000"),
];

/// The same, for a server started in the test process.
pub fn unlimited(settings: &mut Settings) {
    let l = &mut settings.limits;
    l.messages_per_minute = 1_000_000;
    l.messages_burst = 100_000;
    l.address_messages_per_minute = 1_000_000;
    l.address_messages_burst = 100_000;
    l.address_connections_per_minute = 1_000_000;
    l.address_connections_burst = 100_000;
}

/// Starts the real `faqbot serve` binary on a free port, from the repository folder, with extra
/// arguments and environment; returns the child and the address it logged.
pub fn start_serve(
    data: &Path,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
) -> (std::process::Child, SocketAddr) {
    let (child, addr, _) = start_serve_logged(data, args, env);
    (child, addr)
}

/// Every line a process wrote to stderr so far.
pub type Lines = Arc<std::sync::Mutex<Vec<String>>>;

/// As [`start_serve`], keeping every line the server writes to stderr. It logs at `info` unless
/// `env` sets `RUST_LOG`.
pub fn start_serve_logged(
    data: &Path,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
) -> (std::process::Child, SocketAddr, Lines) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .current_dir(root)
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        // Tests send faster than people type, all from one address: limits far above them
        // (the limits' own tests set theirs).
        .envs(UNLIMITED_ENV.iter().copied())
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn faqbot serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = Lines::default();
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // "listening addr=127.0.0.1:PORT data=…": the port chosen by the OS.
            if let Some(rest) = line.split("listening addr=").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                let _ = tx.send(addr);
            }
            kept.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs its address")
        .parse()
        .expect("an address");
    (child, addr, lines)
}

/// A WebSocket to `path` on a server started with [`start_serve`], with a bearer token (advisors).
pub async fn connect(addr: SocketAddr, path: &str, token: Option<&str>) -> Client {
    Client::connect(request(addr, path, token)).await
}

/// The handshake request for `path` on `addr`, with a bearer token when given.
fn request(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    if let Some(t) = token {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("header"),
        );
    }
    request
}

/// `GET path` on a connection of its own (`Connection: close`): the status and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    send_get(&mut stream, path, "close").await;
    read_response(&mut stream).await
}

/// Writes `GET path` with the given `Connection` header (`keep-alive` or `close`).
pub async fn send_get(stream: &mut TcpStream, path: &str, connection: &str) {
    use tokio::io::AsyncWriteExt;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
}

/// Reads one response (its head, then `Content-Length` bytes of body): the status and the body.
/// Leaves the connection open for the next request.
pub async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut bytes = Vec::new();
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        read_more(stream, &mut bytes).await;
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    while bytes.len() < head_end + length {
        read_more(stream, &mut bytes).await;
    }
    let body = String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned();
    (status, body)
}

/// Appends what the next read brings; panics if the connection closes or stays silent.
async fn read_more(stream: &mut TcpStream, bytes: &mut Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 4096];
    let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
        .await
        .expect("a response in time")
        .expect("read");
    assert!(n > 0, "the connection closed before the whole response");
    bytes.extend_from_slice(&chunk[..n]);
}

/// How long the server takes to close `stream` (it sends nothing more), `within` at most.
pub async fn closed_after(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut chunk = [0u8; 256];
    match tokio::time::timeout(within, stream.read(&mut chunk)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Some(started.elapsed()),
        Ok(Ok(n)) => panic!(
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(_) => None,
    }
}
