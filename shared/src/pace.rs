//! Request rates kept on our side: AWS throttles an account's requests with token buckets shared
//! by every client in the account, so each job takes its tokens from a bucket of its own, sized
//! at (a share of) the documented rate. Waiting for a token here keeps a burst at the rate's
//! bound with no call refused, where retrying throttled calls with backoff falls well below it.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A token bucket that makes callers wait for their token.
#[derive(Debug)]
pub struct Pace {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Pace {
    pub fn new((rate, burst): (f64, f64)) -> Self {
        Pace {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// How long the next request must wait for its token (taking it now, so waiting callers are
    /// served in turn).
    pub fn reserve(&self) -> Duration {
        let Ok(mut state) = self.state.lock() else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let (tokens, last) = *state;
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        *state = (tokens - 1.0, now);
        if tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - tokens) / self.rate)
        }
    }

    pub async fn wait(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_then_requests_are_spaced_at_the_rate() {
        let pace = Pace::new((5.0, 20.0));
        let waits: Vec<Duration> = (0..25).map(|_| pace.reserve()).collect();
        assert!(waits[..20].iter().all(|w| w.is_zero()));
        // The 21st waits one interval, the 25th five.
        assert_eq!(waits[20], Duration::from_millis(200));
        assert_eq!(waits[24], Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(pace.reserve().is_zero(), "refilled");
    }
}
