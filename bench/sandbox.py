#!/usr/bin/python3
"""What arrowh's sandbox costs (src/vmm/jail.h, docs/security.md), in one run: a jailed
arrowh (a root supervisor and a jailed VMM child) against `arrow run --no-sandbox` (the
single-process arrowh without jail or seccomp filter).

Start: a static hello from launching `arrow run --timing` until it returns after the app
exited, as a cold boot (`--rm --network none hello`) and as a clone of a template made once
(`--rm --from bench-hello`), each jailed and with --no-sandbox: one warm-up pair, then
BENCH_RUNS pairs, the order inside a pair swapped every pair so that neither variant always
runs first; medians, min/max, σ, the ratio of the medians and the median of the per-pair
ratios (jailed / no-sandbox). Also from arrowh's `--timing` (CLOCK_MONOTONIC, this
script's clock): launch until ainit's EXIT record reaches the VMM, the phases it prints
(medians), and "after the run loop": from the VMM's run loop ending (its `stop` mark) until
`arrow run` returned: teardown, and jailed the supervisor reaping the VMM and cleaning up.

Memory: one idle Arrow (tests/guest/sigwait, `arrow run -d --network none`) at a time,
jailed and with --no-sandbox, alternating, BENCH_SANDBOX_MEM_RUNS (default 3) each: PSS,
private and RSS of every process of the Arrow (bench/boot.py arrowh_memory: the VMM per
mapping with guest RAM apart, plus the supervisor), medians.

Run as root (a non-root arrowh is not jailed: the comparison would be empty).

    bench/sandbox.py ENVIRONMENT-NAME OUTPUT.json
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import density
from boot import (ARROW, MEM_MIB, HELLO, Replacements, arrow_boot, arrowh_memory, log, make_template,
                  summary, write_result)

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
MEM_RUNS = int(os.environ.get("BENCH_SANDBOX_MEM_RUNS", "3"))
VARIANTS = {"jailed": [], "no-sandbox": ["--no-sandbox"]}
MEM_KEYS = ["pss_kib", "private_kib", "rss_kib", "vmm_pss_kib", "vmm_private_kib",
            "guest_ram_pss_kib", "supervisor_pss_kib", "supervisor_private_kib",
            "supervisor_rss_kib"]


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def starts(what, args, env, replaced):
    """BENCH_RUNS pairs (after a warm-up pair) of `arrow run --timing [--no-sandbox] ARGS`."""
    samples = {v: [] for v in VARIANTS}
    for i in range(RUNS + 1):
        order = list(VARIANTS) if i % 2 == 0 else list(VARIANTS)[::-1]
        pair = {}
        for v in order:
            pair[v] = replaced.retry(f"{what} {v}", i,
                                     lambda: arrow_boot([*VARIANTS[v], *args], env))
        if i == 0:
            continue  # warm-up pair
        for v in VARIANTS:
            samples[v].append(pair[v])
        log(f"sandbox: {what} pair {i}/{RUNS}: " + ", ".join(
            f"{v} {pair[v]['wall_s'] * 1000:.0f} ms" for v in order))
    return compare(samples)


def compare(samples):
    """Per variant: summaries and phase medians; jailed / no-sandbox ratios."""
    res = {"order": "alternating pairs, the first of a pair swapped every pair; one warm-up "
                    "pair not counted"}
    figures = {
        "arrow_run_wall": lambda s: s["wall_s"],
        "launch_to_exit_record": lambda s: s.get("launch_to_exit_s"),
        "after_run_loop": lambda s: (s["wall_s"] - s["launch_to_stop_s"]
                                     if s.get("launch_to_stop_s") else None),
    }
    j, u = samples["jailed"], samples["no-sandbox"]
    for name, get in figures.items():
        pairs = [(get(a), get(b)) for a, b in zip(j, u) if get(a) and get(b)]
        if not pairs:
            res[name] = None
            continue
        js, us = [a for a, _ in pairs], [b for _, b in pairs]
        res[name] = {"jailed": summary(js), "no-sandbox": summary(us),
                     "ratio_of_medians": ratio(statistics.median(js), statistics.median(us)),
                     "pair_ratio_median": round(statistics.median(a / b for a, b in pairs), 3),
                     "median_difference_ms": round((statistics.median(js)
                                                    - statistics.median(us)) * 1000, 1)}
    res["phases_median_ms"] = {v: phase_medians(runs) for v, runs in samples.items()}
    return res


def phase_medians(runs):
    """Median of each phase `--timing` printed, in its order (a phase not reached: left out)."""
    values = {}
    for r in runs:
        for name, ms in r["phases"].items():
            if ms >= 0:
                values.setdefault(name, []).append(ms)
    return {name: round(statistics.median(v), 1) for name, v in values.items()}


class Idle(density.Arrows):
    """One idle Arrow, jailed or not, in a state root of its own."""

    def __init__(self, tmp, variant):
        sub = os.path.join(tmp, f"mem-{variant}")
        os.makedirs(sub)
        super().__init__(sub)
        self.options = VARIANTS[variant]
        self.name = f"arrowh {variant}"


def idle_memory(tmp, variant, n):
    fleet = Idle(os.path.join(tmp, str(n)), variant)
    try:
        out = fleet.start()
        if not density.wait_ready([out]):
            raise SystemExit(f"bench: the idle {variant} Arrow never printed ready: "
                             f"{fleet.evidence()}")
        time.sleep(1)  # let it settle after "ready"
        pid, vmm = fleet.processes()[0]
        if (pid != vmm) != (variant == "jailed"):
            raise SystemExit(f"bench: the {variant} Arrow has supervisor {pid} and VMM {vmm}: "
                             "not what was asked (is this run as root?)")
        return arrowh_memory(pid, vmm, MEM_MIB << 20)
    finally:
        fleet.stop_all()


def memory(tmp):
    runs = {v: [] for v in VARIANTS}
    for i in range(MEM_RUNS):
        order = list(VARIANTS) if i % 2 == 0 else list(VARIANTS)[::-1]
        for v in order:
            log(f"sandbox: memory {i + 1}/{MEM_RUNS}, {v}")
            runs[v].append(idle_memory(tmp, v, f"{i}-{v}"))
    med = {v: {k: statistics.median(r[k] for r in rs) for k in MEM_KEYS}
           for v, rs in runs.items()}
    j, u = med["jailed"], med["no-sandbox"]
    return {"runs_each": MEM_RUNS, "median_kib": med,
            "jailed_minus_no_sandbox_kib": {k: j[k] - u[k] for k in
                                            ("pss_kib", "private_kib", "vmm_pss_kib",
                                             "vmm_private_kib")},
            "pss_ratio": ratio(j["pss_kib"], u["pss_kib"]),
            "vmm_pss_ratio": ratio(j["vmm_pss_kib"], u["vmm_pss_kib"]),
            "runs": runs}


def main():
    env_name, output = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        raise SystemExit("bench: sandbox.py needs root: a non-root arrowh is never jailed")
    tmp = tempfile.mkdtemp(prefix="arrow-sandbox.", dir="/tmp")
    env = dict(os.environ, ARROW_ROOT=os.path.join(tmp, "root"),
               ARROW_SNAPSHOTS=os.path.join(tmp, "snapshots"))
    replaced = Replacements()
    try:
        t = time.perf_counter()
        make_template(env)  # bench-hello, jailed (the default)
        log(f"sandbox: template made in {time.perf_counter() - t:.2f} s")
        result = {"environment": env_name, "guest_memory_mib": MEM_MIB, "runs": RUNS,
                  "cold boot": starts("cold boot", ["--rm", "--network", "none", HELLO], env,
                                      replaced),
                  "clone": starts("clone", ["--rm", "--from", "bench-hello"], env, replaced),
                  "memory": memory(tmp),
                  "replaced_runs": replaced.runs}
    finally:
        # unseals the memory file first (it may be immutable: docs/snapshots.md)
        subprocess.run([ARROW, "template", "rm", "bench-hello"], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    write_result(output, result)


if __name__ == "__main__":
    main()
