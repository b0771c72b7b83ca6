//! Fault knobs: added latency, error rates per status, a forced outage, scripted failures.
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Faults the sandbox injects into API calls (the token endpoint sees only latency and outage).
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Added to every call.
    pub latency: Duration,
    /// Status → fraction of calls (0..=1) answered with that status, e.g. `{503: 0.1}`.
    pub error_rates: BTreeMap<u16, f64>,
    /// Every call fails with 503 until then.
    pub outage_until: Option<DateTime<Utc>>,
    /// `Retry-After` seconds sent with injected 429s.
    pub retry_after_secs: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            error_rates: BTreeMap::new(),
            outage_until: None,
            retry_after_secs: 1,
        }
    }
}

impl Faults {
    /// Whether the outage window is open now.
    pub fn in_outage(&self) -> bool {
        self.outage_until.is_some_and(|u| Utc::now() < u)
    }

    /// A status to inject for this call, drawn from `error_rates`.
    pub(crate) fn roll(&self) -> Option<u16> {
        if self.error_rates.is_empty() {
            return None;
        }
        let mut x: f64 = rand::random();
        for (status, rate) in &self.error_rates {
            if x < *rate {
                return Some(*status);
            }
            x -= rate;
        }
        None
    }
}

/// The JSON form of [`Faults`] used by `GET/PUT /_sandbox/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultsJson {
    /// Added latency in milliseconds.
    pub latency_ms: u64,
    /// `{"503": 0.1}`.
    pub error_rates: BTreeMap<String, f64>,
    /// Outage for this many seconds from now (0: none).
    pub outage_seconds: u64,
    /// Outage end, as reported by GET.
    pub outage_until: Option<DateTime<Utc>>,
    /// `Retry-After` for injected 429s.
    pub retry_after_secs: Option<u64>,
}

impl FaultsJson {
    /// Converts to [`Faults`]; `Err` names a bad status or rate.
    pub fn into_faults(self) -> Result<Faults, String> {
        let mut rates = BTreeMap::new();
        for (k, v) in self.error_rates {
            let status: u16 = k
                .parse()
                .map_err(|_| format!("'{k}' is not an HTTP status"))?;
            if !(400..600).contains(&status) || !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "error rate {k}={v} must be a 4xx/5xx status with a rate in 0..=1"
                ));
            }
            rates.insert(status, v);
        }
        let outage_until = if self.outage_seconds > 0 {
            Some(Utc::now() + chrono::Duration::seconds(self.outage_seconds as i64))
        } else {
            self.outage_until
        };
        Ok(Faults {
            latency: Duration::from_millis(self.latency_ms),
            error_rates: rates,
            outage_until,
            retry_after_secs: self.retry_after_secs.unwrap_or(1),
        })
    }

    /// The JSON form of `f`.
    pub fn from_faults(f: &Faults) -> Self {
        Self {
            latency_ms: f.latency.as_millis() as u64,
            error_rates: f
                .error_rates
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            outage_seconds: 0,
            outage_until: f.outage_until,
            retry_after_secs: Some(f.retry_after_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_respects_rates() {
        let mut f = Faults::default();
        assert_eq!(f.roll(), None);
        f.error_rates.insert(503, 1.0);
        assert_eq!(f.roll(), Some(503));
        f.error_rates.insert(503, 0.0);
        assert_eq!(f.roll(), None);
    }

    #[test]
    fn json_round_trip_validates() {
        let j: FaultsJson =
            serde_json::from_str(r#"{"latencyMs":5,"errorRates":{"500":0.5},"outageSeconds":10}"#)
                .unwrap_or_default();
        let f = j.into_faults().unwrap_or_default();
        assert_eq!(f.latency, Duration::from_millis(5));
        assert!(f.in_outage());
        let bad = FaultsJson {
            error_rates: [("abc".to_owned(), 0.1)].into(),
            ..FaultsJson::default()
        };
        assert!(bad.into_faults().is_err());
    }
}
