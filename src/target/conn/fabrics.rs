//! Fabrics commands on a connection: Connect (creating or joining a
//! controller), Property Get / Set, Disconnect.

use super::*;

impl Conn {
    // ---- fabrics ---------------------------------------------------------

    pub(super) fn on_fabrics(&mut self, sqe: &Sqe, data: &Bytes) -> Flow {
        let cid = sqe.cid();
        match sqe.fctype() {
            op::fctype::CONNECT => {
                let r = self.connect(sqe, data);
                self.complete(cid, r);
                Flow::Continue
            }
            _ if self.queue.is_none() => {
                self.complete(cid, Reply::status(Status::COMMAND_SEQUENCE_ERROR));
                Flow::Continue
            }
            op::fctype::PROPERTY_GET => {
                let r = self.property(sqe, false);
                self.complete(cid, r);
                Flow::Continue
            }
            op::fctype::PROPERTY_SET => {
                let r = self.property(sqe, true);
                self.complete(cid, r);
                Flow::Continue
            }
            op::fctype::DISCONNECT => {
                self.complete(cid, Reply::ok());
                Flow::Close
            }
            _ => {
                self.complete(cid, Reply::status(Status::INVALID_OPCODE.with_dnr()));
                Flow::Continue
            }
        }
    }

    pub(super) fn connect(&mut self, sqe: &Sqe, data: &Bytes) -> Reply {
        // On an established queue only other fabrics commands are known:
        // a second Connect is Invalid Opcode, as in SPDK.
        if self.queue.is_some() {
            return Reply::status(Status::INVALID_OPCODE);
        }
        let c = Connect::from_sqe(sqe);
        let cd = match ConnectData::parse(data) {
            Ok(cd) => cd,
            Err(e) => return invalid_connect(true, e.offset()),
        };
        let Some(ss) = self.target.subsystem(&cd.subnqn) else {
            return invalid_connect(true, 256);
        };
        if !ss.host_allowed(&cd.hostnqn) {
            return invalid_host();
        }
        let listener = if ss.discovery {
            None
        } else {
            match ss.listener_at(self.local) {
                Some(l) => Some(l),
                // The subsystem does not listen where this host connected.
                None => return invalid_host(),
            }
        };
        // After the subsystem and access checks, before SQSIZE: SPDK's order
        // (`spdk_nvmf_ctrlr_connect`, then `_nvmf_ctrlr_connect`).
        if c.recfmt != 0 {
            return Reply::status(Status::CONNECT_INCOMPATIBLE_FORMAT);
        }
        if c.sqsize == 0 {
            return invalid_connect(false, 44);
        }
        let (ctrl, reply) = if c.qid == 0 {
            if c.sqsize as u32 > self.opts.max_aq_depth.saturating_sub(1) {
                return invalid_connect(false, 44);
            }
            if cd.cntlid != 0xFFFF {
                return invalid_connect(true, 16);
            }
            match self.create_controller(&ss, &cd, listener, c.kato) {
                Some(ctrl) => {
                    let r = Reply::dw0(ctrl.cntlid as u32);
                    (ctrl, r)
                }
                None => {
                    return Reply::status(Status::CONNECT_CTRL_BUSY);
                }
            }
        } else {
            if c.sqsize > self.opts.max_queue_depth.saturating_sub(1) {
                return invalid_connect(false, 44);
            }
            let Some(ctrl) = ss.config().controllers.get(&cd.cntlid).cloned() else {
                return invalid_connect(true, 16);
            };
            // The controller is found by subsystem and CNTLID alone: neither
            // SPDK nor Linux nvmet compares the host NQN or Host Identifier
            // of an I/O queue's Connect with the admin queue's, and hosts
            // exist that send a fresh HOSTID in each Connect.
            if !ctrl.is_ready() {
                return Reply::status(Status::COMMAND_SEQUENCE_ERROR);
            }
            // With ANA reporting, a controller's queues all use the listener
            // its admin queue came through, or ANA states would be mixed.
            let same_listener = match (&ctrl.listener, &listener) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => true,
            };
            if ss.ana_reporting && !same_listener {
                // SPDK names QID in the command (byte 42).
                return invalid_connect(false, 42);
            }
            {
                let mut st = ctrl.state();
                if c.qid > st.io_queues_granted || st.io_qids.contains(&c.qid) {
                    return invalid_connect(false, 42);
                }
                st.io_qids.insert(c.qid);
            }
            let r = Reply::dw0(ctrl.cntlid as u32);
            (ctrl, r)
        };
        let qpair_id = self.target.register_qpair(QpairInfo {
            subnqn: ss.nqn.clone(),
            cntlid: ctrl.cntlid,
            qid: c.qid,
            hostnqn: cd.hostnqn.clone(),
            listen: self.local,
            peer: self.peer,
            kill: self.kill.clone(),
        });
        self.queue = Some(Queue {
            qid: c.qid,
            sqsize: c.sqsize,
            cattr: c.cattr,
            ctrl,
            qpair_id,
        });
        reply
    }

    pub(super) fn create_controller(
        &self,
        ss: &Arc<Subsystem>,
        cd: &ConnectData,
        listener: Option<Arc<crate::target::subsystem::SubsysListener>>,
        kato: u32,
    ) -> Option<Arc<Controller>> {
        let mut cfg = ss.config();
        let cntlid = cfg.allocate_cntlid()?;
        let ctrl = Arc::new(Controller::new(
            cntlid,
            ss.clone(),
            cd.hostnqn.clone(),
            cd.hostid,
            listener,
            kato,
            self.opts.max_io_qpairs_per_ctrlr,
        ));
        cfg.controllers.insert(cntlid, ctrl.clone());
        Some(ctrl)
    }

    /// Property Get and Set exist on the admin queue only.
    pub(super) fn property(&self, sqe: &Sqe, set: bool) -> Reply {
        let Some(q) = self.queue.as_ref().filter(|q| q.qid == 0) else {
            return Reply::status(Status::INVALID_OPCODE);
        };
        if set {
            props::set(&q.ctrl, sqe)
        } else {
            props::get(&self.opts, &q.ctrl, sqe)
        }
    }
}

/// Connect Invalid Parameters: DW0 names the offending byte (IPO) and
/// whether it is in the Connect data (IATTR=1) or the SQE.
pub(super) fn invalid_connect(in_data: bool, ipo: u16) -> Reply {
    Reply {
        dw0: (ipo as u32) | ((in_data as u32) << 16),
        ..Reply::status(Status::CONNECT_INVALID_PARAMS)
    }
}

pub(super) fn invalid_host() -> Reply {
    Reply {
        dw0: 512 | (1 << 16),
        ..Reply::status(Status::CONNECT_INVALID_HOST)
    }
}
