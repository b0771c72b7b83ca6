//! Process-wide tallies of contract checks, so a test run can print
//! "contract: N requests and M responses validated, K violations".
//!
//! With `TITANBRIDGE_CONTRACT_REPORT=<path>` set, every violation is appended to that file at
//! once (`violation <Display>`), and at process exit one line `tally <requests> <responses>` is
//! appended from a C `atexit` hook (Rust's test harness leaves through `exit()`, so the hook runs
//! for passing and failing test binaries alike). `scripts/contract-report` sums the file.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::Violation;

/// Environment variable naming the report file.
pub const REPORT_ENV: &str = "TITANBRIDGE_CONTRACT_REPORT";

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static RESPONSES: AtomicU64 = AtomicU64::new(0);
static VIOLATIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static REPORT: OnceLock<Option<Mutex<File>>> = OnceLock::new();

/// The report file, opened (and the exit hook registered) on first use.
fn report() -> Option<&'static Mutex<File>> {
    REPORT
        .get_or_init(|| {
            let path = std::env::var_os(REPORT_ENV).filter(|p| !p.is_empty())?;
            let file = match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("contract: cannot append to {}: {e}", path.to_string_lossy());
                    return None;
                }
            };
            // SAFETY: `write_tally` is a plain `extern "C" fn()` that touches only statics; it
            // is registered once, guarded by the `OnceLock`.
            if unsafe { libc::atexit(write_tally) } != 0 {
                eprintln!("contract: atexit registration failed; no tally line will be written");
            }
            Some(Mutex::new(file))
        })
        .as_ref()
}

/// Appends one line to the report. One `write_all` on an `O_APPEND` file, so lines from
/// concurrent test binaries do not interleave.
fn append(line: &str) {
    if let Some(file) = report() {
        let mut f = file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

extern "C" fn write_tally() {
    let Some(Some(file)) = REPORT.get() else {
        return;
    };
    // `try_lock`: a thread may still hold the lock while the process exits
    if let Ok(mut f) = file.try_lock() {
        let line = format!(
            "tally {} {}\n",
            REQUESTS.load(Ordering::Relaxed),
            RESPONSES.load(Ordering::Relaxed)
        );
        let _ = f.write_all(line.as_bytes());
        let _ = f.flush();
    }
}

/// Counts one validated request.
pub fn record_request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let _ = report();
}

/// Counts one validated response.
pub fn record_response() {
    RESPONSES.fetch_add(1, Ordering::Relaxed);
    let _ = report();
}

/// Records a violation (kept in memory and appended to the report file at once).
pub fn record_violation(v: &Violation) {
    let line = v.to_string().replace(['\n', '\r'], " ");
    append(&format!("violation {line}"));
    VIOLATIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(line);
}

/// `(requests, responses, violations)` recorded so far in this process.
pub fn snapshot() -> (u64, u64, Vec<String>) {
    let violations = VIOLATIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    (
        REQUESTS.load(Ordering::Relaxed),
        RESPONSES.load(Ordering::Relaxed),
        violations,
    )
}
