//! When to relaunch an agent that went down: its restart policy, a backoff
//! that doubles while it keeps dying, and a crash-loop limit. Pure: the
//! supervisor feeds it what happened and the time, and does what it says.
//!
//! The first relaunch after a healthy run is at once; each further one in
//! the same streak waits twice as long as the last (1 s, 2 s, 4 s … up to
//! [`Limits::max_delay`]). An agent that has run for
//! [`Limits::healthy_after`] starts a new streak. One launched
//! [`Limits::loop_starts`] times within [`Limits::loop_window`] and dead
//! again is in a crash loop: it is left alone until an operator relaunches
//! it. Agents that go down together are spread over up to
//! [`Limits::jitter`], not relaunched in one stampede.

use std::collections::VecDeque;

use crate::core::desired::agent::RestartPolicy;

/// The numbers of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The wait before the second relaunch of a streak, doubled after.
    pub first_delay_ms: i64,
    pub max_delay_ms: i64,
    /// Running this long ends a streak.
    pub healthy_after_ms: i64,
    /// This many launches within `loop_window_ms`, then down again: a loop.
    pub loop_starts: usize,
    pub loop_window_ms: i64,
    /// Relaunches are spread over up to this much.
    pub jitter_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            first_delay_ms: 1_000,
            max_delay_ms: 60_000,
            healthy_after_ms: 60_000,
            loop_starts: 5,
            loop_window_ms: 120_000,
            jitter_ms: 500,
        }
    }
}

/// How an agent went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// Its runtime exited, with this status if tmux knows it.
    Exited(Option<i32>),
    /// Its session ended outside fleet (the tmux server killed, a reboot).
    Vanished,
    /// An operator stopped it (`fleet stop`, `fleet down`).
    Stopped,
}

/// What to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its policy, or an operator, says it stays down.
    Leave,
    /// Relaunch it at this time (Unix ms); `attempt` counts the streak.
    RelaunchAt { at_ms: i64, attempt: usize },
    /// It keeps dying: give up until an operator relaunches it.
    Crashloop { starts: usize },
}

/// What the supervisor remembers of one agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// When it was launched, within the loop window.
    launches: VecDeque<i64>,
    /// Relaunches in the current streak.
    streak: usize,
    /// Running since (Unix ms), while it runs.
    running_since: Option<i64>,
    pub given_up: bool,
}

impl Record {
    /// It runs (again). A run long enough ends the streak.
    pub fn running(&mut self, now_ms: i64, limits: &Limits) {
        let since = *self.running_since.get_or_insert(now_ms);
        if now_ms - since >= limits.healthy_after_ms {
            self.streak = 0;
        }
        self.given_up = false;
    }

    /// It was launched (by the supervisor or anyone).
    pub fn launched(&mut self, now_ms: i64) {
        self.launches.push_back(now_ms);
        self.running_since = Some(now_ms);
    }

    /// It went down: what to do.
    pub fn down(
        &mut self,
        how: Down,
        policy: RestartPolicy,
        now_ms: i64,
        jitter: i64,
        limits: &Limits,
    ) -> Verdict {
        self.running_since = None;
        let wanted = !matches!(
            (how, policy),
            (Down::Stopped, _)
                | (_, RestartPolicy::Never)
                | (Down::Exited(Some(0)), RestartPolicy::OnFailure)
        );
        if !wanted || self.given_up {
            return Verdict::Leave;
        }
        while self
            .launches
            .front()
            .is_some_and(|t| now_ms - t > limits.loop_window_ms)
        {
            self.launches.pop_front();
        }
        if self.launches.len() >= limits.loop_starts {
            self.given_up = true;
            return Verdict::Crashloop {
                starts: self.launches.len(),
            };
        }
        let delay = match self.streak {
            0 => 0,
            n => {
                let doublings = u32::try_from(n - 1).unwrap_or(u32::MAX).min(20);
                (limits.first_delay_ms << doublings).min(limits.max_delay_ms)
            }
        };
        self.streak += 1;
        Verdict::RelaunchAt {
            at_ms: now_ms + delay + jitter.clamp(0, limits.jitter_ms),
            attempt: self.streak,
        }
    }
}

/// A spread in `0..limits.jitter_ms` for an agent, different per agent
/// and per moment, without a random-number dependency.
pub fn jitter(name: &str, now_ms: i64, limits: &Limits) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (name, now_ms, std::process::id()).hash(&mut hasher);
    let span = u64::try_from(limits.jitter_ms.max(1)).unwrap_or(1);
    i64::try_from(hasher.finish() % span).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        first_delay_ms: 1_000,
        max_delay_ms: 8_000,
        healthy_after_ms: 60_000,
        loop_starts: 5,
        loop_window_ms: 120_000,
        jitter_ms: 500,
    };

    #[test]
    fn policies_decide_who_comes_back() {
        use RestartPolicy::*;
        let verdict = |how, policy| Record::default().down(how, policy, 0, 0, &L);
        let back = Verdict::RelaunchAt {
            at_ms: 0,
            attempt: 1,
        };
        assert_eq!(verdict(Down::Exited(Some(1)), Never), Verdict::Leave);
        assert_eq!(verdict(Down::Exited(Some(1)), OnFailure), back);
        assert_eq!(verdict(Down::Exited(Some(0)), OnFailure), Verdict::Leave);
        assert_eq!(verdict(Down::Exited(Some(0)), Always), back);
        assert_eq!(verdict(Down::Exited(None), OnFailure), back);
        assert_eq!(verdict(Down::Vanished, OnFailure), back);
        assert_eq!(verdict(Down::Stopped, Always), Verdict::Leave);
    }

    #[test]
    fn backoff_doubles_to_its_cap_then_a_crash_loop_gives_up() {
        let mut r = Record::default();
        let mut now = 0;
        let mut waits = Vec::new();
        loop {
            match r.down(Down::Exited(Some(1)), RestartPolicy::Always, now, 0, &L) {
                Verdict::RelaunchAt { at_ms, .. } => {
                    waits.push(at_ms - now);
                    now = at_ms;
                    r.launched(now);
                    now += 100; // dies at once
                }
                Verdict::Crashloop { starts } => {
                    assert_eq!(starts, 5);
                    break;
                }
                Verdict::Leave => panic!("left alone"),
            }
        }
        assert_eq!(waits, [0, 1_000, 2_000, 4_000, 8_000]);
        // Given up: nothing more until an operator relaunches it.
        assert_eq!(
            r.down(Down::Exited(Some(1)), RestartPolicy::Always, now, 0, &L),
            Verdict::Leave
        );
        r.launched(now + 1);
        r.running(now + 2, &L);
        assert!(!r.given_up);
    }

    #[test]
    fn a_healthy_run_starts_a_new_streak_and_jitter_is_bounded() {
        let mut r = Record::default();
        r.down(Down::Exited(Some(1)), RestartPolicy::Always, 0, 0, &L);
        r.launched(0);
        r.down(Down::Exited(Some(1)), RestartPolicy::Always, 10, 0, &L);
        r.launched(1_010);
        r.running(1_010, &L);
        r.running(200_000, &L);
        let v = r.down(
            Down::Exited(Some(1)),
            RestartPolicy::Always,
            200_001,
            300,
            &L,
        );
        assert_eq!(
            v,
            Verdict::RelaunchAt {
                at_ms: 200_301,
                attempt: 1
            }
        );
        for name in ["a", "b", "c"] {
            assert!((0..500).contains(&jitter(name, 5, &L)));
        }
    }
}
