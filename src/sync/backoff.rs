//! Retry delays: exponential with full jitter, never shorter than the server's `Retry-After`.
use std::time::Duration;

use rand::Rng;

/// Delay before attempt `attempts + 1`, given `attempts` made so far (at least 1).
///
/// Full jitter: uniform in `[0, min(cap, base * 2^(attempts-1))]`, then raised to
/// `retry_after` when the server asked for longer.
pub fn delay(
    attempts: i32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let ceiling = base
        .checked_mul(1u32 << exp.min(20))
        .unwrap_or(cap)
        .min(cap);
    let jittered = if ceiling.is_zero() {
        Duration::ZERO
    } else {
        rand::thread_rng().gen_range(Duration::ZERO..=ceiling)
    };
    match retry_after {
        Some(ra) if ra > jittered => ra,
        _ => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_exponential_ceiling() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(10);
        for attempts in 1..12 {
            for _ in 0..50 {
                let d = delay(attempts, base, cap, None);
                let ceiling = (base * 2u32.pow(attempts as u32 - 1)).min(cap);
                assert!(d <= ceiling, "attempt {attempts}: {d:?} > {ceiling:?}");
            }
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let ds: std::collections::BTreeSet<_> = (0..50)
            .map(|_| delay(5, Duration::from_secs(1), Duration::from_secs(60), None))
            .collect();
        assert!(ds.len() > 10, "full jitter should vary: {ds:?}");
    }

    #[test]
    fn retry_after_is_a_floor() {
        for _ in 0..50 {
            let d = delay(
                1,
                Duration::from_millis(10),
                Duration::from_secs(1),
                Some(Duration::from_secs(3)),
            );
            assert!(d >= Duration::from_secs(3));
        }
    }

    #[test]
    fn huge_attempt_counts_hit_the_cap() {
        let d = delay(
            i32::MAX,
            Duration::from_secs(1),
            Duration::from_secs(5),
            None,
        );
        assert!(d <= Duration::from_secs(5));
    }
}
