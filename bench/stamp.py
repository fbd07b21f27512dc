#!/usr/bin/python3
"""The stamp every bench/*.py result file carries: what was measured, with what, where, when,
and in which run. bench/report.py prints it under every section and uses the run id to tell
whether the sections of one environment came from the same run.

    commit        full and short hash of HEAD, and "dirty" when tracked files differ from it
                  (`git status --porcelain --untracked-files=no`), with the first few paths
    date          when the result was written (UTC); started: when the script started
    images        sha256 (first 16 hex digits) of build/lib/arrow/vmlinux, vmlinux-net and
                  build/lib/arrow/machine/bzImage (null: the file is missing)
    kernel        the release of the kernel the benchmark ran on (inside the helper VM: the
                  helper kernel's) and, when bench/run.sh passed it in ARROW_BENCH_OUTER_KERNEL,
                  the outer host's
    environment   the environment name given on the command line; cpus: os.cpu_count()
    clocksource   the kernel's current clocksource: inside the helper VM it falls back from
                  tsc to (refined-)jiffies when the TSC is judged unstable, and every time
                  measured then moves in 4 ms steps
    run_id        ARROW_BENCH_RUN_ID, set once per `make bench` by bench/run.sh; a script
                  started by hand gets an id of its own ("adhoc-..."), so that it never passes
                  for part of a full run
"""
import hashlib
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = {"vmlinux": "build/lib/arrow/vmlinux",
          "vmlinux-net": "build/lib/arrow/vmlinux-net",
          "machine/bzImage": "build/lib/arrow/machine/bzImage"}
STARTED = time.time()
_ADHOC_ID = time.strftime("adhoc-%Y%m%dT%H%M%SZ", time.gmtime(STARTED)) + f"-{os.getpid()}"


def _git(*args):
    r = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def commit():
    """HEAD, and whether tracked files differ from it."""
    full = (_git("rev-parse", "HEAD") or "").strip() or None
    status = _git("status", "--porcelain", "--untracked-files=no")
    # porcelain lines are "XY PATH": the status columns may start with a space; what a
    # benchmark run writes itself (its results, the report) is not a change to what it measures
    dirty = [line[3:] for line in status.splitlines()
             if line.strip() and not is_output(line[3:])] if status else []
    return {"full": full, "short": full[:7] if full else None,
            "dirty": bool(dirty) if status is not None else None,
            "dirty_files": dirty[:20], "dirty_count": len(dirty)}


def is_output(path):
    """A file `make bench` writes: bench/results/*, docs/performance.md and its charts."""
    return (path.startswith("bench/results/") or path == "docs/performance.md"
            or (path.startswith("docs/perf-") and path.endswith(".png")))


def sha256_16(path):
    """First 16 hex digits of the file's sha256, or None when it is missing."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()[:16]


def clocksource():
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            return f.read().strip()
    except OSError:
        return None


def image_path(rel):
    """A kernel image as measured: from the copy of build/ when there is one (build_copy()
    says whether it equals build/'s), else build/ here. The helper's own kernel stays where
    `arrow machine` boots it from."""
    where = os.environ.get("ARROW_BENCH_BUILD")
    if where and os.path.exists(os.path.join(where, rel.removeprefix("build/"))):
        return os.path.join(where, rel.removeprefix("build/"))
    return os.path.join(ROOT, rel)


def build_copy():
    """Where the measured binaries, kernels and apps were read from when not build/ here
    ($ARROW_BENCH_BUILD, bench/run.sh's copy in the helper's tmpfs), and whether each of
    them equals build/'s."""
    where = os.environ.get("ARROW_BENCH_BUILD")
    if not where:
        return None
    names = ["bin/" + n for n in sorted(os.listdir(os.path.join(where, "bin")))] + \
        ["tests/guest/" + n for n in sorted(os.listdir(os.path.join(where, "tests/guest")))] + \
        ["lib/arrow/vmlinux", "lib/arrow/vmlinux-net", "lib/arrow/ainit"]
    same = all(sha256_16(os.path.join(where, n)) == sha256_16(os.path.join(ROOT, "build", n))
               for n in names)
    return {"path": where, "identical_to_build": same}


def run_id():
    return os.environ.get("ARROW_BENCH_RUN_ID") or _ADHOC_ID


def stamp(environment):
    """The stamp for a result file written now."""
    return {
        "run_id": run_id(),
        "run_id_source": "ARROW_BENCH_RUN_ID" if os.environ.get("ARROW_BENCH_RUN_ID")
                         else "generated (not started by bench/run.sh)",
        "environment": environment,
        "script": os.path.basename(sys.argv[0]),
        "commit": commit(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(STARTED)),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "images_sha256_16": {name: sha256_16(image_path(rel)) for name, rel in IMAGES.items()},
        "build_copy": build_copy(),
        "kernel_release": platform.release(),
        "in_helper_vm": os.environ.get("ARROW_IN_MACHINE") == "1",
        "outer_kernel_release": os.environ.get("ARROW_BENCH_OUTER_KERNEL"),
        "outer_cpus": (int(os.environ["ARROW_BENCH_OUTER_CPUS"])
                       if os.environ.get("ARROW_BENCH_OUTER_CPUS", "").isdigit() else None),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "clocksource": clocksource(),
    }


def describe(st):
    """One Markdown line for report.py: the stamp of a section."""
    if not st:
        return ("Stamp: none (this result file was written before bench/stamp.py existed: "
                "its run, commit and kernels are unknown).")
    c = st.get("commit") or {}
    dirty = ""
    # stamps written before is_output() existed list the run's own earlier results as changes
    changed = [f for f in c.get("dirty_files", []) if not is_output(f)]
    if c.get("dirty") and (changed or c.get("dirty_count", 0) > len(c.get("dirty_files", []))):
        dirty = f" + {c.get('dirty_count', 0) - (len(c.get('dirty_files', [])) - len(changed))}" \
                " uncommitted change(s)"
    imgs = ", ".join(f"{k} `{v or 'missing'}`" for k, v in st.get("images_sha256_16", {}).items())
    kern = f"kernel {st.get('kernel_release')}"
    if st.get("in_helper_vm"):
        kern = f"helper VM kernel {st.get('kernel_release')}" + (
            f", outer host kernel {st['outer_kernel_release']}" if st.get("outer_kernel_release")
            else ", outer host kernel unknown")
    copy = ""
    if st.get("build_copy"):
        bc = st["build_copy"]
        copy = (f" Binaries, kernels and apps read from a copy of build/ in the helper's tmpfs"
                f" ({'identical' if bc.get('identical_to_build') else 'NOT identical'} to build/).")
    clock = ""
    if st.get("clocksource") and st["clocksource"] != "tsc":
        clock = f" Clocksource {st['clocksource']}: times have its resolution."
    return (f"Stamp: run `{st.get('run_id')}`, commit `{c.get('short')}`{dirty}, "
            f"{st.get('date')}, {st.get('cpus')} CPUs, {kern}; sha256 {imgs}.{copy}{clock}")
