"""The integration-test harness (scripts/integration.py) with a stand-in `arrow` and toy
tests: it must fail a run in which one test failed twice in total, whatever the sessions
looked like, and forgive a session only when the QEMU canary could not boot either.

The stand-in runs `arrow machine -- CMD` as CMD on this host (a "session"), and plays the
arrowh and QEMU canaries and the toy tests as a plan says, session by session.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HARNESS = os.path.join(ROOT, "scripts", "integration.py")

STAND_IN = textwrap.dedent('''\
    #!/usr/bin/python3
    import json, os, sys
    d = os.environ["TOY_DIR"]
    plan = json.load(open(os.path.join(d, "plan.json")))
    counter = os.path.join(d, "sessions")
    if sys.argv[1] == "machine":
        n = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
        open(counter, "w").write(str(n))
        os.environ.update(TOY_SESSION=str(n), ARROW_IN_MACHINE="1")
        os.execvp(sys.argv[3], sys.argv[3:])
    session = open(counter).read()
    role = "qemu" if sys.argv[1] == "qemu" else "arrowh"
    if plan.get(session, {}).get(role + "_canary", "ok") != "ok":
        print("arrowh: vCPU 0: rip at the kernel entry: it never ran guest code")
        sys.exit(1)
''')

TOY_TESTS = textwrap.dedent('''\
    import json, os, sys, time
    from resultlog import write_event

    def behave(name):
        plan = json.load(open(os.path.join(os.environ["TOY_DIR"], "plan.json")))
        act = plan.get(os.environ["TOY_SESSION"], {}).get(name, "pass")
        if act == "fail":
            assert False, name + " fails"
        if act == "die":  # the helper VM stops in the middle of this test
            print("the helper VM stopped without a result; it never ran guest code", flush=True)
            os._exit(125)
        if act == "junk":  # a failure that quotes binary output, as a guest's may be
            assert False, name + " fails: \\x00\\x1b[2J\\x07 junk"
        if act == "hang":
            time.sleep(600)
        if act == "retry":
            write_event({"event": "retry", "test": os.environ["PYTEST_CURRENT_TEST"].split()[0],
                         "reason": "toy signature", "report": "/dev/null"})
        if act == "retry+fail":
            write_event({"event": "retry", "test": os.environ["PYTEST_CURRENT_TEST"].split()[0],
                         "reason": "toy signature", "report": "/dev/null"})
            assert False, name + " fails after its retry"

    def test_a():
        behave("a")

    def test_b():
        behave("b")

    def test_c():
        behave("c")
''')


def harness(tmp_path, plan, *extra):
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    tests = tmp_path / "toy"
    tests.mkdir(exist_ok=True)
    (tests / "test_toy.py").write_text(TOY_TESTS)
    arrow = tmp_path / "arrow"
    arrow.write_text(STAND_IN)
    arrow.chmod(0o755)
    out = tmp_path / "out"
    env = dict(os.environ, TOY_DIR=str(tmp_path),
               ARROW_TEST_QEMU_CANARY=f"{arrow} qemu", ARROW_TEST_CANARY_S="30")
    env.pop("ARROW_TEST_RESULTS", None)
    r = subprocess.run([sys.executable, HARNESS, "--machine", "--arrow", str(arrow),
                        "--tests", str(tests), "--host-tests", "", "--out", str(out),
                        "--quiet", "5", *extra],
                       capture_output=True, text=True, env=env, timeout=300)
    summary = json.load(open(out / "test-summary.json"))
    return r, summary


def test_all_pass_in_one_session(tmp_path):
    r, s = harness(tmp_path, {})
    assert r.returncode == 0, r.stdout
    assert s["sessions"] == 1 and s["passed"] == 3 and not s["failures"]
    assert "RESULT: PASS" in r.stdout.splitlines()[-2]


def test_one_failure_is_retried_in_a_fresh_session_and_reported(tmp_path):
    r, s = harness(tmp_path, {"1": {"b": "fail"}})
    assert r.returncode == 0, r.stdout
    assert s["sessions"] == 2 and s["passed"] == 3
    assert list(s["failures"]) == ["test_toy.py::test_b"] or \
        [k.endswith("test_toy.py::test_b") for k in s["failures"]] == [True]
    # the summary, at the end of the output, names the failure and its excerpt
    tail = r.stdout[r.stdout.rindex("TEST SUMMARY"):]
    assert "test_b: 1 failure(s); now passed" in tail and "b fails" in tail
    # test_a passed in session 1 and did not run again
    second = open(tmp_path / "out" / "test-results-2.jsonl").read()
    assert "test_a" not in second


def test_a_failure_in_a_dying_session_plus_a_plain_failure_fails_the_run(tmp_path):
    """The auditor's reproduction: the first failure comes in a session whose log says "it
    never ran guest code" and "the helper VM stopped without a result"; the second is a
    plain failure. That is two failures of one test."""
    r, s = harness(tmp_path, {"1": {"b": "die"}, "2": {"b": "fail"}})
    assert r.returncode == 1, r.stdout
    assert "failed 2 times" in s["verdict"] and "test_b" in s["verdict"]
    assert "RESULT: FAIL" in r.stdout


def test_a_silent_session_is_charged_to_the_running_test(tmp_path):
    r, s = harness(tmp_path, {"1": {"c": "hang"}})
    assert r.returncode == 0, r.stdout
    (test, recs), = s["failures"].items()
    assert test.endswith("test_c") and recs[0]["kind"] == "session ended in the test"
    again = tmp_path / "again"
    again.mkdir()
    r, s = harness(again, {"1": {"c": "hang"}, "2": {"c": "hang"}})
    assert r.returncode == 1 and "test_c failed 2 times" in s["verdict"]


def test_bad_session_only_when_qemu_cannot_boot_either(tmp_path):
    r, s = harness(tmp_path, {"1": {"arrowh_canary": "fail", "qemu_canary": "fail"}})
    assert r.returncode == 0, r.stdout
    assert len(s["bad_sessions"]) == 1 and not s["failures"] and s["passed"] == 3
    assert "bad session 1: nothing boots in it" in r.stdout


def test_arrowh_canary_failing_where_qemu_boots_is_our_failure(tmp_path):
    plan = {"1": {"arrowh_canary": "fail"}, "2": {"arrowh_canary": "fail"}}
    r, s = harness(tmp_path, plan)
    assert r.returncode == 1, r.stdout
    assert not s["bad_sessions"] and "canary" in s["verdict"]


def test_bad_sessions_are_limited(tmp_path):
    bad = {"arrowh_canary": "fail", "qemu_canary": "fail"}
    r, s = harness(tmp_path, {str(i): bad for i in range(1, 10)}, "--bad-sessions", "2")
    assert r.returncode == 1 and len(s["bad_sessions"]) == 3
    assert "bad helper sessions" in s["verdict"]


@pytest.mark.parametrize("plan", [{"1": {"a": "retry+fail"}},
                                  {"1": {"a": "fail"}, "2": {"a": "retry"}}])
def test_an_in_test_retry_counts_as_a_failure(tmp_path, plan):
    r, s = harness(tmp_path, plan)
    assert r.returncode == 1, r.stdout
    assert "test_a failed 2 times" in s["verdict"]
    assert s["in_test_retries"] and "in-test retry" in r.stdout


def test_a_retry_alone_passes_but_is_in_the_summary(tmp_path):
    r, s = harness(tmp_path, {"1": {"c": "retry"}})
    assert r.returncode == 0, r.stdout
    assert len(s["in_test_retries"]) == 1
    assert "in-test retry: " in r.stdout[r.stdout.rindex("TEST SUMMARY"):]


def test_the_summary_gives_the_reason_in_one_printable_line(tmp_path):
    r, s = harness(tmp_path, {"1": {"c": "junk"}})
    assert r.returncode == 0, r.stdout
    tail = r.stdout[r.stdout.rindex("TEST SUMMARY"):]
    assert "the test failed: AssertionError: c fails: ??[2J? junk" in tail, tail
    assert all(ch.isprintable() for line in tail.splitlines() for ch in line), tail
