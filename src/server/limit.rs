//! Failed logins per client address: after `max` failures within a window that starts at the
//! first, every login from that address is refused until the window ends (the caller answers
//! 429 with `Retry-After`).
//!
//! A right token is refused too while an address is limited: if it passed, each refusal or
//! success would tell a guesser whether the last guess was right, and the limit would be no
//! limit. A success never resets the count, so a known token cannot be used to keep guessing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::limits::client_key;

/// Addresses tracked at most: beyond, the windows that ended are dropped, then the oldest.
const MAX_CLIENTS: usize = 10_000;

/// Failed logins per client address. Attempts are counted when they start and given back when
/// they succeed, so many attempts sent at once cannot slip past the limit together.
pub(super) struct LoginLimiter {
    max: u32,
    window: Duration,
    /// Only map updates happen under this lock (no `.await`): a panic cannot leave it half-done.
    clients: Mutex<HashMap<IpAddr, Window>>,
}

/// One address's count since its first failure.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    /// Failures, and attempts not yet known to succeed.
    counted: u32,
}

/// An attempt the limiter let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Allowed {
    /// With more to come if this one fails.
    Yes,
    /// The last one of the window: if it fails, the address is limited (log it once).
    Last,
}

impl LoginLimiter {
    pub(super) fn new(max: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            max: max.max(1),
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `ip`, or refuses it with how long to wait.
    pub(super) fn attempt(&self, ip: IpAddr, now: Instant) -> Result<Allowed, Duration> {
        let key = client_key(ip);
        let mut clients = self.clients();
        if let Some(w) = clients.get(&key) {
            let ends = w.started + self.window;
            if now >= ends {
                clients.remove(&key);
            } else if w.counted >= self.max {
                return Err(ends - now);
            }
        }
        if !clients.contains_key(&key) && clients.len() >= MAX_CLIENTS {
            self.make_room(&mut clients, now);
        }
        let w = clients.entry(key).or_insert(Window {
            started: now,
            counted: 0,
        });
        w.counted += 1;
        Ok(if w.counted >= self.max {
            Allowed::Last
        } else {
            Allowed::Yes
        })
    }

    /// Gives back an attempt that did not fail (a right token, or an error on our side).
    pub(super) fn succeeded(&self, ip: IpAddr) {
        let key = client_key(ip);
        let mut clients = self.clients();
        if let Some(w) = clients.get_mut(&key) {
            w.counted = w.counted.saturating_sub(1);
            // Nothing failed: the window starts at the next failure, not at this success.
            if w.counted == 0 {
                clients.remove(&key);
            }
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Window>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops ended windows; if none ended, the oldest (a flood from many addresses: forgetting
    /// its first ones is better than growing without bound).
    fn make_room(&self, clients: &mut HashMap<IpAddr, Window>, now: Instant) {
        clients.retain(|_, w| now < w.started + self.window);
        if clients.len() >= MAX_CLIENTS {
            if let Some(oldest) = clients
                .iter()
                .min_by_key(|(_, w)| w.started)
                .map(|(k, _)| *k)
            {
                clients.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn five_failures_in_a_minute_limit_the_address_until_the_minute_ends() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        let a = ip("203.0.113.7");
        for i in 0..4 {
            assert_eq!(
                limiter.attempt(a, t0 + Duration::from_secs(i)),
                Ok(Allowed::Yes)
            );
        }
        assert_eq!(
            limiter.attempt(a, t0 + Duration::from_secs(4)),
            Ok(Allowed::Last)
        );
        // The sixth is refused, right token or not, until 60 s after the first failure.
        assert_eq!(
            limiter.attempt(a, t0 + Duration::from_secs(10)),
            Err(Duration::from_secs(50))
        );
        // Another address is not concerned.
        assert_eq!(limiter.attempt(ip("203.0.113.8"), t0), Ok(Allowed::Yes));
        assert_eq!(
            limiter.attempt(a, t0 + Duration::from_secs(60)),
            Ok(Allowed::Yes)
        );
    }

    #[test]
    fn a_success_gives_its_attempt_back_but_does_not_reset_the_failures() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        let (a, t0) = (ip("192.0.2.1"), Instant::now());
        assert!(limiter.attempt(a, t0).is_ok());
        limiter.succeeded(a);
        // A success alone leaves no window behind.
        assert!(limiter.clients().is_empty());
        assert_eq!(limiter.attempt(a, t0), Ok(Allowed::Yes)); // fails
        assert_eq!(limiter.attempt(a, t0), Ok(Allowed::Last)); // succeeds
        limiter.succeeded(a);
        assert_eq!(limiter.attempt(a, t0), Ok(Allowed::Last)); // fails
        assert!(limiter.attempt(a, t0).is_err());
    }

    #[test]
    fn attempts_in_flight_count_so_a_burst_cannot_pass_together() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        let passed = (0..50)
            .filter(|_| limiter.attempt(ip("198.51.100.1"), t0).is_ok())
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_limit_and_mapped_ipv4_is_ipv4() {
        let limiter = LoginLimiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.attempt(ip("2001:db8:1:2::1"), t0).is_ok());
        assert!(limiter.attempt(ip("2001:db8:1:2:ffff::9"), t0).is_err());
        assert!(limiter.attempt(ip("2001:db8:1:3::1"), t0).is_ok());
        assert!(limiter.attempt(ip("192.0.2.9"), t0).is_ok());
        assert!(limiter.attempt(ip("::ffff:192.0.2.9"), t0).is_err());
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_addresses() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 100) {
            let a = IpAddr::V4(i.into());
            assert!(limiter
                .attempt(a, t0 + Duration::from_millis(u64::from(i)))
                .is_ok());
        }
        assert_eq!(limiter.clients().len(), MAX_CLIENTS);
    }
}
