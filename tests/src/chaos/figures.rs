//! The figures of a chaos run: the load, the faults by kind and the checker's counts, printed
//! as one block (`scripts/chaos.sh` shows it; `docs/reliability-chaos.md` records a run's).

use std::{collections::BTreeMap, time::Duration};

use super::{Settings, checker::Verdict, driver::FaultCounts, history::History};

#[derive(Debug)]
pub struct Figures {
    pub seed: u64,
    pub duration: Duration,
    pub quiet: Duration,
    pub setup: Duration,
    pub wall: Duration,
    pub accepted: usize,
    pub with_steps: u64,
    pub replays: u64,
    pub cancels_accepted: usize,
    pub retries_accepted: usize,
    pub answers: BTreeMap<String, u64>,
    pub faults: FaultCounts,
    pub unexpected_answers: u64,
    pub unexpected_examples: Vec<String>,
    pub unexpected_exits: Vec<String>,
    pub unclean_stops: Vec<String>,
    verdict: Verdict,
}

impl Figures {
    pub(crate) fn new(
        settings: &Settings,
        faults: FaultCounts,
        history: &History,
        verdict: Verdict,
        cluster: (&[String], &[String]),
    ) -> Self {
        history.with(|h| Self {
            seed: settings.seed,
            duration: settings.duration,
            quiet: settings.quiet,
            setup: Duration::ZERO,
            wall: Duration::ZERO,
            accepted: h.accepted.len(),
            with_steps: h.with_steps,
            replays: h.replays,
            cancels_accepted: h.cancelled.len(),
            retries_accepted: h.retried.len(),
            answers: h.answers.clone(),
            faults,
            unexpected_answers: h.unexpected,
            unexpected_examples: h.unexpected_examples.clone(),
            unexpected_exits: cluster.0.to_vec(),
            unclean_stops: cluster.1.to_vec(),
            verdict,
        })
    }

    /// Every count that must be zero and is not, with its examples: empty for a good run.
    pub fn problems(&self) -> Vec<String> {
        let v = &self.verdict;
        let mut problems = Vec::new();
        if v.settled_after.is_none() {
            problems.push(format!("not settled within D = {} s", self.quiet.as_secs()));
        }
        for (name, list) in [
            ("lost", &v.lost),
            ("stuck", &v.stuck),
            ("duplicated", &v.duplicated),
            (
                "COMPLETED without a result object",
                &v.completed_without_object,
            ),
            (
                "broken promises (cancel, retry, replay)",
                &v.broken_promises,
            ),
            ("parked jobs whose task is not FAILED", &v.parked_not_failed),
            ("webhook misses", &v.webhook_misses),
            ("unexpected exits", &self.unexpected_exits),
            ("unclean SIGTERM stops", &self.unclean_stops),
            ("unexpected answers", &self.unexpected_examples),
        ] {
            if !list.is_empty() {
                let shown: Vec<_> = list.iter().take(5).collect();
                problems.push(format!("{name}: {} ({shown:?})", list.len()));
            }
        }
        if !v.leftovers.is_empty() {
            problems.push(format!("left in queues or outbox: {:?}", v.leftovers));
        }
        problems
    }

    pub fn print(&self) {
        let v = &self.verdict;
        let faults: u64 = self.faults.values().sum();
        let mut lines = vec![
            "---- chaos figures ----".to_owned(),
            format!("seed                      {}", self.seed),
            format!(
                "run                       {} s of load and faults, D = {} s, setup {:.0} s, wall {:.0} s",
                self.duration.as_secs(),
                self.quiet.as_secs(),
                self.setup.as_secs_f64(),
                self.wall.as_secs_f64()
            ),
            format!(
                "settled after             {}",
                v.settled_after
                    .map_or("NOT within D".to_owned(), |d| format!(
                        "{:.1} s",
                        d.as_secs_f64()
                    ))
            ),
            format!(
                "uploads accepted (202)    {} ({} with steps; {} replays sent; {} tasks without a 202 seen)",
                self.accepted, self.with_steps, self.replays, v.unanswered
            ),
            format!(
                "refused, yet kept         {} {:?}",
                v.refused_but_kept.len(),
                v.refused_but_kept
            ),
            format!(
                "cancels 200 / retries 202 {} / {}",
                self.cancels_accepted, self.retries_accepted
            ),
            format!("tasks by final state      {:?}", v.finals),
            format!("faults injected           {faults}"),
        ];
        for (kind, n) in &self.faults {
            lines.push(format!("  {kind:<24}{n}"));
        }
        lines.extend([
            format!("lost                      {}", v.lost.len()),
            format!("stuck                     {}", v.stuck.len()),
            format!("duplicated                {}", v.duplicated.len()),
            format!("COMPLETED without object  {}", v.completed_without_object.len()),
            format!("broken promises           {}", v.broken_promises.len()),
            format!(
                "parked                    {} ({} whose task is not FAILED)",
                v.parked,
                v.parked_not_failed.len()
            ),
            format!(
                "webhook misses            {} ({} requests received, {} ids received twice or more)",
                v.webhook_misses.len(),
                v.webhooks_received,
                v.webhook_redeliveries
            ),
            format!("left in queues / outbox   {:?}", v.leftovers),
            format!(
                "orphan result objects     {} {:?}",
                v.orphan_results.len(),
                v.orphan_results
            ),
            format!("unexpected answers        {}", self.unexpected_answers),
            format!("unexpected exits          {:?}", self.unexpected_exits),
            format!("unclean SIGTERM stops     {:?}", self.unclean_stops),
            "answers by operation:".to_owned(),
        ]);
        for (answer, n) in &self.answers {
            lines.push(format!("  {answer:<40}{n}"));
        }
        for problem in self.problems() {
            lines.push(format!("PROBLEM: {problem}"));
        }
        lines.push("-----------------------".to_owned());
        eprintln!("{}", lines.join("\n"));
    }
}
