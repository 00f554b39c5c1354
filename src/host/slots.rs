//! The command slots of one queue pair and the SQ credits that gate them.
//!
//! A slot (CID) belongs to its command from submission until its submitter
//! has taken the result. Credits (SQSIZE - 1 commands outstanding) go to
//! submitters strictly in arrival order: without that, a submitter that
//! resubmits from its own completion takes every freed credit and a woken
//! waiter starves for tens of milliseconds. `R` is a command's result.

use std::collections::VecDeque;
use std::task::Waker;

use bytes::{Bytes, BytesMut};

/// One CID. A slot belongs to its command from submission until the
/// submitter has taken the result (or dropped its future), so a CID is never
/// reused while anyone may still look at it.
pub(super) struct Slot<R> {
    /// Bumped each time the slot is handed out.
    pub(super) gen: u32,
    pub(super) busy: bool,
    /// The submitter gave up: free the slot when the command completes.
    pub(super) abandoned: bool,
    pub(super) result: Option<R>,
    pub(super) waker: Option<Waker>,
    /// Expected controller-to-host length, and what has arrived.
    pub(super) read_len: usize,
    pub(super) received: usize,
    pub(super) chunks: Chunks,
    /// Data to send when the controller asks with an R2T.
    pub(super) write_data: Option<Bytes>,
}

impl<R> Slot<R> {
    /// On the wire: submitted and not completed yet.
    pub(super) fn in_flight(&self) -> bool {
        self.busy && self.result.is_none()
    }
}

// By hand: a derive would ask `R: Default`.
impl<R> Default for Slot<R> {
    fn default() -> Self {
        Slot {
            gen: 0,
            busy: false,
            abandoned: false,
            result: None,
            waker: None,
            read_len: 0,
            received: 0,
            chunks: Chunks::None,
            write_data: None,
        }
    }
}

/// C2H data of one command: nearly always a single PDU, kept without a Vec.
#[derive(Default)]
pub(super) enum Chunks {
    #[default]
    None,
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Chunks {
    pub(super) fn push(&mut self, b: Bytes) {
        *self = match std::mem::take(self) {
            Chunks::None => Chunks::One(b),
            Chunks::One(a) => Chunks::Many(vec![a, b]),
            Chunks::Many(mut v) => {
                v.push(b);
                Chunks::Many(v)
            }
        };
    }

    pub(super) fn join(self) -> Bytes {
        match self {
            Chunks::None => Bytes::new(),
            Chunks::One(b) => b,
            Chunks::Many(v) => {
                let mut b = BytesMut::with_capacity(v.iter().map(|c| c.len()).sum());
                for c in v {
                    b.extend_from_slice(&c);
                }
                b.freeze()
            }
        }
    }
}

pub(super) struct Slots<R> {
    pub(super) entries: Vec<Slot<R>>,
    pub(super) free: Vec<u16>,
    /// SQ flow control: how many more commands may be outstanding (SQSIZE
    /// in all, one entry staying empty so head != tail).
    pub(super) credits: usize,
    /// Submitters waiting for a credit, by ticket, oldest first.
    pub(super) waiters: VecDeque<(u64, Waker)>,
    next_ticket: u64,
}

impl<R> Slots<R> {
    pub(super) fn new(depth: usize, credits: usize) -> Self {
        Slots {
            entries: (0..depth).map(|_| Slot::default()).collect(),
            free: (0..depth as u16).rev().collect(),
            credits,
            waiters: VecDeque::new(),
            next_ticket: 0,
        }
    }

    /// Takes a credit and a free slot for the submitter holding `ticket`,
    /// or queues it (keeping its waker current). Credits go in arrival
    /// order: the first `credits` waiters may take one, and a newcomer only
    /// a credit left over after every waiter's.
    pub(super) fn acquire(&mut self, ticket: &mut Option<u64>, waker: &Waker) -> Option<u16> {
        let pos = ticket.and_then(|t| self.waiter_pos(t));
        // (The free list always holds more entries than there are credits;
        // the check only keeps a broken invariant from losing a slot.)
        if pos.unwrap_or(self.waiters.len()) >= self.credits || self.free.is_empty() {
            match pos {
                Some(i) => {
                    let w = &mut self.waiters[i].1;
                    if !w.will_wake(waker) {
                        *w = waker.clone();
                    }
                }
                None => {
                    let t = self.next_ticket;
                    self.next_ticket += 1;
                    self.waiters.push_back((t, waker.clone()));
                    *ticket = Some(t);
                }
            }
            return None;
        }
        if let Some(i) = pos {
            self.waiters.remove(i);
        }
        *ticket = None;
        self.credits -= 1;
        self.free.pop()
    }

    /// A queued submitter gives up; if it was entitled to a credit, the
    /// next waiter now is.
    pub(super) fn leave(&mut self, ticket: u64, wakers: &mut Vec<Waker>) {
        let Some(i) = self.waiter_pos(ticket) else {
            return;
        };
        self.waiters.remove(i);
        if i < self.credits {
            self.wake_eligible(wakers);
        }
    }

    /// Frees a slot and its credit; a waiting submitter's waker goes to
    /// `wakers`, to be woken once the lock is released.
    pub(super) fn release(&mut self, cid: u16, wakers: &mut Vec<Waker>) {
        let s = &mut self.entries[cid as usize];
        let gen = s.gen;
        *s = Slot {
            gen,
            ..Slot::default()
        };
        self.free.push(cid);
        self.return_credit(wakers);
    }

    /// Credits go to waiters in arrival order: the first `credits` waiters
    /// may take one, newcomers queue behind them. Without this, a submitter
    /// resubmitting from its completion would take every freed credit and a
    /// woken waiter could starve for tens of milliseconds.
    pub(super) fn return_credit(&mut self, wakers: &mut Vec<Waker>) {
        self.credits += 1;
        self.wake_eligible(wakers);
    }

    /// Wakes the waiter that the newest credit made eligible, if any.
    pub(super) fn wake_eligible(&mut self, wakers: &mut Vec<Waker>) {
        if let Some((_, w)) = self
            .credits
            .checked_sub(1)
            .and_then(|i| self.waiters.get(i))
        {
            wakers.push(w.clone());
        }
    }

    /// Records a command's result and takes its submitter's waker (or frees
    /// the slot if the submitter gave up).
    pub(super) fn finish(&mut self, cid: u16, r: R, wakers: &mut Vec<Waker>) {
        let s = &mut self.entries[cid as usize];
        if s.abandoned {
            self.release(cid, wakers);
            return;
        }
        s.result = Some(r);
        if let Some(w) = s.waker.take() {
            wakers.push(w);
        }
    }

    pub(super) fn waiter_pos(&self, ticket: u64) -> Option<usize> {
        self.waiters.iter().position(|(t, _)| *t == ticket)
    }
}

pub(super) fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use super::*;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counting() -> (Arc<Counter>, Waker) {
        let c = Arc::new(Counter::default());
        (c.clone(), Waker::from(c))
    }

    /// Credits go to waiters in arrival order: a submitter that resubmits
    /// the moment its command completes cannot take the credit a waiter was
    /// woken for (the bdevperf loop did that, starving one I/O at a time
    /// for 20–400 ms), and a newcomer takes a credit left over after every
    /// waiter's at once instead of queueing with nobody to wake it.
    #[test]
    fn credits_are_granted_in_arrival_order() {
        let mut s = Slots::<()>::new(4, 2);
        let (_, w) = counting();
        let (mut t1, mut t2) = (None, None);
        let c1 = s.acquire(&mut t1, &w).unwrap();
        let c2 = s.acquire(&mut t2, &w).unwrap();
        // No credit left: A, then B, queue.
        let (a_count, a) = counting();
        let (b_count, b) = counting();
        let (mut ta, mut tb) = (None, None);
        assert_eq!(s.acquire(&mut ta, &a), None);
        assert_eq!(s.acquire(&mut tb, &b), None);
        // A credit comes back: A is woken, not B.
        let mut wakers = Vec::new();
        s.release(c1, &mut wakers);
        wake_all(std::mem::take(&mut wakers));
        assert_eq!(a_count.0.load(Ordering::Relaxed), 1);
        assert_eq!(b_count.0.load(Ordering::Relaxed), 0);
        // A newcomer (the completing submitter resubmitting) must queue...
        let mut tn = None;
        assert_eq!(s.acquire(&mut tn, &w), None);
        // ...and so must B, behind A.
        assert_eq!(s.acquire(&mut tb, &b), None);
        let ca = s
            .acquire(&mut ta, &a)
            .expect("the woken waiter gets its credit");
        assert_eq!(ta, None);
        // A gives its credit back: B is next.
        s.release(ca, &mut wakers);
        wake_all(std::mem::take(&mut wakers));
        assert_eq!(b_count.0.load(Ordering::Relaxed), 1);
        // B gives up while entitled: the newcomer behind it inherits.
        s.leave(tb.unwrap(), &mut wakers);
        assert_eq!(wakers.len(), 1);
        wakers.clear();
        let cn = s.acquire(&mut tn, &w).expect("the next waiter inherits");
        // Two credits free and nobody waiting: newcomers take them at once.
        s.release(c2, &mut wakers);
        s.release(cn, &mut wakers);
        assert!(wakers.is_empty());
        let (mut x, mut y) = (None, None);
        assert!(s.acquire(&mut x, &w).is_some());
        assert!(s.acquire(&mut y, &w).is_some());
        assert_eq!((s.credits, s.waiters.len()), (0, 0));
    }
}
