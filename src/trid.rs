//! Transport IDs (trtype / adrfam / traddr / trsvcid), as SPDK names and
//! prints them in every RPC result.

use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};

/// Address family, as the NVMe-oF spec and SPDK's RPC spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Adrfam {
    Ipv4,
    Ipv6,
}

impl Adrfam {
    /// SPDK's RPC output spelling (`"IPv4"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Adrfam::Ipv4 => "IPv4",
            Adrfam::Ipv6 => "IPv6",
        }
    }

    /// Discovery log ADRFAM code.
    pub fn code(self) -> u8 {
        match self {
            Adrfam::Ipv4 => 1,
            Adrfam::Ipv6 => 2,
        }
    }

    /// Parses what rpc.py sends (`ipv4`, `IPv4`, ...), case-insensitively.
    pub fn parse(s: &str) -> Option<Adrfam> {
        match s.to_ascii_lowercase().as_str() {
            "ipv4" => Some(Adrfam::Ipv4),
            "ipv6" => Some(Adrfam::Ipv6),
            _ => None,
        }
    }

    pub fn of(ip: &IpAddr) -> Adrfam {
        if ip.is_ipv4() {
            Adrfam::Ipv4
        } else {
            Adrfam::Ipv6
        }
    }
}

/// A TCP transport ID. Only TCP is implemented, so `trtype` is implied.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransportId {
    pub adrfam: Adrfam,
    pub traddr: String,
    pub trsvcid: String,
}

impl TransportId {
    pub fn from_addr(addr: SocketAddr) -> Self {
        TransportId {
            adrfam: Adrfam::of(&addr.ip()),
            traddr: addr.ip().to_string(),
            trsvcid: addr.port().to_string(),
        }
    }

    /// The socket address this transport ID names, if traddr is a literal IP
    /// and trsvcid a port number.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self.traddr.parse().ok()?;
        let port: u16 = self.trsvcid.parse().ok()?;
        Some(SocketAddr::new(ip, port))
    }

    /// `{"trtype":"TCP","adrfam":"IPv4","traddr":..,"trsvcid":..}`, SPDK's
    /// key order.
    pub fn to_json(&self) -> Value {
        json!({
            "trtype": "TCP",
            "adrfam": self.adrfam.as_str(),
            "traddr": self.traddr,
            "trsvcid": self.trsvcid,
        })
    }

    /// [`TransportId::to_json`] plus `subnqn`: a controller's trid as
    /// `bdev_nvme_get_controllers` and `bdev_nvme_get_path_iostat` show it.
    pub fn to_json_with_subnqn(&self, subnqn: &str) -> Value {
        let mut t = self.to_json();
        if let Value::Object(o) = &mut t {
            o.insert("subnqn".into(), json!(subnqn));
        }
        t
    }
}

impl std::fmt::Display for TransportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.adrfam {
            Adrfam::Ipv4 => write!(f, "{}:{}", self.traddr, self.trsvcid),
            Adrfam::Ipv6 => write!(f, "[{}]:{}", self.traddr, self.trsvcid),
        }
    }
}
