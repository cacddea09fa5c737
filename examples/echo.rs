//! A bare axum WebSocket echo server with faqbot's `/ws` buffer settings, doing no work: the
//! baseline `scripts/load` measures `faqbot serve` against (`--example echo -- --addr HOST:PORT`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use clap::Parser;
use serde_json::{json, Value};

/// The same as `src/server/visitor.rs`: `BUFFER_BYTES` and `HARD_LIMIT_BYTES`.
const BUFFER_BYTES: usize = 4 * 1024;
const HARD_LIMIT_BYTES: usize = 64 * 1024;

#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: std::net::SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sessions = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/ws", get(upgrade))
        .with_state(sessions);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    println!("listening addr={}", listener.local_addr()?);
    // As faqbot does: no Nagle on accepted connections.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

async fn upgrade(ws: WebSocketUpgrade, State(sessions): State<Arc<AtomicU64>>) -> Response {
    let n = sessions.fetch_add(1, Ordering::Relaxed);
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_message_size(HARD_LIMIT_BYTES)
        .max_frame_size(HARD_LIMIT_BYTES)
        .on_upgrade(move |socket| session(socket, n))
}

/// Welcome, then one reply frame per `message` frame; anything else is ignored.
async fn session(mut socket: WebSocket, n: u64) {
    let welcome = json!({
        "type": "welcome", "session": format!("echo-{n}"), "mode": "bot",
        "text": "echo", "history": [], "seq": 0,
    });
    if socket
        .send(Message::Text(welcome.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut seq = 0u64;
    while let Some(Ok(msg)) = socket.recv().await {
        let Message::Text(text) = msg else { continue };
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if frame["type"] != "message" {
            continue;
        }
        seq += 1;
        let reply = json!({
            "type": "reply", "reply_to": frame["id"], "kind": "answer",
            "text": frame["text"], "handoff_offer": false, "seq": seq,
        });
        if socket
            .send(Message::Text(reply.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}
