//! The service's Prometheus metrics and `GET /metrics`, served only on `[metrics] listen`.
//! One registry per service, not a global one: services in one process (the tests) count apart.
//!
//! What is cheap to read when scraped (connections, the queue, the knowledge version) is read
//! then; the rest is counted where it happens, a few atomic adds each, once per batch in the store.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use super::conn::{Closed, OnClosed};
use super::AppState;
use crate::live::Outcome;
use crate::matcher::ReplyKind;

/// Every metric the service exports.
pub(super) struct Metrics {
    registry: Registry,
    connections: IntGaugeVec,
    /// `faqbot_replies_total`'s series in [`ReplyKind::ALL`]'s order: a reply finds its own
    /// without hashing its label.
    replies: [IntCounter; ReplyKind::ALL.len()],
    reply_seconds: Histogram,
    queue: IntGauge,
    handoffs: IntCounter,
    claims: IntCounter,
    rate_limited: IntCounterVec,
    connections_refused: IntCounterVec,
    http_closed: IntCounterVec,
    commit_seconds: Histogram,
    batch_writes: Histogram,
    knowledge_version: IntGauge,
    reloads: IntCounterVec,
}

/// Which limit refused a visitor frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameLimit {
    /// `limits.messages_per_minute`: this chat's own.
    Chat,
    /// `limits.address_messages_per_minute`: all chats of one client address.
    Address,
}

/// Why a WebSocket handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// `limits.max_connections` open.
    Full,
    /// `limits.address_connections_per_minute`.
    Address,
}

const RELOAD_OUTCOMES: [&str; 3] = ["swapped", "refused", "unchanged"];

/// A metric's definition is ours, not the client's: a bad name or a name registered twice is a
/// bug that the unit test below catches, so it is not an error to carry.
fn registered<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("metric names and labels are valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

fn counters(
    registry: &Registry,
    name: &str,
    help: &str,
    label: &str,
    values: &[&str],
) -> IntCounterVec {
    let vec = registered(
        registry,
        IntCounterVec::new(Opts::new(name, help), &[label]),
    );
    // Every series from the start, at 0: a rate over a series that appears later misses its
    // first increments.
    for value in values {
        vec.with_label_values(&[*value]);
    }
    vec
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    registered(
        registry,
        Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())),
    )
}

/// Seconds, from a tenth of a millisecond to five seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let closed: Vec<&str> = Closed::ALL.iter().map(|e| e.as_str()).collect();
        Metrics {
            connections: {
                let g = registered(
                    &r,
                    IntGaugeVec::new(
                        Opts::new("faqbot_connections_open", "WebSocket sessions open now."),
                        &["role"],
                    ),
                );
                g.with_label_values(&["visitor"]);
                g.with_label_values(&["advisor"]);
                g
            },
            replies: {
                let vec = counters(
                    &r,
                    "faqbot_replies_total",
                    "Bot replies sent to visitors, by decision.",
                    "kind",
                    &[],
                );
                ReplyKind::ALL.map(|k| vec.with_label_values(&[k.as_str()]))
            },
            reply_seconds: histogram(
                &r,
                "faqbot_reply_seconds",
                "From a visitor's frame read to the bot's reply committed and queued to the connection.",
                &LATENCY_BUCKETS,
            ),
            queue: registered(
                &r,
                IntGauge::new("faqbot_queue_length", "Chats waiting for an advisor."),
            ),
            handoffs: registered(
                &r,
                IntCounter::new("faqbot_handoffs_started_total", "Chats queued for an advisor."),
            ),
            claims: registered(
                &r,
                IntCounter::new("faqbot_claims_total", "Queued chats taken by an advisor."),
            ),
            rate_limited: counters(
                &r,
                "faqbot_rate_limited_frames_total",
                "Visitor frames refused with rate_limited, by the limit that refused them.",
                "limit",
                &["chat", "address"],
            ),
            connections_refused: counters(
                &r,
                "faqbot_connections_refused_total",
                "WebSocket handshakes refused: the chat was full (503) or the address opened too many (429).",
                "reason",
                &["full", "address"],
            ),
            http_closed: counters(
                &r,
                "faqbot_http_connections_closed_total",
                "TCP connections the server closed or refused: a header not sent in time, an idle keep-alive, a response left unread, closed between requests to make room at a connection cap (evicted), refused at a cap.",
                "reason",
                &closed,
            ),
            commit_seconds: histogram(
                &r,
                "faqbot_store_commit_seconds",
                "Time the store's writer took per batch: its writes, the commit (one fsync) and handing the frames over.",
                &LATENCY_BUCKETS,
            ),
            batch_writes: histogram(
                &r,
                "faqbot_store_batch_writes",
                "Writes (turns and others) committed together in one batch.",
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
            ),
            knowledge_version: registered(
                &r,
                IntGauge::new(
                    "faqbot_knowledge_version",
                    "The served knowledge's version: 1 at start, one more per reload swapped in.",
                ),
            ),
            reloads: counters(
                &r,
                "faqbot_knowledge_reloads_total",
                "Knowledge reloads by outcome: swapped in, refused (the files have errors), unchanged.",
                "outcome",
                &RELOAD_OUTCOMES,
            ),
            registry: r,
        }
    }

    /// A bot reply, `received` after its frame was read.
    pub fn reply(&self, kind: ReplyKind, received: Duration) {
        if let Some(i) = ReplyKind::ALL.iter().position(|k| *k == kind) {
            self.replies[i].inc();
        }
        self.reply_seconds.observe(received.as_secs_f64());
    }

    pub fn handoff_started(&self) {
        self.handoffs.inc();
    }

    pub fn claimed(&self) {
        self.claims.inc();
    }

    pub fn rate_limited(&self, limit: FrameLimit) {
        let label = match limit {
            FrameLimit::Chat => "chat",
            FrameLimit::Address => "address",
        };
        self.rate_limited.with_label_values(&[label]).inc();
    }

    pub fn refused(&self, why: Refused) {
        let label = match why {
            Refused::Full => "full",
            Refused::Address => "address",
        };
        self.connections_refused.with_label_values(&[label]).inc();
    }

    /// For the accept loop: counts the connections it closes or refuses.
    pub fn on_closed(&self) -> OnClosed {
        let closed = self.http_closed.clone();
        Arc::new(move |e: Closed| closed.with_label_values(&[e.as_str()]).inc())
    }

    /// For the store's writer: one record per batch, `writes` committed in `took`.
    pub fn on_commit(&self) -> crate::store::Committed {
        let (seconds, writes) = (self.commit_seconds.clone(), self.batch_writes.clone());
        Box::new(move |count: usize, took: Duration| {
            seconds.observe(took.as_secs_f64());
            writes.observe(count as f64);
        })
    }

    /// For the knowledge: counts reloads by outcome.
    pub fn on_reload(&self) -> crate::live::ReloadObserver {
        let reloads = self.reloads.clone();
        Box::new(move |outcome: &Outcome| {
            reloads.with_label_values(&[outcome.as_str()]).inc();
        })
    }

    /// The registry as Prometheus text.
    fn render(&self) -> prometheus::Result<Vec<u8>> {
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        Ok(text)
    }
}

/// `GET /metrics`: what is read when scraped, then every metric as Prometheus text.
pub(super) async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    let m = &state.metrics;
    m.connections
        .with_label_values(&["visitor"])
        .set(state.hub.visitors_online() as i64);
    m.connections
        .with_label_values(&["advisor"])
        .set(state.hub.advisors_online() as i64);
    match state.db.queue_len().await {
        Ok(n) => m.queue.set(i64::try_from(n).unwrap_or(i64::MAX)),
        // The last value stays: a scrape still answers while the store is in trouble.
        Err(e) => tracing::warn!(cause = %e, "metrics: cannot count the queue"),
    }
    m.knowledge_version
        .set(i64::try_from(state.live.version()).unwrap_or(i64::MAX));
    match m.render() {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => {
            tracing::error!(cause = %e, "metrics: cannot render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_registers_and_renders_with_its_series_at_zero() {
        let m = Metrics::new();
        m.reply(ReplyKind::Answer, Duration::from_millis(3));
        let text = String::from_utf8(m.render().expect("render")).expect("UTF-8");
        assert!(
            text.contains("faqbot_replies_total{kind=\"answer\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("faqbot_replies_total{kind=\"emergency\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("faqbot_reply_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(text.contains("faqbot_http_connections_closed_total{reason=\"idle\"} 0"));
    }
}
