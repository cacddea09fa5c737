//! The optional webhook: a JSON POST per new or escalated handoff, sent in the background with
//! a timeout, so a slow or dead endpoint never delays a visitor.

use std::time::Duration;

use crate::protocol::WebhookEvent;

/// Posts handoff events to one URL.
#[derive(Clone)]
pub struct Webhook {
    url: String,
    client: reqwest::Client,
}

impl Webhook {
    /// `None` when no URL is configured (or the HTTP client cannot be built, which is logged).
    pub fn new(url: Option<&str>) -> Option<Webhook> {
        let url = url.map(str::trim).filter(|u| !u.is_empty())?;
        match reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
        {
            Ok(client) => Some(Webhook {
                url: url.to_owned(),
                client,
            }),
            Err(e) => {
                tracing::error!(cause = %e, "cannot build the webhook client: alerts go to connected advisors only");
                None
            }
        }
    }

    /// Sends in a background task; failures are logged, not retried.
    pub fn post(&self, event: WebhookEvent) {
        let this = self.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match this.client.post(&this.url).json(&event).send().await {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(event = event.event, conversation = %event.conversation, ms = started.elapsed().as_millis() as u64, "webhook sent")
                }
                Ok(r) => {
                    tracing::warn!(event = event.event, status = %r.status(), "webhook refused")
                }
                // Without the URL: webhook URLs often carry their secret (chat tools' hooks).
                Err(e) => {
                    tracing::warn!(event = event.event, cause = %e.without_url(), "webhook failed")
                }
            }
        });
    }
}
