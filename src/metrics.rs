//! Prometheus metrics: HTTP requests by route and status, and the sync engine's gauges.
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the process exports, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `http_requests_total{method,route,status}`
    pub http_requests: IntCounterVec,
    /// `http_request_duration_seconds{method,route}`
    pub http_duration: HistogramVec,
    /// `sync_queue_depth{integration,state}`: tasks per integration and state.
    pub sync_queue_depth: IntGaugeVec,
    /// `sync_tasks_pending`: tasks waiting across all integrations.
    pub sync_tasks_pending: IntGauge,
    /// `sync_lag_seconds{integration}`: age of the oldest due pending task.
    pub sync_lag_seconds: IntGaugeVec,
    /// `sync_tasks_total{kind,outcome}`: tasks finished by kind and outcome.
    pub sync_tasks: IntCounterVec,
    /// `servicetitan_calls_total{status}`: calls our client made.
    pub servicetitan_calls: IntCounterVec,
    /// `mail_sent_total{outcome}`
    pub mail: IntCounterVec,
    /// `sync_alert{integration,kind}`: 1 while an alert (disconnected, dead_tasks, lag) is open.
    pub sync_alerts: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Builds and registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency"),
            &["method", "route"],
        )
        .expect("valid metric");
        let sync_queue_depth = IntGaugeVec::new(
            Opts::new("sync_queue_depth", "Sync tasks per integration and state"),
            &["integration", "state"],
        )
        .expect("valid metric");
        let sync_tasks_pending =
            IntGauge::new("sync_tasks_pending", "Sync tasks waiting to run").expect("valid metric");
        let sync_lag_seconds = IntGaugeVec::new(
            Opts::new(
                "sync_lag_seconds",
                "Age in seconds of the oldest due pending task per integration",
            ),
            &["integration"],
        )
        .expect("valid metric");
        let sync_tasks = IntCounterVec::new(
            Opts::new(
                "sync_tasks_total",
                "Sync tasks finished by kind and outcome",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        let servicetitan_calls = IntCounterVec::new(
            Opts::new(
                "servicetitan_calls_total",
                "ServiceTitan API calls by status",
            ),
            &["status"],
        )
        .expect("valid metric");
        let mail = IntCounterVec::new(
            Opts::new("mail_sent_total", "Emails by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let sync_alerts = IntGaugeVec::new(
            Opts::new(
                "sync_alert",
                "1 while a sync alert (disconnected, dead_tasks, lag) is open per integration",
            ),
            &["integration", "kind"],
        )
        .expect("valid metric");
        for m in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(sync_queue_depth.clone()),
            Box::new(sync_tasks_pending.clone()),
            Box::new(sync_lag_seconds.clone()),
            Box::new(sync_tasks.clone()),
            Box::new(servicetitan_calls.clone()),
            Box::new(mail.clone()),
            Box::new(sync_alerts.clone()),
        ] {
            registry.register(m).expect("unique metric names");
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            sync_queue_depth,
            sync_tasks_pending,
            sync_lag_seconds,
            sync_tasks,
            servicetitan_calls,
            mail,
            sync_alerts,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        if encoder.encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
