//! Background jobs that run on a clock (the reaper, retention, webhook delivery, queue-depth
//! and backlog measurements): one loop for all of them,
//! `while ticks.next().await { one round }`.

use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// The clock of one background job.
pub struct Ticks {
    interval: Interval,
    shutdown: CancellationToken,
}

impl Ticks {
    /// The first tick comes at once, then one every `period`. A round that takes longer than
    /// `period` delays the next tick instead of being followed by a burst of catch-up rounds.
    pub fn every(period: Duration, shutdown: &CancellationToken) -> Self {
        // A zero period would spin (and tokio's interval refuses it).
        let mut interval = tokio::time::interval(period.max(Duration::from_millis(1)));
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            interval,
            shutdown: shutdown.clone(),
        }
    }

    /// Wait for the next tick: `true` when it is time for a round, `false` once shutdown was
    /// asked for. A round in progress is never cut short: shutdown is heard between rounds.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.interval.tick() => !self.shutdown.is_cancelled(),
            () = self.shutdown.cancelled() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rounds_run_on_the_clock_until_shutdown() {
        let shutdown = CancellationToken::new();
        let started = tokio::time::Instant::now();
        let mut ticks = Ticks::every(Duration::from_secs(10), &shutdown);
        let mut rounds = 0u32;
        while ticks.next().await {
            rounds += 1;
            if rounds == 3 {
                shutdown.cancel();
            }
        }
        assert_eq!(rounds, 3);
        // The first round at once, then one per period: the third 20 s after the start.
        assert_eq!(started.elapsed(), Duration::from_secs(20));
    }
}
