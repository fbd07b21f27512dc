#!/usr/bin/python3
"""Run the integration tests and say exactly what happened (docs/testing.md).

On a host whose /dev/kvm boots a standard guest the tests run once, with no retry. Elsewhere
they run inside helper VMs (`arrow machine`, docs/machine.md), session after session:

- Every failure of every test is recorded, whatever the session: a failing test, a test
  that was running when its session died or went silent, a retry a test made itself
  (record_retry in tests/integration/conftest.py), an arrowh canary that failed while QEMU
  booted the same guest. A test (or the canary) that failed twice in total fails the run.
- A failure ends its session (pytest -x); the next session goes on from the first test that
  has not passed, so a test that failed once runs once more.
- A session is *bad*, and no test is charged, only on evidence that excludes Arrow: neither
  the arrowh canary nor QEMU microvm booting the same kernel and initramfs could boot in it
  (scripts/helper-tests.sh). Bad sessions are replaced up to --bad-sessions times and only in
  the first --bad-window seconds of the run.
- Whatever the result, the run ends with a summary: tests run/passed/failed/skipped, every
  failure with its session, reason and log excerpt, every in-test retry with its report file,
  every bad session and its evidence. It is also written to build/test-summary.json.

    scripts/integration.py [--arrow PATH] [--tests DIR] [--machine] [--out DIR]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

from resultlog import clean  # the same printable text as the results' excerpts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
BAD, ARROWH_CANARY_FAILED = 99, 98


def log(msg):
    print(f"== {msg}", flush=True)


def read_events(path):
    events = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by a session that died while writing it
    except OSError:
        pass
    return events


class Run:
    def __init__(self, args):
        self.args = args
        self.failures = {}   # test id -> [failure records]
        self.retries = []    # in-test retries (also in failures)
        self.bad = []        # bad sessions and their evidence
        self.outcome = {}    # test id -> last outcome: passed, failed, skipped
        self.sessions = 0
        self.skips = {}      # test id -> reason
        self.host_outcome = {}  # the host checks' tests (never deselected or retried)
        self.verdict = None  # why the run failed, if it did
        os.makedirs(args.out, exist_ok=True)

    # --- accounting -------------------------------------------------------------------
    def fail(self, test, session, kind, reason, excerpt=""):
        rec = {"session": session, "kind": kind, "reason": reason, "excerpt": excerpt}
        self.failures.setdefault(test, []).append(rec)
        n = len(self.failures[test])
        log(f"FAILURE {n} of {test} (session {session}, {kind}): {reason}")
        if n >= 2 and not self.verdict:
            self.verdict = f"{test} failed {n} times"

    def absorb(self, session, events, session_log):
        """Record what one session's result events say. Returns the test that was running
        when the session ended, if any."""
        running, failed_in_test = None, set()
        for e in events:
            kind, test = e.get("event"), e.get("test")
            if kind == "start":
                running = test
            elif kind == "finish":
                running = None
                if test not in failed_in_test and self.outcome.get(test) != "skipped":
                    self.outcome[test] = "passed"
            elif kind == "outcome" and e["outcome"] == "failed":
                self.outcome[test] = "failed"
                if test in failed_in_test:
                    continue  # one run of a test counts once (call and teardown both failing)
                failed_in_test.add(test)
                self.fail(test, session, f"failed in {e['when']}",
                          "the test failed" + (f": {e['crash']}" if e.get("crash") else ""),
                          e.get("excerpt", ""))
            elif kind == "outcome" and e["outcome"] == "skipped":
                self.outcome[test] = "skipped"
                self.skips[test] = e.get("excerpt", "")
            elif kind == "retry":
                failed_in_test.discard(test)  # a retry is a failure of its own
                self.retries.append(dict(e, session=session))
                self.fail(test, session, "in-test retry", e.get("reason", ""),
                          f"full report: {e.get('report', '')}")
        if running:
            self.outcome[running] = "failed"
            self.fail(running, session, "session ended in the test",
                      "the helper session ended (died, or was silent too long) while it ran",
                      tail(session_log))
        return running

    def summary(self, status):
        tests = sorted(self.outcome)
        passed = [t for t in tests if self.outcome[t] == "passed"]
        skipped = [t for t in tests if self.outcome[t] == "skipped"]
        failed = [t for t in tests if self.outcome[t] == "failed"]
        data = {"result": "pass" if status == 0 else "fail", "verdict": self.verdict,
                "sessions": self.sessions, "tests_run": len(tests), "passed": len(passed),
                "skipped": skipped, "failed_at_end": failed, "failures": self.failures,
                "in_test_retries": self.retries, "bad_sessions": self.bad}
        with open(os.path.join(self.args.out, "test-summary.json"), "w") as f:
            json.dump(data, f, indent=2)
        lines = ["", "=" * 78, "TEST SUMMARY (integration tests)",
                 f"  sessions: {self.sessions} ({len(self.bad)} bad)",
                 f"  tests run: {len(tests)} ({len(self.host_outcome)} host checks, "
                 f"{len(tests) - len(self.host_outcome)} integration), passed: {len(passed)}, "
                 f"skipped: {len(skipped)}, failing at the end: {len(failed)}",
                 f"  tests that failed at least once: {len(self.failures)} "
                 f"(retried: {sum(len(v) for v in self.failures.values())} failures in all)"]
        for test, recs in sorted(self.failures.items()):
            lines.append(f"  - {test}: {len(recs)} failure(s); now {self.outcome.get(test, 'not run')}")
            for r in recs:
                lines.append(f"      session {r['session']}, {r['kind']}: {r['reason']}")
                for x in r["excerpt"].strip().splitlines()[-6:]:
                    lines.append(f"        | {clean(x)[:200]}")  # a guest's bytes
        for r in self.retries:
            lines.append(f"  in-test retry: {r.get('test')} (session {r['session']}): "
                         f"{r.get('reason')}; report {r.get('report')}")
        for b in self.bad:
            lines.append(f"  bad session {b['session']}: {b['why']}")
        for t in skipped:
            lines.append(f"  skipped: {t}: {self.skips.get(t, '')[:150]}")
        lines.append(f"  RESULT: {'PASS' if status == 0 else 'FAIL'}"
                     + (f" ({self.verdict})" if self.verdict else ""))
        lines.append("=" * 78)
        print("\n".join(lines), flush=True)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def pump(proc, log_path, state):
    """Copy the session's output to our stdout and its log; note when output last came."""
    with open(log_path, "ab") as f:
        for line in iter(proc.stdout.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            f.write(line)
            f.flush()
            state["last"] = time.monotonic()


def run_session(run, session, pytest_args, env):
    """One helper VM session; returns (exit status, events, log path, silent)."""
    results = os.path.join(run.args.out, f"test-results-{session}.jsonl")
    session_log = os.path.join(run.args.out, f"helper-session-{session}.log")
    for p in (results, session_log):
        if os.path.exists(p):
            os.unlink(p)
    env = dict(env, ARROW_TEST_RESULTS=results)
    cmd = [run.args.arrow, "machine", "--", "sh", os.path.join(HERE, "helper-tests.sh"),
           *pytest_args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    state = {"last": time.monotonic()}
    reader = threading.Thread(target=pump, args=(proc, session_log, state), daemon=True)
    reader.start()
    silent = False
    while proc.poll() is None:
        time.sleep(1)
        if time.monotonic() - state["last"] > run.args.quiet:
            log(f"no output for {run.args.quiet} s: this helper VM session hangs; ending it")
            silent = True
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    reader.join(timeout=30)
    return proc.returncode, read_events(results), session_log, silent


def helper_sessions(run, pytest, env):
    """Helper VM sessions until every test passed or was skipped; returns the exit status."""
    args = run.args
    started = time.monotonic()
    while not run.verdict:
        if run.sessions >= args.max_sessions:
            run.verdict = f"{args.max_sessions} helper sessions did not finish the suite"
            break
        run.sessions += 1
        session = run.sessions
        done = [t for t, o in run.outcome.items()
                if o in ("passed", "skipped") and t not in run.host_outcome]
        deselect = [x for t in done for x in ("--deselect", t)]
        log(f"helper session {session}: {len(done)} tests done, running the rest")
        rc, events, session_log, silent = run_session(
            run, session, [*pytest, "-x", args.tests, *deselect], env)
        run.absorb(session, events, session_log)
        canaries = [e for e in events if e.get("event") == "canary"]
        ran_tests = any(e.get("event") == "start" for e in events)
        if rc == 0 and not silent:
            break
        if rc == BAD and not ran_tests:
            why = "; ".join(f"{c['vmm']} canary failed after {c['seconds']} s"
                            + (f": {c['excerpt'].strip().splitlines()[-1]}"
                               if c["excerpt"].strip() else "") for c in canaries)
            run.bad.append({"session": session, "why": "nothing boots in it: " + why})
            if len(run.bad) > args.bad_sessions or time.monotonic() - started > args.bad_window:
                run.verdict = (f"{len(run.bad)} bad helper sessions (at most {args.bad_sessions}"
                               f" are replaced, within the first {args.bad_window} s)")
                break
            log(f"bad helper session {session} (QEMU microvm could not boot either); "
                "a fresh one, no test charged")
            continue
        if rc == ARROWH_CANARY_FAILED and not ran_tests:
            c = [x for x in canaries if x["vmm"] == "arrowh"]
            run.fail("canary: arrowh boots busybox true", session,
                     "the arrowh canary failed while QEMU microvm booted the same guest",
                     c[0]["excerpt"] if c else tail(session_log))
        elif not ran_tests:
            run.fail("helper session start", session,
                     "the session ended before any test ran" +
                     (" (silent too long)" if silent else f" (status {rc})"), tail(session_log))
        elif not any(r["session"] == session for v in run.failures.values() for r in v):
            # pytest failed with no test failing: collection or internal error
            run.fail("pytest session", session, f"pytest ended with status {rc}",
                     tail(session_log))
        log(f"helper session {session} ended (status {rc}); going on in a fresh one")
    return 1 if run.verdict else 0


def host_tests(run, pytest, env):
    """The host checks: once, no retry; a failure fails the run."""
    results = os.path.join(run.args.out, "test-results-host.jsonl")
    if os.path.exists(results):
        os.unlink(results)
    log("host checks (machine mode, KVM probe, image store, harness)")
    rc = subprocess.run([*pytest, run.args.host_tests],
                        env=dict(env, ARROW_TEST_RESULTS=results)).returncode
    run.absorb("host", read_events(results), "")
    run.host_outcome = {t: o for t, o in run.outcome.items()}
    if rc:
        run.verdict = f"host checks failed (pytest status {rc}); no retry for them"
    return rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arrow", default=os.path.join(ROOT, "build/bin/arrow"))
    ap.add_argument("--tests", default=os.path.join(ROOT, "tests/integration"))
    ap.add_argument("--host-tests", default=os.path.join(ROOT, "tests/host"),
                    help="run once on the host before the VM tests ('' for none)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build"))
    ap.add_argument("--machine", action="store_true",
                    help="use helper VMs even where this host's /dev/kvm would do")
    ap.add_argument("--quiet", type=int, default=int(os.environ.get("ARROW_TEST_QUIET_S", "900")))
    ap.add_argument("--bad-sessions", type=int,
                    default=int(os.environ.get("ARROW_TEST_BAD_SESSIONS", "6")))
    ap.add_argument("--bad-window", type=int,
                    default=int(os.environ.get("ARROW_TEST_BAD_WINDOW_S", "3000")))
    ap.add_argument("--max-sessions", type=int, default=20)
    args = ap.parse_args()
    args.arrow = os.path.abspath(args.arrow)
    run = Run(args)
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
               ARROW_TEST_ARROW=args.arrow)
    pytest = [sys.executable, "-m", "pytest", "-v", "--durations=10", "-p", "no:cacheprovider",
              "-p", "resultlog"]
    status = 1
    try:
        if args.host_tests and host_tests(run, pytest, env):
            return 1
        if not args.machine and not os.path.exists("/sys/module/kvm_pvm") \
                and os.path.exists("/dev/kvm"):
            log("integration tests on this host's KVM (one run, no retry)")
            run.sessions = 1
            rc, events, _, _ = run_local(run, [*pytest, args.tests], env)
            run.absorb(1, events, "")
            if rc and not run.verdict:
                run.verdict = f"pytest failed (status {rc}); no retry on a real KVM"
            status = 1 if run.verdict else 0
            return status
        log("integration tests inside helper VMs: this host's /dev/kvm cannot boot a standard guest")
        status = helper_sessions(run, pytest, env)
        return status
    finally:
        run.summary(1 if run.verdict else status)


def run_local(run, cmd, env):
    results = os.path.join(run.args.out, "test-results-1.jsonl")
    if os.path.exists(results):
        os.unlink(results)
    rc = subprocess.run(cmd, env=dict(env, ARROW_TEST_RESULTS=results)).returncode
    return rc, read_events(results), None, False


if __name__ == "__main__":
    sys.exit(main())
