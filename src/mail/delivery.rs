//! Delivers the outbox: claims due messages, sends them, and on failure retries with
//! exponential backoff (5 s, 10 s, 20 s … capped at 1 h) until [`MAX_ATTEMPTS`], after which the
//! message is `dead` and waits for an ops "retry". Failures are visible in the ops console.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{Mailer, Outgoing};
use crate::crypto::SecretBox;
use crate::store::{Store, StoreResult, now_ms, outbox};

/// Attempts before a message is marked dead.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a claimed message is reserved for its sender.
const LEASE_MS: i64 = 60_000;

/// Milliseconds to wait after the `attempts`-th failure.
pub fn backoff_ms(attempts: i32) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (5_000i64 << exp).min(3_600_000)
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Messages sent.
    pub sent: usize,
    /// Messages that failed this time.
    pub failed: usize,
}

/// The outbox sender: cheap to clone; [`Outbox::wake`] makes the loop look at once.
#[derive(Clone, Debug)]
pub struct Outbox {
    store: Store,
    secrets: SecretBox,
    mailer: Arc<Mailer>,
    wake: Arc<Notify>,
}

impl Outbox {
    /// A sender over `store` using `mailer`.
    pub fn new(store: Store, secrets: SecretBox, mailer: Mailer) -> Outbox {
        Outbox {
            store,
            secrets,
            mailer: Arc::new(mailer),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Asks the loop to look for due messages now (call after committing new mail).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends every due message once.
    pub async fn deliver_due(&self) -> StoreResult<Report> {
        let mut report = Report::default();
        let now = now_ms();
        for row in outbox::due(self.store.db(), now, 50).await? {
            if !outbox::claim(self.store.db(), &row, now + LEASE_MS).await? {
                continue;
            }
            let attempts = row.attempts + 1;
            let bodies = outbox::open_body(&self.secrets, &row.body_text)
                .and_then(|t| Ok((t, outbox::open_body(&self.secrets, &row.body_html)?)));
            let (text, html) = match bodies {
                Ok(b) => b,
                Err(e) => {
                    // Retrying cannot help: the keys file changed since the message was queued.
                    outbox::mark_failed(self.store.db(), row.id, &e.to_string(), now, true).await?;
                    tracing::error!(email_id = row.id, error = %e, "email body cannot be opened");
                    report.failed += 1;
                    continue;
                }
            };
            let msg = Outgoing {
                to: &row.to_address,
                subject: &row.subject,
                text: &text,
                html: &html,
            };
            match self.mailer.send(&msg).await {
                Ok(()) => {
                    outbox::mark_sent(self.store.db(), row.id).await?;
                    tracing::info!(email_id = row.id, to = %row.to_address, "email sent");
                    report.sent += 1;
                }
                Err(e) => {
                    let dead = attempts >= MAX_ATTEMPTS;
                    let next = now_ms() + backoff_ms(attempts);
                    outbox::mark_failed(self.store.db(), row.id, &e.to_string(), next, dead)
                        .await?;
                    tracing::warn!(email_id = row.id, attempts, dead, error = %e, "email not sent");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Runs [`Outbox::deliver_due`] every `poll` (or when woken) until the task is dropped.
    pub fn spawn(self, poll: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.deliver_due().await {
                    tracing::error!(error = %e, "mail delivery pass failed");
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(1), 5_000);
        assert_eq!(backoff_ms(2), 10_000);
        assert_eq!(backoff_ms(4), 40_000);
        assert_eq!(backoff_ms(30), 3_600_000);
        assert_eq!(backoff_ms(0), 5_000);
    }
}
