#!/usr/bin/python3
"""Boot one throwaway guest inside a helper VM session and say whether it worked.

    scripts/canary.py arrowh|qemu [--why WHY]

arrowh: `arrow run --rm /bin/busybox true` with a state root of its own.
qemu:   QEMU -M microvm booting the same vmlinux with the same initramfs bytes (captured from
        `arrow run`, as bench/boot.py does); it worked when ainit's EXIT record with status
        0 arrived on the control port. This is the peer that tells a bad helper session
        (nothing boots, whoever the VMM is) from an arrowh failure (docs/testing.md).

Exit status 0 when the guest booted and ended, 1 otherwise. Appends a "canary" event to
$ARROW_TEST_RESULTS (scripts/resultlog.py). $ARROW_TEST_QEMU_CANARY, when set, is a command
run instead of QEMU (the harness's own tests use it).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resultlog import excerpt, write_event  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
from qemu_peer import control_records, qemu_cmd  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARROW = os.environ.get("ARROW_TEST_ARROW", os.path.join(ROOT, "build/bin/arrow"))
LIMIT = int(os.environ.get("ARROW_TEST_CANARY_S", "150"))


def run(cmd, **kw):
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=LIMIT, **kw)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return None, f"no end within {LIMIT} s\n" + out.decode(errors="replace")


def exit_status(ctl):
    """ainit's exit status from a control-port capture, None if no EXIT record came."""
    try:
        data = open(ctl, "rb").read()
    except OSError:
        return None
    return next((arg for name, arg, _ in control_records(data) if name == "exit"), None)


def arrowh_canary(tmp):
    env = dict(os.environ, ARROW_ROOT=os.path.join(tmp, "root"))
    rc, out = run([ARROW, "run", "--rm", "/bin/busybox", "true"], env=env)
    return rc == 0, out


def qemu_canary(tmp):
    if os.environ.get("ARROW_TEST_QEMU_CANARY"):
        rc, out = run(["sh", "-c", os.environ["ARROW_TEST_QEMU_CANARY"]])
        return rc == 0, out
    initrd, out_f, ctl = (os.path.join(tmp, n) for n in ("canary.cpio", "out", "ctl"))
    env = dict(os.environ, ARROW_ROOT=os.path.join(tmp, "root"), CAPTURE_INITRAMFS=initrd,
               ARROW_ARROWH=os.path.join(ROOT, "bench/capture-arrowh.sh"))
    rc, text = run([ARROW, "run", "--network", "none", "/bin/busybox", "true"], env=env)
    if rc != 0 or not os.path.exists(initrd):
        return False, "could not capture the initramfs: " + text
    cmd = qemu_cmd(os.path.join(ROOT, "build/lib/arrow/vmlinux"), initrd, out_f, ctl)
    rc, text = run(cmd, stdin=subprocess.DEVNULL)
    status = exit_status(ctl)
    if status == 0:
        return True, text
    return False, f"QEMU exit {rc}, ainit's exit record {status}: {text}"


def main():
    vmm = sys.argv[1]
    why = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--why" else "session start"
    tmp = tempfile.mkdtemp(prefix="canary-", dir="/tmp")
    t0 = time.monotonic()
    try:
        ok, out = (arrowh_canary if vmm == "arrowh" else qemu_canary)(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    secs = round(time.monotonic() - t0, 1)
    write_event({"event": "canary", "vmm": vmm, "why": why, "ok": ok, "seconds": secs,
                 "excerpt": "" if ok else excerpt(out)})
    print(f"== canary ({why}): {vmm} guest {'booted and ended' if ok else 'FAILED'} in {secs} s",
          flush=True)
    if not ok:
        print(excerpt(out, 3000), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
