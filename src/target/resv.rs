//! NVMe reservations on one namespace: Register, Acquire, Release and
//! Report, the access check every I/O command goes through while a
//! reservation is held, and the notices the commands raise.
//!
//! The rules follow the NVMe Base specification's reservation chapter as
//! SPDK v24.09's target applies them (`lib/nvmf/subsystem.c`,
//! `nvmf_ns_reservation_*`; the I/O check is `lib/nvmf/ctrlr.c`,
//! `nvmf_ns_reservation_request_check`), quirks included where a host can
//! see them: GEN counts registrants added and removed rather than commands,
//! Preempt-and-Abort is refused, Acquire with RTYPE 0 is accepted, Replace
//! leaves the reservation key of the holder as it was. Hosts are told apart
//! by the 128-bit Host Identifier of their admin Connect only, so the
//! controllers of one host on every path share one registration.

use crate::nvme::opcodes::{nvm, rtype};
use crate::nvme::status::Status;

/// A host's 128-bit Host Identifier, as sent in the Connect data.
pub type HostId = [u8; 16];

/// Reservation Notification log page types, and the matching bit of the
/// Reservation Notification Mask feature (bit = 1 << type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Notice {
    RegistrationPreempted = 1,
    ReservationReleased = 2,
    ReservationPreempted = 3,
}

/// The most registrants a namespace keeps. SPDK keeps up to 16 in the
/// structures its I/O check and PTPL file use; past that it misjudges
/// access or (with a PTPL file) aborts. We refuse the 17th instead.
pub const MAX_REGISTRANTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registrant {
    pub hostid: HostId,
    pub rkey: u64,
}

/// One namespace's reservation state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservation {
    /// Generation: +1 per registrant added or removed.
    pub gen: u32,
    pub rtype: u8,
    /// The key the reservation was acquired with.
    pub crkey: u64,
    /// The registrant that holds the reservation, by host.
    pub holder: Option<HostId>,
    /// Oldest first.
    pub registrants: Vec<Registrant>,
    /// Persist Through Power Loss is on.
    pub ptpl: bool,
    /// Reservation Notification Mask (feature 0x82): one value per
    /// namespace, shared by every controller, as in SPDK.
    pub mask: u32,
}

/// What a reservation command did: its status, whether the state changed
/// (and so a PTPL file may need writing), and whom to notify.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub changed: bool,
    pub notices: Vec<(HostId, Notice)>,
}

impl Outcome {
    fn status(status: Status) -> Outcome {
        Outcome {
            status,
            ..Outcome::default()
        }
    }
    fn changed() -> Outcome {
        Outcome {
            changed: true,
            ..Outcome::default()
        }
    }
}

/// Register actions (RREGA).
const REGISTER: u8 = 0;
const UNREGISTER: u8 = 1;
const REPLACE: u8 = 2;
/// Acquire actions (RACQA).
const ACQUIRE: u8 = 0;
const PREEMPT: u8 = 1;
/// Release actions (RRELA).
const RELEASE: u8 = 0;
const CLEAR: u8 = 1;
/// CPTPL values of Register.
const CPTPL_CLEAR: u8 = 0b10;
const CPTPL_SET: u8 = 0b11;

/// Register's command fields (CDW10) and data (CRKEY, NRKEY).
#[derive(Debug, Clone, Copy)]
pub struct RegisterCmd {
    pub rrega: u8,
    pub iekey: bool,
    pub cptpl: u8,
    pub crkey: u64,
    pub nrkey: u64,
}

/// Acquire's command fields (CDW10) and data (CRKEY, PRKEY).
#[derive(Debug, Clone, Copy)]
pub struct AcquireCmd {
    pub racqa: u8,
    pub iekey: bool,
    pub rtype: u8,
    pub crkey: u64,
    pub prkey: u64,
}

/// Release's command fields (CDW10) and data (CRKEY).
#[derive(Debug, Clone, Copy)]
pub struct ReleaseCmd {
    pub rrela: u8,
    pub iekey: bool,
    pub rtype: u8,
    pub crkey: u64,
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

impl RegisterCmd {
    /// `None` when the data is shorter than the 16 bytes of keys.
    pub fn parse(cdw10: u32, data: &[u8]) -> Option<RegisterCmd> {
        (data.len() >= 16).then(|| RegisterCmd {
            rrega: (cdw10 & 0x7) as u8,
            iekey: cdw10 & 0x8 != 0,
            cptpl: (cdw10 >> 30) as u8,
            crkey: le64(data, 0),
            nrkey: le64(data, 8),
        })
    }
}

impl AcquireCmd {
    pub fn parse(cdw10: u32, data: &[u8]) -> Option<AcquireCmd> {
        (data.len() >= 16).then(|| AcquireCmd {
            racqa: (cdw10 & 0x7) as u8,
            iekey: cdw10 & 0x8 != 0,
            rtype: (cdw10 >> 8) as u8,
            crkey: le64(data, 0),
            prkey: le64(data, 8),
        })
    }
}

impl ReleaseCmd {
    pub fn parse(cdw10: u32, data: &[u8]) -> Option<ReleaseCmd> {
        (data.len() >= 8).then(|| ReleaseCmd {
            rrela: (cdw10 & 0x7) as u8,
            iekey: cdw10 & 0x8 != 0,
            rtype: (cdw10 >> 8) as u8,
            crkey: le64(data, 0),
        })
    }
}

impl Reservation {
    fn all_regs(&self) -> bool {
        matches!(
            self.rtype,
            rtype::WRITE_EXCLUSIVE_ALL_REGS | rtype::EXCLUSIVE_ACCESS_ALL_REGS
        )
    }

    fn position(&self, host: &HostId) -> Option<usize> {
        self.registrants.iter().position(|r| &r.hostid == host)
    }

    pub fn is_registrant(&self, host: &HostId) -> bool {
        self.position(host).is_some()
    }

    /// Holder in the sense of the access rules: the holding host, or any
    /// registrant under an "all registrants" type.
    fn is_holder(&self, host: &HostId) -> bool {
        self.is_registrant(host) && (self.all_regs() || self.holder.as_ref() == Some(host))
    }

    /// Whether a reservation is in force (RTYPE 0 restricts nothing).
    pub fn restricts(&self) -> bool {
        self.rtype != rtype::NONE
    }

    /// Registered hosts other than `host`, oldest first.
    fn others(&self, host: &HostId) -> Vec<HostId> {
        self.registrants
            .iter()
            .filter(|r| &r.hostid != host)
            .map(|r| r.hostid)
            .collect()
    }

    fn release_reservation(&mut self) {
        self.rtype = rtype::NONE;
        self.crkey = 0;
        self.holder = None;
    }

    /// Removes the registrant at `i`; a holder leaving ends the reservation,
    /// except under "all registrants" types, where the oldest remaining
    /// registrant holds it from then on.
    fn remove_at(&mut self, i: usize) {
        let gone = self.registrants.remove(i);
        self.gen = self.gen.wrapping_add(1);
        if self.holder.is_none() {
            return;
        }
        match self.registrants.first() {
            Some(next) if self.all_regs() => self.holder = Some(next.hostid),
            _ if self.holder == Some(gone.hostid) || self.all_regs() => self.release_reservation(),
            _ => {}
        }
    }

    fn remove_by_key(&mut self, key: u64) -> usize {
        let mut n = 0;
        while let Some(i) = self.registrants.iter().position(|r| r.rkey == key) {
            self.remove_at(i);
            n += 1;
        }
        n
    }

    fn add(&mut self, host: HostId, rkey: u64) -> Result<(), Status> {
        if self.registrants.len() >= MAX_REGISTRANTS {
            return Err(Status::INTERNAL);
        }
        self.registrants.push(Registrant { hostid: host, rkey });
        self.gen = self.gen.wrapping_add(1);
        Ok(())
    }

    /// The access check for an I/O command from `host` (`cdw10` for
    /// Acquire's RACQA). False means Reservation Conflict.
    pub fn allows(&self, host: &HostId, opc: u8, cdw10: u32) -> bool {
        if !self.restricts() || self.is_holder(host) || self.holder.as_ref() == Some(host) {
            return true;
        }
        let reg = self.is_registrant(host);
        let t = self.rtype;
        match opc {
            nvm::READ | nvm::COMPARE => match t {
                rtype::EXCLUSIVE_ACCESS => false,
                rtype::EXCLUSIVE_ACCESS_REG_ONLY | rtype::EXCLUSIVE_ACCESS_ALL_REGS => reg,
                _ => true,
            },
            nvm::FLUSH | nvm::WRITE | nvm::WRITE_UNCORRECTABLE | nvm::WRITE_ZEROES | nvm::DSM => {
                !matches!(t, rtype::WRITE_EXCLUSIVE | rtype::EXCLUSIVE_ACCESS) && reg
            }
            nvm::RESERVATION_ACQUIRE => (cdw10 & 0x7) as u8 != ACQUIRE && reg,
            nvm::RESERVATION_RELEASE => reg,
            // Copy, Verify, Register and Report are not checked (as SPDK).
            _ => true,
        }
    }

    /// Applies CPTPL; `Err` when PTPL is asked for without a PTPL file.
    /// It takes effect even when the rest of the command then fails.
    fn apply_cptpl(&mut self, cptpl: u8, ptpl_capable: bool) -> Result<bool, Status> {
        match cptpl {
            CPTPL_CLEAR if self.ptpl => {
                self.ptpl = false;
                Ok(true)
            }
            CPTPL_SET if !ptpl_capable => Err(Status::INVALID_FIELD),
            CPTPL_SET if !self.ptpl => {
                self.ptpl = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub fn register(&mut self, host: &HostId, c: RegisterCmd, ptpl_capable: bool) -> Outcome {
        let ptpl_changed = match self.apply_cptpl(c.cptpl, ptpl_capable) {
            Ok(ch) => ch,
            Err(st) => return Outcome::status(st),
        };
        let mut out = self.register_key(host, c);
        out.changed |= ptpl_changed;
        out
    }

    fn register_key(&mut self, host: &HostId, c: RegisterCmd) -> Outcome {
        let at = self.position(host);
        match (c.rrega, at) {
            (REGISTER, None) if c.nrkey == 0 => Outcome::status(Status::INVALID_FIELD),
            (REGISTER, None) => match self.add(*host, c.nrkey) {
                Ok(()) => Outcome::changed(),
                Err(st) => Outcome::status(st),
            },
            (REGISTER, Some(i)) if self.registrants[i].rkey == c.nrkey => Outcome::default(),
            (REGISTER, Some(_)) => Outcome::status(Status::RESERVATION_CONFLICT),
            (UNREGISTER, Some(i)) if c.iekey || self.registrants[i].rkey == c.crkey => {
                let before = self.rtype;
                let others = self.others(host);
                self.remove_at(i);
                let mut out = Outcome::changed();
                // Only the registrants-only types announce the release.
                let ro = matches!(
                    before,
                    rtype::WRITE_EXCLUSIVE_REG_ONLY | rtype::EXCLUSIVE_ACCESS_REG_ONLY
                );
                if ro && !self.restricts() {
                    out.notices = notify(others, Notice::ReservationReleased);
                }
                out
            }
            (UNREGISTER, _) => Outcome::status(Status::RESERVATION_CONFLICT),
            (REPLACE, _) if c.nrkey == 0 => Outcome::status(Status::INVALID_FIELD),
            (REPLACE, Some(i)) if !c.iekey && self.registrants[i].rkey != c.crkey => {
                Outcome::status(Status::RESERVATION_CONFLICT)
            }
            (REPLACE, Some(i)) if self.registrants[i].rkey == c.nrkey => Outcome::default(),
            (REPLACE, Some(i)) => {
                // The reservation's own key (crkey) is left as it was.
                self.registrants[i].rkey = c.nrkey;
                Outcome::changed()
            }
            (REPLACE, None) if c.iekey => match self.add(*host, c.nrkey) {
                Ok(()) => Outcome::changed(),
                Err(st) => Outcome::status(st),
            },
            (REPLACE, None) => Outcome::status(Status::RESERVATION_CONFLICT),
            _ => Outcome::status(Status::INVALID_FIELD),
        }
    }

    pub fn acquire(&mut self, host: &HostId, c: AcquireCmd) -> Outcome {
        if c.iekey || c.rtype > rtype::EXCLUSIVE_ACCESS_ALL_REGS {
            return Outcome::status(Status::INVALID_FIELD);
        }
        match self.position(host) {
            Some(i) if self.registrants[i].rkey == c.crkey => {}
            _ => return Outcome::status(Status::RESERVATION_CONFLICT),
        }
        match c.racqa {
            ACQUIRE if self.is_holder(host) && self.rtype == c.rtype => Outcome::default(),
            ACQUIRE if self.holder.is_none() => {
                self.rtype = c.rtype;
                self.crkey = c.crkey;
                self.holder = Some(*host);
                Outcome::changed()
            }
            ACQUIRE => Outcome::status(Status::RESERVATION_CONFLICT),
            PREEMPT => self.preempt(host, c),
            // Preempt-and-Abort (2) is not offered, as in SPDK.
            _ => Outcome::status(Status::INVALID_FIELD),
        }
    }

    fn preempt(&mut self, host: &HostId, c: AcquireCmd) -> Outcome {
        if self.holder.is_none() {
            // No reservation: drop the registrants with that key, quietly.
            self.remove_by_key(c.prkey);
            return Outcome::changed();
        }
        let before = self.others(host);
        let mut released = false;
        if !self.all_regs() {
            if self.holder.as_ref() == Some(host) && self.crkey == c.prkey {
                // The holder changes its own type.
                self.rtype = c.rtype;
                released = true;
            } else if self.crkey == c.prkey {
                // Only the holder goes, not others sharing its key.
                if let Some(i) = self.holder.and_then(|h| self.position(&h)) {
                    self.remove_at(i);
                }
                self.release_reservation();
                self.rtype = c.rtype;
                self.crkey = c.crkey;
                self.holder = Some(*host);
                released = true;
            } else if c.prkey != 0 {
                self.remove_by_key(c.prkey);
            } else {
                return Outcome::status(Status::RESERVATION_CONFLICT);
            }
        } else if c.prkey == 0 {
            // Everyone else goes; the type stays, the sender holds.
            while let Some(i) = self.registrants.iter().position(|r| &r.hostid != host) {
                self.remove_at(i);
            }
            self.holder = Some(*host);
        } else if self.remove_by_key(c.prkey) == 0 {
            return Outcome::status(Status::RESERVATION_CONFLICT);
        }
        let after = self.others(host);
        let gone: Vec<HostId> = before.into_iter().filter(|h| !after.contains(h)).collect();
        let mut out = Outcome::changed();
        out.notices = notify(gone, Notice::RegistrationPreempted);
        if released {
            out.notices
                .extend(notify(after, Notice::ReservationReleased));
        }
        out
    }

    pub fn release(&mut self, host: &HostId, c: ReleaseCmd) -> Outcome {
        if c.iekey {
            return Outcome::status(Status::INVALID_FIELD);
        }
        match self.position(host) {
            Some(i) if self.registrants[i].rkey == c.crkey => {}
            _ => return Outcome::status(Status::RESERVATION_CONFLICT),
        }
        let others = self.others(host);
        match c.rrela {
            RELEASE if self.holder.is_none() => Outcome::default(),
            RELEASE if self.rtype != c.rtype => Outcome::status(Status::INVALID_FIELD),
            RELEASE if !self.is_holder(host) => Outcome::default(),
            RELEASE => {
                let t = self.rtype;
                self.release_reservation();
                let mut out = Outcome::changed();
                if !matches!(t, rtype::WRITE_EXCLUSIVE | rtype::EXCLUSIVE_ACCESS) {
                    out.notices = notify(others, Notice::ReservationReleased);
                }
                out
            }
            CLEAR => {
                while !self.registrants.is_empty() {
                    self.remove_at(0);
                }
                self.release_reservation();
                let mut out = Outcome::changed();
                out.notices = notify(others, Notice::ReservationPreempted);
                out
            }
            _ => Outcome::status(Status::INVALID_FIELD),
        }
    }

    /// Reservation Report: the extended data structure (EDS=1) cut to
    /// `len` bytes. SPDK answers only the extended form, and an EDS=0
    /// request gets Host Identifier Inconsistent Format; a buffer shorter
    /// than the 64-byte header gets Internal Error, as SPDK does.
    pub fn report(&self, eds: bool, len: usize) -> Result<Vec<u8>, Status> {
        if !eds {
            return Err(Status::HOSTID_INCONSISTENT_FORMAT);
        }
        if len < 64 {
            return Err(Status::INTERNAL);
        }
        let mut b = vec![0u8; 64 + 64 * self.registrants.len()];
        b[0..4].copy_from_slice(&self.gen.to_le_bytes());
        b[4] = self.rtype;
        b[5..7].copy_from_slice(&(self.registrants.len() as u16).to_le_bytes());
        b[9] = self.ptpl as u8;
        for (i, r) in self.registrants.iter().enumerate() {
            let e = &mut b[64 + 64 * i..128 + 64 * i];
            // Dynamic controllers: CNTLID FFFFh.
            e[0..2].copy_from_slice(&0xFFFFu16.to_le_bytes());
            e[2] = (self.holder == Some(r.hostid)) as u8;
            e[8..16].copy_from_slice(&r.rkey.to_le_bytes());
            e[16..32].copy_from_slice(&r.hostid);
        }
        // Longer requests get the whole structure; the transport pads it
        // to the host's SGL length.
        b.truncate(len);
        Ok(b)
    }

    /// Drops the notices the namespace's mask suppresses.
    pub fn unmasked(&self, notices: Vec<(HostId, Notice)>) -> Vec<(HostId, Notice)> {
        notices
            .into_iter()
            .filter(|(_, n)| self.mask & (1 << *n as u8) == 0)
            .collect()
    }
}

fn notify(hosts: Vec<HostId>, n: Notice) -> Vec<(HostId, Notice)> {
    hosts.into_iter().map(|h| (h, n)).collect()
}

#[cfg(test)]
mod tests {
    //! The cases of SPDK v24.09's behaviour, one host per letter; A's two
    //! paths are one host (one Host Identifier).
    use super::*;

    const A: HostId = [0xA; 16];
    const B: HostId = [0xB; 16];
    const C: HostId = [0xC; 16];
    const D: HostId = [0xD; 16];

    fn reg(r: &mut Reservation, h: HostId, key: u64) -> Outcome {
        let c = RegisterCmd {
            rrega: REGISTER,
            iekey: false,
            cptpl: 0,
            crkey: 0,
            nrkey: key,
        };
        r.register(&h, c, false)
    }

    fn acq(r: &mut Reservation, h: HostId, racqa: u8, t: u8, crkey: u64, prkey: u64) -> Outcome {
        let c = AcquireCmd {
            racqa,
            iekey: false,
            rtype: t,
            crkey,
            prkey,
        };
        r.acquire(&h, c)
    }

    fn rel(r: &mut Reservation, h: HostId, rrela: u8, t: u8, crkey: u64) -> Outcome {
        let c = ReleaseCmd {
            rrela,
            iekey: false,
            rtype: t,
            crkey,
        };
        r.release(&h, c)
    }

    /// A, B and C registered with keys 0xA1, 0xB1, 0xC1; D is not.
    fn three() -> Reservation {
        let mut r = Reservation::default();
        for (h, k) in [(A, 0xA1), (B, 0xB1), (C, 0xC1)] {
            assert_eq!(reg(&mut r, h, k).status, Status::SUCCESS);
        }
        r
    }

    #[test]
    fn register_rules() {
        let mut r = Reservation::default();
        assert_eq!(reg(&mut r, A, 0).status, Status::INVALID_FIELD);
        assert_eq!(reg(&mut r, A, 5).status, Status::SUCCESS);
        assert_eq!(r.gen, 1);
        // Same key again: success, nothing changes; another key: conflict.
        assert_eq!(reg(&mut r, A, 5), Outcome::default());
        assert_eq!(reg(&mut r, A, 6).status, Status::RESERVATION_CONFLICT);
        let bad = RegisterCmd {
            rrega: 3,
            iekey: false,
            cptpl: 0,
            crkey: 0,
            nrkey: 1,
        };
        assert_eq!(r.register(&A, bad, false).status, Status::INVALID_FIELD);
        // CPTPL=11b without a PTPL file.
        let ptpl = RegisterCmd { cptpl: 3, ..bad };
        assert_eq!(r.register(&A, ptpl, false).status, Status::INVALID_FIELD);
        // Unregister: wrong key conflicts, IEKEY skips the check.
        let unreg = RegisterCmd {
            rrega: UNREGISTER,
            iekey: false,
            cptpl: 0,
            crkey: 9,
            nrkey: 0,
        };
        assert_eq!(
            r.register(&A, unreg, false).status,
            Status::RESERVATION_CONFLICT
        );
        let unreg = RegisterCmd {
            iekey: true,
            ..unreg
        };
        assert_eq!(r.register(&A, unreg, false).status, Status::SUCCESS);
        assert_eq!((r.gen, r.registrants.len()), (2, 0));
        // Replace: NRKEY 0 is invalid; an unregistered host with IEKEY
        // registers; without IEKEY it conflicts.
        let repl = RegisterCmd {
            rrega: REPLACE,
            iekey: true,
            cptpl: 0,
            crkey: 0,
            nrkey: 0,
        };
        assert_eq!(r.register(&B, repl, false).status, Status::INVALID_FIELD);
        let repl = RegisterCmd { nrkey: 7, ..repl };
        assert_eq!(r.register(&B, repl, false).status, Status::SUCCESS);
        assert_eq!(r.gen, 3);
        let repl_c = RegisterCmd {
            iekey: false,
            ..repl
        };
        assert_eq!(
            r.register(&C, repl_c, false).status,
            Status::RESERVATION_CONFLICT
        );
    }

    #[test]
    fn acquire_and_release_rules() {
        let mut r = three();
        let bad = AcquireCmd {
            racqa: ACQUIRE,
            iekey: true,
            rtype: 1,
            crkey: 0xA1,
            prkey: 0,
        };
        assert_eq!(r.acquire(&A, bad).status, Status::INVALID_FIELD);
        assert_eq!(
            acq(&mut r, A, ACQUIRE, 7, 0xA1, 0).status,
            Status::INVALID_FIELD
        );
        assert_eq!(
            acq(&mut r, A, ACQUIRE, 1, 0xFF, 0).status,
            Status::RESERVATION_CONFLICT
        );
        assert_eq!(acq(&mut r, A, ACQUIRE, 1, 0xA1, 0).status, Status::SUCCESS);
        assert_eq!(acq(&mut r, A, ACQUIRE, 1, 0xA1, 0), Outcome::default());
        assert_eq!(
            acq(&mut r, A, ACQUIRE, 2, 0xA1, 0).status,
            Status::RESERVATION_CONFLICT
        );
        assert_eq!(
            acq(&mut r, B, ACQUIRE, 1, 0xB1, 0).status,
            Status::RESERVATION_CONFLICT
        );
        assert_eq!(acq(&mut r, B, 2, 1, 0xB1, 0).status, Status::INVALID_FIELD);
        // Release: wrong type is invalid even from a non-holder; a
        // non-holder with the right type is a quiet success.
        assert_eq!(
            rel(&mut r, B, RELEASE, 2, 0xB1).status,
            Status::INVALID_FIELD
        );
        assert_eq!(rel(&mut r, B, RELEASE, 1, 0xB1), Outcome::default());
        assert_eq!(rel(&mut r, A, 2, 1, 0xA1).status, Status::INVALID_FIELD);
        // WE release: no notices.
        let out = rel(&mut r, A, RELEASE, 1, 0xA1);
        assert_eq!((out.status, out.notices.len()), (Status::SUCCESS, 0));
        assert!(!r.restricts());
        // EA-RO release: Reservation Released to B and C.
        acq(&mut r, A, ACQUIRE, 4, 0xA1, 0);
        let out = rel(&mut r, A, RELEASE, 4, 0xA1);
        assert_eq!(
            out.notices,
            vec![
                (B, Notice::ReservationReleased),
                (C, Notice::ReservationReleased)
            ]
        );
    }

    #[test]
    fn access_matrix_for_every_type() {
        use nvm::{READ, WRITE};
        // (type, registrant read, registrant write, stranger read, stranger write)
        let table = [
            (1, true, false, true, false),
            (2, false, false, false, false),
            (3, true, true, true, false),
            (4, true, true, false, false),
            (5, true, true, true, false),
            (6, true, true, false, false),
        ];
        for (t, rr, rw, sr, sw) in table {
            let mut r = three();
            assert_eq!(acq(&mut r, A, ACQUIRE, t, 0xA1, 0).status, Status::SUCCESS);
            assert!(r.allows(&A, READ, 0) && r.allows(&A, WRITE, 0), "type {t}");
            assert_eq!(r.allows(&B, READ, 0), rr, "type {t} registrant read");
            assert_eq!(r.allows(&B, WRITE, 0), rw, "type {t} registrant write");
            assert_eq!(r.allows(&D, READ, 0), sr, "type {t} stranger read");
            assert_eq!(r.allows(&D, WRITE, 0), sw, "type {t} stranger write");
            for opc in [nvm::FLUSH, nvm::WRITE_ZEROES, nvm::DSM] {
                assert_eq!(r.allows(&D, opc, 0), sw, "type {t} opc {opc}");
            }
            assert_eq!(r.allows(&D, nvm::COMPARE, 0), sr);
            // Copy is not checked.
            assert!(r.allows(&D, nvm::COPY, 0));
            // A stranger's Acquire and Release conflict; Register does not.
            assert!(!r.allows(&D, nvm::RESERVATION_ACQUIRE, 1));
            assert!(!r.allows(&D, nvm::RESERVATION_RELEASE, 0));
            assert!(r.allows(&D, nvm::RESERVATION_REGISTER, 0));
        }
    }

    #[test]
    fn preempt_cases() {
        // Holder preempted by key: only the holder goes; B holds.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 1, 0xA1, 0);
        let gen = r.gen;
        let out = acq(&mut r, B, PREEMPT, 1, 0xB1, 0xA1);
        assert_eq!(out.status, Status::SUCCESS);
        assert_eq!(r.holder, Some(B));
        assert_eq!(r.gen, gen + 1);
        assert_eq!(
            out.notices,
            vec![
                (A, Notice::RegistrationPreempted),
                (C, Notice::ReservationReleased)
            ]
        );
        // PRKEY 0 on a non-AR type conflicts.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 3, 0xA1, 0);
        assert_eq!(
            acq(&mut r, B, PREEMPT, 3, 0xB1, 0).status,
            Status::RESERVATION_CONFLICT
        );
        // By another key: C goes; an unknown key: success, no change.
        let out = acq(&mut r, B, PREEMPT, 3, 0xB1, 0xC1);
        assert_eq!(out.notices, vec![(C, Notice::RegistrationPreempted)]);
        let out = acq(&mut r, B, PREEMPT, 3, 0xB1, 0x99);
        assert_eq!((out.status, out.notices.len()), (Status::SUCCESS, 0));
        // No reservation: C removed, nobody told.
        let mut r = three();
        let out = acq(&mut r, B, PREEMPT, 1, 0xB1, 0xC1);
        assert_eq!((out.status, out.notices.len()), (Status::SUCCESS, 0));
        assert!(!r.is_registrant(&C));
        // AR type, PRKEY 0: only B left, the type stays 5.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 5, 0xA1, 0);
        let out = acq(&mut r, B, PREEMPT, 1, 0xB1, 0);
        assert_eq!(out.status, Status::SUCCESS);
        assert_eq!((r.rtype, r.holder, r.registrants.len()), (5, Some(B), 1));
        assert_eq!(out.notices.len(), 2);
        // AR type, a key nobody has: conflict.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 5, 0xA1, 0);
        assert_eq!(
            acq(&mut r, B, PREEMPT, 1, 0xB1, 0x99).status,
            Status::RESERVATION_CONFLICT
        );
        // The holder changes its own type: others hear of a release.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 1, 0xA1, 0);
        let gen = r.gen;
        let out = acq(&mut r, A, PREEMPT, 2, 0xA1, 0xA1);
        assert_eq!((r.rtype, r.gen), (2, gen));
        assert_eq!(
            out.notices,
            vec![
                (B, Notice::ReservationReleased),
                (C, Notice::ReservationReleased)
            ]
        );
    }

    #[test]
    fn holder_leaving_and_clear() {
        // WE-AR: the holder moves to the oldest remaining registrant.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 5, 0xA1, 0);
        let unreg = RegisterCmd {
            rrega: UNREGISTER,
            iekey: false,
            cptpl: 0,
            crkey: 0xA1,
            nrkey: 0,
        };
        r.register(&A, unreg, false);
        assert_eq!((r.rtype, r.holder), (5, Some(B)));
        // WE-RO: released, Reservation Released to the others.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 3, 0xA1, 0);
        let out = r.register(&A, unreg, false);
        assert!(!r.restricts());
        assert_eq!(out.notices.len(), 2);
        // WE: released, nobody told.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 1, 0xA1, 0);
        let out = r.register(&A, unreg, false);
        assert!(!r.restricts() && out.notices.is_empty());
        // Clear by C: everyone goes, GEN += 3, Reservation Preempted.
        let mut r = three();
        acq(&mut r, A, ACQUIRE, 1, 0xA1, 0);
        let gen = r.gen;
        let out = rel(&mut r, C, CLEAR, 0, 0xC1);
        assert_eq!((r.gen, r.registrants.len(), r.rtype), (gen + 3, 0, 0));
        assert_eq!(
            out.notices,
            vec![
                (A, Notice::ReservationPreempted),
                (B, Notice::ReservationPreempted)
            ]
        );
    }

    #[test]
    fn report_layout_and_errors() {
        let mut r = three();
        acq(&mut r, B, ACQUIRE, 3, 0xB1, 0);
        assert_eq!(
            r.report(false, 4096),
            Err(Status::HOSTID_INCONSISTENT_FORMAT)
        );
        assert_eq!(r.report(true, 60), Err(Status::INTERNAL));
        let b = r.report(true, 64 + 3 * 64).unwrap();
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 3);
        assert_eq!((b[4], u16::from_le_bytes([b[5], b[6]]), b[9]), (3, 3, 0));
        let e = &b[128..192];
        assert_eq!(u16::from_le_bytes([e[0], e[1]]), 0xFFFF);
        assert_eq!(e[2], 1, "B holds");
        assert_eq!(u64::from_le_bytes(e[8..16].try_into().unwrap()), 0xB1);
        assert_eq!(&e[16..32], &B);
        assert_eq!(b[64 + 2], 0);
        // Cut at the host's length, partial entries included.
        assert_eq!(r.report(true, 100).unwrap().len(), 100);
    }

    #[test]
    fn the_seventeenth_registrant_is_refused() {
        let mut r = Reservation::default();
        for i in 0..MAX_REGISTRANTS {
            assert_eq!(reg(&mut r, [i as u8 + 1; 16], 1).status, Status::SUCCESS);
        }
        assert_eq!(reg(&mut r, [0xEE; 16], 1).status, Status::INTERNAL);
        assert_eq!(r.registrants.len(), MAX_REGISTRANTS);
    }

    #[test]
    fn masked_notices_are_dropped() {
        let r = Reservation {
            mask: 1 << 2,
            ..Reservation::default()
        };
        let n = vec![
            (A, Notice::ReservationReleased),
            (B, Notice::RegistrationPreempted),
        ];
        assert_eq!(r.unmasked(n), vec![(B, Notice::RegistrationPreempted)]);
    }
}
