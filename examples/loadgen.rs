//! A load client for the visitor WebSocket `/ws` (`chat`: visitors asking questions in turn;
//! `idle`: held connections), reporting replies/s, latency and the server's CPU and RSS.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one frame (welcome or reply) may take before it counts as an error.
const FRAME_TIMEOUT: Duration = Duration::from_secs(30);
/// The client's WebSocket buffers, as the server's. tungstenite's default read buffer (128 KiB)
/// is zeroed again before every read: with it, that memset was 44 % of this client's CPU at
/// 1 000 visitors (`perf`), CPU taken from the server it shares the machine with.
const BUFFER_BYTES: usize = 4 * 1024;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// N visitors at once, each asking M questions one after the other.
    Chat {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 100)]
        visitors: usize,
        #[arg(long, default_value_t = 200)]
        questions: usize,
        /// Questions, one JSON object with a "q" field per line, asked in turn.
        #[arg(long, default_value = "tests/data/dev.jsonl")]
        data: PathBuf,
        /// Milliseconds each visitor waits after a reply before asking again, on average (each
        /// wait drawn between half and one and a half times it, so visitors do not ask in step):
        /// a person reading and typing. 0: ask as soon as the reply comes (the saturation test).
        #[arg(long, default_value_t = 0)]
        think_ms: u64,
    },
    /// Opens N connections, waits for each welcome, holds them all, reports.
    Idle {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Seconds to hold the connections before reading the server's RSS.
        #[arg(long, default_value_t = 2)]
        hold: u64,
    },
}

#[derive(clap::Args)]
struct Common {
    /// The visitor WebSocket, e.g. ws://127.0.0.1:8080/ws.
    #[arg(long)]
    url: String,
    /// The server's process id: its CPU time and RSS are read from /proc before and after.
    #[arg(long)]
    pid: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().mode {
        Mode::Chat {
            common,
            visitors,
            questions,
            data,
            think_ms,
        } => chat(&common, visitors, questions, &data, think_ms).await,
        Mode::Idle {
            common,
            connections,
            hold,
        } => idle(&common, connections, hold).await,
    }
}

/// The wait before visitor `v`'s question `q`: between half and one and a half times `mean_ms`,
/// spread by a hash of (v, q) (deterministic: the same run waits alike).
fn think(mean_ms: u64, v: usize, q: usize) -> Duration {
    let mut x = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (q as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    let spread = (x % 1001) as f64 / 1000.0; // 0..=1
    Duration::from_secs_f64(mean_ms as f64 / 1000.0 * (0.5 + spread))
}

/// One visitor's results: reply latencies in µs, errors.
#[derive(Default)]
struct Tally {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, e: anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{e:#}"));
    }
}

async fn chat(
    common: &Common,
    visitors: usize,
    questions: usize,
    data: &PathBuf,
    think_ms: u64,
) -> anyhow::Result<()> {
    let texts: Vec<String> = std::fs::read_to_string(data)
        .with_context(|| format!("cannot read {}", data.display()))?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["q"].as_str().map(str::to_owned))
        .collect();
    if texts.is_empty() {
        bail!("no questions in {}", data.display());
    }
    let texts = Arc::new(texts);
    // Everyone connects first; the clock and the server's CPU count only the questions.
    let start = Arc::new(tokio::sync::Barrier::new(visitors + 1));
    let mut tasks = Vec::with_capacity(visitors);
    for v in 0..visitors {
        let (url, texts, start) = (common.url.clone(), texts.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let ws = connect(&url).await;
            start.wait().await;
            let mut ws = match ws {
                Ok(ws) => ws,
                Err(e) => {
                    tally.error(e);
                    return tally;
                }
            };
            for q in 0..questions {
                // The first wait too: visitors arrive spread out, not all in the same instant.
                if think_ms > 0 {
                    tokio::time::sleep(think(think_ms, v, q)).await;
                }
                let text = &texts[(v + q) % texts.len()];
                let id = format!("v{v}-q{q}");
                let asked = Instant::now();
                match ask(&mut ws, text, &id).await {
                    Ok(()) => tally.latencies.push(asked.elapsed().as_micros() as u64),
                    Err(e) => {
                        tally.error(e);
                        break;
                    }
                }
            }
            let _ = ws.close(None).await;
            tally
        }));
    }
    start.wait().await;
    let cpu_before = common.pid.map(cpu_ticks).transpose()?;
    // The client shares the machine: its own CPU tells how much of it the server could not use.
    let own_before = cpu_ticks(std::process::id())?;
    let began = Instant::now();
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await.context("a visitor task panicked")?;
        all.latencies.extend(t.latencies);
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let secs = began.elapsed().as_secs_f64();
    let cpu_after = common.pid.map(cpu_ticks).transpose()?;
    let own_us = ticks_to_us(cpu_ticks(std::process::id())?.saturating_sub(own_before));
    let replies = all.latencies.len() as u64;
    all.latencies.sort_unstable();
    let rps = replies as f64 / secs;
    let (p50, p99, max) = (
        percentile(&all.latencies, 50.0),
        percentile(&all.latencies, 99.0),
        all.latencies.last().copied().unwrap_or(0),
    );
    println!(
        "chat {visitors} visitors x {questions} questions: {replies} replies in {secs:.2} s = {rps:.0} replies/s; latency p50 {} p99 {} max {}; errors {}",
        ms(p50), ms(p99), ms(max), all.errors
    );
    if let Some(e) = &all.first_error {
        println!("first error: {e}");
    }
    let mut result = format!(
        "RESULT mode=chat replies={replies} secs={secs:.3} rps={rps:.1} p50_us={p50} p99_us={p99} max_us={max} errors={}",
        all.errors
    );
    let own_per_reply = own_us / replies.max(1) as f64;
    println!("load client CPU: {own_per_reply:.1} µs per reply");
    result.push_str(&format!(" client_cpu_us_per_reply={own_per_reply:.2}"));
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        let cpu_us = ticks_to_us(a.saturating_sub(b));
        let per_reply = cpu_us / replies.max(1) as f64;
        println!(
            "server CPU: {:.3} s, {per_reply:.1} µs per reply",
            cpu_us / 1e6
        );
        result.push_str(&format!(
            " cpu_us={cpu_us:.0} cpu_us_per_reply={per_reply:.2}"
        ));
    }
    println!("{result}");
    Ok(())
}

async fn idle(common: &Common, connections: usize, hold: u64) -> anyhow::Result<()> {
    let rss_before = common.pid.map(rss_kb).transpose()?;
    let cpu_before = common.pid.map(cpu_ticks).transpose()?;
    let began = Instant::now();
    // 32 handshakes at a time; each connection is kept once its welcome arrived.
    let results: Vec<anyhow::Result<Ws>> = futures_util::stream::iter(0..connections)
        .map(|_| connect(&common.url))
        .buffer_unordered(32)
        .collect()
        .await;
    let opened = began.elapsed().as_secs_f64();
    let mut held = Vec::with_capacity(connections);
    let mut tally = Tally::default();
    for r in results {
        match r {
            Ok(ws) => held.push(ws),
            Err(e) => tally.error(e),
        }
    }
    tokio::time::sleep(Duration::from_secs(hold)).await;
    let rss_after = common.pid.map(rss_kb).transpose()?;
    let cpu_after = common.pid.map(cpu_ticks).transpose()?;
    println!(
        "idle: {} of {connections} connections open and welcomed in {opened:.2} s; errors {}",
        held.len(),
        tally.errors
    );
    if let Some(e) = &tally.first_error {
        println!("first error: {e}");
    }
    let mut result = format!(
        "RESULT mode=idle connections={} errors={} open_secs={opened:.3}",
        held.len(),
        tally.errors
    );
    if let (Some(b), Some(a)) = (rss_before, rss_after) {
        let per_conn = (a as f64 - b as f64) / held.len().max(1) as f64;
        println!("server RSS: {b} KB before, {a} KB after = {per_conn:.1} KB per connection");
        result.push_str(&format!(
            " rss_before_kb={b} rss_after_kb={a} kb_per_conn={per_conn:.2}"
        ));
    }
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        let cpu_us = ticks_to_us(a.saturating_sub(b));
        let per_conn = cpu_us / held.len().max(1) as f64;
        println!("server CPU to open them: {per_conn:.0} µs per connection");
        result.push_str(&format!(" cpu_us_per_conn={per_conn:.1}"));
    }
    println!("{result}");
    for mut ws in held {
        let _ = ws.close(None).await;
    }
    Ok(())
}

/// Connects and waits for the welcome frame.
async fn connect(url: &str) -> anyhow::Result<Ws> {
    let config = WebSocketConfig::default()
        .read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES);
    let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), false);
    let (mut ws, _) = tokio::time::timeout(FRAME_TIMEOUT, connecting)
        .await
        .context("connect: timed out")?
        .context("connect")?;
    let welcome = next_json(&mut ws)
        .await
        .context("waiting for the welcome")?;
    if welcome["type"] != "welcome" {
        bail!("first frame is not a welcome: {welcome}");
    }
    Ok(ws)
}

/// Sends a visitor message and waits for the `reply` to it (other frames are skipped).
async fn ask(ws: &mut Ws, text: &str, id: &str) -> anyhow::Result<()> {
    let frame = serde_json::json!({"type": "message", "text": text, "id": id});
    ws.send(Message::text(frame.to_string()))
        .await
        .context("send")?;
    loop {
        let f = next_json(ws)
            .await
            .with_context(|| format!("waiting for the reply to {id}"))?;
        match f["type"].as_str() {
            Some("reply") if f["reply_to"] == id => return Ok(()),
            Some("error") => bail!("error frame: {f}"),
            _ => continue,
        }
    }
}

/// The next text frame as JSON.
async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        let msg = tokio::time::timeout(FRAME_TIMEOUT, ws.next())
            .await
            .context("timed out")?
            .context("connection closed")?
            .context("WebSocket error")?;
        match msg {
            Message::Text(t) => {
                return serde_json::from_str(t.as_str()).context("frame is not JSON")
            }
            Message::Close(c) => bail!("closed by the server: {c:?}"),
            _ => continue,
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of `/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .context("unexpected /proc/PID/stat")
    };
    // After ')' comes field 3 (state): utime (14) is at index 11, stime (15) at 12.
    Ok(field(11)? + field(12)?)
}

/// Clock ticks to µs, with the tick rate from `getconf CLK_TCK` (100 if that fails: Linux's
/// USER_HZ is 100 on every common architecture).
fn ticks_to_us(ticks: u64) -> f64 {
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100);
    ticks as f64 * 1e6 / hz as f64
}

/// The resident set size of a process in KB (`VmRSS` of `/proc/PID/status`).
fn rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc/PID/status")
}
