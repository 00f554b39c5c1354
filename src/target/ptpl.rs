//! Persist Through Power Loss: a namespace's registrations and reservation
//! kept in a JSON file (`nvmf_subsystem_add_ns --ptpl-file`), in the layout
//! SPDK v24.09 writes, so a file written by either target restores in the
//! other.
//!
//! While PTPL is on the file holds
//! `{"ptpl":true,"rtype":…,"crkey":…,"bdev_uuid":…,"holder_uuid":…,"registrants":[{"rkey":…,"host_uuid":…},…]}`
//! (compact, keys in that order); while it is off the file is empty. The
//! file is read back when the namespace is added.

use std::io::ErrorKind;
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::resv::{Registrant, Reservation, MAX_REGISTRANTS};
use crate::nvme::opcodes::rtype;

#[derive(Serialize, Deserialize)]
struct FileRegistrant {
    rkey: u64,
    host_uuid: String,
}

#[derive(Serialize, Deserialize)]
struct PtplFile {
    #[serde(default)]
    ptpl: bool,
    #[serde(default)]
    rtype: u8,
    #[serde(default)]
    crkey: u64,
    bdev_uuid: String,
    #[serde(default)]
    holder_uuid: String,
    registrants: Vec<FileRegistrant>,
}

/// Why a PTPL file could not be restored; `nvmf_subsystem_add_ns` fails
/// with it, as SPDK's does.
#[derive(Debug, thiserror::Error)]
pub enum PtplError {
    #[error("cannot read {0}")]
    Read(String),
    #[error("not a reservation file: {0}")]
    Parse(String),
    #[error("more than {MAX_REGISTRANTS} registrants")]
    TooManyRegistrants,
    #[error("bdev UUID {0} is not this namespace's")]
    OtherBdev(String),
    #[error("the reservation key matches no registrant")]
    StaleKey,
    #[error("bad host UUID {0}")]
    HostUuid(String),
}

fn hostid(s: &str) -> Result<[u8; 16], PtplError> {
    Uuid::parse_str(s)
        .map(|u| *u.as_bytes())
        .map_err(|_| PtplError::HostUuid(s.to_string()))
}

/// The text of the file for `r`, or an empty file while PTPL is off.
pub fn encode(r: &Reservation, bdev_uuid: &Uuid) -> String {
    if !r.ptpl {
        return String::new();
    }
    let all_regs = matches!(
        r.rtype,
        rtype::WRITE_EXCLUSIVE_ALL_REGS | rtype::EXCLUSIVE_ACCESS_ALL_REGS
    );
    let (rt, crkey, holder) = match r.holder {
        Some(h) if r.rtype != rtype::NONE && !all_regs => {
            (r.rtype, r.crkey, Uuid::from_bytes(h).to_string())
        }
        _ if r.rtype != rtype::NONE => (r.rtype, r.crkey, String::new()),
        _ => (0, 0, String::new()),
    };
    let f = PtplFile {
        ptpl: true,
        rtype: rt,
        crkey,
        bdev_uuid: bdev_uuid.to_string(),
        holder_uuid: holder,
        registrants: r
            .registrants
            .iter()
            .map(|g| FileRegistrant {
                rkey: g.rkey,
                host_uuid: Uuid::from_bytes(g.hostid).to_string(),
            })
            .collect(),
    };
    serde_json::to_string(&f).unwrap_or_default()
}

/// Writes the file (no temporary and rename, as SPDK: a crash mid-write
/// loses the file either way, and a reader never sees a half-renamed one).
pub fn save(path: &Path, r: &Reservation, bdev_uuid: &Uuid) -> std::io::Result<()> {
    std::fs::write(path, encode(r, bdev_uuid))
}

/// The reservation state a namespace starts with: restored from `path`
/// when it holds PTPL state for this bdev, empty when the file is absent.
pub fn load(path: &Path, bdev_uuid: &Uuid) -> Result<Reservation, PtplError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Reservation::default()),
        Err(e) => return Err(PtplError::Read(e.to_string())),
    };
    let f: PtplFile = serde_json::from_str(&text).map_err(|e| PtplError::Parse(e.to_string()))?;
    if f.registrants.len() > MAX_REGISTRANTS {
        return Err(PtplError::TooManyRegistrants);
    }
    if !f.ptpl || f.registrants.is_empty() {
        return Ok(Reservation::default());
    }
    if f.crkey != 0 && !f.registrants.iter().any(|g| g.rkey == f.crkey) {
        return Err(PtplError::StaleKey);
    }
    if Uuid::parse_str(&f.bdev_uuid).ok().as_ref() != Some(bdev_uuid) {
        return Err(PtplError::OtherBdev(f.bdev_uuid));
    }
    let registrants = f
        .registrants
        .iter()
        .map(|g| {
            Ok(Registrant {
                hostid: hostid(&g.host_uuid)?,
                rkey: g.rkey,
            })
        })
        .collect::<Result<Vec<_>, PtplError>>()?;
    let all_regs = matches!(
        f.rtype,
        rtype::WRITE_EXCLUSIVE_ALL_REGS | rtype::EXCLUSIVE_ACCESS_ALL_REGS
    );
    let holder = if all_regs {
        registrants.first().map(|g| g.hostid)
    } else if f.crkey != 0 {
        let h = Uuid::parse_str(&f.holder_uuid).ok().map(|u| *u.as_bytes());
        registrants
            .iter()
            .find(|g| Some(g.hostid) == h)
            .map(|g| g.hostid)
    } else {
        None
    };
    Ok(Reservation {
        gen: 0,
        rtype: f.rtype,
        crkey: f.crkey,
        holder,
        registrants,
        ptpl: true,
        mask: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid(s: &str) -> Uuid {
        Uuid::parse_str(s).unwrap()
    }

    /// The exact bytes SPDK v24.09 writes for two registrants and an EA-RO
    /// reservation held by the first.
    #[test]
    fn file_matches_spdk_layout_and_round_trips() {
        let bdev = uuid("11111111-2222-3333-4444-555555555555");
        let a = *uuid("aaaaaaaa-0000-0000-0000-000000000001").as_bytes();
        let b = *uuid("bbbbbbbb-0000-0000-0000-000000000002").as_bytes();
        let r = Reservation {
            gen: 7,
            rtype: rtype::EXCLUSIVE_ACCESS_REG_ONLY,
            crkey: 161,
            holder: Some(a),
            registrants: vec![
                Registrant {
                    hostid: a,
                    rkey: 161,
                },
                Registrant {
                    hostid: b,
                    rkey: 177,
                },
            ],
            ptpl: true,
            mask: 0,
        };
        let want = r#"{"ptpl":true,"rtype":4,"crkey":161,"bdev_uuid":"11111111-2222-3333-4444-555555555555","holder_uuid":"aaaaaaaa-0000-0000-0000-000000000001","registrants":[{"rkey":161,"host_uuid":"aaaaaaaa-0000-0000-0000-000000000001"},{"rkey":177,"host_uuid":"bbbbbbbb-0000-0000-0000-000000000002"}]}"#;
        assert_eq!(encode(&r, &bdev), want);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns1.json");
        save(&p, &r, &bdev).unwrap();
        // GEN is not kept.
        assert_eq!(
            load(&p, &bdev).unwrap(),
            Reservation {
                gen: 0,
                ..r.clone()
            }
        );
        // Another bdev, a stale key, an empty file: refused.
        assert!(matches!(
            load(&p, &Uuid::nil()),
            Err(PtplError::OtherBdev(_))
        ));
        let mut stale = r.clone();
        stale.registrants[0].rkey = 5;
        save(&p, &stale, &bdev).unwrap();
        assert!(matches!(load(&p, &bdev), Err(PtplError::StaleKey)));
        let off = Reservation {
            ptpl: false,
            ..r.clone()
        };
        save(&p, &off, &bdev).unwrap();
        assert_eq!(std::fs::read(&p).unwrap().len(), 0);
        assert!(matches!(load(&p, &bdev), Err(PtplError::Parse(_))));
        // Absent: empty state.
        assert_eq!(
            load(&dir.path().join("none.json"), &bdev).unwrap(),
            Reservation::default()
        );
    }

    #[test]
    fn all_registrants_types_keep_no_holder_uuid() {
        let bdev = Uuid::nil();
        let a = [1u8; 16];
        let b = [2u8; 16];
        let r = Reservation {
            rtype: rtype::WRITE_EXCLUSIVE_ALL_REGS,
            crkey: 1,
            holder: Some(b),
            registrants: vec![
                Registrant { hostid: a, rkey: 1 },
                Registrant { hostid: b, rkey: 2 },
            ],
            ptpl: true,
            ..Reservation::default()
        };
        let text = encode(&r, &bdev);
        assert!(text.contains(r#""holder_uuid":"""#), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        save(&p, &r, &bdev).unwrap();
        // Restored with the oldest registrant as holder.
        assert_eq!(load(&p, &bdev).unwrap().holder, Some(a));
    }
}
