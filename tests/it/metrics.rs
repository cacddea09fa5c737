//! `GET /metrics` through the real server: only on `[metrics] listen`, never on the public
//! address; well-formed Prometheus text; the counters move with the chat turns that happened.

use std::collections::HashMap;

use serde_json::json;

use crate::handoff::queued_visitor;
use crate::helpers::{http_get, spawn_app_with, TestApp};

/// A server with metrics on a port of their own.
async fn app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_app_with(dir, |s| {
        s.metrics.listen = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await
}

/// One sample: its name, its labels as written, its value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name="value",…` (values as the text format escapes them: `\\`, `\"`, `\n`).
fn parse_labels(mut s: &str) -> Result<Vec<(String, String)>, String> {
    let mut labels = Vec::new();
    while !s.is_empty() {
        let (name, rest) = s.split_once("=\"").ok_or(format!("no =\" in {s}"))?;
        if !is_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated value in {s}")),
            }
        };
        labels.push((name.to_owned(), value));
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
    Ok(labels)
}

/// Parses the text format strictly: every line is a well-formed `# HELP`, `# TYPE` or sample;
/// every sample belongs to a family whose TYPE came before it.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _help) = rest
                .split_once(' ')
                .ok_or(format!("HELP without text: {line}"))?;
            if !is_name(name) {
                return Err(format!("bad HELP name: {line}"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or(format!("TYPE without kind: {line}"))?;
            if !is_name(name)
                || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
            {
                return Err(format!("bad TYPE: {line}"));
            }
            types.insert(name.to_owned(), kind.to_owned());
        } else if line.starts_with('#') {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().map_err(|_| format!("bad value: {line}"))?,
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest
                        .strip_suffix('}')
                        .ok_or(format!("unclosed labels: {line}"))?;
                    (name, parse_labels(inner)?)
                }
                None => (series, Vec::new()),
            };
            if !is_name(name) {
                return Err(format!("bad metric name: {line}"));
            }
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(name);
            if !types.contains_key(family) {
                return Err(format!("sample without a TYPE: {line}"));
            }
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
    }
    Ok(samples)
}

/// Scrapes the server and parses what it says.
async fn scrape(app: &TestApp) -> Vec<Sample> {
    let (status, text) = http_get(app.metrics.expect("metrics served"), "/metrics").await;
    assert_eq!(status, 200, "{text}");
    parse(&text).unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{text}"))
}

/// The sum of a metric's samples whose labels include `with`.
fn total(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| s.value)
        .sum()
}

#[test]
fn the_parser_refuses_what_is_not_prometheus_text() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{kind=\"x\\\"y\"} 3\n";
    let samples = parse(good).expect("good");
    assert_eq!(samples[0].labels, vec![("kind".into(), "x\"y".into())]);
    for bad in [
        "a_total 3\n",
        "# TYPE a_total counter\na_total{kind=\"x} 3\n",
        "# TYPE a_total counter\na_total three\n",
        "# TYPE a_total countr\n",
        "# TYPE a_total counter\n1a_total 3\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_count_the_chat() {
    let app = app().await;
    // Not on the public address, where visitors are.
    let (status, _) = http_get(app.addr, "/metrics").await;
    assert_eq!(status, 404);

    let before = scrape(&app).await;
    assert_eq!(total(&before, "faqbot_knowledge_version", &[]), 1.0);
    let advisor = app.add_advisor("Alice");
    let mut a = app.advisor(&advisor).await;
    let mut v = app.visitor().await;
    v.recv().await;
    let questions = ["combien ça coûte ?", "bonjour", "où est la clinique ?"];
    let mut kinds = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let reply = v.ask(q, &format!("m{i}")).await;
        kinds.push(reply["kind"].as_str().expect("a reply kind").to_owned());
    }
    // A second visitor goes to the queue and is claimed: one more reply on the way.
    let (_w, _, _) = queued_visitor(&app, "combien ça coûte ?").await;
    let conversation = a.alerted().await;
    a.send(json!({"type": "claim", "conversation": conversation}))
        .await;
    a.recv_type("claimed").await;

    let after = scrape(&app).await;
    let replies = |s: &[Sample]| total(s, "faqbot_replies_total", &[]);
    assert_eq!(
        replies(&after) - replies(&before),
        4.0,
        "three replies, and the queued visitor's question"
    );
    for kind in &kinds {
        assert!(
            total(&after, "faqbot_replies_total", &[("kind", kind)]) >= 1.0,
            "{kind}: {after:?}"
        );
    }
    let latencies = |s: &[Sample]| total(s, "faqbot_reply_seconds_count", &[]);
    assert_eq!(latencies(&after) - latencies(&before), 4.0);
    let inf = total(&after, "faqbot_reply_seconds_bucket", &[("le", "+Inf")]);
    assert_eq!(inf, latencies(&after), "every reply in the +Inf bucket");
    assert_eq!(
        total(&after, "faqbot_connections_open", &[("role", "visitor")]),
        2.0
    );
    assert_eq!(
        total(&after, "faqbot_connections_open", &[("role", "advisor")]),
        1.0
    );
    assert_eq!(total(&after, "faqbot_handoffs_started_total", &[]), 1.0);
    assert_eq!(total(&after, "faqbot_claims_total", &[]), 1.0);
    assert_eq!(total(&after, "faqbot_queue_length", &[]), 0.0, "claimed");
    assert!(total(&after, "faqbot_store_commit_seconds_count", &[]) >= 5.0);
    assert!(total(&after, "faqbot_store_batch_writes_sum", &[]) >= 5.0);
    assert_eq!(total(&after, "faqbot_rate_limited_frames_total", &[]), 0.0);
}

#[tokio::test]
async fn without_metrics_listen_nothing_is_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_with(dir, |_| {}).await;
    assert!(app.metrics.is_none());
    assert_eq!(http_get(app.addr, "/metrics").await.0, 404);
}
