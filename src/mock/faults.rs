//! Fault injection: which failure, if any, the mock puts in place of a normal
//! answer, decided per request from a seed so that runs are reproducible.
//!
//! Request number `n` (counted from 0 in arrival order) draws one number in
//! `[0, 1)` from `(seed, n)`; the configured rates are laid end to end in the
//! order of [`Fault::ALL`] and the draw picks the fault whose slice it falls in
//! (or none). With a fixed seed and sequential requests, the same requests fail
//! the same way on every run.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A failure the mock can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// `429 Too Many Requests` with a `Retry-After` header; the handler does
    /// not run.
    RateLimited,
    /// `500 Internal Server Error`; the handler does not run.
    InternalError,
    /// `502 Bad Gateway`; the handler does not run.
    BadGateway,
    /// `503 Service Unavailable`; the handler does not run.
    Unavailable,
    /// The connection is reset before the handler runs: nothing changed.
    ResetBeforeHandler,
    /// The handler runs (a create is applied) and then the connection is reset
    /// before any response byte: the client cannot know the change happened.
    ResetAfterHandler,
    /// The handler runs and the response is cut off halfway through its body.
    TruncatedBody,
}

impl Fault {
    /// Every fault, in the order their rates are laid out.
    pub const ALL: [Fault; 7] = [
        Fault::RateLimited,
        Fault::InternalError,
        Fault::BadGateway,
        Fault::Unavailable,
        Fault::ResetBeforeHandler,
        Fault::ResetAfterHandler,
        Fault::TruncatedBody,
    ];

    /// The name used by the `datafold-mock` flags and [`FromStr`]: `429`,
    /// `500`, `502`, `503`, `reset`, `reset-after`, `truncate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::RateLimited => "429",
            Fault::InternalError => "500",
            Fault::BadGateway => "502",
            Fault::Unavailable => "503",
            Fault::ResetBeforeHandler => "reset",
            Fault::ResetAfterHandler => "reset-after",
            Fault::TruncatedBody => "truncate",
        }
    }

    /// Whether the request's handler runs (and may change state) before the
    /// fault hits.
    pub fn runs_handler(self) -> bool {
        matches!(self, Fault::ResetAfterHandler | Fault::TruncatedBody)
    }

    /// The status the fault answers with, if it answers at all.
    pub fn status(self) -> Option<u16> {
        match self {
            Fault::RateLimited => Some(429),
            Fault::InternalError => Some(500),
            Fault::BadGateway => Some(502),
            Fault::Unavailable => Some(503),
            _ => None,
        }
    }

    /// Parse the `KIND=RATE` form of the `--fault` flags, e.g. `429=0.1`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    // For the command lines' `--fault` (crates of their own, so it must be
    // `pub`); hidden from the docs as not part of the API a test uses.
    #[doc(hidden)]
    pub fn parse_with_rate(spec: &str) -> Result<(Fault, f64), String> {
        let (kind, rate) = spec
            .split_once('=')
            .ok_or_else(|| format!("--fault takes KIND=RATE, e.g. 429=0.1; got {spec:?}"))?;
        let fault: Fault = kind.parse()?;
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("--fault {spec}: the rate must be a number from 0 to 1"))?;
        Ok((fault, rate))
    }

    fn index(self) -> usize {
        Fault::ALL
            .iter()
            .position(|f| *f == self)
            .unwrap_or_default()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown fault {s:?}: expected one of 429, 500, 502, 503, reset, reset-after, truncate")
            })
    }
}

/// The seed of the fault draws when none is configured ([`Faults::seed`]).
pub const DEFAULT_FAULT_SEED: u64 = 0;
/// The `Retry-After` seconds of injected 429s and 503s when none is
/// configured ([`Faults::retry_after_secs`]).
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 1;

/// What to inject and how often; give it to
/// [`MockServerBuilder::faults`](super::MockServerBuilder::faults).
///
/// ```
/// use std::time::Duration;
/// use datafold_sdk::mock::{Fault, Faults};
///
/// let faults = Faults::new()
///     .seed(7)
///     .rate(Fault::RateLimited, 0.2)
///     .rate(Fault::ResetAfterHandler, 0.05)
///     .latency(Duration::from_millis(20));
/// assert_eq!(faults.rate_of(Fault::RateLimited), 0.2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    seed: u64,
    rates: [f64; 7],
    latency: Duration,
    retry_after_secs: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            seed: DEFAULT_FAULT_SEED,
            rates: [0.0; 7],
            latency: Duration::ZERO,
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
        }
    }
}

impl Faults {
    /// No faults, no latency.
    pub fn new() -> Self {
        Self::default()
    }

    /// The seed of the per-request draws (default [`DEFAULT_FAULT_SEED`], 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The fraction of requests (0.0 to 1.0) answered with `fault`. The rates
    /// of all faults together must not exceed 1.0 (checked when the server
    /// starts).
    pub fn rate(mut self, fault: Fault, rate: f64) -> Self {
        self.rates[fault.index()] = rate;
        self
    }

    /// Delay added before every answer (default none).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The `Retry-After` seconds of injected 429s and 503s (default
    /// [`DEFAULT_RETRY_AFTER_SECS`], 1).
    pub fn retry_after_secs(mut self, seconds: u32) -> Self {
        self.retry_after_secs = seconds;
        self
    }

    /// The configured rate of `fault`.
    pub fn rate_of(&self, fault: Fault) -> f64 {
        self.rates[fault.index()]
    }

    /// The configured latency.
    pub fn added_latency(&self) -> Duration {
        self.latency
    }

    /// The `Retry-After` seconds of injected 429s.
    pub fn retry_after(&self) -> u32 {
        self.retry_after_secs
    }

    /// Whether the rates are usable: each in `[0, 1]`, together at most 1.
    ///
    /// # Errors
    /// A message naming the offending rate.
    pub fn check(&self) -> Result<(), String> {
        for fault in Fault::ALL {
            let rate = self.rate_of(fault);
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "the rate of fault {fault} is {rate}; use a number from 0 to 1"
                ));
            }
        }
        let total: f64 = self.rates.iter().sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "the fault rates add up to {total}; together they must not exceed 1"
            ));
        }
        Ok(())
    }

    /// The fault for request number `n`, if any.
    pub(crate) fn pick(&self, n: u64) -> Option<Fault> {
        if self.rates.iter().all(|r| *r == 0.0) {
            return None;
        }
        let draw = unit(mix(self.seed, n));
        let mut edge = 0.0;
        for fault in Fault::ALL {
            edge += self.rate_of(fault);
            if draw < edge {
                return Some(fault);
            }
        }
        None
    }
}

/// splitmix64 of `seed` and `n`: a well-spread 64-bit value per pair.
pub(crate) fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed
        .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit value mapped to `[0, 1)`.
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}
