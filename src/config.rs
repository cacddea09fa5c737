//! Settings for `faqbot serve`: built-in defaults, then a TOML file, then `FAQBOT_SECTION__KEY`
//! environment variables, into one [`Settings`]. Misspelt keys are errors, not silently ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `faqbot serve` can be told. Every section and key is optional in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub knowledge: KnowledgeSettings,
    pub chat: ChatSettings,
    pub handoff: HandoffSettings,
    pub report: ReportSettings,
    pub limits: LimitSettings,
    pub privacy: PrivacySettings,
    pub metrics: MetricsSettings,
}

/// The Prometheus endpoint. It says how busy the clinic is and nothing about anyone, but it is
/// for the operator only: served on its own address, never on the public one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Where `GET /metrics` is served (e.g. `127.0.0.1:9090`). Unset: not served at all.
    pub listen: Option<SocketAddr>,
}

/// What one visitor, or one client address, may ask of the public chat endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Frames a visitor conversation may send per minute, on average…
    pub messages_per_minute: u32,
    /// …and at once, after a pause.
    pub messages_burst: u32,
    /// Frames all visitors behind one client address may send per minute (a clinic's waiting
    /// room or a company shares one address: keep it well above one visitor's).
    pub address_messages_per_minute: u32,
    pub address_messages_burst: u32,
    /// New chat connections per minute from one client address, and at once.
    pub address_connections_per_minute: u32,
    pub address_connections_burst: u32,
    /// Chat and console connections open at once; more are refused with 503.
    pub max_connections: usize,
    /// Behind a reverse proxy: the header that carries the client's address (e.g.
    /// `X-Forwarded-For`; its last entry is used, the one the proxy wrote). Unset, the TCP
    /// peer's address is used: never trust a header a client can set itself.
    pub client_address_header: Option<String>,
    /// A WebSocket is pinged every this many seconds and closed when two pings go unanswered.
    pub ping_secs: u64,
    /// Seconds a client has to send a request's whole header: from its first byte, or from
    /// the connection's opening for its first request. Then the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive HTTP connection may stay idle between requests before it is closed.
    pub keep_alive_idle_secs: u64,
    /// Seconds a connection may leave the server's writes unread (a response, a WebSocket
    /// frame) before it is closed: a client that stops reading must not hold a task forever.
    pub write_timeout_secs: u64,
    /// TCP connections one client address may hold open, WebSockets included (ignored behind
    /// a proxy, `client_address_header` set: every connection is then the proxy's). At the cap
    /// the address's oldest connection not in a request is closed to make room, so
    /// half-sent requests cannot hold the server's file descriptors.
    pub address_max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// The address to listen on.
    pub addr: SocketAddr,
    /// The folder with the demo page (`index.html`), `widget.js` and the console (`advisor.html`).
    pub web_dir: PathBuf,
    /// Origins (`https://clinic.example`) allowed besides the server's own host: on `/ws` and
    /// `/ws/advisor` (the sites that embed the widget), and on every request that changes
    /// something under `/api/` (a console served from another address, e.g. behind a proxy
    /// that rewrites `Host`).
    pub allowed_origins: Vec<String>,
    /// Mark the session cookie `Secure`. Unset: yes, unless the service listens on a loopback
    /// address (`cargo run -- serve` over plain HTTP) and the login came from no `https` page.
    /// `true` or `false` forces it (`false` only for plain HTTP on a trusted network).
    pub secure_cookie: Option<bool>,
    /// Hours an advisor's login lasts (the session, and the cookie's `Max-Age`).
    pub session_hours: u64,
    /// Failed logins one client address may make within `login_window_secs` of its first;
    /// then every login from it (right or wrong) is refused with 429 until the window ends.
    pub login_failures: u32,
    /// The window of `login_failures`, in seconds.
    pub login_window_secs: u64,
    /// Seconds the service waits for sessions to close on shutdown.
    pub drain_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// The folder holding `faqbot.db` (created if missing), when no `database_url` is set.
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://USER:PASSWORD@HOST:PORT/DB`) instead of SQLite in
    /// `data_dir`: several nodes may share it.
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeSettings {
    /// The FAQ folder (with `fr/` and `en/` inside).
    pub faq: PathBuf,
    /// The intents folder.
    pub intents: PathBuf,
    /// Reload when a file in either folder changes (SIGHUP and the console reload anyway).
    pub watch: bool,
    /// Longest FAQ answer, in characters, before the console warns that it is too long for a
    /// chat bubble (`faqbot check --max-answer-chars` for CI).
    pub max_answer_chars: usize,
}

impl KnowledgeSettings {
    /// What the quality gates measure against.
    pub fn gate_options(&self) -> crate::matcher::GateOptions {
        crate::matcher::GateOptions {
            max_answer_chars: self.max_answer_chars,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatSettings {
    /// Longest visitor or advisor text, in characters.
    pub max_text_chars: usize,
    /// Largest frame accepted, in bytes; bigger frames get an error frame.
    pub max_frame_bytes: usize,
    /// How long a visitor can come back to a conversation with its session token.
    pub session_ttl_hours: u64,
    /// Frames queued for one slow connection before it is dropped (it resumes with `last_seq`).
    pub outgoing_queue: usize,
    /// Messages of the history a returning visitor's `welcome` carries at most (the latest).
    pub welcome_history: usize,
    /// FAQ entry or intent ids after which the bot offers an advisor (consultation requests).
    pub offer_advisor_on: Vec<String>,
    /// Fallbacks in a row after which the bot offers an advisor.
    pub fallbacks_before_offer: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffSettings {
    /// Seconds a handoff may wait unclaimed before it is escalated (alerted again).
    pub escalate_after_secs: u64,
    /// Seconds after which a queued visitor who left (no connection, no activity) leaves the
    /// queue; 0 keeps them queued until claimed. A contact request they left stays a lead.
    pub leave_queue_after_secs: u64,
    /// URL that receives a JSON POST on each new or escalated handoff (no message text).
    pub webhook_url: Option<String>,
    /// When advisors answer; outside these hours visitors are offered a contact request.
    pub opening_hours: Option<OpeningHours>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// Answers below this confidence (0 to 1) are recorded as missed questions.
    pub low_confidence: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySettings {
    /// Days a conversation is kept after its last activity, with its messages, frames, missed
    /// questions and handoffs; contact requests are kept as many days after they were left (they
    /// are leads the clinic must act on within that time). 0 keeps everything forever. Purged at
    /// start and every hour (`faqbot purge` does it by hand). Conversations an advisor holds or
    /// that wait in the queue are kept until they are back with the bot.
    pub retention_days: u32,
    /// Log what visitors and advisors write (at debug level, and the WebSocket library's frame
    /// traces). Off, no message text, contact detail or question reaches the log at any level.
    /// For a test deployment only: the log then holds health data.
    pub log_text: bool,
}

/// Weekly opening hours in the clinic's time zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// Open days: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub days: Vec<String>,
    /// Opening time, `HH:MM`, local.
    pub from: String,
    /// Closing time, `HH:MM`, local.
    pub until: String,
    /// The clinic's time zone, an IANA name such as `Europe/Paris`: local times follow its
    /// summer time. Without it (and without `utc_offset_minutes`), hours are read in UTC.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The former setting: a fixed offset from UTC in minutes. Still read, but it is wrong by an
    /// hour for half the year wherever clocks change: use `time_zone`.
    #[serde(default)]
    pub utc_offset_minutes: Option<i32>,
}

/// A settings problem, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("settings: {0}")]
    Invalid(String),
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            web_dir: PathBuf::from("web"),
            allowed_origins: Vec::new(),
            secure_cookie: None,
            session_hours: 12,
            login_failures: 5,
            login_window_secs: 60,
            drain_secs: 10,
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            data_dir: PathBuf::from("data"),
            database_url: None,
        }
    }
}

impl Default for KnowledgeSettings {
    fn default() -> Self {
        KnowledgeSettings {
            faq: PathBuf::from("faq"),
            intents: PathBuf::from("intents"),
            watch: true,
            max_answer_chars: crate::matcher::gates::DEFAULT_MAX_ANSWER_CHARS,
        }
    }
}

impl Default for ChatSettings {
    fn default() -> Self {
        ChatSettings {
            max_text_chars: 2000,
            max_frame_bytes: 16 * 1024,
            session_ttl_hours: 24,
            outgoing_queue: 64,
            welcome_history: 50,
            offer_advisor_on: vec![
                "consultation_gratuite".into(),
                "contact".into(),
                "consultation".into(),
            ],
            fallbacks_before_offer: 2,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            messages_per_minute: 30,
            messages_burst: 10,
            address_messages_per_minute: 600,
            address_messages_burst: 100,
            address_connections_per_minute: 120,
            address_connections_burst: 40,
            max_connections: 10_000,
            client_address_header: None,
            ping_secs: 30,
            header_read_timeout_secs: 10,
            // Longer than the 60 s a proxy in front commonly keeps an idle upstream connection
            // (nginx's `keepalive_timeout`, a cloud load balancer's idle timeout): the proxy
            // must be the one to close, or it may send a request on a connection closing here.
            keep_alive_idle_secs: 75,
            write_timeout_secs: 30,
            // A clinic's waiting room or an office shares one address: each visitor holds a
            // WebSocket and a kept-alive connection or two for the page.
            address_max_connections: 256,
        }
    }
}

impl Default for HandoffSettings {
    fn default() -> Self {
        HandoffSettings {
            escalate_after_secs: 300,
            leave_queue_after_secs: 600,
            webhook_url: None,
            opening_hours: None,
        }
    }
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            low_confidence: crate::report::LOW_CONFIDENCE,
        }
    }
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            retention_days: DEFAULT_RETENTION_DAYS,
            log_text: false,
        }
    }
}

/// How long data is kept unless `[privacy] retention_days` says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The longest retention accepted (a century): a bigger number is surely a typo; 0 means forever.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl PrivacySettings {
    /// The Unix-millisecond time before which data is purged at `now`; `None` keeps everything.
    pub fn cutoff(&self, now: i64) -> Option<i64> {
        retention_cutoff(now, self.retention_days)
    }
}

/// The Unix-millisecond time `days` days before `now`, before which data is purged; `None` for
/// 0 (keep forever).
pub fn retention_cutoff(now: i64, days: u32) -> Option<i64> {
    (days > 0).then(|| now.saturating_sub(i64::from(days) * 86_400_000))
}

impl Settings {
    /// Defaults, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut root = toml::Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            // Editors on Windows add a BOM; TOML does not allow one.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            root = text.parse::<toml::Table>().map_err(|e| ConfigError::File {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        }
        // Which variable set which `section.key`, to name it when its value is refused.
        let mut from_env = std::collections::HashMap::new();
        for (name, value) in env {
            // Only FAQBOT_SECTION__KEY: single-level names (FAQBOT_FAQ) belong to the CLI flags.
            let Some(rest) = name.strip_prefix("FAQBOT_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let section = section.to_ascii_lowercase();
            let key = key.to_ascii_lowercase();
            let entry = root
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(table) = entry.as_table_mut() else {
                return Err(ConfigError::Env {
                    name,
                    message: format!("`{section}` is not a section"),
                });
            };
            table.insert(key.clone(), env_value(&value));
            from_env.insert(format!("{section}.{key}"), name);
        }
        let settings: Settings = match toml::Value::Table(root.clone()).try_into() {
            Ok(s) => s,
            Err(e) => {
                let e: toml::de::Error = e;
                let culprit = culprit(&root);
                let message = match &culprit {
                    Some(key) => format!("{key}: {}", e.message()),
                    None => e.message().to_owned(),
                };
                return Err(match (culprit.and_then(|k| from_env.remove(&k)), file) {
                    (Some(name), _) => ConfigError::Env { name, message },
                    (None, Some(path)) => ConfigError::File {
                        path: path.to_owned(),
                        message,
                    },
                    (None, None) => ConfigError::Invalid(message),
                });
            }
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.chat.max_text_chars == 0 || self.chat.max_frame_bytes < 256 {
            return Err(ConfigError::Invalid(
                "chat.max_text_chars must be above 0 and chat.max_frame_bytes at least 256".into(),
            ));
        }
        // An hour at least (a shorter login is a nuisance, not a defence), a year at most: the
        // expiry is computed in milliseconds.
        if !(1..=24 * 366).contains(&self.server.session_hours) {
            return Err(ConfigError::Invalid(
                "server.session_hours must be between 1 and 8784 (a year)".into(),
            ));
        }
        if self.server.login_failures == 0 || self.server.login_window_secs == 0 {
            return Err(ConfigError::Invalid(
                "server.login_failures and server.login_window_secs must be at least 1".into(),
            ));
        }
        if self.knowledge.max_answer_chars == 0 {
            return Err(ConfigError::Invalid(
                "knowledge.max_answer_chars must be at least 1".into(),
            ));
        }
        if self.chat.outgoing_queue == 0 {
            return Err(ConfigError::Invalid(
                "chat.outgoing_queue must be at least 1".into(),
            ));
        }
        let l = &self.limits;
        if [
            l.messages_per_minute,
            l.messages_burst,
            l.address_messages_per_minute,
            l.address_messages_burst,
            l.address_connections_per_minute,
            l.address_connections_burst,
        ]
        .contains(&0)
            || l.max_connections == 0
            || l.address_max_connections == 0
            || l.ping_secs == 0
        {
            return Err(ConfigError::Invalid(
                "every [limits] value must be at least 1 (raise a limit rather than remove it)"
                    .into(),
            ));
        }
        if l.header_read_timeout_secs == 0
            || l.keep_alive_idle_secs == 0
            || l.write_timeout_secs == 0
        {
            return Err(ConfigError::Invalid(
                "limits.header_read_timeout_secs, limits.keep_alive_idle_secs and limits.write_timeout_secs must be at least 1"
                    .into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.report.low_confidence) {
            return Err(ConfigError::Invalid(
                "report.low_confidence must be between 0 and 1".into(),
            ));
        }
        if let Some(hours) = &self.handoff.opening_hours {
            hours.schedule().map_err(ConfigError::Invalid)?;
        }
        let days = self.privacy.retention_days;
        if days > MAX_RETENTION_DAYS {
            return Err(ConfigError::Invalid(format!(
                "privacy.retention_days is {days}: use 1 to {MAX_RETENTION_DAYS} days, or 0 to keep \
                 everything forever"
            )));
        }
        // A conversation purged while its visitor may still resume it would silently start over.
        let ttl = self.chat.session_ttl_hours;
        if days > 0 && u64::from(days) * 24 < ttl {
            return Err(ConfigError::Invalid(format!(
                "privacy.retention_days ({days}) is shorter than chat.session_ttl_hours ({ttl} h), \
                 during which a visitor can come back to a conversation: raise retention_days to at \
                 least {} or lower session_ttl_hours",
                ttl.div_ceil(24)
            )));
        }
        Ok(())
    }
}

/// The first `section.key` (or section) of `root` that does not deserialise on its own: the
/// one to name when the whole is refused, since a value's type error does not say where it is.
fn culprit(root: &toml::Table) -> Option<String> {
    let refused = |section: &str, value: toml::Value| {
        let mut one = toml::Table::new();
        one.insert(section.to_owned(), value);
        toml::Value::Table(one).try_into::<Settings>().is_err()
    };
    let (section, value) = root.iter().find(|(s, v)| refused(s, (*v).clone()))?;
    let Some(table) = value.as_table() else {
        return Some(section.clone());
    };
    let key = table.iter().map(|(k, _)| k).find(|k| {
        let mut alone = table.clone();
        alone.retain(|other, _| other == *k);
        refused(section, toml::Value::Table(alone))
    });
    Some(match key {
        Some(k) => format!("{section}.{k}"),
        None => section.clone(),
    })
}

/// An environment value as TOML when it reads as a number, boolean or array, else as a string.
fn env_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

/// Opening hours parsed once: open days (0 = Monday), minutes since local midnight, and the
/// zone that says what "local" is at a given instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub days: Vec<u8>,
    pub from: u32,
    pub until: u32,
    pub zone: jiff::tz::TimeZone,
}

impl OpeningHours {
    pub fn schedule(&self) -> Result<Schedule, String> {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut days = Vec::new();
        for d in &self.days {
            let lower = d.to_ascii_lowercase();
            let i = NAMES
                .iter()
                .position(|n| lower.starts_with(n))
                .ok_or_else(|| format!("handoff.opening_hours.days: unknown day `{d}`: use mon, tue, wed, thu, fri, sat, sun"))?;
            days.push(i as u8);
        }
        let minutes = |s: &str, key: &str| -> Result<u32, String> {
            let (h, m) = s
                .split_once(':')
                .ok_or_else(|| format!("handoff.opening_hours.{key}: `{s}` is not HH:MM"))?;
            match (h.trim().parse::<u32>(), m.trim().parse::<u32>()) {
                (Ok(h), Ok(m)) if h <= 24 && m < 60 => Ok(h * 60 + m),
                _ => Err(format!("handoff.opening_hours.{key}: `{s}` is not HH:MM")),
            }
        };
        Ok(Schedule {
            days,
            from: minutes(&self.from, "from")?,
            until: minutes(&self.until, "until")?,
            zone: self.zone()?,
        })
    }

    /// What an operator should change, though the hours work as set.
    pub fn warnings(&self) -> Vec<String> {
        match (&self.time_zone, self.utc_offset_minutes) {
            (None, Some(_)) => vec![
                "handoff.opening_hours.utc_offset_minutes is a fixed offset, an hour off for half \
                 the year where clocks change: replace it with time_zone = \"Europe/Paris\" (an \
                 IANA name)"
                    .to_owned(),
            ],
            (None, None) => vec![
                "handoff.opening_hours has no time_zone: the hours are read in UTC; add \
                 time_zone = \"Europe/Paris\" (an IANA name)"
                    .to_owned(),
            ],
            _ => Vec::new(),
        }
    }

    fn zone(&self) -> Result<jiff::tz::TimeZone, String> {
        match (&self.time_zone, self.utc_offset_minutes) {
            (Some(_), Some(_)) => Err(
                "handoff.opening_hours: set time_zone or utc_offset_minutes, not both \
                 (remove utc_offset_minutes: time_zone follows summer time)"
                    .to_owned(),
            ),
            (Some(name), None) => jiff::tz::TimeZone::get(name.trim()).map_err(|_| {
                format!(
                    "handoff.opening_hours.time_zone: `{name}` is not a time zone of the IANA \
                     database: use a name such as `Europe/Paris` or `America/Montreal`"
                )
            }),
            (None, Some(minutes)) => minutes
                .checked_mul(60)
                .and_then(|s| jiff::tz::Offset::from_seconds(s).ok())
                .map(jiff::tz::TimeZone::fixed)
                .ok_or_else(|| {
                    format!(
                        "handoff.opening_hours.utc_offset_minutes: {minutes} is not an offset \
                         from UTC; better, set time_zone = \"Europe/Paris\" (an IANA name)"
                    )
                }),
            (None, None) => Ok(jiff::tz::TimeZone::UTC),
        }
    }
}

impl Schedule {
    /// Whether `now` falls in the opening hours, in the schedule's zone at that instant.
    pub fn is_open(&self, now: time::OffsetDateTime) -> bool {
        // Only instants past the year 9999 fail: closed is as good an answer as any.
        let Ok(instant) = jiff::Timestamp::from_second(now.unix_timestamp()) else {
            return false;
        };
        let local = self.zone.to_datetime(instant);
        let day = local.weekday().to_monday_zero_offset() as u8;
        let minute = local.hour() as u32 * 60 + local.minute() as u32;
        self.days.contains(&day) && minute >= self.from && minute < self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("faqbot.toml");
        std::fs::write(
            &path,
            "[server]\naddr = \"127.0.0.1:9000\"\n[chat]\nmax_text_chars = 10\n",
        )
        .expect("write");
        let env = vec![
            ("FAQBOT_CHAT__MAX_TEXT_CHARS".to_owned(), "50".to_owned()),
            ("FAQBOT_FAQ".to_owned(), "x".to_owned()),
        ];
        let s = Settings::load_from(Some(&path), env).expect("settings");
        assert_eq!(s.server.addr.port(), 9000);
        assert_eq!(s.chat.max_text_chars, 50);
        assert_eq!(
            s.knowledge.gate_options(),
            crate::matcher::GateOptions::default()
        );
        let env = vec![(
            "FAQBOT_KNOWLEDGE__MAX_ANSWER_CHARS".to_owned(),
            "600".to_owned(),
        )];
        let s = Settings::load_from(None, env).expect("settings");
        assert_eq!(s.knowledge.gate_options().max_answer_chars, 600);

        let env = vec![("FAQBOT_CHAT__MAX_TEXT_CHAR".to_owned(), "50".to_owned())];
        let err = Settings::load_from(None, env).expect_err("misspelt key");
        assert!(err.to_string().contains("max_text_char"), "{err}");
    }

    #[test]
    fn http_timeouts_and_the_metrics_address_have_defaults_and_are_checked() {
        let s = Settings::load_from(None, Vec::new()).expect("defaults");
        assert_eq!(s.limits.header_read_timeout_secs, 10);
        assert_eq!(s.limits.keep_alive_idle_secs, 75);
        assert_eq!(s.metrics.listen, None, "no metrics unless asked");
        let env = vec![
            (
                "FAQBOT_METRICS__LISTEN".to_owned(),
                "127.0.0.1:9090".to_owned(),
            ),
            (
                "FAQBOT_LIMITS__KEEP_ALIVE_IDLE_SECS".to_owned(),
                "120".to_owned(),
            ),
        ];
        let s = Settings::load_from(None, env).expect("settings");
        assert_eq!(s.metrics.listen, "127.0.0.1:9090".parse().ok());
        assert_eq!(s.limits.keep_alive_idle_secs, 120);
        let env = vec![("FAQBOT_METRICS__LISTEN".to_owned(), "9090".to_owned())];
        let err = Settings::load_from(None, env).expect_err("not an address");
        assert!(
            err.to_string()
                .contains("FAQBOT_METRICS__LISTEN: metrics.listen"),
            "{err}"
        );
        let env = vec![(
            "FAQBOT_LIMITS__HEADER_READ_TIMEOUT_SECS".to_owned(),
            "0".to_owned(),
        )];
        let err = Settings::load_from(None, env).expect_err("no timeout");
        assert!(
            err.to_string().contains("limits.header_read_timeout_secs"),
            "{err}"
        );
    }

    #[test]
    fn retention_defaults_to_90_days_and_is_checked() {
        let s = Settings::load_from(None, Vec::new()).expect("defaults");
        assert_eq!(s.privacy.retention_days, 90);
        assert!(!s.privacy.log_text);
        let day = 86_400_000;
        assert_eq!(s.privacy.cutoff(100 * day), Some(10 * day));

        let env = |days: &str| vec![("FAQBOT_PRIVACY__RETENTION_DAYS".to_owned(), days.to_owned())];
        let s = Settings::load_from(None, env("30")).expect("30 days");
        assert_eq!(s.privacy.retention_days, 30);
        let s = Settings::load_from(None, env("0")).expect("forever");
        assert_eq!(s.privacy.cutoff(100 * day), None, "0 keeps everything");

        // A value of the wrong type names its variable and key, not just the type expected.
        for (days, says) in [
            (
                "-1",
                "FAQBOT_PRIVACY__RETENTION_DAYS: privacy.retention_days: invalid value",
            ),
            (
                "ninety",
                "FAQBOT_PRIVACY__RETENTION_DAYS: privacy.retention_days: invalid type",
            ),
            ("40000", "0 to keep everything forever"),
        ] {
            let err = Settings::load_from(None, env(days)).expect_err(days);
            assert!(err.to_string().contains(says), "{days}: {err}");
        }
        // Shorter than a visitor may take to come back: refused with both settings named.
        let mut shorter = env("1");
        shorter.push(("FAQBOT_CHAT__SESSION_TTL_HOURS".to_owned(), "48".to_owned()));
        let err = Settings::load_from(None, shorter).expect_err("shorter than the TTL");
        assert!(
            err.to_string().contains("session_ttl_hours") && err.to_string().contains("least 2"),
            "{err}"
        );

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("faqbot.toml");
        std::fs::write(&path, "[privacy]\nretention_days = 7\nlog_text = true\n").expect("write");
        let s = Settings::load_from(Some(&path), Vec::new()).expect("file");
        assert_eq!((s.privacy.retention_days, s.privacy.log_text), (7, true));
        std::fs::write(&path, "[privacy]\nretention = 7\n").expect("write");
        let err = Settings::load_from(Some(&path), Vec::new()).expect_err("misspelt key");
        assert!(err.to_string().contains("retention"), "{err}");
        std::fs::write(
            &path,
            "[chat]\nmax_text_chars = 9\n[privacy]\nlog_text = \"yes\"\n",
        )
        .expect("write");
        let err = Settings::load_from(Some(&path), Vec::new()).expect_err("not a boolean");
        assert!(
            err.to_string()
                .contains("faqbot.toml: privacy.log_text: invalid type"),
            "{err}"
        );
    }

    fn weekdays_9_to_18(time_zone: Option<&str>, offset: Option<i32>) -> OpeningHours {
        OpeningHours {
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            from: "09:00".into(),
            until: "18:00".into(),
            time_zone: time_zone.map(String::from),
            utc_offset_minutes: offset,
        }
    }

    #[test]
    fn opening_hours_follow_the_time_zone_in_winter_and_in_summer() {
        let paris = weekdays_9_to_18(Some("Europe/Paris"), None);
        assert!(paris.warnings().is_empty());
        let s = paris.schedule().expect("valid");
        // Winter (UTC+1): Monday 2025-01-06 08:30 UTC is 09:30 in Paris, 17:30 UTC is 18:30.
        assert!(s.is_open(time::macros::datetime!(2025-01-06 08:30 UTC)));
        assert!(!s.is_open(time::macros::datetime!(2025-01-06 07:30 UTC)));
        assert!(s.is_open(time::macros::datetime!(2025-01-06 16:30 UTC)));
        assert!(!s.is_open(time::macros::datetime!(2025-01-06 17:30 UTC)));
        // Summer (UTC+2): Monday 2025-07-07 07:30 UTC is 09:30, 16:30 UTC is 18:30.
        assert!(s.is_open(time::macros::datetime!(2025-07-07 07:30 UTC)));
        assert!(!s.is_open(time::macros::datetime!(2025-07-07 06:30 UTC)));
        assert!(!s.is_open(time::macros::datetime!(2025-07-07 16:30 UTC)));
        // The day after clocks went forward (Sunday 2025-03-30): already summer time.
        assert!(s.is_open(time::macros::datetime!(2025-03-31 07:00 UTC)));
        // Saturday is closed; Friday 17:59 in Paris is still open.
        assert!(!s.is_open(time::macros::datetime!(2025-07-05 10:00 UTC)));
        assert!(s.is_open(time::macros::datetime!(2025-07-04 15:59 UTC)));
    }

    #[test]
    fn the_former_fixed_offset_still_works_and_says_what_to_use_instead() {
        let hours = weekdays_9_to_18(None, Some(60));
        let s = hours.schedule().expect("valid");
        assert!(s.is_open(time::macros::datetime!(2025-01-06 08:30 UTC)));
        assert!(!s.is_open(time::macros::datetime!(2025-01-06 07:30 UTC)));
        // In summer a fixed +1 h is an hour late: why it is deprecated.
        assert!(!s.is_open(time::macros::datetime!(2025-07-07 07:30 UTC)));
        let warnings = hours.warnings();
        assert!(
            warnings.len() == 1 && warnings[0].contains("time_zone = \"Europe/Paris\""),
            "{warnings:?}"
        );
        assert!(weekdays_9_to_18(None, None).warnings()[0].contains("UTC"));
    }

    #[test]
    fn a_wrong_time_zone_is_refused_with_the_setting_to_fix() {
        let err = weekdays_9_to_18(Some("Europe/Pariss"), None)
            .schedule()
            .expect_err("unknown zone");
        assert!(
            err.contains("time_zone") && err.contains("Europe/Pariss"),
            "{err}"
        );
        let err = weekdays_9_to_18(Some("Europe/Paris"), Some(60))
            .schedule()
            .expect_err("both");
        assert!(err.contains("not both"), "{err}");
        let err = weekdays_9_to_18(None, Some(100_000))
            .schedule()
            .expect_err("out of range");
        assert!(err.contains("utc_offset_minutes"), "{err}");

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("faqbot.toml");
        let load = |zone: &str| {
            let hours = "days = [\"mon\"]\nfrom = \"09:00\"\nuntil = \"18:00\"";
            let text = format!("[handoff.opening_hours]\n{hours}\ntime_zone = \"{zone}\"\n");
            std::fs::write(&path, text).expect("write");
            Settings::load_from(Some(&path), Vec::new())
        };
        let err = load("Mars/Olympus").expect_err("unknown zone");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
        let hours = load("Europe/Paris").expect("valid").handoff.opening_hours;
        let zone = hours
            .expect("opening hours")
            .schedule()
            .expect("valid")
            .zone;
        assert_eq!(zone.iana_name(), Some("Europe/Paris"));
    }
}
