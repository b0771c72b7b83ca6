//! The one place requests are sent: token, limiter, headers, retries and error mapping.
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use rand::Rng;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::Error;
use super::limiter;
use super::stats::Counters;
use super::{Credentials, Environment, Shared};

/// Calls for one tenant. Cheap to clone; shares the process-wide token cache and limiter.
#[derive(Clone)]
pub struct TenantClient {
    pub(crate) shared: Arc<Shared>,
    pub(crate) env: Arc<Environment>,
    pub(crate) tenant_id: i64,
    pub(crate) creds: Arc<Credentials>,
    pub(crate) limiter: Arc<governor::DefaultDirectRateLimiter>,
    /// Overrides the client-wide retry count (interactive callers wait less).
    pub(crate) max_retries: Option<usize>,
}

impl std::fmt::Debug for TenantClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantClient")
            .field("environment", &self.env.as_str())
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// A readable description of a transport error (never includes headers or bodies).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Full jitter: a uniformly random delay between zero and the exponential step.
fn full_jitter(step: Duration) -> Duration {
    let max = step.as_micros() as u64;
    Duration::from_micros(rand::thread_rng().gen_range(0..=max))
}

fn backoff(max_retries: usize) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_max_times(max_retries)
        .build()
}

/// Whether repeating a request that reached ServiceTitan cannot create a second record. Creates
/// (POST) are not: after an ambiguous failure (5xx, timeout, lost response) the durable task
/// that owns the create retries it, after looking up what it may already have created by
/// `externalData` or a note marker. POSTs that only read (capacity) or set a tag are safe.
fn replay_safe(method: &Method, path: &str) -> bool {
    *method != Method::POST || path == super::paths::CAPACITY || path.contains("/tags/")
}

impl TenantClient {
    /// The same client with its own retry count (e.g. 0 for a caller that retries through the
    /// durable queue, 2 for a page the user waits on); limiter and tokens stay shared.
    pub fn with_max_retries(mut self, max_retries: usize) -> Self {
        self.max_retries = Some(max_retries);
        self
    }

    /// The ServiceTitan tenant ID in every path.
    pub fn tenant_id(&self) -> i64 {
        self.tenant_id
    }

    /// The environment this tenant lives in.
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// Our application GUID, for `externalData`.
    pub fn application_guid(&self) -> &str {
        &self.shared.cfg.application_guid
    }

    /// `externalDataApplicationGuid` for single-record reads, so the answer carries our
    /// `externalData` entries.
    pub(crate) fn guid_query(&self) -> Vec<(String, String)> {
        vec![(
            "externalDataApplicationGuid".to_owned(),
            self.application_guid().to_owned(),
        )]
    }

    /// Sends one API call with retries and returns the raw success body.
    pub(crate) async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        module: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&B>,
    ) -> Result<Vec<u8>, Error> {
        let shared = &self.shared;
        let counters: &Counters = &shared.counters;
        let url = format!(
            "{}/{module}/v2/tenant/{}{path}",
            self.env.api_base(),
            self.tenant_id
        );
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| Error::Decode(e.to_string()))?),
            None => None,
        };
        let mut delays = backoff(self.max_retries.unwrap_or(shared.cfg.max_retries));
        let replay_safe = replay_safe(&method, path);
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = self.attempt(&method, &url, query, body.as_deref()).await;
            let err = match result {
                Ok(bytes) => return Ok(bytes),
                Err(Attempt::Unauthorized(generation, err)) => {
                    if refreshed {
                        return Err(err);
                    }
                    refreshed = true;
                    Counters::bump(&counters.token_refreshes_after_401);
                    tracing::info!(
                        tenant = self.tenant_id,
                        module,
                        path,
                        "401: refreshing token once"
                    );
                    shared
                        .tokens
                        .invalidate(&self.env, &self.creds.client_id, generation)
                        .await;
                    continue;
                }
                Err(Attempt::NotSent(err)) => err,
                Err(Attempt::Failed(err)) => {
                    let rejected_unprocessed = matches!(err, Error::RateLimited { .. });
                    if !replay_safe && !rejected_unprocessed {
                        tracing::debug!(tenant = self.tenant_id, module, path, error = %err, "create failed; not repeated here");
                        return Err(err);
                    }
                    err
                }
            };
            if !err.is_retryable() {
                tracing::debug!(tenant = self.tenant_id, module, path, error = %err, "servicetitan call failed");
                return Err(err);
            }
            let Some(step) = delays.next() else {
                tracing::warn!(tenant = self.tenant_id, module, path, attempt, error = %err, "servicetitan call gave up");
                return Err(err);
            };
            let delay = match &err {
                Error::RateLimited {
                    retry_after: Some(after),
                } => *after,
                _ => full_jitter(step),
            };
            Counters::bump(&counters.retries);
            tracing::warn!(
                tenant = self.tenant_id,
                module,
                path,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %err,
                "servicetitan call will be retried"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        query: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, Attempt> {
        let shared = &self.shared;
        let token = shared
            .tokens
            .get(&shared.http, &self.env, &self.creds, || {
                Counters::bump(&shared.counters.token_requests)
            })
            .await
            .map_err(Attempt::NotSent)?;
        limiter::acquire(&self.limiter, &shared.counters.limiter_wait).await;
        Counters::bump(&shared.counters.calls);
        let mut req = shared
            .http
            .request(method.clone(), url)
            .query(query)
            .bearer_auth(token.value.expose_secret())
            .header("ST-App-Key", shared.cfg.app_key.expose_secret());
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        let resp = req.send().await.map_err(|e| {
            let err = Error::Unreachable(describe(&e));
            // A refused connection never reached ServiceTitan; anything else may have.
            if e.is_connect() {
                Attempt::NotSent(err)
            } else {
                Attempt::Failed(err)
            }
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(3600.0)));
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Attempt::Failed(Error::Unreachable(describe(&e))))?;
        tracing::debug!(tenant = self.tenant_id, method = %method, status, "servicetitan call");
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        if status == 429 {
            Counters::bump(&shared.counters.rate_limited);
        }
        let err = match Error::from_response(status, &bytes, retry_after) {
            // Which call lacked a scope is what the operator needs to fix it.
            Error::Forbidden(title) => {
                Error::Forbidden(format!("{title}: {method} {}", path_of(url)))
            }
            e => e,
        };
        if status == 401 {
            return Err(Attempt::Unauthorized(token.generation, err));
        }
        Err(Attempt::Failed(err))
    }

    /// GET and decode.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        module: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, Error> {
        let bytes = self
            .send::<()>(Method::GET, module, path, query, None)
            .await?;
        decode(module, path, &bytes)
    }

    /// Sends a JSON body and decodes the JSON answer.
    pub(crate) async fn write_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        module: &str,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let bytes = self.send(method, module, path, &[], Some(body)).await?;
        decode(module, path, &bytes)
    }

    /// Sends a request whose answer body is ignored.
    pub(crate) async fn send_empty(
        &self,
        method: Method,
        module: &str,
        path: &str,
    ) -> Result<(), Error> {
        self.send::<()>(method, module, path, &[], None).await?;
        Ok(())
    }
}

/// Decodes a JSON body, naming the endpoint on failure.
pub(crate) fn decode<T: DeserializeOwned>(
    module: &str,
    path: &str,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Decode(format!("{module}{path}: {e}")))
}

enum Attempt {
    /// A 401 with the token generation that was refused.
    Unauthorized(u64, Error),
    /// Failed before the request reached ServiceTitan (token, connection refused).
    NotSent(Error),
    /// Failed after the request may have reached ServiceTitan.
    Failed(Error),
}

/// The path of an absolute URL (the tenant's API path), for error messages.
fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_within_the_step() {
        for _ in 0..200 {
            assert!(full_jitter(Duration::from_millis(400)) <= Duration::from_millis(400));
        }
    }

    #[test]
    fn backoff_grows_and_stops_after_max_retries() {
        let steps: Vec<_> = backoff(4).collect();
        assert_eq!(steps.len(), 4);
        assert!(steps.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(steps[0], Duration::from_millis(200));
    }
}
