//! Issue 12's attacks, replayed against a running `faqbot serve` (driven by `scripts/abuse`):
//! each mode prints one `RESULT key=value …` line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

#[derive(Parser)]
struct Args {
    /// The server, HOST:PORT.
    #[arg(long)]
    addr: SocketAddr,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// N visitors send a 2 000-letter word while another asks ordinary questions.
    Longword {
        #[arg(long, default_value_t = 1)]
        n: usize,
    },
    /// One chat of M messages, then its welcome's size, then R reconnects at once (peak RSS).
    History {
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        #[arg(long, default_value_t = 40)]
        reconnects: usize,
        #[arg(long)]
        pid: u32,
    },
    /// An advisor online; N visitors ask a 2 000-character question, ask for an advisor, leave.
    Queue {
        #[arg(long, default_value_t = 2_000)]
        visitors: usize,
        #[arg(long)]
        token: String,
        /// Visitors per source address (127.0.X.Y): the per-address limits hold for each.
        #[arg(long, default_value_t = 25)]
        per_address: usize,
    },
    /// One socket sends messages as fast as it can for S seconds.
    Flood {
        #[arg(long, default_value_t = 5)]
        secs: u64,
    },
    /// N bare connects (welcome read, nothing written).
    Bare {
        #[arg(long, default_value_t = 100)]
        n: usize,
    },
    /// N half-sent HTTP requests, then how long until `/healthz` answers.
    Halfopen {
        #[arg(long, default_value_t = 1_100)]
        n: usize,
        /// Spread them over this many loopback source addresses (127.0.1.x): many clients,
        /// so the server's total cap works rather than its per-address one.
        #[arg(long, default_value_t = 1)]
        sources: u8,
    },
    /// A text frame that is not UTF-8: the close code.
    Utf8,
    /// No advisor online: a visitor leaves a contact request with formula-like fields.
    Contact,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let a = args.addr;
    match args.mode {
        Mode::Longword { n } => longword(a, n).await,
        Mode::History {
            messages,
            reconnects,
            pid,
        } => history(a, messages, reconnects, pid).await,
        Mode::Queue {
            visitors,
            token,
            per_address,
        } => queue(a, visitors, &token, per_address).await,
        Mode::Flood { secs } => flood(a, secs).await,
        Mode::Bare { n } => bare(a, n).await,
        Mode::Halfopen { n, sources } => halfopen(a, n, sources).await,
        Mode::Utf8 => utf8(a).await,
        Mode::Contact => contact(a).await,
    }
}

/// A TCP connection from a loopback source address (many clients on one machine), or from the
/// default one.
async fn tcp_from(addr: SocketAddr, from: Option<[u8; 4]>) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = from {
        socket.bind(SocketAddr::from((ip, 0)))?;
    }
    socket.connect(addr).await
}

/// A WebSocket to `path` from `from` (a loopback address) when given.
async fn connect_from(
    addr: SocketAddr,
    path: &str,
    from: Option<[u8; 4]>,
    token: Option<&str>,
) -> anyhow::Result<Ws> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let stream = tcp_from(addr, from).await?;
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    if let Some(t) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {t}").parse()?);
    }
    let (ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    Ok(ws)
}

async fn visitor(addr: SocketAddr, query: &str) -> anyhow::Result<Ws> {
    connect_from(addr, &format!("/ws?{query}"), None, None).await
}

/// The next JSON frame within 60 s, with its size in bytes.
async fn next(ws: &mut Ws) -> anyhow::Result<(Value, usize)> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .context("no frame within 60 s")?
            .context("closed")??;
        if let Message::Text(t) = m {
            return Ok((serde_json::from_str(&t)?, t.len()));
        }
    }
}

async fn next_type(ws: &mut Ws, kind: &str) -> anyhow::Result<Value> {
    loop {
        let (v, _) = next(ws).await?;
        if v["type"] == kind || (v["type"] == "error" && kind == "reply") {
            return Ok(v);
        }
    }
}

async fn ask(ws: &mut Ws, text: &str, id: &str) -> anyhow::Result<Value> {
    ws.send(Message::Text(
        json!({"type": "message", "text": text, "id": id})
            .to_string()
            .into(),
    ))
    .await?;
    next_type(ws, "reply").await
}

/// A visitor asking an ordinary question again and again until `stop`: the slowest reply, ms.
fn probe(addr: SocketAddr, stop: Arc<AtomicU64>) -> tokio::task::JoinHandle<(u64, u64)> {
    tokio::spawn(async move {
        let mut ws = visitor(addr, "").await.expect("probe connects");
        next(&mut ws).await.expect("welcome");
        let (mut worst, mut n) = (0u64, 0u64);
        while stop.load(Ordering::Relaxed) == 0 {
            let t = Instant::now();
            let r = ask(&mut ws, "combien ça coûte ?", &format!("p{n}")).await;
            if r.map(|r| r["type"] == "error").unwrap_or(true) {
                // Over the chat's own limit: wait as a person would.
                tokio::time::sleep(Duration::from_millis(2_100)).await;
                continue;
            }
            worst = worst.max(t.elapsed().as_millis() as u64);
            n += 1;
            // A person types: one question every 2.1 s stays under 30 a minute.
            tokio::time::sleep(Duration::from_millis(2_100)).await;
        }
        (worst, n)
    })
}

async fn longword(addr: SocketAddr, n: usize) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicU64::new(0));
    let p = probe(addr, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let word = "a".repeat(2_000);
    let mut tasks = Vec::new();
    for i in 0..n {
        let word = word.clone();
        tasks.push(tokio::spawn(async move {
            let mut ws = visitor(addr, "").await?;
            next(&mut ws).await?;
            let t = Instant::now();
            let r = ask(&mut ws, &word, &format!("w{i}")).await?;
            let kind = format!(
                "{}/{}",
                r["type"].as_str().unwrap_or("?"),
                r["kind"].as_str().unwrap_or("-")
            );
            anyhow::Ok((t.elapsed().as_millis() as u64, kind))
        }));
    }
    let (mut worst, mut kinds) = (0, Vec::new());
    for t in tasks {
        let (ms, kind) = t.await??;
        worst = worst.max(ms);
        kinds.push(kind);
    }
    // Keep the probe going a little after.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    stop.store(1, Ordering::Relaxed);
    let (probe_worst, probes) = p.await?;
    println!("RESULT words={n} word_replies={} word_reply_max_ms={worst} probe_max_ms={probe_worst} probe_replies={probes}", kinds.join(","));
    Ok(())
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key).map(str::to_owned))
        })
        .and_then(|v| v.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

async fn history(
    addr: SocketAddr,
    messages: usize,
    reconnects: usize,
    pid: u32,
) -> anyhow::Result<()> {
    let mut ws = visitor(addr, "").await?;
    let (welcome, _) = next(&mut ws).await?;
    let session = welcome["session"].as_str().context("session")?.to_owned();
    let t = Instant::now();
    let (mut tx, mut rx) = ws.split();
    // At most 16 messages in flight: the server drops a visitor whose outgoing queue fills.
    let window = Arc::new(tokio::sync::Semaphore::new(16));
    let w = window.clone();
    let writer = tokio::spawn(async move {
        for i in 0..messages {
            w.acquire().await?.forget();
            let text = format!("combien coûte la consultation numéro {i} ?");
            tx.send(Message::Text(
                json!({"type": "message", "text": text, "id": format!("h{i}")})
                    .to_string()
                    .into(),
            ))
            .await?;
        }
        anyhow::Ok(tx)
    });
    let (mut replies, mut errors) = (0usize, 0usize);
    while replies + errors < messages {
        let m = tokio::time::timeout(Duration::from_secs(60), rx.next())
            .await?
            .context("closed")??;
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t)?;
            match v["type"].as_str() {
                Some("reply") => replies += 1,
                Some("error") => errors += 1,
                _ => continue,
            }
            window.add_permits(1);
        }
    }
    let mut tx = writer.await??;
    let fill_s = t.elapsed().as_secs_f64();
    let _ = tx.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = visitor(addr, &format!("session={session}")).await?;
    let (w, welcome_bytes) = next(&mut again).await?;
    let history = w["history"].as_array().map_or(0, Vec::len);
    drop(again);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = status_kb(pid, "VmRSS:");
    // Reset the peak (VmHWM) to the current RSS: writing 5 to clear_refs (Linux ≥ 4.0).
    let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let total = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..reconnects {
        let (session, total) = (session.clone(), total.clone());
        tasks.push(tokio::spawn(async move {
            let mut ws = visitor(addr, &format!("session={session}")).await?;
            let (_, b) = next(&mut ws).await?;
            total.fetch_add(b as u64, Ordering::Relaxed);
            anyhow::Ok(ws)
        }));
    }
    let mut held = Vec::new();
    for t in tasks {
        held.push(t.await??);
    }
    let peak = if hwm_reset {
        status_kb(pid, "VmHWM:")
    } else {
        status_kb(pid, "VmRSS:")
    };
    println!(
        "RESULT messages={messages} replies={replies} errors={errors} fill_s={fill_s:.1} \
         welcome_bytes={welcome_bytes} welcome_history={history} reconnects={reconnects} \
         reconnect_bytes={} rss_before_kb={rss_before} peak_rss_kb={peak} hwm_reset={hwm_reset}",
        total.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn queue(
    addr: SocketAddr,
    visitors: usize,
    token: &str,
    per_address: usize,
) -> anyhow::Result<()> {
    let mut advisor = connect_from(addr, "/ws/advisor", None, Some(token)).await?;
    let bytes = Arc::new(AtomicU64::new(0));
    let largest = Arc::new(AtomicU64::new(0));
    let frames = Arc::new(AtomicU64::new(0));
    let reader = {
        let (bytes, largest, frames) = (bytes.clone(), largest.clone(), frames.clone());
        tokio::spawn(async move {
            while let Some(Ok(m)) = advisor.next().await {
                let n = m.len() as u64;
                bytes.fetch_add(n, Ordering::Relaxed);
                largest.fetch_max(n, Ordering::Relaxed);
                frames.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stop = Arc::new(AtomicU64::new(0));
    let p = probe(addr, stop.clone());
    let question = format!(
        "bonjour {} pouvez-vous me rappeler ?",
        "j'ai une question sur mon traitement ".repeat(55)
    );
    let question: String = question.chars().take(2_000).collect();
    let question = Arc::new(question);
    let t = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(100));
    let mut tasks = Vec::new();
    for i in 0..visitors {
        let (question, gate) = (question.clone(), gate.clone());
        let k = i / per_address;
        let ip = [127, 0, 1 + (k / 250) as u8, 1 + (k % 250) as u8];
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut ws = match connect_from(addr, "/ws", Some(ip), None).await {
                Ok(ws) => ws,
                Err(e) => return format!("connect: {e}"),
            };
            let go = async {
                next(&mut ws).await?;
                ask(&mut ws, &question, "q").await?;
                ws.send(Message::Text(json!({"type": "handoff"}).to_string().into()))
                    .await?;
                let h = next_type(&mut ws, "handoff").await?;
                anyhow::Ok(h["status"].as_str().unwrap_or("?").to_owned())
            };
            let status = go.await.unwrap_or_else(|e| format!("error: {e}"));
            let _ = ws.close(None).await;
            status
        }));
    }
    let mut statuses = std::collections::BTreeMap::<String, u64>::new();
    for t in tasks {
        *statuses.entry(t.await?).or_default() += 1;
    }
    let took = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(1, Ordering::Relaxed);
    let (probe_worst, probes) = p.await?;
    reader.abort();
    let statuses: Vec<String> = statuses
        .iter()
        .map(|(k, v)| format!("{}:{v}", k.replace(' ', "_")))
        .collect();
    println!(
        "RESULT visitors={visitors} took_s={took:.1} statuses={} advisor_bytes={} advisor_frames={} \
         advisor_largest_frame={} probe_max_ms={probe_worst} probe_replies={probes}",
        statuses.join(","),
        bytes.load(Ordering::Relaxed),
        frames.load(Ordering::Relaxed),
        largest.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn flood(addr: SocketAddr, secs: u64) -> anyhow::Result<()> {
    let mut ws = visitor(addr, "").await?;
    next(&mut ws).await?;
    let (mut tx, mut rx) = ws.split();
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let f = json!({"type": "message", "text": format!("combien ça coûte {i} ?"), "id": format!("f{i}")});
                if tx.send(Message::Text(f.to_string().into())).await.is_err() {
                    break;
                }
                i += 1;
                sent.store(i, Ordering::Relaxed);
                // Yield now and then so that the reader keeps up.
                if i.is_multiple_of(64) {
                    tokio::task::yield_now().await;
                }
            }
            tx
        })
    };
    let (mut replies, mut limited, mut retry_max) = (0u64, 0u64, 0u64);
    let end = deadline + Duration::from_secs(3);
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(end.into(), rx.next()).await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t)?;
            match (v["type"].as_str(), v["code"].as_str()) {
                (Some("reply"), _) => replies += 1,
                (Some("error"), Some("rate_limited")) => {
                    limited += 1;
                    retry_max = retry_max.max(v["retry_after_ms"].as_u64().unwrap_or(0));
                }
                _ => {}
            }
        }
    }
    let mut tx = writer.await?;
    // And the same socket still answers after the delay.
    tokio::time::sleep(Duration::from_millis(retry_max.min(10_000) + 100)).await;
    tx.send(Message::Text(
        json!({"type": "message", "text": "où est la clinique ?", "id": "after"})
            .to_string()
            .into(),
    ))
    .await?;
    let mut after = "none".to_owned();
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), rx.next()).await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t)?;
            if v["reply_to"] == "after" || v["type"] == "error" {
                after = v["type"].as_str().unwrap_or("?").to_owned();
                break;
            }
        }
    }
    println!(
        "RESULT secs={secs} sent={} replies={replies} rate_limited={limited} retry_after_ms_max={retry_max} after_delay={after}",
        sent.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn bare(addr: SocketAddr, n: usize) -> anyhow::Result<()> {
    let mut ok = 0;
    for i in 0..n {
        // A different source address per 20 connects: a page view each, not a flood.
        let ip = [127, 0, 2, 1 + (i / 20) as u8];
        let mut ws = connect_from(addr, "/ws", Some(ip), None).await?;
        if next(&mut ws).await?.0["type"] == "welcome" {
            ok += 1;
        }
        let _ = ws.close(None).await;
    }
    println!("RESULT connects={n} welcomes={ok}");
    Ok(())
}

async fn healthz(addr: SocketAddr) -> anyhow::Result<u16> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status")
}

async fn halfopen(addr: SocketAddr, n: usize, sources: u8) -> anyhow::Result<()> {
    let mut held = Vec::new();
    let mut refused = 0;
    for i in 0..n {
        let source = (sources > 1).then(|| [127, 0, 1, (i % usize::from(sources)) as u8 + 1]);
        match tcp_from(addr, source).await {
            Ok(mut s) => {
                let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc").await;
                held.push(s);
            }
            Err(_) => refused += 1,
        }
    }
    let t = Instant::now();
    let mut first_try = "none".to_owned();
    let status = loop {
        let r = tokio::time::timeout(Duration::from_secs(2), healthz(addr)).await;
        let r = match r {
            Ok(Ok(code)) => Some(code),
            Ok(Err(e)) => {
                first_try = format!("{e}");
                None
            }
            Err(_) => {
                first_try = "timeout".into();
                None
            }
        };
        if let Some(code) = r {
            break code;
        }
        if t.elapsed() > Duration::from_secs(40) {
            break 0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let waited = t.elapsed().as_secs_f64();
    // How many of the half-sent ones the server has closed by now.
    let mut closed = 0;
    for s in &mut held {
        let mut b = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await
        {
            closed += 1;
        }
    }
    println!(
        "RESULT halfopen={} refused={refused} healthz_status={status} healthz_after_s={waited:.1} \
         failed_attempt={} closed_by_then={closed}",
        held.len(),
        first_try.replace(' ', "_")
    );
    Ok(())
}

async fn utf8(addr: SocketAddr) -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let mut ws = visitor(addr, "").await?;
    next(&mut ws).await?;
    let frame = Frame::message(vec![0xff, 0xfe, b'a'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(frame)).await?;
    let mut code = "none".to_owned();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match m {
            Ok(Message::Close(Some(c))) => {
                code = u16::from(c.code).to_string();
                break;
            }
            Ok(Message::Close(None)) => {
                code = "close_without_code".into();
                break;
            }
            Ok(_) => {}
            Err(e) => {
                code = format!("error:{e}").replace(' ', "_");
                break;
            }
        }
    }
    println!("RESULT close_code={code}");
    Ok(())
}

async fn contact(addr: SocketAddr) -> anyhow::Result<()> {
    let mut ws = visitor(addr, "").await?;
    next(&mut ws).await?;
    ask(&mut ws, "combien ça coûte ?", "c").await?;
    ws.send(Message::Text(json!({"type": "handoff"}).to_string().into()))
        .await?;
    let h = next_type(&mut ws, "handoff").await?;
    let f = json!({"type": "contact", "name": "+SUM(1)", "email": "ana@example.com",
        "phone": "+33 6 12 34 56 78", "message": "-2+3", "consent": true});
    ws.send(Message::Text(f.to_string().into())).await?;
    let (ack, _) = next(&mut ws).await?;
    println!("RESULT handoff={} contact_ack={}", h["status"], ack["type"]);
    Ok(())
}
