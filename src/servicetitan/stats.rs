//! Counters and the limiter-wait histogram shared by every tenant client of a process.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two (3 bits of mantissa: about 12 % resolution).
const SUB: usize = 8;
/// Powers of two covered, in microseconds (2^40 µs is about 12 days).
const OCTAVES: usize = 41;

/// A lock-free log-linear histogram of durations in microseconds.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..OCTAVES * SUB).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

fn bucket_of(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros() as usize; // >= 3
    let shift = octave - 3;
    let mantissa = ((us >> shift) as usize) & (SUB - 1);
    ((octave - 2) * SUB + mantissa).min(OCTAVES * SUB - 1)
}

/// The largest value that falls in `bucket`.
fn upper_bound(bucket: usize) -> u64 {
    if bucket < SUB {
        return bucket as u64;
    }
    let octave = bucket / SUB + 2;
    let mantissa = (bucket % SUB) as u64;
    let shift = octave - 3;
    (((SUB as u64 + mantissa) + 1) << shift) - 1
}

impl Histogram {
    pub(crate) fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The value below which `q` (0..=1) of the samples fall (bucket upper bound).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                let max = self.max_us.load(Ordering::Relaxed);
                return Duration::from_micros(upper_bound(i).min(max));
            }
        }
        Duration::from_micros(self.max_us.load(Ordering::Relaxed))
    }
}

/// Process-wide counters behind [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) calls: AtomicU64,
    pub(crate) token_requests: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) token_refreshes_after_401: AtomicU64,
    pub(crate) limiter_wait: Histogram,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let h = &self.limiter_wait;
        let waits = load(&h.count);
        ClientStats {
            calls: load(&self.calls),
            token_requests: load(&self.token_requests),
            rate_limited: load(&self.rate_limited),
            retries: load(&self.retries),
            refreshes_after_401: load(&self.token_refreshes_after_401),
            limiter_waits: waits,
            limiter_wait_mean: Duration::from_micros(
                load(&h.sum_us).checked_div(waits).unwrap_or_default(),
            ),
            limiter_wait_p50: h.quantile(0.50),
            limiter_wait_p99: h.quantile(0.99),
            limiter_wait_max: Duration::from_micros(load(&h.max_us)),
        }
    }
}

/// A point-in-time copy of the client's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// API requests sent (every attempt, excluding token requests).
    pub calls: u64,
    /// Token requests sent.
    pub token_requests: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Attempts repeated after a retryable failure.
    pub retries: u64,
    /// Token refreshes forced by a 401.
    pub refreshes_after_401: u64,
    /// Number of limiter waits recorded (one per attempt).
    pub limiter_waits: u64,
    /// Mean time spent waiting in the per-tenant limiter.
    pub limiter_wait_mean: Duration,
    /// Median limiter wait (bucket upper bound, ~12 % resolution).
    pub limiter_wait_p50: Duration,
    /// 99th-percentile limiter wait (bucket upper bound, ~12 % resolution).
    pub limiter_wait_p99: Duration,
    /// Longest limiter wait.
    pub limiter_wait_max: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounded() {
        let mut last = 0;
        for us in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            1_000,
            16_667,
            1_000_000,
            u64::MAX / 2,
        ] {
            let b = bucket_of(us);
            assert!(b >= last, "bucket for {us} went backwards");
            if b < OCTAVES * SUB - 1 {
                assert!(upper_bound(b) >= us, "upper bound of {us}");
                assert!(
                    upper_bound(b) as f64 <= (us as f64) * 1.13 + 1.0,
                    "resolution at {us}"
                );
            }
            last = b;
        }
    }

    #[test]
    fn quantiles_follow_samples() {
        let h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let p99 = h.quantile(0.99).as_micros() as f64;
        assert!((99_000.0..=112_000.0).contains(&p99), "p99 {p99}");
        let p50 = h.quantile(0.5).as_micros() as f64;
        assert!((50_000.0..=57_000.0).contains(&p50), "p50 {p50}");
        assert_eq!(Histogram::default().quantile(0.99), Duration::ZERO);
    }
}
