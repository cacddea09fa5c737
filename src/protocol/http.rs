//! HTTP bodies: contact requests (`GET /api/leads`) and their CSV export, shared with `faqbot
//! leads`; the login body; the webhook's event on a handoff.

use serde::{Deserialize, Serialize};

use super::csv::CsvOut;

/// A contact request as listed by `GET /api/leads`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadWire {
    pub id: i64,
    pub created_at: String,
    pub conversation: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
    pub consent: bool,
    pub lang: Option<String>,
    pub page: Option<String>,
}

/// The body of `POST /api/login`.
#[derive(Clone, Deserialize)]
pub struct LoginRequest {
    pub token: String,
}

/// Never the token: a `{:?}` in a log line must not print a secret.
impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("token", &"<hidden>")
            .finish()
    }
}

/// The JSON POSTed to the configured webhook on a new or escalated handoff. It carries no
/// message text: webhooks often end in chat tools outside the clinic's health-data boundary.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEvent {
    /// `handoff` or `escalation`.
    pub event: &'static str,
    pub conversation: String,
    pub reason: String,
    pub lang: String,
    pub page: Option<String>,
    pub waiting_since: String,
}

/// The columns of [`leads_csv`].
pub const LEADS_CSV_HEADER: [&str; 10] = [
    "id",
    "created_at",
    "conversation",
    "name",
    "email",
    "phone",
    "message",
    "consent",
    "lang",
    "page",
];

/// Contact requests as CSV (header line first), for `faqbot leads` and `GET /api/leads?format=csv`.
/// Every field goes through [`defuse_csv_field`]: names and messages are typed by visitors.
///
/// [`defuse_csv_field`]: super::defuse_csv_field
pub fn leads_csv(leads: &[LeadWire]) -> Result<String, csv::Error> {
    let mut out = CsvOut::new();
    out.row(LEADS_CSV_HEADER)?;
    for l in leads {
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        out.row([
            l.id.to_string(),
            l.created_at.clone(),
            opt(&l.conversation),
            l.name.clone(),
            opt(&l.email),
            opt(&l.phone),
            opt(&l.message),
            l.consent.to_string(),
            opt(&l.lang),
            opt(&l.page),
        ])?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leads_csv_quotes_what_needs_it_and_reads_back_defused() {
        let lead = LeadWire {
            id: 7,
            created_at: "2025-01-31T08:00:00Z".into(),
            conversation: None,
            name: "=cmd|' /C calc'!A0".into(),
            email: Some("ana@example.com".into()),
            phone: Some("+33 6 12 34 56 78".into()),
            message: Some("line 1, \"quoted\"\nline 2".into()),
            consent: true,
            lang: Some("fr".into()),
            page: None,
        };
        let text = leads_csv(&[lead]).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().expect("header").iter().collect::<Vec<_>>(),
            LEADS_CSV_HEADER
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 1, "{text}");
        let row: Vec<&str> = rows[0].iter().collect();
        assert_eq!(
            row,
            [
                "7",
                "2025-01-31T08:00:00Z",
                "",
                "'=cmd|' /C calc'!A0",
                "ana@example.com",
                "+33 6 12 34 56 78",
                "line 1, \"quoted\"\nline 2",
                "true",
                "fr",
                ""
            ]
        );
    }
}
