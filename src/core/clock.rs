//! Time, injected: the core asks a [`Clock`], so tests can set the time
//! instead of sleeping through it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the core gets the time from.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now(&self) -> u64 {
        u64::try_from(self.now_ms() / 1000).unwrap_or(0)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    pub fn at(ms: i64) -> Self {
        Self {
            ms: AtomicI64::new(ms),
        }
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ms.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z): a time
/// beyond it, from a forged report or a broken clock, is written as it.
const LAST_SECOND: u64 = 253_402_300_799;

/// RFC 3339, UTC, to the second.
pub fn rfc3339(unix: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix.min(LAST_SECOND));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// RFC 3339, UTC, to the millisecond.
pub fn rfc3339_ms(at_ms: i64) -> String {
    let ms = u64::try_from(at_ms).unwrap_or(0).min(LAST_SECOND * 1000);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_when_told() {
        let clock = ManualClock::at(1_500);
        assert_eq!(clock.now(), 1);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_500);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_ms(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339_ms(i64::MAX), "9999-12-31T23:59:59.000Z");
    }
}
