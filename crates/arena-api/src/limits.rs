//! Per-voter and per-address limits on new battles and turns.
//!
//! Uses governor's GCRA limiter keyed by voter and by client address. The
//! address allowance is ten times the voter allowance so that many people
//! behind one NAT are not punished for one another. Limits are per instance;
//! behind a load balancer with N instances a voter gets at most N times the
//! limit, which is documented in the deployment guide.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// The two keyed limiters, or none when the limit is off.
pub struct RateLimits {
    limiters: Option<(
        DefaultKeyedRateLimiter<String>,
        DefaultKeyedRateLimiter<IpAddr>,
    )>,
}

impl RateLimits {
    /// `per_minute` battles or turns per voter; 0 turns limiting off.
    pub fn new(per_minute: u32) -> Self {
        let limiters = NonZeroU32::new(per_minute).map(|per_voter| {
            let per_address =
                per_voter.saturating_mul(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN));
            (
                RateLimiter::keyed(Quota::per_minute(per_voter)),
                RateLimiter::keyed(Quota::per_minute(per_address)),
            )
        });
        Self { limiters }
    }

    /// Counts one battle or turn; `Err(429)` with the wait when over the limit.
    pub fn check(&self, voter: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
        let Some((voters, addresses)) = &self.limiters else {
            return Ok(());
        };
        let clock = DefaultClock::default();
        let wait = |not_until: governor::NotUntil<_>| {
            let wait: Duration = not_until.wait_time_from(clock.now());
            ApiError::TooManyRequests(wait.as_secs() + 1)
        };
        if let Some(address) = address {
            addresses.check_key(&address).map_err(wait)?;
        }
        voters.check_key(&voter.to_owned()).map_err(wait)?;
        Ok(())
    }

    /// Forgets keys that have recovered their full allowance, bounding memory.
    pub fn prune(&self) {
        if let Some((voters, addresses)) = &self.limiters {
            voters.retain_recent();
            addresses.retain_recent();
            voters.shrink_to_fit();
            addresses.shrink_to_fit();
        }
    }
}
