#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (a few dozen small files
each) from the golden SPDK v24.09 vectors, our themes and scenarios, and
hand-built operation sequences for target_commands.

    python3 fuzz/make_corpus.py [--golden tests/golden/spdk-v24.09]

Re-running replaces the seeds with the same bytes (names are content hashes).
The input layouts are those documented at the top of each fuzz/harness/*.rs.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "fuzz")


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


class Corpus:
    def __init__(self, target, limit=48):
        self.dir = os.path.join(FUZZ, "corpus", target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.limit = limit
        self.seen = set()

    def add(self, data):
        if isinstance(data, str):
            data = data.encode()
        h = hashlib.sha1(data).hexdigest()[:16]
        if h in self.seen or len(self.seen) >= self.limit:
            return
        self.seen.add(h)
        with open(os.path.join(self.dir, h), "wb") as f:
            f.write(data)


def pdus(golden):
    out = []
    for name in ("howto", "digests"):
        path = os.path.join(golden, "pcap", name + ".pdus.jsonl")
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                r["file"] = name
                r["bytes"] = bytes.fromhex(r["hex"])
                out.append(r)
    return out


def rpc_files(golden):
    files = sorted(glob.glob(os.path.join(golden, "rpc", "*.json")))
    return [json.load(open(p)) for p in files]


# ---- pdu_decoder -------------------------------------------------------------------


def pdu_decoder(rows):
    c = Corpus("pdu_decoder")
    # One seed per distinct (direction, type, opcode, flags): the PDU alone,
    # decoded with the framing its connection negotiated.
    kinds = {}
    for r in rows:
        if r.get("io_sample") and r.get("data_len_cut"):
            continue
        key = (r["dir"], r["type"], r.get("opc"), r.get("fctype"), r["flags"], r.get("qid"))
        kinds.setdefault(key, r)
    for r in kinds.values():
        role = 0 if r["dir"] == "h2c" else 1
        hd = r["flags"] & 1
        dd = (r["flags"] >> 1) & 1
        cfg = role | (hd << 1) | (dd << 2) | 0x08 | 0x10
        c.add(bytes([cfg, 2, 0]) + r["bytes"])
    # Whole connection starts, IC included, in both directions, cut in two.
    streams = {}
    for r in rows:
        streams.setdefault((r["file"], r["conn"], r["dir"]), []).append(r)
    for (file, conn, d), rs in sorted(streams.items())[:12]:
        stream = b"".join(x["bytes"] for x in rs[:6])
        hd = any(x["flags"] & 1 for x in rs)
        role = 0 if d == "h2c" else 1
        # Framing is negotiated by the IC PDU in the stream: not preset, so
        # with digests the decoder will (rightly) refuse the first capsule
        # unless told; one seed each way.
        c.add(bytes([role | 0x10, 2, 1]) + u16(128 + 5) + stream)
        if hd:
            c.add(bytes([role | 0x02 | 0x04 | 0x08, 2, 0]) + b"".join(x["bytes"] for x in rs[1:6]))
    return c


# ---- nvme_structs ------------------------------------------------------------------


def parse_pdu(b):
    t, flags, hlen, pdo, plen = b[0], b[1], b[2], b[3], struct.unpack_from("<I", b, 4)[0]
    return t, flags, hlen, pdo, plen


def nvme_structs(rows):
    c = Corpus("nvme_structs", limit=64)
    # Track admin commands by (conn, cid) to label the C2HData answering them.
    cmds = {}
    for r in rows:
        b = r["bytes"]
        t, flags, hlen, pdo, plen = parse_pdu(b)
        if r["dir"] == "h2c" and t == 4:
            sqe = b[8:72]
            opc = sqe[0]
            cid = struct.unpack_from("<H", sqe, 2)[0]
            cmds[(r["file"], r["conn"], cid)] = sqe
            c.add(bytes([11]) + sqe)
            if opc == 0x7F and sqe[4] == 0x01 and pdo and plen > pdo:
                data = b[pdo:pdo + 1024]
                c.add(bytes([7]) + data)
        elif r["dir"] == "c2h" and t == 5:
            c.add(bytes([12]) + b[8:24])
        elif r["dir"] == "c2h" and t == 7 and r.get("qid") == 0:
            datal = struct.unpack_from("<I", b, 20)[0]
            data = b[pdo:pdo + datal]
            cccid = struct.unpack_from("<H", b, 8)[0]
            sqe = cmds.get((r["file"], r["conn"], cccid))
            if sqe is None:
                continue
            opc = sqe[0]
            cdw10 = struct.unpack_from("<I", sqe, 40)[0]
            if opc == 0x06:
                cns = cdw10 & 0xFF
                sel = {0: 1, 1: 0, 2: 5, 3: 6}.get(cns)
                if sel is not None:
                    c.add(bytes([sel]) + (u32(0) if sel == 5 else b"") + data)
            elif opc == 0x02:
                lid = cdw10 & 0xFF
                sel = {0x0C: 2, 0x70: 3, 0x04: 10, 0x01: 8, 0x02: 9}.get(lid)
                if sel is not None:
                    c.add(bytes([sel]) + data)
                    if sel == 3 and len(data) >= 2048:
                        c.add(bytes([4]) + data[1024:2048])
                c.add(bytes([13]) + u64(0) + bytes([2]) + u16(len(data)) + data)
    return c


# ---- rpc_request -------------------------------------------------------------------


def rpc_request(files):
    c = Corpus("rpc_request")
    raws = [f["request_raw"].encode() for f in files if f.get("request_raw")]
    for raw in raws[:36]:
        c.add(bytes([0, 0]) + raw)
    # Several requests back to back, cut at odd places; small limits.
    joined = b"".join(raws[:5])
    c.add(bytes([0, 3]) + u16(1) + u16(17) + u16(200) + joined)
    c.add(bytes([2, 0]) + raws[0])
    c.add(bytes([3, 1]) + u16(9) + b"\n".join(raws[3:8]))
    c.add(bytes([4, 0]) + b'{"jsonrpc":"2.0","method":"x",' + raws[1])
    c.add(bytes([0, 0]) + b'{"jsonrpc":"2.0","method":"a","id":1.50e1,"params":[1e400]}')
    c.add(bytes([0, 0]) + b'[{"jsonrpc":"2.0","method":"a","id":"\\ud83d\\ude00"}]')
    c.add(bytes([0, 0]) + b'{"method":"a","method":"b","id":-0}')
    return c


# ---- rpc_methods -------------------------------------------------------------------


def methods_list():
    src = open(os.path.join(FUZZ, "harness/rpc_methods.rs")).read()
    body = src.split("pub const METHODS")[1].split("];")[0]
    return re.findall(r'\(App::(Target|Initiator), "([a-z_]+)"\)', body)


def selector(methods, app, method):
    i = methods.index((app, method))
    while i == 10:
        i += len(methods)
    return bytes([i])


def rpc_methods(files):
    c = Corpus("rpc_methods")
    methods = methods_list()
    apps = {"nvmf_tgt": "Target", "bdevperf": "Initiator"}
    lines = []
    for f in files:
        req = f.get("request")
        if not isinstance(req, dict):
            continue
        app = apps.get(f.get("app"))
        m = req.get("method")
        if app is None or (app, m) not in methods:
            continue
        params = req.get("params")
        text = json.dumps(params, separators=(",", ":")) if params is not None else ""
        lines.append(selector(methods, app, m) + text.encode())
    # The HOWTO in one input: target half, then the initiator's attaches
    # (first, so the per-corpus limit never drops them).
    c.add(b"\n".join(lines[:24]))
    c.add(b"\n".join(lines[:12] + lines[16:32]))
    for line in lines:
        c.add(line)
    return c


# ---- target_commands ---------------------------------------------------------------

IC_REQ, CONNECT, PROP_GET, PROP_SET, ADMIN, IO, H2C, RAW, FAB, SWITCH, TERM, RAW_SQE, SET_ANA, HANDSHAKE = range(14)


def hs(v):
    return bytes([HANDSHAKE, v])


def identify(cns, nsid_sel=0):
    # opc IDENTIFY, nsid selector, cns pick, cntid, sgl transport(4096), no data
    return bytes([ADMIN, 0, nsid_sel, cns, 0, 0, 0])


def get_log(lid_idx, len_sel=0, nsid_sel=0):
    # opc GLP, nsid, lid pick, len sel, lpo flag, lsp, rae, sgl flag, data flag
    return bytes([ADMIN, 2, nsid_sel, lid_idx, len_sel, 0, 0, 0, 0, 0])


def features(get, fid_idx, cdw11):
    return bytes([ADMIN, 5 if get else 4, 0, fid_idx, 0]) + u32(cdw11) + bytes([0, 0])


def admin_other(opc_idx, cdws=(0,) * 6):
    return bytes([ADMIN, opc_idx, 0]) + b"".join(u32(x) for x in cdws) + bytes([0, 0])


def read(ns_sel=0, slba_sel=0, nlb_sel=2):
    return bytes([IO, 0, ns_sel, slba_sel, nlb_sel, 0, 0, 0])


def write_r2t(ns_sel=0, nlb_sel=2):
    return bytes([IO, 2, ns_sel, 0, nlb_sel, 0, 0, 0, 0])


def write_icd(nlb_sel=0, fill=0x33):
    return bytes([IO, 2, 0, 0, nlb_sel, 0, 0, 1, fill])


def h2c(mode=0, fill=0x5A):
    return bytes([H2C, 0, fill, mode])


def target_commands(rows):
    c = Corpus("target_commands")
    admin = hs(0x00)
    c.add(admin + identify(1) + identify(0, 2) + identify(2) + identify(3, 2))
    c.add(admin + get_log(4, 3) + get_log(1) + get_log(2, 1) + get_log(3))
    c.add(admin + features(True, 0, 0) + features(False, 0, 0x00030003) + features(False, 2, 10000)
          + admin_other(6) + admin_other(8))
    c.add(admin + admin_other(7) + admin_other(7) + bytes([SET_ANA, 1, 0]) + get_log(4, 3, 0))
    io_pair = admin + bytes([SWITCH, 1]) + hs(0x04)
    c.add(io_pair + read() + write_r2t() + h2c() + read())
    c.add(io_pair + write_icd() + read(0, 0, 0) + bytes([IO, 4, 0, 0, 0, 0, 0, 0])
          + bytes([IO, 5, 0, 0, 3, 0, 0, 0]))
    c.add(io_pair + write_r2t(3, 3) + h2c(2) + read(3, 0, 3))
    c.add(io_pair + bytes([IO, 6, 0, 0, 0, 0, 0, 0]) + bytes(16) + read(0, 3, 0)
          + bytes([IO, 0, 0, 4]) + u64(1 << 40) + bytes([0, 0, 0, 0]))
    c.add(hs(0x03) + identify(1) + bytes([SWITCH, 1]) + hs(0x07) + read() + write_r2t() + h2c())
    c.add(hs(0x43) + bytes([SWITCH, 1]) + hs(0x44) + read(0, 0, 3) + write_r2t() + h2c(2))
    c.add(hs(0x80) + bytes([SWITCH, 1]) + hs(0x84) + read())
    c.add(hs(0x10) + get_log(5) + get_log(5, 2) + identify(1))
    c.add(hs(0x08) + identify(1) + identify(0, 2) + bytes([SWITCH, 1]) + hs(0x0C) + read())
    # Step by step: ICReq, Connect, CC.EN, CSTS, CAP.
    steps = (bytes([IC_REQ, 0, 0, 0]) + u32(0)
             + bytes([CONNECT, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
             + bytes([PROP_SET, 0, 0, 0])
             + bytes([PROP_GET, 3, 0, 0])
             + bytes([PROP_GET, 0, 1, 0]))
    c.add(steps)
    c.add(steps + identify(1) + bytes([FAB, 0]) + u16(0) + u32(0) + u32(0))
    c.add(bytes([CONNECT, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]))
    c.add(bytes([IC_REQ, 0, 0, 0]) + u32(0) + bytes([IC_REQ, 0, 0, 0]) + u32(0))
    c.add(admin + bytes([TERM, 1]) + u32(0) + bytes([8]) + bytes(8))
    c.add(admin + bytes([RAW_SQE]) + bytes([0x06, 0x40, 0x99, 0x00, 1, 0, 0, 0]) + bytes(56) + u16(0))
    c.add(admin + bytes([PROP_SET, 2, 0, 0]) + identify(1) + bytes([PROP_SET, 3, 0, 0]))
    # Raw H2C bytes of SPDK's own host from the capture (first PDUs of a
    # connection), as RAW operations of at most 4 KiB.
    streams = {}
    for r in rows:
        if r["dir"] == "h2c":
            streams.setdefault((r["file"], r["conn"]), []).append(r["bytes"])
    for key in sorted(streams)[:6]:
        data = b""
        for b in streams[key][:8]:
            if len(b) < 4096:
                data += bytes([RAW]) + u16(len(b)) + b
        c.add(data)
    return c


# ---- theme_parser / scenario_parser --------------------------------------------------


# ---- hostile_target --------------------------------------------------------------
# Layout (fuzz/harness/hostile_target.rs): digests byte (bit 0 header, bit 1
# data), op count (% 5), per op a write flag and a u64 LBA, then the tape:
# per target PDU a choice byte (% 16: 0-9 pass, 10-12 tamper, 13 C2HTermReq,
# 14 PDU + raw bytes, 15 raw bytes) and that choice's own bytes.


def hostile_target():
    c = Corpus("hostile_target")
    ops = bytes([2, 1]) + u64(5) + bytes([0]) + u64(5)
    honest = bytes(400)
    for digests in range(4):
        c.add(bytes([digests]) + ops + honest)
    # One lie at the k-th PDU of an otherwise honest controller.
    for k in (0, 1, 2, 4, 6, 9, 12, 16, 20):
        for lie in (
            bytes([10, 0]) + u16(0),                  # ICResp pfv / CQE cid
            bytes([11, 1]) + bytes([0, 0x82]),        # CQE status 0/0x82
            bytes([12, 5, 3]) + u16(77) + bytes([0xFF]) + u16(3) + bytes([0]) + u16(512) + bytes([9]),
            bytes([13]) + u16(1) + u32(0) + bytes(24),
            bytes([14, 16]) + bytes(range(16)),
            bytes([15, 40]) + bytes([0xFF] * 40),
        ):
            c.add(bytes([0]) + ops + bytes(k) + lie + honest)
    return c


def theme_parser():
    c = Corpus("theme_parser")
    for p in sorted(glob.glob(os.path.join(ROOT, "themes/*.json"))):
        c.add(open(p, "rb").read())
    c.add('{"title": {"fg": "yellow", "bg": "#102030", "modifiers": ["bold", "italic"]}}')
    c.add('{"ana": {"optimized": {"fg": "grean"}}}')
    c.add('{"header": {"fg": 12}}')
    c.add('{"base": {"fg": "indexed(42)", "bg": "rgb(1,2,3)"}}')
    c.add('{"nope": {}}')
    c.add('{"popup": {"modifiers": ["reversed", "reversed", "blink"]}, "ana": {}}')
    c.add("[]")
    c.add('{"dim": {"fg": "Reset", "bg": "DarkGray"}}')
    return c


def scenario_parser():
    c = Corpus("scenario_parser")
    steps = [
        {"app": "nvmf_tgt", "method": "nvmf_create_transport",
         "params": {"trtype": "tcp", "io_unit_size": 8192, "c2h_success": False}},
        {"app": "nvmf_tgt", "method": "nvmf_create_subsystem",
         "params": {"nqn": "nqn.2022-02.io.spdk:cnode0", "serial_number": "SPDK00000000000001",
                    "allow_any_host": True, "ana_reporting": True}},
        {"app": "nvmf_tgt", "method": "bdev_malloc_create",
         "params": {"num_blocks": 131072, "block_size": 512, "name": "Malloc0"}},
        {"app": "nvmf_tgt", "method": "nvmf_subsystem_add_ns",
         "params": {"nqn": "nqn.2022-02.io.spdk:cnode0", "namespace": {"bdev_name": "Malloc0"}}},
        {"app": "nvmf_tgt", "method": "nvmf_subsystem_add_listener",
         "params": {"nqn": "nqn.2022-02.io.spdk:cnode0",
                    "listen_address": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "4420"}}},
        {"app": "bdevperf", "method": "bdev_nvme_set_options", "params": {"bdev_retry_count": -1}},
        {"app": "bdevperf", "method": "bdev_nvme_attach_controller",
         "params": {"name": "Nvme0", "trtype": "tcp", "traddr": "127.0.0.1", "adrfam": "ipv4",
                    "trsvcid": "4420", "subnqn": "nqn.2022-02.io.spdk:cnode0"}},
    ]
    c.add(json.dumps(steps, indent=2))
    c.add(json.dumps(steps[:3]))
    c.add(json.dumps([{"app": "bdevperf", "method": "bdev_get_bdevs"}]))
    c.add(json.dumps([{"app": "nvmf_tgt", "method": "x", "params": None}]))
    c.add('[{"app":"oops","method":"m"}]')
    c.add('[{"app":"nvmf_tgt"}]')
    c.add('[{"app":"nvmf_tgt","method":"m","extra":1}]')
    c.add("[]")
    c.add('{"app":"nvmf_tgt","method":"m"}')
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default=os.path.join(ROOT, "tests", "golden", "spdk-v24.09"))
    a = ap.parse_args()
    rows = pdus(a.golden)
    files = rpc_files(a.golden)
    for corpus in (pdu_decoder(rows), nvme_structs(rows), rpc_request(files), rpc_methods(files),
                   target_commands(rows), hostile_target(), theme_parser(), scenario_parser()):
        print(f"{os.path.relpath(corpus.dir, ROOT)}: {len(corpus.seen)} files")


if __name__ == "__main__":
    main()
