//! The scope: which initiator bdev the I/O paths, Load and reservation
//! panes follow, and which subsystem's listeners and sockets the
//! Listeners and Connections panes list. The picker (`v`, or Enter on a
//! subsystem) changes it at run time; the sampler gets it on a `watch`
//! channel ([`super::sampler::spawn_scoped`]) and asks for the new bdev
//! from its next poll on.

use super::snapshot::{IniCtrlr, Snapshot};

/// What the sampler polls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The initiator bdev (`Nvme1n1`); empty when the subsystem has none
    /// on this initiator.
    pub bdev: String,
    /// Its subsystem.
    pub nqn: String,
}

/// One line of the picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// `None`: every subsystem (the bdev stays as it is).
    pub nqn: Option<String>,
    /// The initiator bdev reaching that subsystem, if any.
    pub bdev: Option<String>,
}

/// The open picker: its choices (fixed while it is open, so the line
/// under the cursor does not move) and the one under the cursor.
#[derive(Clone, Debug, PartialEq)]
pub struct Picker {
    pub choices: Vec<Choice>,
    pub sel: usize,
}

impl Picker {
    /// Opens on `s`'s subsystems and bdevs, the cursor on the current
    /// scope.
    pub fn open(s: &Snapshot, all: bool, nqn: &str, bdev: &str) -> Picker {
        let choices = choices(s);
        let sel = choices
            .iter()
            .position(|c| {
                if all {
                    c.nqn.is_none()
                } else {
                    c.nqn.as_deref() == Some(nqn) && c.bdev.as_deref().unwrap_or("") == bdev
                }
            })
            .or_else(|| {
                choices
                    .iter()
                    .position(|c| !all && c.nqn.as_deref() == Some(nqn))
            })
            .unwrap_or(0);
        Picker { choices, sel }
    }

    pub fn chosen(&self) -> Option<&Choice> {
        self.choices.get(self.sel)
    }

    /// The choices of a newer snapshot (a bdev attached meanwhile), the
    /// cursor kept on the same choice where it still exists.
    pub fn refresh(&mut self, s: &Snapshot) {
        let cur = self.chosen().cloned();
        self.choices = choices(s);
        let last = self.choices.len().saturating_sub(1);
        self.sel = cur
            .and_then(|c| self.choices.iter().position(|x| *x == c))
            .unwrap_or(self.sel.min(last));
    }

    pub fn step(&mut self, d: i64) {
        let n = self.choices.len() as i64;
        self.sel = (self.sel as i64 + d).clamp(0, (n - 1).max(0)) as usize;
    }
}

/// The last `:`-separated part of an NQN (`cnode1` of
/// `nqn.2016-06.io.spdk:cnode1`): what tells subsystems of one host
/// apart, where a column has no room for the whole NQN.
pub fn short_nqn(nqn: &str) -> &str {
    match nqn.rsplit_once(':') {
        Some((_, tail)) if !tail.is_empty() => tail,
        _ => nqn,
    }
}

/// The bdevs of this initiator that reach subsystem `nqn`: one per
/// controller attached to it and namespace it has (SPDK names them
/// `<controller>n<nsid>`; namespace 1 when the target's namespaces are
/// not known).
pub fn bdevs_of(s: &Snapshot, nqn: &str) -> Vec<String> {
    let nsids: Vec<u32> = s
        .subsystems
        .iter()
        .find(|x| x.nqn == nqn)
        .map(|x| x.namespaces.iter().map(|n| n.nsid).collect())
        .unwrap_or_default();
    let nsids = if nsids.is_empty() { vec![1] } else { nsids };
    let mut names: Vec<&str> = s
        .ini_ctrlrs
        .iter()
        .filter(|c| c.subnqn == nqn)
        .map(|c| c.name.as_str())
        .collect();
    names.dedup();
    names
        .iter()
        .flat_map(|n| nsids.iter().map(move |id| format!("{n}n{id}")))
        .collect()
}

/// Every scope there is to pick: all subsystems first, then each NVM
/// subsystem of the target with each bdev reaching it (or none), then
/// subsystems only the initiator knows (a target not attached here).
pub fn choices(s: &Snapshot) -> Vec<Choice> {
    let mut v = vec![Choice {
        nqn: None,
        bdev: None,
    }];
    let mut nqns: Vec<&str> = s
        .subsystems
        .iter()
        .filter(|x| x.subtype != "Discovery")
        .map(|x| x.nqn.as_str())
        .collect();
    let mut remote: Vec<&IniCtrlr> = s
        .ini_ctrlrs
        .iter()
        .filter(|c| !c.subnqn.is_empty() && !nqns.contains(&c.subnqn.as_str()))
        .collect();
    remote.sort();
    nqns.extend(remote.iter().map(|c| c.subnqn.as_str()));
    nqns.dedup();
    for n in nqns {
        let bdevs = bdevs_of(s, n);
        if bdevs.is_empty() {
            v.push(Choice {
                nqn: Some(n.to_string()),
                bdev: None,
            });
        }
        for b in bdevs {
            v.push(Choice {
                nqn: Some(n.to_string()),
                bdev: Some(b),
            });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::snapshot::{Namespace, Subsystem};

    fn snap() -> Snapshot {
        let sub = |nqn: &str| Subsystem {
            nqn: nqn.into(),
            subtype: "NVMe".into(),
            namespaces: vec![Namespace {
                nsid: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        Snapshot {
            subsystems: vec![sub("nqn.x:cnode1"), sub("nqn.x:cnode2")],
            ini_ctrlrs: vec![
                IniCtrlr {
                    name: "Nvme0".into(),
                    subnqn: "nqn.x:cnode1".into(),
                },
                IniCtrlr {
                    name: "Nvme9".into(),
                    subnqn: "nqn.y:remote".into(),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn choices_pair_subsystems_with_their_bdevs() {
        let c = choices(&snap());
        let pairs: Vec<(Option<&str>, Option<&str>)> = c
            .iter()
            .map(|c| (c.nqn.as_deref(), c.bdev.as_deref()))
            .collect();
        assert_eq!(
            pairs,
            [
                (None, None),
                (Some("nqn.x:cnode1"), Some("Nvme0n1")),
                (Some("nqn.x:cnode2"), None),
                (Some("nqn.y:remote"), Some("Nvme9n1")),
            ]
        );
        assert_eq!(short_nqn("nqn.x:cnode2"), "cnode2");
        assert_eq!(short_nqn("plain"), "plain");
    }

    /// A bdev attached while the picker is open shows up in it, and the
    /// cursor stays on the choice it was on.
    #[test]
    fn an_open_picker_follows_newer_snapshots() {
        let mut s = snap();
        let mut p = Picker::open(&s, false, "nqn.x:cnode1", "Nvme0n1");
        assert_eq!(p.sel, 1);
        s.ini_ctrlrs.push(IniCtrlr {
            name: "Nvme1".into(),
            subnqn: "nqn.x:cnode2".into(),
        });
        p.refresh(&s);
        assert_eq!(p.choices[2].bdev.as_deref(), Some("Nvme1n1"));
        assert_eq!(p.chosen().and_then(|c| c.bdev.as_deref()), Some("Nvme0n1"));
    }

    #[test]
    fn picker_opens_on_the_current_scope_and_stays_in_range() {
        let s = snap();
        let mut p = Picker::open(&s, false, "nqn.x:cnode2", "");
        assert_eq!(p.sel, 2);
        p.step(10);
        assert_eq!(p.sel, 3);
        p.step(-10);
        assert_eq!(p.sel, 0);
        assert_eq!(Picker::open(&s, true, "nqn.x:cnode2", "").sel, 0);
        let empty = Picker::open(&Snapshot::default(), false, "n", "b");
        assert_eq!(empty.choices.len(), 1);
    }
}
