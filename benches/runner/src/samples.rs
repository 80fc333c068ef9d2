//! Timing arithmetic and CPU accounting shared by the figures.

use std::time::Duration;

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The mean of `values`.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The arms of an interleaved comparison in the order round `round` runs
/// them: rotated each round, so every arm runs in every position equally
/// often and slow drift (thermal, page cache, allocator) does not favour one.
pub fn order<T: Copy>(arms: &[T], round: usize) -> Vec<T> {
    let mut arms = arms.to_vec();
    let n = arms.len();
    arms.rotate_left(round % n);
    arms
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time (user + system) used so far by the threads of process `pid`
/// whose name starts with `prefix` (every thread for `""`), from
/// `/proc/<pid>/task/*/schedstat` — exact nanoseconds, no clock-tick guess.
/// Threads that have already exited are not counted. `None` off Linux.
pub fn cpu_secs(pid: &str, prefix: &str) -> Option<f64> {
    let mut total_ns: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let dir = task.ok()?.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !name.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        total_ns += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total_ns as f64 / 1e9)
}

/// The mock server's thread in this process (named `datafold-mock-<port>`).
pub const MOCK_THREAD: &str = "datafold-mock";

/// CPU seconds used so far in this process by the client (every thread but
/// the mock's) and by the mock server's thread.
pub fn client_and_mock_cpu() -> (f64, f64) {
    let all = cpu_secs("self", "").unwrap_or(f64::NAN);
    let mock = cpu_secs("self", MOCK_THREAD).unwrap_or(f64::NAN);
    (all - mock, mock)
}

#[cfg(test)]
mod tests {
    use super::{median, order};

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn every_arm_takes_every_position() {
        assert_eq!(order(&['a', 'b'], 0), ['a', 'b']);
        assert_eq!(order(&['a', 'b'], 1), ['b', 'a']);
        assert_eq!(order(&['a', 'b', 'c'], 2), ['c', 'a', 'b']);
    }
}
