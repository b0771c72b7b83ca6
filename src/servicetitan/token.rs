//! OAuth 2.0 client-credentials tokens, cached per (environment, client ID).
//!
//! Each cache entry sits behind an async mutex: the first caller that finds the token missing or
//! due refreshes it while later callers wait and then reuse the new token (no stampede). A token
//! is refreshed a little before it expires ([`refresh_margin`]); a 401 invalidates only the token
//! generation that failed, so many concurrent 401s still cause a single refresh.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::Error;
use super::paths;
use super::{Credentials, Environment};

/// Refresh this long before expiry: 60 s, or a quarter of a short lifetime.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(60))
}

/// A token handed to a caller, with the generation used to invalidate it after a 401.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) value: SecretString,
    pub(crate) generation: u64,
}

struct Cached {
    token: Token,
    refresh_at: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// All cached tokens of the process.
#[derive(Default)]
pub(crate) struct TokenCache {
    slots: parking_lot::Mutex<HashMap<(String, String), Slot>>,
    generation: std::sync::atomic::AtomicU64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
}

impl TokenCache {
    fn slot(&self, env: &Environment, client_id: &str) -> Slot {
        self.slots
            .lock()
            .entry((env.cache_key(), client_id.to_owned()))
            .or_default()
            .clone()
    }

    /// A valid token, fetching one if none is cached or the cached one is due.
    pub(crate) async fn get(
        &self,
        http: &reqwest::Client,
        env: &Environment,
        creds: &Credentials,
        on_request: impl Fn(),
    ) -> Result<Token, Error> {
        let slot = self.slot(env, &creds.client_id);
        let mut guard = slot.lock().await;
        if let Some(cached) = guard.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        on_request();
        let (value, lifetime) = fetch(http, env, creds).await?;
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let token = Token { value, generation };
        *guard = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime - refresh_margin(lifetime),
        });
        tracing::debug!(
            environment = env.as_str(),
            lifetime_secs = lifetime.as_secs(),
            "servicetitan token obtained"
        );
        Ok(token)
    }

    /// Drops any cached token for this client ID (its secret is about to be tested anew).
    pub(crate) async fn forget(&self, env: &Environment, client_id: &str) {
        *self.slot(env, client_id).lock().await = None;
    }

    /// Drops the cached token if it is still the generation that was refused.
    pub(crate) async fn invalidate(&self, env: &Environment, client_id: &str, generation: u64) {
        let slot = self.slot(env, client_id);
        let mut guard = slot.lock().await;
        if guard
            .as_ref()
            .is_some_and(|c| c.token.generation == generation)
        {
            *guard = None;
        }
    }
}

async fn fetch(
    http: &reqwest::Client,
    env: &Environment,
    creds: &Credentials,
) -> Result<(SecretString, Duration), Error> {
    let url = format!("{}{}", env.auth_base(), paths::TOKEN);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", creds.client_id.as_str()),
        ("client_secret", creds.client_secret.expose_secret()),
    ];
    let resp = http
        .post(&url)
        .form(&form)
        .send()
        .await
        .map_err(|e| Error::Unreachable(super::request::describe(&e)))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| Error::Unreachable(super::request::describe(&e)))?;
    if (200..300).contains(&status) {
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Error::Decode(format!("token response: {e}")))?;
        let secs = parsed.expires_in.unwrap_or(900).clamp(1, 3600);
        return Ok((
            SecretString::from(parsed.access_token),
            Duration::from_secs(secs),
        ));
    }
    let oauth: Option<OAuthError> = serde_json::from_slice(&body).ok();
    let code = oauth.and_then(|o| o.error).unwrap_or_default();
    if matches!(status, 400 | 401)
        && matches!(code.as_str(), "invalid_client" | "unauthorized_client")
    {
        return Err(Error::InvalidCredentials);
    }
    Err(Error::from_response(status, &body, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_sixty_seconds_for_normal_tokens() {
        assert_eq!(
            refresh_margin(Duration::from_secs(900)),
            Duration::from_secs(60)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
    }
}
