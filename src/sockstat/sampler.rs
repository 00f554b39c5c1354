//! Byte rates per connection from two successive samples of the kernel's
//! cumulative counters.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::{query, Filter, TcpConn};

/// A connection and its throughput since the previous sample.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnRate {
    pub conn: TcpConn,
    /// Bytes per second (not bits) the peer acknowledged, from
    /// `tcpi_bytes_acked`: payload that actually got through.
    pub tx_bps: f64,
    /// Bytes per second received in order, from `tcpi_bytes_received`.
    pub rx_bps: f64,
}

#[derive(Clone, Copy, Debug)]
struct Prev {
    cookie: u64,
    at: Instant,
    acked: Option<u64>,
    received: Option<u64>,
}

/// Keeps the previous sample of each connection, keyed by its address
/// pair, to turn cumulative byte counters into rates.
///
/// A connection's rates are 0 on the first sample it appears in, when the
/// kernel gave no counters, and when its 4-tuple now belongs to a new
/// socket (the socket cookie changed). Connections missing from a sample
/// are forgotten.
#[derive(Debug, Default)]
pub struct Sampler {
    prev: HashMap<(SocketAddr, SocketAddr), Prev>,
}

impl Sampler {
    pub fn new() -> Sampler {
        Sampler::default()
    }

    /// Queries the kernel and returns each matching connection with its
    /// rates since the previous call.
    pub fn sample(&mut self, filter: &Filter) -> io::Result<Vec<ConnRate>> {
        let conns = query(filter)?;
        Ok(self.update(conns, Instant::now()))
    }

    /// The bookkeeping behind [`Sampler::sample`], for connections taken
    /// at `now` by some other means (and for tests).
    pub fn update(&mut self, conns: Vec<TcpConn>, now: Instant) -> Vec<ConnRate> {
        let mut next = HashMap::with_capacity(conns.len());
        let rates = conns
            .into_iter()
            .map(|conn| {
                let key = (conn.local, conn.peer);
                let cur = Prev {
                    cookie: conn.cookie,
                    at: now,
                    acked: conn.info.as_ref().and_then(|i| i.bytes_acked),
                    received: conn.info.as_ref().and_then(|i| i.bytes_received),
                };
                let (tx_bps, rx_bps) = match self.prev.get(&key) {
                    Some(p) if p.cookie == cur.cookie => {
                        let secs = now.saturating_duration_since(p.at).as_secs_f64();
                        (
                            rate(p.acked, cur.acked, secs),
                            rate(p.received, cur.received, secs),
                        )
                    }
                    _ => (0.0, 0.0),
                };
                next.insert(key, cur);
                ConnRate {
                    conn,
                    tx_bps,
                    rx_bps,
                }
            })
            .collect();
        self.prev = next;
        rates
    }
}

/// Counter delta per second; 0 when either value is missing, the counter
/// went backwards, or no time passed.
fn rate(before: Option<u64>, after: Option<u64>, secs: f64) -> f64 {
    match (before, after) {
        (Some(b), Some(a)) if a >= b && secs > 0.0 => (a - b) as f64 / secs,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{TcpInfo, TcpState};
    use super::*;
    use std::time::Duration;

    fn conn(port: u16, cookie: u64, acked: Option<u64>, received: Option<u64>) -> TcpConn {
        TcpConn {
            local: SocketAddr::from(([127, 0, 0, 1], port)),
            peer: SocketAddr::from(([127, 0, 0, 1], 4420)),
            state: TcpState::Established,
            recv_q: 0,
            send_q: 0,
            inode: 1,
            uid: 0,
            cookie,
            cong: None,
            info: Some(TcpInfo {
                bytes_acked: acked,
                bytes_received: received,
                ..TcpInfo::default()
            }),
        }
    }

    #[test]
    fn rates_from_deltas() {
        let t0 = Instant::now();
        let mut s = Sampler::new();
        let r = s.update(vec![conn(1, 7, Some(100), Some(50))], t0);
        assert_eq!((r[0].tx_bps, r[0].rx_bps), (0.0, 0.0));
        let r = s.update(
            vec![conn(1, 7, Some(2100), Some(550))],
            t0 + Duration::from_secs(2),
        );
        assert_eq!((r[0].tx_bps, r[0].rx_bps), (1000.0, 250.0));
    }

    #[test]
    fn reused_tuple_missing_counters_and_zero_time_give_zero() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let mut s = Sampler::new();
        s.update(
            vec![conn(1, 7, Some(100), Some(100)), conn(2, 8, None, None)],
            t0,
        );
        let r = s.update(
            vec![conn(1, 9, Some(900), Some(900)), conn(2, 8, Some(5), None)],
            t1,
        );
        assert!(r.iter().all(|c| c.tx_bps == 0.0 && c.rx_bps == 0.0));
        // Same instant twice: no division by zero.
        let r = s.update(vec![conn(1, 9, Some(1900), Some(900))], t1);
        assert_eq!(r[0].tx_bps, 0.0);
        // Counter going backwards (should not happen) is not a huge rate.
        let r = s.update(
            vec![conn(1, 9, Some(10), Some(900))],
            t1 + Duration::from_secs(1),
        );
        assert_eq!(r[0].tx_bps, 0.0);
    }

    #[test]
    fn vanished_connections_are_forgotten() {
        let t0 = Instant::now();
        let mut s = Sampler::new();
        s.update(vec![conn(1, 7, Some(0), Some(0))], t0);
        s.update(vec![], t0 + Duration::from_secs(1));
        assert!(s.prev.is_empty());
        let r = s.update(
            vec![conn(1, 7, Some(500), Some(0))],
            t0 + Duration::from_secs(2),
        );
        assert_eq!(r[0].tx_bps, 0.0);
    }
}
