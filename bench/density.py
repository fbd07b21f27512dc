#!/usr/bin/python3
"""Memory per idle Arrow as their number grows, how many fit in a budget, and how fast they start.

For N = 1, 10 and 50 (BENCH_DENSITY) idle instances of the same program (tests/guest/sigwait:
prints "ready", then waits) the host's proportional set size (PSS, /proc/PID/smaps_rollup:
shared pages are split between the processes that map them) summed over every instance, for
arrowh (`arrow run -d --network none`) and QEMU microvm (`-daemonize`, same kernel, same
initramfs bytes). The fleet grows in place: the first instance stays for N = 10 and 50.
An Arrow is every process of its arrowh: the supervisor (state.json "pid") and its jailed
VMM ("vmm_pid"; the same pid with --no-sandbox); the supervisor's share is also given apart.

Start rate: the instances are started one after another, each once the previous one has
printed "ready"; rate = instances / the time until the last one is ready.
Density: how many idle instances a memory budget holds at the PSS per instance measured at
the largest N (a computation from the measurement, shown as such in the report).

    bench/density.py ENVIRONMENT-NAME OUTPUT.json
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from boot import (ARROW, MEM_MIB, SIGWAIT, capture_initramfs, decode_records, log, qemu_cmd,
                  rollup_kib, tail, write_result)

COUNTS = [int(n) for n in os.environ.get("BENCH_DENSITY", "1,10,50").split(",")]
BUDGET_MIB = 1024
READY_TIMEOUT = 120


def pss_kib(pid):
    """PSS and private (clean + dirty) memory of one process, KiB."""
    r = rollup_kib(pid)
    return r["pss_kib"], r["private_kib"]


def arrow_processes(state_file):
    """(supervisor, VMM) pids of a managed Arrow from its state.json; a state file from
    before the jail has no vmm_pid: one process."""
    st = json.load(open(state_file))
    return st["pid"], st.get("vmm_pid") or st["pid"]


def wait_ready(paths, timeout=READY_TIMEOUT):
    """Wait until every file in paths holds "ready"."""
    end = time.time() + timeout
    pending = list(paths)
    while pending and time.time() < end:
        pending = [p for p in pending if not (os.path.exists(p) and b"ready" in open(p, "rb").read())]
        if pending:
            time.sleep(0.1)
    return not pending


class Arrows:
    name = "arrowh"
    options = []  # more `arrow run` options (bench/sandbox.py: --no-sandbox)

    def __init__(self, tmp):
        self.root = os.path.join(tmp, "arrows")
        os.mkdir(self.root)
        self.env = dict(os.environ, ARROW_ROOT=self.root)
        self.ids = []

    def start(self):
        r = subprocess.run([ARROW, "run", "-d", *self.options, "--network", "none",
                            "--memory", str(MEM_MIB), SIGWAIT], env=self.env,
                           capture_output=True, timeout=300)
        if r.returncode:
            raise SystemExit(f"bench: arrow run -d failed: {r.stderr.decode()}")
        self.ids.append(r.stdout.decode().strip())
        return os.path.join(self.root, self.ids[-1], "log")

    def pids(self):
        """The supervisors (arrowh as started)."""
        return [p for p, _ in self.processes()]

    def processes(self):
        """(supervisor, VMM) per instance; the same pid twice when arrowh is one process."""
        return [arrow_processes(os.path.join(self.root, i, "state.json")) for i in self.ids]

    def evidence(self):
        """What the last instance, never ready, shows: is arrowh alive, what did it and the
        app say. A live arrowh is interrupted three times first: it then stops the Arrow and
        writes where each vCPU was to its arrowh.log."""
        d = os.path.join(self.root, self.ids[-1])
        ev = {"instance": self.ids[-1]}
        try:
            pid, vmm = arrow_processes(os.path.join(d, "state.json"))
        except (OSError, ValueError, KeyError) as e:
            pid, vmm, ev["state"] = None, None, f"no state.json pid ({e})"
        ev["arrowh_alive"] = bool(pid) and os.path.exists(f"/proc/{pid}")
        if ev["arrowh_alive"]:
            # the vCPUs run in the VMM; the supervisor only waits
            cpu = [c for c in {pid: cpu_seconds(pid), vmm: cpu_seconds(vmm)}.values()
                   if c is not None]
            ev["arrowh_cpu_s"] = round(sum(cpu), 1) if cpu else None
            for _ in range(3):
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    break
                time.sleep(0.5)
            end = time.time() + 15
            while os.path.exists(f"/proc/{pid}") and time.time() < end:
                time.sleep(0.2)
        insp = subprocess.run([ARROW, "inspect", self.ids[-1]], env=self.env, capture_output=True)
        try:
            ev["state_after"] = json.loads(insp.stdout)[0].get("State")
        except (ValueError, IndexError, AttributeError):
            ev["state_after"] = None
        try:
            ev["arrowh_log_tail"] = tail(open(os.path.join(d, "arrowh.log"), "rb").read(), 15)
        except OSError as e:
            ev["arrowh_log_tail"] = [f"(unreadable: {e})"]
        logs = subprocess.run([ARROW, "logs", self.ids[-1]], env=self.env, capture_output=True)
        ev["app_output_tail"] = tail(logs.stdout + logs.stderr, 5)
        return ev

    def discard_last(self):
        subprocess.run([ARROW, "rm", "-f", self.ids.pop()], env=self.env, capture_output=True,
                       timeout=300)

    def stop_all(self):
        subprocess.run([ARROW, "rm", "-f", *self.ids], env=self.env, capture_output=True,
                       timeout=600)


class Qemus:
    name = "qemu microvm"

    def __init__(self, tmp):
        self.tmp = tmp
        self.initramfs = os.path.join(tmp, "sigwait.cpio")
        capture_initramfs(SIGWAIT, self.initramfs)
        self.n = 0

    def start(self):
        self.n += 1
        base = os.path.join(self.tmp, f"q{self.n}")
        cmd = qemu_cmd(self.initramfs, base + ".out", base + ".ctl")
        cmd += ["-daemonize", "-pidfile", base + ".pid"]
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=300)
        return base + ".out"

    def pids(self):
        return [int(open(os.path.join(self.tmp, f"q{i}.pid")).read())
                for i in range(1, self.n + 1)]

    def processes(self):
        """(None, QEMU) per instance: one process, no supervisor."""
        return [(None, pid) for pid in self.pids()]

    def evidence(self):
        """What the last instance, never ready, shows: is QEMU alive and busy, which of
        ainit's control records arrived, what the app printed."""
        base = os.path.join(self.tmp, f"q{self.n}")
        ev = {"instance": f"q{self.n}"}
        try:
            pid = int(open(base + ".pid").read())
        except (OSError, ValueError) as e:
            pid, ev["state"] = None, f"no pid file ({e})"
        ev["qemu_alive"] = bool(pid) and os.path.exists(f"/proc/{pid}")
        if ev["qemu_alive"]:
            ev["qemu_cpu_s"] = cpu_seconds(pid)
        try:
            ev["control_records"] = [r[0] for r in decode_records(open(base + ".ctl", "rb").read())]
        except OSError as e:
            ev["control_records"] = f"(unreadable: {e})"
        try:
            ev["app_output_tail"] = tail(open(base + ".out", "rb").read(), 5)
        except OSError as e:
            ev["app_output_tail"] = [f"(unreadable: {e})"]
        return ev

    def discard_last(self):
        base = os.path.join(self.tmp, f"q{self.n}")
        try:
            os.kill(int(open(base + ".pid").read()), 9)
        except (OSError, ValueError):
            pass
        self.n -= 1

    def stop_all(self):
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def cpu_seconds(pid):
    """User + system CPU time of a process so far (a stalled guest may still spin)."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return round((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK"), 1)
    except (OSError, IndexError, ValueError):
        return None


def measure(fleet):
    rows, outputs, replaced, lost = [], [], [], 0.0
    t0 = time.perf_counter()
    for n in COUNTS:
        log(f"density: {fleet.name} x{n}")
        while len(outputs) < n:
            # one boot at a time: the load of N concurrent boots under nested emulation is
            # not what is measured here
            t_start = time.perf_counter()
            outputs.append(fleet.start())
            if not wait_ready(outputs[-1:]):
                # replace it, and keep what was seen: the report shows it
                ev = {"position": len(outputs), "seen": f"no \"ready\" within {READY_TIMEOUT} s",
                      **fleet.evidence()}
                lost += time.perf_counter() - t_start
                log(f"density: {fleet.name} instance {len(outputs)} never became ready; "
                    f"replacing it: {ev}")
                fleet.discard_last()
                outputs.pop()
                replaced.append(ev)
                if len(replaced) > 5:
                    raise SystemExit(f"bench: too many instances never became ready: {replaced}")
            else:
                log(f"density: {fleet.name} {len(outputs)} ready after "
                    f"{time.perf_counter() - t_start:.1f} s")
        if n == COUNTS[-1]:
            elapsed = time.perf_counter() - t0 - lost  # without replaced ones and pauses
        t_pause = time.perf_counter()
        time.sleep(2)  # let the last ones settle after "ready"
        pss = priv = sup_pss = sup_priv = 0
        procs = fleet.processes()
        for sup, vmm in procs:
            p, q = pss_kib(vmm)
            pss += p
            priv += q
            if sup is not None and sup != vmm:
                p, q = pss_kib(sup)
                pss, priv, sup_pss, sup_priv = pss + p, priv + q, sup_pss + p, sup_priv + q
        lost += time.perf_counter() - t_pause  # not starting time either
        # pss and private: every process of an instance (arrowh: supervisor + VMM)
        row = {"instances": n, "pss_kib_total": pss,
               "pss_kib_per_instance": round(pss / n), "private_kib_per_instance": round(priv / n)}
        if any(sup is not None for sup, _ in procs):
            jailed = sum(1 for sup, vmm in procs if sup != vmm)
            row.update({"supervisor_pss_kib_per_instance": round(sup_pss / n),
                        "supervisor_private_kib_per_instance": round(sup_priv / n),
                        "jailed_instances": jailed})
        rows.append(row)
    fleet.stop_all()
    last = rows[-1]
    return {"by_count": rows, "replaced_never_ready": len(replaced), "replaced_runs": replaced,
            "start": {"instances": COUNTS[-1], "seconds_to_all_ready": round(elapsed, 2),
                      "per_second": round(COUNTS[-1] / elapsed, 2)},
            "fit_in_budget": BUDGET_MIB * 1024 // last["pss_kib_per_instance"]}


def main():
    env_name, output = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="arrow-density.", dir="/tmp")
    try:
        result = {"environment": env_name, "guest_memory_mib": MEM_MIB, "budget_mib": BUDGET_MIB,
                  "counts": COUNTS, "arrowh": measure(Arrows(tmp)),
                  "qemu microvm": measure(Qemus(tmp))}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_result(output, result)


if __name__ == "__main__":
    main()
