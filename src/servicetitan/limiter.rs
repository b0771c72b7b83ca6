//! Per-tenant GCRA limiters shared by every task of the process.
//!
//! ServiceTitan allows 60 calls per second per application per tenant. The client paces itself
//! at the same rate with a small burst ([`client_burst`]); the sandbox enforces the same rate
//! with a burst of a full second, so network jitter never turns a paced call into a 429.
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;

use super::stats::Histogram;

/// The client's burst at `rate` calls/s: a sixth of a second's worth (10 at 60/s), at least 1.
pub fn client_burst(rate: u32) -> u32 {
    (rate / 6).max(1)
}

/// A GCRA quota of `rate` per second with the given burst (both at least 1).
pub fn quota(rate: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(rate.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

/// Lazily created limiters, one per (environment, tenant).
#[derive(Debug)]
pub(crate) struct Limiters {
    rate: u32,
    by_tenant: Mutex<HashMap<(String, i64), Arc<DefaultDirectRateLimiter>>>,
}

impl Limiters {
    pub(crate) fn new(rate: u32) -> Self {
        Self {
            rate,
            by_tenant: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, env_key: &str, tenant: i64) -> Arc<DefaultDirectRateLimiter> {
        let mut map = self.by_tenant.lock();
        map.entry((env_key.to_owned(), tenant))
            .or_insert_with(|| {
                Arc::new(RateLimiter::direct(quota(
                    self.rate,
                    client_burst(self.rate),
                )))
            })
            .clone()
    }
}

/// Waits for a permit and records how long it took.
pub(crate) async fn acquire(limiter: &DefaultDirectRateLimiter, waits: &Histogram) {
    let started = Instant::now();
    limiter.until_ready().await;
    waits.record(started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_a_fraction_of_the_rate() {
        assert_eq!(client_burst(60), 10);
        assert_eq!(client_burst(1), 1);
        assert_eq!(client_burst(0), 1);
    }

    #[test]
    fn limiter_allows_burst_then_refuses() {
        let lim = RateLimiter::direct(quota(60, client_burst(60)));
        for _ in 0..10 {
            assert!(lim.check().is_ok());
        }
        assert!(lim.check().is_err());
    }

    #[test]
    fn same_tenant_shares_a_limiter() {
        let l = Limiters::new(60);
        assert!(Arc::ptr_eq(&l.get("e", 1), &l.get("e", 1)));
        assert!(!Arc::ptr_eq(&l.get("e", 1), &l.get("e", 2)));
    }
}
