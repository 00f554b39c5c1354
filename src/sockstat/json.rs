//! The JSON form of a [`TcpConn`], as `mpath_sock_get_connections` sends
//! it and the console reads it back: the socket's 4-tuple, state, queues,
//! identity, and the `tcp_info` fields the console shows or computes with.
//!
//! ```json
//! {"local_address": "127.0.0.1:4420", "peer_address": "127.0.0.2:51320",
//!  "state": "ESTAB", "recv_q": 0, "send_q": 0, "cookie": 8193,
//!  "inode": 51234, "uid": 0, "cong": "cubic",
//!  "tcp_info": {"rtt_us": 52, "rttvar_us": 11, "bytes_acked": 123456,
//!               "bytes_received": 654321, ...}}
//! ```
//!
//! `cong` and `tcp_info` are absent when the kernel sent none (TIME-WAIT
//! sockets, for one). Inside `tcp_info`, a field the kernel is too old to
//! send is absent too, never 0 (see [`TcpInfo`]).

use serde_json::{Map, Value};

use super::{TcpConn, TcpInfo, TcpState};

/// The `tcp_info` fields carried: `(name, read, write)`.
type Field = (
    &'static str,
    fn(&TcpInfo) -> Option<u64>,
    fn(&mut TcpInfo, u64),
);

fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

const FIELDS: &[Field] = &[
    (
        "rtt_us",
        |i| Some(i.rtt_us.into()),
        |i, v| i.rtt_us = narrow(v),
    ),
    (
        "rttvar_us",
        |i| Some(i.rttvar_us.into()),
        |i, v| i.rttvar_us = narrow(v),
    ),
    (
        "min_rtt_us",
        |i| i.min_rtt_us.map(u64::from),
        |i, v| i.min_rtt_us = Some(narrow(v)),
    ),
    (
        "rto_us",
        |i| Some(i.rto_us.into()),
        |i, v| i.rto_us = narrow(v),
    ),
    (
        "snd_mss",
        |i| Some(i.snd_mss.into()),
        |i, v| i.snd_mss = narrow(v),
    ),
    (
        "rcv_mss",
        |i| Some(i.rcv_mss.into()),
        |i, v| i.rcv_mss = narrow(v),
    ),
    ("cwnd", |i| Some(i.cwnd.into()), |i, v| i.cwnd = narrow(v)),
    (
        "unacked",
        |i| Some(i.unacked.into()),
        |i, v| i.unacked = narrow(v),
    ),
    ("lost", |i| Some(i.lost.into()), |i, v| i.lost = narrow(v)),
    (
        "retrans",
        |i| Some(i.retrans.into()),
        |i, v| i.retrans = narrow(v),
    ),
    (
        "total_retrans",
        |i| Some(i.total_retrans.into()),
        |i, v| i.total_retrans = narrow(v),
    ),
    (
        "bytes_acked",
        |i| i.bytes_acked,
        |i, v| i.bytes_acked = Some(v),
    ),
    (
        "bytes_received",
        |i| i.bytes_received,
        |i, v| i.bytes_received = Some(v),
    ),
    (
        "bytes_sent",
        |i| i.bytes_sent,
        |i, v| i.bytes_sent = Some(v),
    ),
    (
        "bytes_retrans",
        |i| i.bytes_retrans,
        |i, v| i.bytes_retrans = Some(v),
    ),
    (
        "notsent_bytes",
        |i| i.notsent_bytes.map(u64::from),
        |i, v| i.notsent_bytes = Some(narrow(v)),
    ),
    (
        "delivery_rate",
        |i| i.delivery_rate,
        |i, v| i.delivery_rate = Some(v),
    ),
    (
        "snd_wnd",
        |i| i.snd_wnd.map(u64::from),
        |i, v| i.snd_wnd = Some(narrow(v)),
    ),
    (
        "rcv_wnd",
        |i| i.rcv_wnd.map(u64::from),
        |i, v| i.rcv_wnd = Some(narrow(v)),
    ),
];

impl TcpState {
    /// The state named as [`TcpState::as_str`] names it (`"ESTAB"`), or
    /// `UNKNOWN(n)` for an unknown kernel number.
    pub fn from_name(s: &str) -> Option<TcpState> {
        if let Some(st) = TcpState::ALL.iter().find(|st| st.as_str() == s) {
            return Some(*st);
        }
        s.strip_prefix("UNKNOWN(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.parse().ok())
            .map(TcpState::Unknown)
    }

    fn json_name(self) -> String {
        match self {
            TcpState::Unknown(n) => format!("UNKNOWN({n})"),
            s => s.as_str().to_string(),
        }
    }
}

impl TcpConn {
    /// This socket as `mpath_sock_get_connections` lists it.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("local_address".into(), self.local.to_string().into());
        m.insert("peer_address".into(), self.peer.to_string().into());
        m.insert("state".into(), self.state.json_name().into());
        m.insert("recv_q".into(), self.recv_q.into());
        m.insert("send_q".into(), self.send_q.into());
        m.insert("cookie".into(), self.cookie.into());
        m.insert("inode".into(), self.inode.into());
        m.insert("uid".into(), self.uid.into());
        if let Some(c) = &self.cong {
            m.insert("cong".into(), c.clone().into());
        }
        if let Some(info) = &self.info {
            let mut t = Map::new();
            for (name, get, _) in FIELDS {
                if let Some(v) = get(info) {
                    t.insert((*name).into(), v.into());
                }
            }
            m.insert("tcp_info".into(), Value::Object(t));
        }
        Value::Object(m)
    }

    /// Reads back what [`TcpConn::to_json`] wrote (fields it does not
    /// carry are left at their defaults). Err names what is wrong.
    pub fn from_json(v: &Value) -> Result<TcpConn, String> {
        let addr = |k: &str| {
            v[k].as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("{k}: not an ip:port string in {v}"))
        };
        let num = |k: &str| {
            v[k].as_u64()
                .ok_or_else(|| format!("{k}: not a number in {v}"))
        };
        let state = v["state"]
            .as_str()
            .and_then(TcpState::from_name)
            .ok_or_else(|| format!("state: not a TCP state in {v}"))?;
        let info = match v.get("tcp_info") {
            None | Some(Value::Null) => None,
            Some(Value::Object(t)) => {
                let mut i = TcpInfo {
                    state: state.to_kernel(),
                    ..TcpInfo::default()
                };
                for (name, _, set) in FIELDS {
                    match t.get(*name) {
                        None => {}
                        Some(x) => set(
                            &mut i,
                            x.as_u64()
                                .ok_or_else(|| format!("tcp_info.{name}: not a number"))?,
                        ),
                    }
                }
                Some(i)
            }
            Some(o) => return Err(format!("tcp_info: not an object: {o}")),
        };
        Ok(TcpConn {
            local: addr("local_address")?,
            peer: addr("peer_address")?,
            state,
            recv_q: narrow(num("recv_q")?),
            send_q: narrow(num("send_q")?),
            inode: v["inode"].as_u64().unwrap_or(0),
            uid: v["uid"].as_u64().map(narrow).unwrap_or(0),
            cookie: num("cookie")?,
            cong: v["cong"].as_str().map(String::from),
            info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TcpConn {
        TcpConn {
            local: "127.0.0.1:4420".parse().unwrap(),
            peer: "[fe80::1]:51320".parse().unwrap(),
            state: TcpState::Established,
            recv_q: 4096,
            send_q: 12,
            inode: 51234,
            uid: 1000,
            cookie: 8193,
            cong: Some("cubic".into()),
            info: Some(TcpInfo {
                state: 1,
                rtt_us: 52,
                rttvar_us: 11,
                min_rtt_us: Some(30),
                rto_us: 204_000,
                snd_mss: 1448,
                rcv_mss: 1448,
                cwnd: 10,
                total_retrans: 3,
                bytes_acked: Some(123_456),
                bytes_received: Some(654_321),
                bytes_sent: Some(123_999),
                snd_wnd: Some(65535),
                ..TcpInfo::default()
            }),
        }
    }

    #[test]
    fn round_trip() {
        let c = sample();
        let v = c.to_json();
        assert_eq!(v["local_address"], "127.0.0.1:4420");
        assert_eq!(v["peer_address"], "[fe80::1]:51320");
        assert_eq!(v["state"], "ESTAB");
        assert_eq!(v["tcp_info"]["bytes_acked"], 123_456);
        // Not sent by the kernel: absent, not 0.
        assert!(v["tcp_info"].get("rcv_wnd").is_none());
        assert_eq!(TcpConn::from_json(&v).unwrap(), c);
    }

    #[test]
    fn no_tcp_info_and_unknown_state() {
        let mut c = sample();
        c.info = None;
        c.cong = None;
        c.state = TcpState::Unknown(42);
        let v = c.to_json();
        assert!(v.get("tcp_info").is_none() && v.get("cong").is_none());
        assert_eq!(v["state"], "UNKNOWN(42)");
        assert_eq!(TcpConn::from_json(&v).unwrap(), c);
    }

    #[test]
    fn malformed_entries_are_named() {
        let mut v = sample().to_json();
        v["local_address"] = "nowhere".into();
        assert!(TcpConn::from_json(&v)
            .unwrap_err()
            .contains("local_address"));
        let mut v = sample().to_json();
        v["state"] = "SLEEPY".into();
        assert!(TcpConn::from_json(&v).unwrap_err().contains("state"));
        let mut v = sample().to_json();
        v["tcp_info"]["rtt_us"] = "fast".into();
        assert!(TcpConn::from_json(&v).unwrap_err().contains("rtt_us"));
        let mut v = sample().to_json();
        v.as_object_mut().unwrap().remove("cookie");
        assert!(TcpConn::from_json(&v).unwrap_err().contains("cookie"));
    }
}
