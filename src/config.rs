//! Settings from `TITANBRIDGE_*` environment variables over an optional TOML file.
//!
//! Precedence (lowest first): built-in defaults, the file named by `--config` or
//! `TITANBRIDGE_CONFIG`, then environment variables. Nested settings use a double underscore:
//! `TITANBRIDGE_MAIL__TRANSPORT=smtp`. Every invalid setting fails start-up with a message that
//! names it.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("setting {setting}: {reason}")]
    Invalid { setting: String, reason: String },
}

fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

/// Everything the process needs to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the web server listens on.
    pub bind: String,
    /// Base URL people use to reach us (links in email).
    pub public_url: String,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Run migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Base64 of 32 random bytes: AES-256-GCM key for secrets at rest.
    #[serde(serialize_with = "redact")]
    pub encryption_key: SecretString,
    /// Base64 of at least 64 random bytes: signs and encrypts session cookies.
    #[serde(serialize_with = "redact")]
    pub session_key: SecretString,
    /// `pretty` or `json`.
    pub log_format: String,
    /// Directory holding the default catalogues (`plans.toml`, `trades.toml`, `reminders.toml`).
    /// Empty means the copies built into the binary.
    pub mappings_dir: String,
    pub database: DatabaseSettings,
    pub servicetitan: ServiceTitanSettings,
    pub mail: MailSettings,
    pub worker: WorkerSettings,
    #[serde(default)]
    pub sync: SyncSettings,
}

/// Database connection tuning (the URL itself is `database_url`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Milliseconds a web request waits for a database connection before it answers 503
    /// (the web server has its own pool; the worker's waits 10 s).
    pub web_acquire_timeout_ms: u64,
    /// Connections per pool (the web server's and the worker's each); 8 by default, which
    /// suits a database server with few cores (see `store::DEFAULT_MAX_CONNECTIONS`).
    pub max_connections: u32,
}

/// Our ServiceTitan application's settings (per-partner credentials live in the database).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTitanSettings {
    /// `production`, `integration` or `sandbox` (the built-in simulator): the environment new
    /// integrations use.
    pub environment: String,
    /// Used when `environment = "custom"`: token endpoint base URL.
    pub auth_url: String,
    /// Used when `environment = "custom"`: API base URL.
    pub api_url: String,
    /// Our application's App Key (`ST-App-Key` header).
    #[serde(serialize_with = "redact")]
    pub app_key: SecretString,
    /// Our application GUID for `externalData`.
    pub application_guid: String,
    /// Calls per second per tenant (ServiceTitan's default is 60).
    pub rate_limit_per_sec: u32,
    /// Seconds before a ServiceTitan call gives up.
    pub request_timeout_secs: u64,
}

/// How mail leaves the process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `smtp`, `file` (one .eml per message in `file_dir`) or `log`.
    pub transport: String,
    /// e.g. `smtp://127.0.0.1:1025` or `smtps://user:pass@smtp.example.com`.
    #[serde(serialize_with = "redact")]
    pub smtp_url: SecretString,
    pub file_dir: String,
    pub from: String,
}

/// Background worker tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Tasks run at once per worker process.
    pub concurrency: usize,
    /// Attempts before a task is dead.
    pub max_attempts: i32,
    /// Seconds a claimed task stays leased.
    pub lease_secs: i64,
    /// Seconds between inbound polls per integration.
    pub poll_interval_secs: u64,
    /// First retry delay ceiling in milliseconds (doubles per attempt, full jitter).
    pub backoff_base_ms: u64,
    /// Largest retry delay in seconds.
    pub backoff_cap_secs: u64,
    /// Run the worker inside `serve` (single-process deployments and the demo).
    pub embedded: bool,
    /// Seconds a finished (`done`) task is kept before the worker deletes it (dead tasks stay).
    pub done_retention_secs: u64,
}

/// What the sync engine records and when it raises alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// Record every outbound write and inbound effect in the activity log.
    pub activity_log: bool,
    /// Days activity rows are kept before the pruning job deletes them.
    pub activity_retention_days: u32,
    /// Seconds of lag (oldest due task) past which ops get an alert.
    pub lag_alert_secs: u64,
    /// Consecutive credential refusals (token 400/401, API 401 or 403) before the integration
    /// moves to `disconnected`.
    pub auth_failures_to_disconnect: i32,
    /// Seconds between two alert digests about one integration.
    pub alert_every_secs: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            activity_log: true,
            activity_retention_days: 90,
            lag_alert_secs: 900,
            auth_failures_to_disconnect: 3,
            alert_every_secs: 3600,
        }
    }
}

fn redact<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: "sqlite://titanbridge.db?mode=rwc".into(),
            migrate_on_start: true,
            encryption_key: SecretString::from(String::new()),
            session_key: SecretString::from(String::new()),
            log_format: "pretty".into(),
            mappings_dir: String::new(),
            database: DatabaseSettings {
                web_acquire_timeout_ms: 1500,
                max_connections: crate::store::DEFAULT_MAX_CONNECTIONS,
            },
            servicetitan: ServiceTitanSettings {
                environment: "production".into(),
                auth_url: String::new(),
                api_url: String::new(),
                app_key: SecretString::from(String::new()),
                application_guid: "7c1f6f0e-2b1d-4f55-9a55-7469746e6272".into(),
                rate_limit_per_sec: 60,
                request_timeout_secs: 30,
            },
            mail: MailSettings {
                transport: "log".into(),
                smtp_url: SecretString::from(String::new()),
                file_dir: "mail-out".into(),
                from: "titanbridge <no-reply@titanbridge.local>".into(),
            },
            worker: WorkerSettings {
                concurrency: 8,
                max_attempts: 10,
                lease_secs: 60,
                poll_interval_secs: 30,
                backoff_base_ms: 500,
                backoff_cap_secs: 300,
                embedded: true,
                done_retention_secs: 7 * 24 * 3600,
            },
            sync: SyncSettings::default(),
        }
    }
}

/// Serializable view of defaults with secrets as plain strings, for figment's base layer.
fn defaults_figment() -> Figment {
    let d = Settings::default();
    let mut value = serde_json::to_value(&d).unwrap_or_default();
    // Secrets serialize redacted; reset them to empty so an unset secret stays empty.
    for path in [
        &["encryption_key"][..],
        &["session_key"],
        &["servicetitan", "app_key"],
        &["mail", "smtp_url"],
    ] {
        let mut v = &mut value;
        for (i, key) in path.iter().enumerate() {
            if i + 1 == path.len() {
                v[*key] = serde_json::Value::String(String::new());
            } else {
                v = &mut v[*key];
            }
        }
    }
    Figment::from(Serialized::defaults(value))
}

impl Settings {
    /// Loads defaults, then the optional file, then `TITANBRIDGE_*` variables, and validates.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut fig = defaults_figment();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("TITANBRIDGE_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    reason: "not found".into(),
                });
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(
            Env::prefixed("TITANBRIDGE_")
                // Not settings: the config file path, the admin CLI's password, and the sandbox's
                // contract-check knobs (where the OpenAPI specs are, where a test run reports), and
                // scripts/test's own switches (skip the browser, skip the long scenarios).
                .ignore(&[
                    "CONFIG",
                    "NEW_PASSWORD",
                    "OPENAPI_DIR",
                    "CONTRACT_REPORT",
                    "SKIP_BROWSER",
                    "SKIP_LONG",
                ])
                .split("__")
                .lowercase(true),
        );
        let settings: Settings = fig.extract().map_err(|e| {
            let setting = e
                .path
                .first()
                .map(|_| e.path.join("."))
                .unwrap_or_else(|| "(file)".into());
            invalid(&setting, e.kind.to_string())
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every setting that can be checked without I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind
            .parse::<SocketAddr>()
            .map_err(|e| invalid("bind", format!("'{}' is not host:port ({e})", self.bind)))?;
        url::Url::parse(&self.public_url)
            .map_err(|e| invalid("public_url", format!("'{}': {e}", self.public_url)))?;
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        if !(100..=60_000).contains(&self.database.web_acquire_timeout_ms) {
            return Err(invalid(
                "database.web_acquire_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err(invalid(
                "database.max_connections",
                "must be between 1 and 1000",
            ));
        }
        if !self.encryption_key.expose_secret().is_empty() {
            decode_key(&self.encryption_key, 32, "encryption_key")?;
        }
        if !self.session_key.expose_secret().is_empty() {
            decode_key(&self.session_key, 64, "session_key")?;
        }
        if !matches!(self.log_format.as_str(), "pretty" | "json") {
            return Err(invalid("log_format", "must be 'pretty' or 'json'"));
        }
        let st = &self.servicetitan;
        match st.environment.as_str() {
            "production" | "integration" => {}
            // `sandbox` is the built-in simulator (`titanbridge sandbox`) at these URLs.
            "sandbox" | "custom" => {
                for (name, v) in [
                    ("servicetitan.auth_url", &st.auth_url),
                    ("servicetitan.api_url", &st.api_url),
                ] {
                    url::Url::parse(v).map_err(|e| invalid(name, format!("'{v}': {e}")))?;
                }
            }
            other => {
                return Err(invalid(
                    "servicetitan.environment",
                    format!("'{other}' is not production, integration, sandbox or custom"),
                ));
            }
        }
        if st.rate_limit_per_sec == 0 {
            return Err(invalid(
                "servicetitan.rate_limit_per_sec",
                "must be at least 1",
            ));
        }
        match self.mail.transport.as_str() {
            "log" | "file" => {}
            "smtp" => {
                let url = self.mail.smtp_url.expose_secret();
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err(invalid(
                        "mail.smtp_url",
                        "must be smtp://host:port or smtps://user:pass@host",
                    ));
                }
            }
            other => {
                return Err(invalid(
                    "mail.transport",
                    format!("'{other}' is not smtp, file or log"),
                ));
            }
        }
        self.mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| invalid("mail.from", format!("'{}': {e}", self.mail.from)))?;
        if self.worker.concurrency == 0 {
            return Err(invalid("worker.concurrency", "must be at least 1"));
        }
        if self.worker.backoff_base_ms == 0
            || self.worker.backoff_cap_secs.saturating_mul(1000) < self.worker.backoff_base_ms
        {
            return Err(invalid(
                "worker.backoff_cap_secs",
                "must be at least worker.backoff_base_ms (and the base above 0)",
            ));
        }
        if self.worker.max_attempts < 1 {
            return Err(invalid("worker.max_attempts", "must be at least 1"));
        }
        Ok(())
    }

    /// Settings that `serve` cannot run without.
    pub fn require_secrets(&self) -> Result<(), ConfigError> {
        if self.encryption_key.expose_secret().is_empty() {
            return Err(invalid(
                "encryption_key",
                "required: base64 of 32 random bytes (e.g. `openssl rand -base64 32`)",
            ));
        }
        if self.session_key.expose_secret().is_empty() {
            return Err(invalid(
                "session_key",
                "required: base64 of 64 random bytes (e.g. `openssl rand -base64 64`)",
            ));
        }
        Ok(())
    }

    /// The 32-byte encryption key.
    pub fn encryption_key_bytes(&self) -> Result<Vec<u8>, ConfigError> {
        decode_key(&self.encryption_key, 32, "encryption_key")
    }

    /// The session key bytes (at least 64).
    pub fn session_key_bytes(&self) -> Result<Vec<u8>, ConfigError> {
        decode_key(&self.session_key, 64, "session_key")
    }

    /// Whether session cookies may go over plain HTTP (only on loopback).
    pub fn is_local(&self) -> bool {
        url::Url::parse(&self.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]")
    }
}

fn decode_key(key: &SecretString, min_len: usize, name: &str) -> Result<Vec<u8>, ConfigError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key.expose_secret().trim())
        .map_err(|_| invalid(name, "is not valid base64"))?;
    if bytes.len() < min_len {
        return Err(invalid(
            name,
            format!(
                "must decode to at least {min_len} bytes (got {})",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// A fresh random key, base64-encoded (the demo generates its keys this way).
pub fn random_key(len: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().expect("defaults validate");
    }

    #[test]
    fn bad_bind_names_the_setting() {
        let s = Settings {
            bind: "nope".into(),
            ..Settings::default()
        };
        let err = s.validate().unwrap_err().to_string();
        assert!(err.starts_with("setting bind:"), "{err}");
    }

    #[test]
    fn short_key_is_rejected() {
        let s = Settings {
            encryption_key: SecretString::from(random_key(16)),
            ..Settings::default()
        };
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("encryption_key"), "{err}");
    }

    #[test]
    fn unknown_environment_is_rejected() {
        let mut s = Settings::default();
        s.servicetitan.environment = "staging".into();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("servicetitan.environment"), "{err}");
    }

    #[test]
    fn web_acquire_timeout_is_read_and_bounded() {
        let s: Settings = defaults_figment()
            .merge(Toml::string("[database]\nweb_acquire_timeout_ms = 800"))
            .extract()
            .expect("settings");
        assert_eq!(s.database.web_acquire_timeout_ms, 800);
        let mut s = Settings::default();
        s.database.web_acquire_timeout_ms = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("database.web_acquire_timeout_ms"), "{err}");
    }

    #[test]
    fn max_connections_is_read_and_bounded() {
        assert_eq!(Settings::default().database.max_connections, 8);
        let s: Settings = defaults_figment()
            .merge(Toml::string("[database]\nmax_connections = 24"))
            .extract()
            .expect("settings");
        assert_eq!(s.database.max_connections, 24);
        let mut s = Settings::default();
        s.database.max_connections = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("database.max_connections"), "{err}");
    }

    #[test]
    fn smtp_requires_url() {
        let mut s = Settings::default();
        s.mail.transport = "smtp".into();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("mail.smtp_url")
        );
    }

    #[test]
    fn local_detection() {
        assert!(Settings::default().is_local());
        let s = Settings {
            public_url: "https://bridge.example.com".into(),
            ..Settings::default()
        };
        assert!(!s.is_local());
    }
}
