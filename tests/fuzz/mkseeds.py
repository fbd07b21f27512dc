#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the committed seed corpora of tests/fuzz (run from the repository root:
python3 tests/fuzz/mkseeds.py [TARGET...]). Every seed is a valid example of what the
target parses, plus a few edge cases; the fuzzer finds the rest."""
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

OUT = "tests/fuzz/corpus"


def save(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- p9: [mode byte] then T-messages -------------------------------------------------
def s9(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<H", len(b)) + b


def t9(typ, body, tag=1):
    return struct.pack("<IBH", 7 + len(body), typ, tag) + body


def version(msize=65536, v="9P2000.L"):
    return t9(100, struct.pack("<I", msize) + s9(v), tag=0xffff)


def attach(fid=0):
    return t9(104, struct.pack("<II", fid, 0xffffffff) + s9("root") + s9("") + struct.pack("<I", 0))


def walk(fid, newfid, *names):
    return t9(110, struct.pack("<IIH", fid, newfid, len(names)) + b"".join(s9(n) for n in names))


def lopen(fid, flags=0):
    return t9(12, struct.pack("<II", fid, flags))


def read(fid, off=0, count=4096):
    return t9(116, struct.pack("<IQI", fid, off, count))


def readdir(fid, off=0, count=4096):
    return t9(40, struct.pack("<IQI", fid, off, count))


def getattr_(fid):
    return t9(24, struct.pack("<IQ", fid, 0x3fff))


def clunk(fid):
    return t9(120, struct.pack("<I", fid))


def lcreate(fid, name, flags=2, mode=0o644):
    return t9(14, struct.pack("<I", fid) + s9(name) + struct.pack("<III", flags, mode, 0))


def write(fid, data, off=0):
    return t9(118, struct.pack("<IQI", fid, off, len(data)) + data)


def mkdir(fid, name, mode=0o755):
    return t9(72, struct.pack("<I", fid) + s9(name) + struct.pack("<II", mode, 0))


def symlink(fid, name, target):
    return t9(16, struct.pack("<I", fid) + s9(name) + s9(target) + struct.pack("<I", 0))


def unlinkat(fid, name, flags=0):
    return t9(76, struct.pack("<I", fid) + s9(name) + struct.pack("<I", flags))


def renameat(ofid, oname, nfid, nname):
    return t9(74, struct.pack("<I", ofid) + s9(oname) + struct.pack("<I", nfid) + s9(nname))


def link(dfid, fid, name):
    return t9(70, struct.pack("<II", dfid, fid) + s9(name))


def setattr_(fid, valid, mode=0o600, size=0, mtime=0):
    return t9(26, struct.pack("<IIIIIQQQQQ", fid, valid, mode, 0, 0, size, 0, 0, mtime, 0))


def p9():
    hello = version() + attach(0)
    save("p9", "ro-read", b"\x01" + hello + walk(0, 1, "file") + getattr_(1) + lopen(1) +
         read(1) + clunk(1))
    save("p9", "ro-readdir", b"\x01" + hello + walk(0, 1) + lopen(1, 0o200000) + readdir(1) +
         readdir(1, 3) + t9(8, struct.pack("<I", 0)) + clunk(1))
    save("p9", "ro-deep-readlink", b"\x01" + hello + walk(0, 2, "dir", "sub", "deep") +
         getattr_(2) + walk(0, 3, "up") + t9(22, struct.pack("<I", 3)) + lopen(3))
    save("p9", "ro-refused", b"\x01" + hello + walk(0, 1) + lcreate(1, "new") + mkdir(0, "d") +
         unlinkat(0, "file") + renameat(0, "file", 0, "moved") + setattr_(0, 1))
    save("p9", "escape", b"\x00" + hello + walk(0, 1, "..") + walk(0, 2, "dir", "..", "..") +
         walk(0, 3, "root", "etc") + walk(0, 4, "up") + lopen(4) + walk(0, 5, "dir/sub") +
         walk(0, 6, "dir", "back", "back") + lcreate(0, "../escape"))
    save("p9", "rw-create-write", b"\x00" + hello + walk(0, 1) + lcreate(1, "new") +
         write(1, b"written by the guest\n") + read(1) + t9(50, struct.pack("<II", 1, 0)) +
         clunk(1))
    save("p9", "rw-tree-changes", b"\x00" + hello + mkdir(0, "made") + walk(0, 1, "made") +
         symlink(1, "ln", "../file") + walk(0, 2, "file") + link(1, 2, "hard") +
         renameat(0, "empty", 1, "moved") + unlinkat(1, "ln") + unlinkat(0, "made", 0x200) +
         setattr_(2, 0x1 | 0x8, 0o600, 3))
    save("p9", "rw-lock", b"\x00" + hello + walk(0, 1, "file") + lopen(1, 2) +
         t9(52, struct.pack("<IBIQQI", 1, 1, 0, 0, 0, 1) + s9("guest")) +
         t9(54, struct.pack("<IBQQI", 1, 1, 0, 0, 1) + s9("guest")))
    save("p9", "size-lies", b"\x00" + version() + struct.pack("<IBH", 0xffff, 110, 1) + b"\0" * 9)
    save("p9", "small-reply", b"\x0f" + hello + walk(0, 1, "file") + lopen(1) + read(1))



# ---- virtio_console / virtio_net: programs of virtio_fuzz.h operations ------------------
def v_wr(off, val, width=2):  # width index: 0=1 1=2 2=4 5=8 bytes
    return bytes([0 | width << 5]) + struct.pack("<HQ", off, val)


def v_rd(off, width=2):
    return bytes([1 | width << 5]) + struct.pack("<H", off)


def v_mem(gpa, data):
    return bytes([2]) + struct.pack("<I", gpa)[:3] + bytes([len(data) - 1]) + data


def v_start(features, qexp=3):
    return bytes([3]) + struct.pack("<IB", features, qexp)


def v_desc(q, slot, off, length, flags=0, nxt=0):  # buffer at VF_DATA + off
    return bytes([4, q, slot]) + struct.pack("<HHBB", off, length, flags, nxt)


def v_avail(q, head, kick=True):
    return bytes([5 if kick else 0x85, q, head])


def v_kick(q):
    return bytes([6, q])


DATA = 0x10000


def virtio():
    ctl = lambda pid, ev, val: struct.pack("<IHH", pid, ev, val)
    hs = v_start(2)  # MULTIPORT
    for i in range(4):  # control receive buffers
        hs += v_desc(2, i, 0x100 * i, 64, 2) + v_avail(2, i, kick=(i == 3))
    hs += v_mem(DATA + 0x1000, ctl(0xffffffff, 0, 1)) + v_desc(3, 0, 0x1000, 8) + v_avail(3, 0)
    hs += v_mem(DATA + 0x1010, ctl(1, 3, 1)) + v_desc(3, 1, 0x1010, 8) + v_avail(3, 1)
    hs += v_mem(DATA + 0x1020, ctl(1, 6, 1)) + v_desc(3, 2, 0x1020, 8) + v_avail(3, 2)
    save("virtio_console", "handshake", hs)
    data = hs + v_mem(DATA + 0x2000, b"hello ") + v_mem(DATA + 0x2100, b"world")
    data += v_desc(5, 0, 0x2000, 6, 1, 1) + v_desc(5, 1, 0x2100, 5) + v_avail(5, 0)
    save("virtio_console", "port-data", data)
    inp = hs + v_desc(4, 0, 0x3000, 64, 2) + v_avail(4, 0) + bytes([8, 1]) + struct.pack("<H", 3) + b"abc"
    inp += bytes([9, 1, 4]) + b"more" + bytes([10, 1]) + bytes([11, 0]) + struct.pack("<HH", 80, 24)
    save("virtio_console", "port-input", inp)
    regs = v_rd(0) + v_rd(4) + v_rd(8) + v_wr(0x70, 3) + v_wr(0x14, 0) + v_rd(0x10) + v_rd(0x100, 0)
    regs += v_wr(0x30, 1) + v_rd(0x34) + v_wr(0x38, 3) + v_wr(0x44, 1) + v_wr(0x70, 0) + v_rd(0x60) + v_rd(0xfc)
    save("virtio_console", "registers", regs)
    loop = hs + v_desc(5, 3, 0, 16, 1, 3) + v_avail(5, 3) + v_wr(0x70, 0) + v_start(2)
    save("virtio_console", "desc-loop-reset", loop)
    ind = hs + v_mem(DATA + 0x4000, struct.pack("<QIHH", DATA + 0x2000, 6, 0, 0))
    ind += bytes([0x84, 5, 0]) + struct.pack("<QHBB", DATA + 0x4000, 16, 4, 0) + v_avail(5, 0)
    save("virtio_console", "indirect", ind)

    mrg = 1 << 15
    tx = v_start(mrg | 1 << 5) + v_mem(DATA + 0x100, b"ethernet frame")
    tx += v_desc(1, 0, 0, 12, 1, 1) + v_desc(1, 1, 0x100, 14) + v_avail(1, 0)
    tx += v_desc(1, 2, 0, 4) + v_avail(1, 2)  # shorter than the header
    save("virtio_net", "transmit", tx)
    rx = v_start(mrg)
    for i in range(4):
        rx += v_desc(0, i, 0x1000 * i, 2048, 2) + v_avail(0, i, kick=False)
    rx += v_kick(0) + bytes([0x88]) + struct.pack("<H", 1506)
    rx += bytes([8]) + struct.pack("<H", 60) + bytes(12) + b"\xff" * 48
    save("virtio_net", "receive-mergeable", rx)
    plain = v_start(0) + bytes([0x88]) + struct.pack("<H", 3000) + v_desc(0, 0, 0, 1600, 2) + v_avail(0, 0) + bytes([9])
    save("virtio_net", "receive-plain-waits", plain)
    bad = v_start(mrg) + v_desc(0, 0, 0, 2048, 0) + v_avail(0, 0) + bytes([0x88]) + struct.pack("<H", 100)
    save("virtio_net", "readable-rx-buffer", bad)
    save("virtio_net", "registers", v_rd(8) + v_rd(0x100, 0) + v_rd(0x104, 1) + v_wr(0x70, 3) + v_wr(0x24, 1) + v_rd(0x10))


# ---- control: [mode] then a control stream (0), attach records (1) or a log file (2) -----
def ctlrec(typ, arg=0, value=0, magic=0x41525257):
    return struct.pack("<IHHIIQ", magic, typ, 0, arg, 0, value)


def srec(stream, data, t=1700000000123456789):
    return struct.pack("<BBHIQ", 0xa7, stream, 0, len(data), t) + data


def control():
    save("control", "guest-records", b"\x00\x07" + ctlrec(1, 0, 123) + ctlrec(2, 42, 456) + ctlrec(4) + ctlrec(3, 7))
    save("control", "guest-bad-magic", b"\x00\x01" + ctlrec(1) + ctlrec(3, 0, 0, 0x12345678) + ctlrec(1))
    save("control", "guest-exit-range", b"\x00\x00" + ctlrec(3, 256) + ctlrec(16))
    save("control", "attach", b"\x01" + srec(1, b"out\n") + srec(2, b"err\n") + srec(3, struct.pack("<i", 3)))
    save("control", "attach-cut", b"\x01" + srec(1, b"partial record")[:20])
    save("control", "attach-huge-len", b"\x01" + struct.pack("<BBHIQ", 0xa7, 1, 0, 0xffffffff, 0))
    log = srec(1, b"line 1\nline 2\n") + srec(2, b"oops\n") + srec(1, b"no newline") + srec(1, b" end\n")
    save("control", "logs", b"\x02\x00" + log)
    save("control", "logs-tail-timestamps", b"\x02\x07" + log)
    save("control", "logs-damaged", b"\x02\x0b" + log[:40] + b"\x00" * 16 + log[40:])


# ---- snapshot: [mode] then a state file ---------------------------------------------------
def section(tag, index, data):
    return struct.pack("<IIQ", tag, index, len(data)) + data + bytes((8 - len(data) % 8) % 8)


def statefile(body, version=1):
    import zlib
    return b"ARROWSNP" + struct.pack("<IIQII", version, 32, len(body), zlib.crc32(body), 0) + body


def snapshot():
    meta = struct.pack("<QIIIII3III", 0x20000, 2, 2, 3, 0, 0x906ea, 0x756e6547, 0x49656e69, 0x6c65746e, 0, 0)
    assert len(meta) == 48
    queues = b""
    for q in range(16):
        if q < 8:
            base = 0x2000 * q
            queues += struct.pack("<HHHBBQQQ", 8, 0, 0, 1, 0, base, base + 0x1000, base + 0x1800)
        else:
            queues += bytes(32)
    mmio = struct.pack("<IIIIIII", 1, 15, 0, 0, 0, 0, 0) + bytes(4) + struct.pack("<Q", (1 << 32) | 2) + queues
    assert len(mmio) == 552
    ports = b""
    for name, console in ((b"console", 1), (b"arrow.stdout", 0), (b"arrow.stdin", 0)):
        pend = b"pending input" if name == b"arrow.stdin" else b""
        ports += name.ljust(32, b"\0") + bytes([console, 1, 1, 1, 0]) + bytes(3) + struct.pack("<HHI", 24, 80, len(pend)) + pend.ljust(4096, b"\0")
    ports += bytes(4144 * 4)
    ctrl = struct.pack("<I", 8) + struct.pack("<IHH", 1, 6, 1).ljust(40, b"\0")
    ctrl += bytes(44 * 35)
    con = struct.pack("<IIII", 1, 3, 1, 1) + ports + ctrl
    assert len(con) == 30608, len(con)
    body = section(1, 0, meta) + section(4, 0, mmio) + section(5, 0, con) + section(2, 0, bytes(64)) + section(3, 0, b"vcpu") + section(8, 0, bytes(32))
    save("snapshot", "console-restore", b"\x00" + statefile(body))
    save("snapshot", "meta-only", b"\x00" + statefile(section(1, 0, meta)))
    save("snapshot", "other-version", b"\x00" + statefile(section(1, 0, meta), 2))
    save("snapshot", "bad-crc", b"\x00" + statefile(body)[:-1] + b"\x01")
    save("snapshot", "section-len-lies", b"\x01" + statefile(struct.pack("<IIQ", 1, 0, 1 << 40) + meta))
    save("snapshot", "truncated", b"\x00" + statefile(body)[:20])


# ---- arrowfile, runcfg, layer, oci ----------------------------------------------------------
def arrowfile():
    save("arrowfile", "full", json.dumps({"program": "bin/app", "args": ["--port", "80"],
         "env": {"MODE": "prod", "EMPTY": ""}, "workdir": "/srv", "user": "1000:1000",
         "expose": [80, "53/udp"], "files": {"conf/app.conf": "/etc/app.conf"}}).encode())
    save("arrowfile", "env-list", json.dumps({"program": "app", "env": ["A=1", "B=2"]}).encode())
    save("arrowfile", "escape", json.dumps({"program": "../outside", "files": {"/etc/passwd": "/x"}}).encode())
    save("arrowfile", "bad-key", b'{"program": "app", "entrypoint": "x"}')
    save("arrowfile", "bad-types", b'{"program": "app", "args": [1, 2], "expose": ["99999", 0]}')
    save("arrowfile", "broken-json", b'{"program": "app", ')


def rcfg(*recs):
    return b"".join(t.encode() + v.encode() + b"\0" for t, v in recs)


def runcfg():
    cfg = rcfg(("p", "/app/hello"), ("a", "hello"), ("a", "with space"), ("a", "ütf-8 \"q\""),
               ("e", "PATH=/bin"), ("e", "A=b=c"), ("w", "/tmp"), ("u", "1000"), ("g", "50"),
               ("h", "arrow-1"), ("t", "1"), ("i", "10.201.0.5/16"), ("r", "10.201.0.1"),
               ("d", "10.201.0.1"), ("H", "10.201.0.6 peer"), ("v", "vol0:ro:/data"), ("T", "1"))
    ident = rcfg(("h", "clone-1"), ("i", "10.201.0.9/16"), ("r", "10.201.0.1"), ("d", "1.1.1.1"),
                 ("H", "10.201.0.6 peer"), ("m", "02:00:0a:c9:00:09"), ("s", "ab" * 32))
    save("runcfg", "full-and-identity", struct.pack("<H", len(cfg)) + cfg + ident)
    minimal = rcfg(("p", "/p"), ("a", "p"))
    save("runcfg", "minimal", struct.pack("<H", len(minimal)) + minimal)
    save("runcfg", "identity-with-program", struct.pack("<H", len(minimal)) + minimal + rcfg(("p", "/evil")))
    save("runcfg", "bad-uid", struct.pack("<H", 40) + rcfg(("p", "/p"), ("a", "p"), ("u", "-1"), ("g", "99999999999")))
    save("runcfg", "no-nul", struct.pack("<H", 9) + b"p/app\0aap")


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt) as t:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                t.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o755
                t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def layer():
    base = [("usr", "dir", None), ("usr/bin", "dir", None), ("usr/bin/app", "file", b"\x7fELF app"),
            ("etc/app.conf", "file", b"key=value\n"), ("usr/bin/sh", "sym", "app"),
            ("usr/bin/app2", "hard", "usr/bin/app")]
    save("layer", "plain.tar", tar_bytes(base))
    save("layer", "gnu.tar.gz", gzip.compress(tar_bytes(base, tarfile.GNU_FORMAT), mtime=0))
    save("layer", "dotdot.tar", tar_bytes([("a/../../etc/passwd", "file", b"x")]))
    save("layer", "whiteout.tar", tar_bytes([("etc/.wh.app.conf", "file", b"")]))
    save("layer", "abs-hardlink.tar", tar_bytes([("x", "hard", "/etc/shadow"), ("./y", "file", b"y")]))
    save("layer", "damaged.tar.gz", gzip.compress(tar_bytes(base), mtime=0)[:200])


def oci():
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Entrypoint": ["/usr/bin/app"], "Cmd": ["--serve"], "Env": ["A=1"],
                                    "WorkingDir": "/", "User": "1000"},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "@C", "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": "sha256:" + "2" * 64, "size": 100}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": "@M", "size": 1, "annotations": {"org.opencontainers.image.ref.name": "fuzz:latest"}}]}).encode()
    save("oci", "image", config + b"\0" + manifest + b"\0" + index + b"\0fuzz")
    save("oci", "by-registry-ref", config + b"\0" + manifest + b"\0" + index + b"\0127.0.0.1:5000/demo/app:v1")
    docker = manifest.replace(b"application/vnd.oci.image.manifest.v1+json", b"application/vnd.docker.distribution.manifest.v2+json")
    save("oci", "docker-manifest", config + b"\0" + docker + b"\0" + index + b"\0sha256:")
    save("oci", "arm64", config.replace(b"amd64", b"arm64") + b"\0" + manifest + b"\0" + index + b"\0fuzz:latest")
    save("oci", "not-objects", b"[]\0null\0{\"manifests\": 3}\0UPPER")

# ---- virtio_vsock: the same operations; 8..11 the host service (tests/fuzz/virtio_vsock.c) --
def vsock_hdr(sport, dport, op, length=0, buf_alloc=65536, fwd=0, src=3, dst=2, typ=1, flags=0):
    return struct.pack("<QQIIIHHIII", src, dst, sport, dport, length, typ, op, flags, buf_alloc, fwd)


def vsock():
    hs = v_start(1)
    for i in range(4):  # receive buffers: header + 64 bytes
        hs += v_desc(0, i, 0x1000 + 0x100 * i, 108, 2) + v_avail(0, i, kick=(i == 3))
    hs += v_desc(2, 0, 0x2000, 4, 2) + v_avail(2, 0)  # an event buffer
    req = hs + v_mem(DATA, vsock_hdr(1000, 5, 1)) + v_desc(1, 0, 0, 44) + v_avail(1, 0) + bytes([9, 0])
    save("virtio_vsock", "connect", req)
    rw = req + v_mem(DATA + 0x100, vsock_hdr(1000, 5, 5, 5) + b"hello") + v_desc(1, 1, 0x100, 49)
    rw += v_avail(1, 1) + bytes([8, 0]) + struct.pack("<H", 5) + b"world" + bytes([9, 0])
    rw += v_mem(DATA + 0x200, vsock_hdr(1000, 5, 7)) + v_desc(1, 2, 0x200, 44) + v_avail(1, 2)
    rw += bytes([10, 0]) + bytes([11])
    save("virtio_vsock", "data-both-ways", rw)
    bad = hs + v_mem(DATA, vsock_hdr(1000, 99, 1)) + v_desc(1, 0, 0, 44) + v_avail(1, 0)
    bad += v_mem(DATA + 0x100, vsock_hdr(1, 5, 42)) + v_desc(1, 1, 0x100, 44) + v_avail(1, 1)
    bad += v_mem(DATA + 0x200, vsock_hdr(1, 5, 5, 60000)) + v_desc(1, 2, 0x200, 44) + v_avail(1, 2)
    bad += v_mem(DATA + 0x300, vsock_hdr(1, 5, 1, src=7)) + v_desc(1, 3, 0x300, 44) + v_avail(1, 3)
    save("virtio_vsock", "refused-and-bad", bad + bytes([9, 0]))


# -----------------------------------------------------------------------------------------
TARGETS = {"arrowfile": arrowfile, "runcfg": runcfg, "layer": layer, "oci": oci, "control": control, "snapshot": snapshot, "p9": p9, "virtio": virtio, "virtio_vsock": vsock}

if __name__ == "__main__":
    for t in sys.argv[1:] or TARGETS:
        TARGETS[t]()
