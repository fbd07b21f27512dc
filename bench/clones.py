#!/usr/bin/python3
"""Clones of a template vs cold boots of the same program, in the same run.

Start: a static hello, from launching `arrow run` until it returns after the app exited,
as a cold boot (`arrow run --network none hello`) and as a clone of a template made from
the same command (`arrow run --from bench-hello`): BENCH_RUNS alternating pairs after one
warm-up pair; medians, min/max, σ and the median of the per-pair ratios.

Memory: N = 1, 10, 50 (BENCH_DENSITY) idle instances of tests/guest/sigwait (prints
"ready", then waits), cold-booted and as clones of a template, started one after another;
PSS and private memory per instance (/proc/PID/smaps_rollup, summed over both processes of
a jailed arrowh: the supervisor and its VMM; bench/density.py), and for clones how much of
the private memory is guest RAM the clone wrote (its copy-on-write mapping of the
snapshot's memory file, in the VMM process) and how much is arrowh itself (both processes;
the supervisor's share apart).

    bench/clones.py ENVIRONMENT-NAME OUTPUT.json
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import density
from boot import ARROW, HELLO, MEM_MIB, SIGWAIT, log, summary, timed, write_result

RUNS = int(os.environ.get("BENCH_RUNS", "20"))


class Clones(density.Arrows):
    name = "arrowh clone"

    def start(self):
        r = subprocess.run([ARROW, "run", "-d", "--network", "none", "--from", "bench-idle"],
                           env=self.env, capture_output=True, timeout=300)
        if r.returncode:
            raise SystemExit(f"bench: arrow run -d --from failed: {r.stderr.decode()}")
        self.ids.append(r.stdout.decode().strip())
        return os.path.join(self.root, self.ids[-1], "log")


def guest_private_kib(pid):
    """Guest RAM the clone wrote after its start: the anonymous (copy-on-write) pages of its
    mapping of the snapshot memory file, which only it holds. Not Private_Clean +
    Private_Dirty: a template page that only this clone maps counts as private too, though
    the next clone shares it. pid: the VMM process, which maps it."""
    anon, inside = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(" ", 1)[0]
            if "-" in first and not first.endswith(":"):
                inside = line.rstrip().endswith("/memory")
            elif inside and first == "Anonymous:":
                anon += int(line.split()[1])
    return anon


def anon_kib(pid):
    """A process's share of anonymous memory (Pss_Anon of /proc/PID/smaps_rollup), KiB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("Pss_Anon:"))


def start_latency(env):
    cold, clone, ratios = [], [], []
    for i in range(RUNS + 1):
        t_cold, r1 = timed([ARROW, "run", "--rm", "--network", "none", HELLO], env=env)
        t_clone, r2 = timed([ARROW, "run", "--rm", "--from", "bench-hello"], env=env)
        for r in (r1, r2):
            if r.returncode or b"hello from an Arrow" not in r.stdout:
                raise SystemExit(f"bench: a run failed: {r.stderr.decode()}")
        if i == 0:
            continue  # warm-up pair
        cold.append(t_cold)
        clone.append(t_clone)
        ratios.append(t_clone / t_cold)
        log(f"clones: run {i}: cold {t_cold * 1000:.0f} ms, clone {t_clone * 1000:.0f} ms")
    return {"cold boot": summary(cold), "clone": summary(clone),
            "pair_ratio_median": round(statistics.median(ratios), 3)}


def main():
    env_name, output = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="arrow-clones.", dir="/tmp")
    env = dict(os.environ, ARROW_ROOT=os.path.join(tmp, "root"),
               ARROW_SNAPSHOTS=os.path.join(tmp, "snapshots"))
    os.environ["ARROW_SNAPSHOTS"] = env["ARROW_SNAPSHOTS"]
    try:
        for name, prog in (("bench-hello", HELLO), ("bench-idle", SIGWAIT)):
            t, r = timed([ARROW, "template", "create", name, "--network", "none", "--memory",
                          str(MEM_MIB), prog], env=env)
            if r.returncode:
                raise SystemExit(f"bench: template create failed: {r.stderr.decode()}")
            log(f"clones: template {name} made in {t:.2f} s")
        memfile = os.path.join(env["ARROW_SNAPSHOTS"], "bench-idle", "memory")
        st = os.stat(memfile)
        result = {"environment": env_name, "guest_memory_mib": MEM_MIB,
                  "template": {"memory_file_bytes": st.st_size,
                               "memory_file_on_disk_bytes": st.st_blocks * 512,
                               "state_file_bytes": os.path.getsize(
                                   os.path.join(env["ARROW_SNAPSHOTS"], "bench-idle", "state"))},
                  "start": start_latency(env)}
        cold = density.measure(density.Arrows(tmp))
        os.mkdir(os.path.join(tmp, "c"))
        clones = Clones(os.path.join(tmp, "c"))
        split = []
        orig_stop = clones.stop_all

        def stop_all():  # read the split before the fleet goes
            split.extend((guest_private_kib(vmm),
                          anon_kib(vmm) + (anon_kib(sup) if sup != vmm else 0))
                         for sup, vmm in clones.processes())
            orig_stop()
        clones.stop_all = stop_all
        result["memory"] = {"counts": density.COUNTS, "cold boot": cold,
                            "clone": density.measure(clones)}
        if split:
            g = sum(x[0] for x in split) / len(split)
            own = sum(x[1] for x in split) / len(split)
            last = result["memory"]["clone"]["by_count"][-1]
            result["memory"]["clone_private_split_kib"] = {
                "guest_ram_written": round(g),
                # supervisor + VMM, anonymous memory (Pss_Anon) except the guest RAM written
                "arrowh_itself": round(own - g),
                "measure": "anonymous memory: the memory mapping's Anonymous (guest RAM "
                           "written), and Pss_Anon of supervisor and VMM for the rest",
                "of_which_supervisor": last.get("supervisor_private_kib_per_instance")}
    finally:
        subprocess.run([ARROW, "rm", "-f", *subprocess.run(
            [ARROW, "ps", "-aq"], env=env, capture_output=True).stdout.decode().split()],
            env=env, capture_output=True)
        # unseals the memory files first (they may be immutable: docs/snapshots.md)
        subprocess.run([ARROW, "template", "rm", "bench-hello", "bench-idle"], env=env,
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    write_result(output, result)


if __name__ == "__main__":
    main()
