"""pytest plugin (`-p resultlog`, with scripts/ on PYTHONPATH): appends one JSON line per
event to the file named by $ARROW_TEST_RESULTS, flushed at once, so that the test harness
(scripts/integration.py) knows what ran, what passed and what failed even when a helper VM
session dies in the middle of a test.

Events: {"event": "start", "test": ID}, {"event": "outcome", "test": ID, "outcome":
"passed"|"failed"|"skipped", "when": "setup"|"call"|"teardown", "excerpt": ...} and
{"event": "finish", "test": ID}. Tests add {"event": "retry", ...} lines themselves through
record_retry() (tests/integration/conftest.py).
"""
import json
import os
import time


def write_event(event):
    path = os.environ.get("ARROW_TEST_RESULTS")
    if not path:
        return
    event.setdefault("time", round(time.time(), 3))
    with open(path, "a") as f:
        f.write(json.dumps(event) + "\n")
        f.flush()
        os.fsync(f.fileno())


def clean(text):
    """Printable text: a test's failure may quote what a guest wrote (binary data)."""
    return "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text)


def excerpt(text, limit=1500):
    text = clean(text).strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def pytest_runtest_logstart(nodeid, location):
    write_event({"event": "start", "test": nodeid})


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    event = {"event": "outcome", "test": report.nodeid, "when": report.when,
             "outcome": report.outcome, "duration": round(report.duration, 2)}
    if report.failed:
        event["excerpt"] = excerpt(report.longreprtext)
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "")
        if crash:  # pytest's one-line reason ("Failed: ...", "AssertionError: ...")
            event["crash"] = clean(crash.strip().splitlines()[0])[:400]
    elif report.skipped and isinstance(report.longrepr, tuple):
        event["excerpt"] = str(report.longrepr[2])
    write_event(event)


def pytest_runtest_logfinish(nodeid, location):
    write_event({"event": "finish", "test": nodeid})
