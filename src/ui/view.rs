//! Which rows a table pane shows, and in which order: the snapshot's
//! rows (in the one order of `Snapshot::sort_rows`), narrowed to the
//! scope's subsystem, then to the pane's `/` filter, then sorted by the
//! column the user picked (`S`). Selections index into this list, and
//! follow their object through it (`App`'s `RowKey`).

use std::cmp::Ordering;
use std::collections::HashSet;

use tui_input::Input;

use super::app::Pane;
use super::panes::conns::role;
use super::snapshot::{join_addr, row_order, split_addr, Snapshot};

/// A column a table can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub name: &'static str,
    /// The column's index in the pane's table (where the arrow goes).
    pub col: usize,
    /// Numbers sort biggest first, text in reading order.
    pub numeric: bool,
}

const fn text(name: &'static str, col: usize) -> SortKey {
    SortKey {
        name,
        col,
        numeric: false,
    }
}

const fn num(name: &'static str, col: usize) -> SortKey {
    SortKey {
        name,
        col,
        numeric: true,
    }
}

/// Listeners: the columns of `panes::listeners`.
const LISTENER_KEYS: [SortKey; 4] = [
    text("Transport ID", 1),
    text("ANA", 2),
    text("NQN", 3),
    num("Qpairs", 5),
];
/// I/O paths: the columns of the widget crate's `PathTable`.
const PATH_KEYS: [SortKey; 5] = [
    text("controller", 1),
    text("transport ID", 3),
    text("ANA", 6),
    num("outst", 7),
    num("cmd/s", 8),
];
/// Connections: the columns of the widget crate's `ConnTable`.
const CONN_KEYS: [SortKey; 7] = [
    text("State", 1),
    num("Recv-Q", 2),
    num("Send-Q", 4),
    text("Local", 6),
    text("Peer", 7),
    num("Tx", 8),
    num("RTT", 10),
];

/// The columns `S` cycles through in pane `p`.
pub fn sort_keys(p: Pane) -> &'static [SortKey] {
    match p {
        Pane::Listeners => &LISTENER_KEYS,
        Pane::Paths => &PATH_KEYS,
        Pane::Conns => &CONN_KEYS,
        _ => &[],
    }
}

/// One pane's filter and sort.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableView {
    /// Case-insensitive substring of a row's text; empty: every row.
    pub filter: String,
    /// Index into [`sort_keys`]; `None`: the one row order.
    pub sort: Option<usize>,
}

impl TableView {
    pub fn sort_key(&self, p: Pane) -> Option<SortKey> {
        self.sort.and_then(|i| sort_keys(p).get(i).copied())
    }

    /// The next sort column: none → each column in turn → none.
    pub fn cycle_sort(&mut self, p: Pane) {
        let n = sort_keys(p).len();
        self.sort = match self.sort {
            _ if n == 0 => None,
            None => Some(0),
            Some(i) if i + 1 < n => Some(i + 1),
            Some(_) => None,
        };
    }
}

/// Every pane's view, and the `/` line being typed (for the focused
/// pane; the filter applies as it is typed).
#[derive(Clone, Debug, Default)]
pub struct Views {
    pub panes: [TableView; 6],
    pub editing: Option<Input>,
}

impl Views {
    pub fn get(&self, p: Pane) -> &TableView {
        &self.panes[p.index()]
    }
    pub fn get_mut(&mut self, p: Pane) -> &mut TableView {
        &mut self.panes[p.index()]
    }
}

/// The subsystem a pane is narrowed to (`None`: all of them).
pub type ScopeNqn<'a> = Option<&'a str>;

/// The snapshot rows pane `p` shows, in the order it shows them: indices
/// into the pane's list in `s` (`subsystems` without the discovery
/// subsystem, `listeners`, `paths`, `conns.rows`).
pub fn rows(s: &Snapshot, scope: ScopeNqn, v: &TableView, p: Pane) -> Vec<usize> {
    let n = match p {
        Pane::Subsystems => nvm_subsystems(s).count(),
        Pane::Listeners => s.listeners.len(),
        Pane::Paths => s.paths.len(),
        Pane::Conns => s.conns.rows.len(),
        Pane::Load | Pane::Events => return vec![],
    };
    let needle = v.filter.to_lowercase();
    let scoped = scoped_addrs(s, scope);
    let mut out: Vec<usize> = (0..n)
        .filter(|&i| in_scope(s, scope, &scoped, p, i))
        .filter(|&i| needle.is_empty() || row_text(s, p, i).to_lowercase().contains(&needle))
        .collect();
    if let Some(k) = v.sort_key(p) {
        // Stable: ties keep the one row order.
        out.sort_by(|&a, &b| {
            let o = compare(s, p, k, a, b);
            if k.numeric {
                o.reverse()
            } else {
                o
            }
        });
    }
    out
}

fn nvm_subsystems(s: &Snapshot) -> impl Iterator<Item = &super::snapshot::Subsystem> {
    s.subsystems.iter().filter(|x| x.subtype != "Discovery")
}

/// The subsystems' NVM subsystems, as the Subsystems pane lists them.
pub fn subsystem(s: &Snapshot, i: usize) -> Option<&super::snapshot::Subsystem> {
    nvm_subsystems(s).nth(i)
}

/// Addresses of the scoped subsystem's listeners and of the scoped bdev's
/// paths: the sockets on them are the scope's.
fn scoped_addrs(s: &Snapshot, scope: ScopeNqn) -> HashSet<String> {
    let Some(nqn) = scope else {
        return HashSet::new();
    };
    s.listeners
        .iter()
        .filter(|l| l.nqn == nqn)
        .map(|l| l.addr())
        .chain(s.paths.iter().map(|p| p.addr()))
        .collect()
}

fn in_scope(s: &Snapshot, scope: ScopeNqn, addrs: &HashSet<String>, p: Pane, i: usize) -> bool {
    let Some(nqn) = scope else { return true };
    match p {
        Pane::Listeners => s.listeners[i].nqn == nqn,
        Pane::Conns => s.conns.rows[i]
            .listener
            .as_ref()
            .is_some_and(|l| addrs.contains(l)),
        _ => true,
    }
}

/// A row's text as the pane shows it, for the filter.
pub fn row_text(s: &Snapshot, p: Pane, i: usize) -> String {
    match p {
        Pane::Subsystems => subsystem(s, i)
            .map(|x| {
                let bdevs: Vec<&str> = x.namespaces.iter().map(|n| n.bdev.as_str()).collect();
                format!("{} {} {} {}", x.nqn, bdevs.join(" "), x.serial, x.model)
            })
            .unwrap_or_default(),
        Pane::Listeners => {
            let l = &s.listeners[i];
            let ana: Vec<&str> = l.ana_states.iter().map(|(_, st)| st.as_str()).collect();
            let c: Vec<String> = l.controllers.iter().map(|c| c.to_string()).collect();
            format!(
                "{} {} {} {} {} {}",
                l.trtype,
                l.addr(),
                ana.join(" "),
                l.nqn,
                c.join(","),
                l.qpairs
            )
        }
        Pane::Paths => {
            let x = &s.paths[i];
            format!(
                "{} {} {} {} {}",
                x.ctrlr,
                x.cntlid,
                x.trtype,
                join_addr(&x.traddr, &x.trsvcid),
                x.ana_state
            )
        }
        Pane::Conns => {
            let c = &s.conns.rows[i];
            format!("{} {} {} {}", role(c), c.state, c.local, c.peer)
        }
        Pane::Load | Pane::Events => String::new(),
    }
}

fn addr_order(a: (&str, &str), b: (&str, &str)) -> Ordering {
    row_order(("", a.0, a.1), ("", b.0, b.1))
}

fn sock_order(a: &str, b: &str) -> Ordering {
    addr_order(split_addr(a), split_addr(b))
}

fn f(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NEG_INFINITY)
}

/// Rows `a` and `b` of pane `p` by column `k`, ascending.
fn compare(s: &Snapshot, p: Pane, k: SortKey, a: usize, b: usize) -> Ordering {
    match p {
        Pane::Listeners => {
            let (x, y) = (&s.listeners[a], &s.listeners[b]);
            match k.col {
                1 => addr_order((&x.traddr, &x.trsvcid), (&y.traddr, &y.trsvcid)),
                2 => x.ana_state().cmp(&y.ana_state()),
                3 => x.nqn.cmp(&y.nqn),
                _ => x.qpairs.cmp(&y.qpairs),
            }
        }
        Pane::Paths => {
            let (x, y) = (&s.paths[a], &s.paths[b]);
            match k.col {
                1 => x.ctrlr.cmp(&y.ctrlr),
                3 => addr_order((&x.traddr, &x.trsvcid), (&y.traddr, &y.trsvcid)),
                6 => x.ana_state.cmp(&y.ana_state),
                7 => x.outstanding.cmp(&y.outstanding),
                _ => f(x.iops.value()).total_cmp(&f(y.iops.value())),
            }
        }
        Pane::Conns => {
            let (x, y) = (&s.conns.rows[a], &s.conns.rows[b]);
            match k.col {
                1 => x.state.cmp(&y.state),
                2 => x.recv_q.cmp(&y.recv_q),
                4 => x.send_q.cmp(&y.send_q),
                6 => sock_order(&x.local, &y.local),
                7 => sock_order(&x.peer, &y.peer),
                8 => f(x.tx_bps.value()).total_cmp(&f(y.tx_bps.value())),
                _ => f(x.rtt_us).total_cmp(&f(y.rtt_us)),
            }
        }
        _ => Ordering::Equal,
    }
}
