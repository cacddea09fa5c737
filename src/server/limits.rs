//! Rate limits on the public chat endpoint: token buckets per visitor connection and per client
//! address (frames and new connections), and which address a request comes from.
//!
//! A refused frame is answered with `rate_limited` and the delay after which one more would
//! pass; the connection stays open. Buckets of addresses that went quiet are forgotten.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// A steady rate and the burst allowed after a pause.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rate {
    per_sec: f64,
    burst: f64,
}

impl Rate {
    pub fn per_minute(count: u32, burst: u32) -> Rate {
        Rate {
            per_sec: f64::from(count.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
        }
    }
}

/// A token bucket: full at first, one token per frame, refilled at the rate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.burst,
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * rate.per_sec).min(rate.burst);
        self.at = now;
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate.per_sec))
        }
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= rate.burst
    }
}

/// Buckets per client address.
pub(super) struct PerAddress {
    rate: Rate,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    /// When full buckets were last dropped.
    swept: Mutex<Instant>,
}

/// Full buckets are dropped this often: a full bucket is the same as none.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl PerAddress {
    pub fn new(rate: Rate) -> PerAddress {
        PerAddress {
            rate,
            buckets: Mutex::new(HashMap::new()),
            swept: Mutex::new(Instant::now()),
        }
    }

    pub fn take(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        // Only counters live under these locks: a panic cannot leave them inconsistent.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            if now.saturating_duration_since(*swept) >= SWEEP_EVERY {
                buckets.retain(|_, b| !b.is_full(self.rate, now));
                *swept = now;
            }
        }
        buckets
            .entry(client_key(address))
            .or_insert_with(|| Bucket::full(self.rate, now))
            .take(self.rate, now)
    }

    /// Addresses with a bucket (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

/// The client's address: the peer's, or, when a proxy header is configured, the last address in
/// it (the one our proxy appended; earlier ones are whatever the client claimed).
pub(super) fn client_address(
    peer: SocketAddr,
    headers: &HeaderMap,
    header: Option<&str>,
) -> IpAddr {
    header
        .and_then(|name| headers.get_all(name).iter().next_back())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer.ip())
}

/// Whole seconds to wait, rounded up and at least 1 (a `Retry-After` of 0 would invite an
/// immediate retry).
pub(super) fn retry_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// The address a limit applies to: IPv4 as is, IPv6 by its /64 (one host usually holds a whole
/// /64 and could otherwise take a new address, and a new bucket, at every connection).
pub(super) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_the_rate() {
        let rate = Rate::per_minute(60, 3);
        let t0 = Instant::now();
        let mut b = Bucket::full(rate, t0);
        for _ in 0..3 {
            assert!(b.take(rate, t0).is_ok());
        }
        let wait = b.take(rate, t0).expect_err("burst spent");
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert!(
            b.take(rate, t0 + Duration::from_millis(1001)).is_ok(),
            "one per second"
        );
        assert!(b.take(rate, t0 + Duration::from_millis(1002)).is_err());
        assert_eq!(retry_secs(Duration::ZERO), 1);
        assert_eq!(retry_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_secs(Duration::from_secs(60)), 60);
    }

    #[test]
    fn addresses_have_their_own_buckets_and_quiet_ones_are_forgotten() {
        let limits = PerAddress::new(Rate::per_minute(60, 1));
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let t0 = Instant::now();
        assert!(limits.take(a, t0).is_ok());
        assert!(limits.take(a, t0).is_err());
        assert!(
            limits.take(b, t0).is_ok(),
            "another address is not affected"
        );
        assert_eq!(limits.len(), 2);
        // A minute later both are full again: swept, then one new bucket.
        assert!(limits.take(a, t0 + SWEEP_EVERY).is_ok());
        assert_eq!(limits.len(), 1);
    }

    #[test]
    fn an_ipv6_host_has_one_bucket_for_its_whole_64() {
        let limits = PerAddress::new(Rate::per_minute(60, 1));
        let t0 = Instant::now();
        let first: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2:ffff::7".parse().expect("ip");
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert!(limits.take(first, t0).is_ok());
        assert!(
            limits.take(same_64, t0).is_err(),
            "a new address in the same /64 is the same client"
        );
        assert!(limits.take(other_64, t0).is_ok());
        // An IPv4 address mapped into IPv6 is the IPv4 client.
        let v4: IpAddr = "192.0.2.1".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert!(limits.take(v4, t0).is_ok());
        assert!(limits.take(mapped, t0).is_err());
    }

    #[test]
    fn a_proxy_header_is_read_only_when_configured_and_its_last_entry_wins() {
        let peer: SocketAddr = "192.0.2.9:5000".parse().expect("addr");
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7".parse().expect("value"),
        );
        let forwarded: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(
            client_address(peer, &h, None),
            peer.ip(),
            "not trusted by default"
        );
        assert_eq!(client_address(peer, &h, Some("X-Forwarded-For")), forwarded);
        h.insert("x-forwarded-for", "garbage".parse().expect("value"));
        assert_eq!(client_address(peer, &h, Some("X-Forwarded-For")), peer.ip());
    }
}
