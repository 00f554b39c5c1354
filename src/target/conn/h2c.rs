//! Commands whose data comes from the host: the R2T / H2CData exchange,
//! running a command once its data is in, and fused Compare and Write.

use super::*;

impl Conn {
    /// A command with host-to-controller data other than a plain Write:
    /// runs now with in-capsule data, or once an R2T has brought the SGL's
    /// bytes in.
    pub(super) fn with_h2c_data(&mut self, sqe: &Sqe, ns: Arc<Namespace>, data: Bytes) -> Flow {
        let len = sqe.sgl().len as usize;
        if !data.is_empty() || len == 0 {
            self.run_h2c(sqe, ns, data);
            return Flow::Continue;
        }
        if len > self.opts.max_io_size as usize {
            self.complete(
                sqe.cid(),
                Reply::status(Status::DATA_SGL_LENGTH_INVALID.with_dnr()),
            );
            return Flow::Continue;
        }
        if sqe.fuse() == FUSE_FIRST {
            self.fused.first_waiting = true;
        }
        self.start_r2t(sqe, ns, len)
    }

    /// Runs a command whose data is all in.
    pub(super) fn run_h2c(&mut self, sqe: &Sqe, ns: Arc<Namespace>, data: Bytes) {
        let cid = sqe.cid();
        match sqe.fuse() {
            0 => {}
            FUSE_FIRST => {
                return self.fused_first_ready(ReadyCmd {
                    sqe: *sqe,
                    ns,
                    data,
                })
            }
            FUSE_SECOND => {
                return self.fused_second_ready(ReadyCmd {
                    sqe: *sqe,
                    ns,
                    data,
                })
            }
            _ => {
                self.complete(cid, Reply::invalid_field());
                return;
            }
        }
        let r = match sqe.opc() {
            op::nvm::WRITE => {
                let rw = crate::nvme::fabrics::RwCommand::from_sqe(sqe);
                io::write(&ns, rw.slba, &data)
            }
            op::nvm::COMPARE => io::compare(&ns, sqe, &data),
            op::nvm::DSM => io::dataset_management(&ns, sqe, &data),
            op::nvm::COPY => io::copy(&ns, sqe, &data),
            _ => {
                let Some(ctrl) = self.queue.as_ref().map(|q| q.ctrl.clone()) else {
                    return;
                };
                let done = ns.resv.execute(&ctrl.hostid, sqe, &data, &ns.bdev.uuid);
                ctrl.subsys.notify_reservation(ns.nsid, &done.notices);
                done.reply
            }
        };
        self.complete(cid, r);
    }

    // ---- fused Compare and Write ------------------------------------------

    /// Fails a Compare still waiting for its Write with Aborted due to
    /// Missing Fused Command, as SPDK does when anything else comes next.
    pub(super) fn abort_fused_first(&mut self) {
        self.fused.first_waiting = false;
        if let Some(f) = self.fused.first.take() {
            self.complete(f.sqe.cid(), Reply::status(Status::ABORTED_MISSING_FUSED));
        }
        if let Some(w) = self.fused.second.take() {
            self.complete(w.sqe.cid(), Reply::status(Status::ABORTED_MISSING_FUSED));
        }
    }

    pub(super) fn fused_first_ready(&mut self, c: ReadyCmd) {
        self.fused.first_waiting = false;
        if let Some(old) = self.fused.first.take() {
            self.complete(old.sqe.cid(), Reply::status(Status::ABORTED_MISSING_FUSED));
        }
        if c.sqe.opc() != op::nvm::COMPARE {
            self.complete(c.sqe.cid(), Reply::status(Status::INVALID_OPCODE));
            return;
        }
        match self.fused.second.take() {
            Some(w) => self.run_fused(c, w),
            None => self.fused.first = Some(c),
        }
    }

    pub(super) fn fused_second_ready(&mut self, w: ReadyCmd) {
        if self.fused.first.is_none() && self.fused.first_waiting {
            // The Compare's data is still on its way.
            self.fused.second = Some(w);
            return;
        }
        let Some(c) = self.fused.first.take() else {
            self.complete(w.sqe.cid(), Reply::status(Status::ABORTED_MISSING_FUSED));
            return;
        };
        if w.sqe.opc() != op::nvm::WRITE {
            self.complete(c.sqe.cid(), Reply::status(Status::ABORTED_MISSING_FUSED));
            self.complete(w.sqe.cid(), Reply::status(Status::INVALID_OPCODE));
            return;
        }
        self.run_fused(c, w);
    }

    pub(super) fn run_fused(&mut self, c: ReadyCmd, w: ReadyCmd) {
        let (rc, rw) = if Arc::ptr_eq(&c.ns, &w.ns) {
            io::compare_and_write(&w.ns, &c.sqe, &c.data, &w.sqe, &w.data)
        } else {
            (
                Reply::status(Status::INVALID_FIELD),
                Reply::status(Status::ABORTED_FAILED_FUSED),
            )
        };
        self.complete(c.sqe.cid(), rc);
        self.complete(w.sqe.cid(), rw);
    }

    /// Asks the host for a command's data with one R2T covering all of it,
    /// as SPDK and nvmet do.
    pub(super) fn start_r2t(&mut self, sqe: &Sqe, ns: Arc<Namespace>, len: usize) -> Flow {
        let cid = sqe.cid();
        let depth = self
            .queue
            .as_ref()
            .map(|q| q.sqsize as usize + 1)
            .unwrap_or(1);
        if self.pending.len() >= depth {
            // More writes awaiting data than the queue holds: the host
            // ignored SQ flow control. The TermReq carries the capsule's
            // header back.
            let mut b = BytesMut::new();
            let capsule = CapsuleCmd {
                sqe: *sqe,
                data: Bytes::new(),
            };
            encode(&Pdu::CapsuleCmd(capsule), &self.framing, &mut b);
            let e = PduError {
                fes: Fes::DataTransferLimitExceeded,
                fei: 0,
                header: b.freeze().slice(..72),
                reason: "R2T limit exceeded",
            };
            self.term(&e);
            return Flow::Close;
        }
        let ttag = self.alloc_ttag();
        self.pending.insert(
            ttag,
            PendingWrite {
                cid,
                sqe: *sqe,
                ns,
                len,
                received: 0,
                buf: None,
            },
        );
        let r2t = Pdu::R2T(R2t {
            cccid: cid,
            ttag,
            r2to: 0,
            r2tl: len as u32,
        });
        encode(&r2t, &self.framing, &mut self.wbuf);
        Flow::Continue
    }

    pub(super) fn alloc_ttag(&mut self) -> u16 {
        loop {
            let t = self.next_ttag;
            // TTAG 0 is never used, so a zeroed H2CData cannot match.
            self.next_ttag = self.next_ttag.checked_add(1).unwrap_or(1);
            if !self.pending.contains_key(&t) {
                return t;
            }
        }
    }

    pub(super) fn on_h2c_data(&mut self, d: DataPdu) -> Flow {
        // FEI values are byte offsets into the H2CData header.
        let n = d.data.len();
        let err = match self.pending.get(&d.ttag) {
            None => Some((Fes::InvalidHeaderField, 10, "unknown TTAG")),
            Some(p) if p.cid != d.cccid => Some((Fes::InvalidHeaderField, 8, "CCCID mismatch")),
            Some(p) if d.datao as usize != p.received => {
                Some((Fes::DataTransferOutOfRange, 12, "DATAO out of sequence"))
            }
            Some(p) if p.received + n > p.len => {
                Some((Fes::DataTransferOutOfRange, 16, "H2CData beyond the R2T"))
            }
            Some(p) if p.received + n < p.len && d.last => Some((
                Fes::DataTransferOutOfRange,
                16,
                "LAST_PDU before the R2T was satisfied",
            )),
            Some(_) => None,
        };
        if let Some((fes, fei, reason)) = err {
            // The TermReq carries the offending header back; hosts refuse
            // one without it.
            let mut b = BytesMut::new();
            encode(&Pdu::H2CData(d), &self.framing, &mut b);
            let header = b.freeze().slice(..24);
            self.term(&PduError {
                fes,
                fei,
                header,
                reason,
            });
            return Flow::Close;
        }
        let Some(p) = self.pending.get_mut(&d.ttag) else {
            return Flow::Continue;
        };
        let whole = p.received == 0 && n == p.len;
        if !whole {
            // Gather the pieces (rare: MAXH2CDATA is our max I/O size).
            let buf = p.buf.get_or_insert_with(|| {
                let mut b = self.spare_bufs.pop().unwrap_or_default();
                b.reserve(p.len);
                b
            });
            buf.extend_from_slice(&d.data);
        }
        p.received += n;
        if p.received < p.len {
            return Flow::Continue;
        }
        if let Some(p) = self.pending.remove(&d.ttag) {
            if p.sqe.opc() == op::nvm::WRITE && p.sqe.fuse() == 0 {
                let slba = crate::nvme::fabrics::RwCommand::from_sqe(&p.sqe).slba;
                let r = match &p.buf {
                    Some(buf) => io::write(&p.ns, slba, buf),
                    // One PDU carried it all: straight from the receive buffer.
                    None => io::write(&p.ns, slba, &d.data),
                };
                self.complete(p.cid, r);
                self.recycle(p.buf);
            } else {
                let data = match p.buf {
                    Some(buf) => buf.freeze(),
                    None => d.data,
                };
                self.run_h2c(&p.sqe, p.ns, data);
            }
        }
        Flow::Continue
    }

    /// Keeps a gathering buffer for the next multi-PDU write.
    pub(super) fn recycle(&mut self, buf: Option<BytesMut>) {
        if let Some(mut b) = buf {
            if self.spare_bufs.len() < MAX_SPARE_BUFS {
                b.clear();
                self.spare_bufs.push(b);
            }
        }
    }
}
