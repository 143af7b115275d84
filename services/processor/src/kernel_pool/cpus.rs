//! `PROCESSOR_KERNEL_CPUS`: the CPUs the kernel threads may run on, as Linux writes CPU lists
//! (`1`, `1-3`, `0,2-3`), and putting the calling thread on them.

use std::{fmt, str::FromStr};

use nix::{
    sched::{CpuSet, sched_getaffinity, sched_setaffinity},
    unistd::Pid,
};

/// A set of CPU numbers, sorted, without repeats, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CpuListError {
    #[error("`{0}` is not a CPU number or range (a list looks like `1`, `1-3` or `0,2-3`)")]
    Malformed(String),
    #[error("the range `{0}` ends before it starts")]
    Backwards(String),
    #[error("CPU {0} is beyond what this system can number ({1} CPUs)")]
    TooLarge(usize, usize),
    #[error("none of the CPUs {0} is one this process may run on")]
    NoneAllowed(CpuList),
}

impl FromStr for CpuList {
    type Err = CpuListError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |part: &str, whole: &str| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| CpuListError::Malformed(whole.trim().to_owned()))
        };
        let mut cpus = Vec::new();
        for item in text.split(',') {
            let (first, last) = match item.split_once('-') {
                Some((first, last)) => (number(first, item)?, number(last, item)?),
                None => {
                    let cpu = number(item, item)?;
                    (cpu, cpu)
                }
            };
            if last < first {
                return Err(CpuListError::Backwards(item.trim().to_owned()));
            }
            if last >= CpuSet::count() {
                return Err(CpuListError::TooLarge(last, CpuSet::count()));
            }
            cpus.extend(first..=last);
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(Self(cpus))
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.iter().map(usize::to_string).collect();
        write!(f, "{}", names.join(","))
    }
}

impl CpuList {
    /// How many CPUs are listed.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The listed CPUs this process may run on; an error if there are none (a list written
    /// for another machine), so the processor refuses to start instead of running its
    /// kernels where it was told not to.
    pub fn allowed(&self) -> Result<Self, CpuListError> {
        let process = sched_getaffinity(Pid::from_raw(0))
            .map_err(|_| CpuListError::NoneAllowed(self.clone()))?;
        let allowed: Vec<usize> = self
            .0
            .iter()
            .copied()
            .filter(|&cpu| process.is_set(cpu).unwrap_or(false))
            .collect();
        if allowed.is_empty() {
            return Err(CpuListError::NoneAllowed(self.clone()));
        }
        Ok(Self(allowed))
    }

    /// Put the calling thread, and every thread it starts from now on, on these CPUs.
    pub fn bind_own_thread(&self) -> nix::Result<()> {
        let mut set = CpuSet::new();
        for &cpu in &self.0 {
            set.set(cpu)?;
        }
        sched_setaffinity(Pid::from_raw(0), &set)
    }

    /// The calling thread's CPUs.
    pub fn of_own_thread() -> nix::Result<Self> {
        let set = sched_getaffinity(Pid::from_raw(0))?;
        Ok(Self(
            (0..CpuSet::count())
                .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Result<Vec<usize>, CpuListError> {
        text.parse::<CpuList>().map(|cpus| cpus.0)
    }

    #[test]
    fn cpu_lists_read_as_linux_writes_them() {
        assert_eq!(list("1"), Ok(vec![1]));
        assert_eq!(list("1-3"), Ok(vec![1, 2, 3]));
        assert_eq!(list("0,2-3"), Ok(vec![0, 2, 3]));
        assert_eq!(list(" 3, 1-2 ,2"), Ok(vec![1, 2, 3]));
    }

    #[test]
    fn a_bad_cpu_list_says_what_is_wrong_with_it() {
        assert_eq!(list(""), Err(CpuListError::Malformed(String::new())));
        assert_eq!(list("1,x"), Err(CpuListError::Malformed("x".into())));
        assert_eq!(list("1-"), Err(CpuListError::Malformed("1-".into())));
        assert_eq!(list("3-1"), Err(CpuListError::Backwards("3-1".into())));
        let too_many = CpuSet::count();
        assert_eq!(
            list(&too_many.to_string()),
            Err(CpuListError::TooLarge(too_many, too_many))
        );
    }

    #[test]
    fn only_cpus_this_process_may_use_are_kept() {
        let own = CpuList::of_own_thread().expect("affinity");
        let last = *own.0.last().expect("some CPU");
        let asked: CpuList = format!("{last},{}", CpuSet::count() - 1)
            .parse()
            .expect("list");
        let kept = asked.allowed().expect("one allowed");
        assert!(kept.0.contains(&last), "{kept}");
        let unusable: CpuList = (CpuSet::count() - 1).to_string().parse().expect("list");
        if !own.0.contains(&(CpuSet::count() - 1)) {
            assert_eq!(
                unusable.allowed(),
                Err(CpuListError::NoneAllowed(unusable.clone()))
            );
        }
    }
}
