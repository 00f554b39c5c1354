//! Reservations as the console sees and changes them: Reservation Report
//! and Get Features Host Identifier read through `bdev_nvme_send_cmd`, and
//! Register / Acquire (or Preempt) / Release sent as this host. Everything
//! goes through SPDK's own raw-command method, so the same keys work
//! attached to real SPDK's bdevperf.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::host::cmd::{self, ReservationStatus};
use crate::nvme::opcodes as op;
use crate::nvme::sqe::{Cqe, Sqe};
use crate::nvme::status::Status;

/// Bytes of Reservation Report asked for: the header and 63 registrants.
pub const REPORT_LEN: u32 = 4096;

/// The reservation on the console's bdev, as last read.
#[derive(Clone, Debug, PartialEq)]
pub struct NsReservation {
    /// Initiator controller name (`Nvme0`) and namespace of the bdev.
    pub ctrlr: String,
    pub nsid: u32,
    /// This host's Host Identifier, once read.
    pub this_host: Option<[u8; 16]>,
    pub report: Result<ReservationStatus, String>,
}

impl NsReservation {
    /// Whether this host is registered, and with which key.
    pub fn own_key(&self) -> Option<u64> {
        let me = self.this_host?;
        let r = self.report.as_ref().ok()?;
        r.registrants
            .iter()
            .find(|g| g.hostid == me)
            .map(|g| g.rkey)
    }
}

/// The controller and namespace behind an SPDK NVMe bdev name
/// (`<ctrlr>n<nsid>`, as bdev_nvme names them).
pub fn bdev_target(bdev: &str) -> Option<(String, u32)> {
    let (c, n) = bdev.rsplit_once('n')?;
    let nsid = n.parse().ok().filter(|&n| n > 0)?;
    (!c.is_empty()).then(|| (c.to_string(), nsid))
}

/// The key this console registers with: the host's first 8 Host
/// Identifier bytes (never 0), so two consoles on two hosts differ and a
/// trainer can read it off the screen.
pub fn host_key(hostid: &[u8; 16]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hostid[..8]);
    u64::from_le_bytes(b).max(1)
}

fn send_cmd(ctrlr: &str, io: bool, sqe: &Sqe, data: Option<&Bytes>, read_len: u32) -> Value {
    let mut p = json!({
        "name": ctrlr,
        "cmd_type": if io { "io" } else { "admin" },
        "data_direction": if data.is_some() { "h2c" } else { "c2h" },
        "cmdbuf": URL_SAFE.encode(sqe.0),
    });
    match data {
        Some(d) => p["data"] = json!(URL_SAFE.encode(d)),
        None if read_len > 0 => p["data_len"] = json!(read_len),
        None => {}
    }
    p
}

/// `bdev_nvme_send_cmd` parameters for Reservation Report (extended).
pub fn report_params(ctrlr: &str, nsid: u32) -> Value {
    send_cmd(
        ctrlr,
        true,
        &cmd::reservation_report(nsid, REPORT_LEN),
        None,
        REPORT_LEN,
    )
}

/// Get Features Host Identifier (EXHID=1): the 128-bit ID the target knows
/// this host by.
pub fn host_id_params(ctrlr: &str) -> Value {
    let mut sqe = Sqe::default();
    sqe.0[0] = op::admin::GET_FEATURES;
    sqe.set_cdw(10, op::feature::HOST_IDENTIFIER as u32);
    sqe.set_cdw(11, 1);
    send_cmd(ctrlr, false, &sqe, None, 16)
}

/// Register this host's key, or unregister it when registered.
pub fn register_params(ctrlr: &str, nsid: u32, key: u64, registered: bool) -> Value {
    let (action, crkey, nrkey) = if registered {
        (cmd::RegisterAction::Unregister, key, 0)
    } else {
        (cmd::RegisterAction::Register, 0, key)
    };
    let (sqe, d) =
        cmd::reservation_register(nsid, action, false, cmd::Cptpl::NoChange, crkey, nrkey);
    send_cmd(ctrlr, true, &sqe, Some(&d), 0)
}

/// Acquire Write Exclusive, or preempt the holder whose key is `holder`.
pub fn acquire_params(ctrlr: &str, nsid: u32, key: u64, holder: Option<u64>) -> Value {
    let (action, prkey) = match holder {
        Some(k) => (cmd::AcquireAction::Preempt, k),
        None => (cmd::AcquireAction::Acquire, 0),
    };
    let we = cmd::ReservationType::WriteExclusive;
    let (sqe, d) = cmd::reservation_acquire(nsid, action, false, we, key, prkey);
    send_cmd(ctrlr, true, &sqe, Some(&d), 0)
}

/// Release the reservation of type `rtype` this host holds.
pub fn release_params(ctrlr: &str, nsid: u32, key: u64, rtype: cmd::ReservationType) -> Value {
    let (sqe, d) = cmd::reservation_release(nsid, cmd::ReleaseAction::Release, false, rtype, key);
    send_cmd(ctrlr, true, &sqe, Some(&d), 0)
}

/// The completion's status from a `bdev_nvme_send_cmd` result.
pub fn cpl_status(v: &Value) -> Result<Status, String> {
    let text = v["cpl"].as_str().ok_or("no cpl in the answer")?;
    let raw = URL_SAFE.decode(text).map_err(|e| format!("cpl: {e}"))?;
    let cqe = Cqe::from_bytes(&raw).ok_or("cpl is not 16 bytes")?;
    Ok(cqe.status)
}

fn data_of(v: &Value) -> Result<Vec<u8>, String> {
    let text = v["data"].as_str().ok_or("no data in the answer")?;
    URL_SAFE.decode(text).map_err(|e| format!("data: {e}"))
}

fn checked(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    let st = cpl_status(v)?;
    if !st.is_success() {
        return Err(format!("{what}: {}", describe(st)));
    }
    data_of(v)
}

/// A status as operators read it: its name, else SCT/SC.
pub fn describe(st: Status) -> String {
    match st.name() {
        Some(n) => n.to_string(),
        None => format!("status {:#x}/{:#04x}", st.sct, st.sc),
    }
}

pub fn parse_report(v: &Value) -> Result<ReservationStatus, String> {
    let d = checked(v, "Reservation Report")?;
    ReservationStatus::parse(&d).map_err(String::from)
}

pub fn parse_host_id(v: &Value) -> Result<[u8; 16], String> {
    let d = checked(v, "Host Identifier")?;
    d.get(..16)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| "Host Identifier shorter than 16 bytes".into())
}

/// The 128-bit ID as text, shortened: `0a0b0c0d…`.
pub fn short_id(id: &[u8; 16]) -> String {
    let hex: String = id[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdev_names_and_keys() {
        assert_eq!(bdev_target("Nvme0n1"), Some(("Nvme0".into(), 1)));
        assert_eq!(bdev_target("nvme_a_n12"), Some(("nvme_a_".into(), 12)));
        assert_eq!(bdev_target("Malloc0"), None);
        assert_eq!(bdev_target("n1"), None);
        assert_eq!(host_key(&[0; 16]), 1);
        assert_eq!(
            host_key(&[1, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]),
            1
        );
        assert_eq!(
            host_key(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            256
        );
    }

    #[test]
    fn params_are_send_cmd_requests() {
        let p = register_params("Nvme0", 1, 0xAB, false);
        assert_eq!(
            (p["name"].as_str(), p["cmd_type"].as_str()),
            (Some("Nvme0"), Some("io"))
        );
        assert_eq!(p["data_direction"], "h2c");
        let sqe = URL_SAFE.decode(p["cmdbuf"].as_str().unwrap()).unwrap();
        assert_eq!((sqe.len(), sqe[0]), (64, 0x0D));
        let data = URL_SAFE.decode(p["data"].as_str().unwrap()).unwrap();
        assert_eq!(u64::from_le_bytes(data[8..16].try_into().unwrap()), 0xAB);
        let p = report_params("Nvme0", 2);
        assert_eq!(
            (p["data_direction"].as_str(), p["data_len"].as_u64()),
            (Some("c2h"), Some(4096))
        );
        let p = acquire_params("Nvme0", 1, 5, Some(7));
        let sqe = URL_SAFE.decode(p["cmdbuf"].as_str().unwrap()).unwrap();
        // RACQA 1 (preempt), RTYPE 1 in CDW10.
        assert_eq!(u32::from_le_bytes(sqe[40..44].try_into().unwrap()), 0x101);
        let p = host_id_params("Nvme0");
        assert_eq!(
            (p["cmd_type"].as_str(), p["data_len"].as_u64()),
            (Some("admin"), Some(16))
        );
    }

    #[test]
    fn answers_decode_with_their_status() {
        let cqe = Cqe {
            status: Status::RESERVATION_CONFLICT,
            ..Cqe::default()
        };
        let v = json!({"cpl": URL_SAFE.encode(cqe.to_bytes())});
        assert_eq!(cpl_status(&v), Ok(Status::RESERVATION_CONFLICT));
        assert!(parse_report(&v)
            .unwrap_err()
            .contains("Reservation Conflict"));
        let mut report = vec![0u8; 128];
        report[4] = 1;
        report[5] = 1;
        report[64 + 2] = 1;
        report[64 + 16..64 + 32].fill(0xAA);
        let ok = json!({"cpl": URL_SAFE.encode(Cqe::default().to_bytes()), "data": URL_SAFE.encode(&report)});
        let r = parse_report(&ok).unwrap();
        assert_eq!((r.rtype, r.registrants.len()), (1, 1));
        assert!(r.registrants[0].holds);
        assert!(parse_report(&json!({})).is_err());
        assert!(parse_host_id(
            &json!({"cpl": URL_SAFE.encode(Cqe::default().to_bytes()), "data": "AAAA"})
        )
        .is_err());
    }
}
