"""arrow logs over a hand-made log (no VM needed): framing, streams, --tail, -t, damage."""
import json
import os
import re
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARROW = os.path.join(ROOT, "build", "bin", "arrow")
ID = "cd" * 32


def make(tmp_path, records, extra=b""):
    d = tmp_path / ID
    d.mkdir()
    (d / "config.json").write_text(json.dumps(
        {"name": "t", "created_ns": 1, "program": "/x", "args": []}))
    with open(d / "log", "wb") as f:
        for stream, data in records:
            f.write(struct.pack("<BBHIQ", 0xA7, stream, 0, len(data), 1_700_000_000_123_456_789))
            f.write(data)
        f.write(extra)
    return dict(os.environ, ARROW_ROOT=str(tmp_path))


def logs(env, *args):
    return subprocess.run([ARROW, "logs", *args, "t"], capture_output=True, env=env, timeout=30)


RECORDS = [(1, b"line1\n"), (1, b"line2\nline3\n"), (2, b"err\n"), (1, b"line4\nlate")]


def test_streams_are_kept_apart_and_byte_exact(tmp_path):
    env = make(tmp_path, RECORDS + [(1, bytes(range(256)))])
    r = logs(env)
    assert r.stdout == b"line1\nline2\nline3\nline4\nlate" + bytes(range(256))
    assert r.stderr == b"err\n"


def test_tail_counts_lines_across_records_and_streams(tmp_path):
    env = make(tmp_path, RECORDS)
    expect = {"0": (b"", b""), "1": (b"late", b""), "2": (b"line4\nlate", b""),
              "3": (b"line4\nlate", b"err\n"), "4": (b"line3\nline4\nlate", b"err\n"),
              "all": (b"line1\nline2\nline3\nline4\nlate", b"err\n")}
    for n, (out, err) in expect.items():
        r = logs(env, "--tail", n)
        assert (r.stdout, r.stderr) == (out, err), n


def test_timestamps_prefix_every_line(tmp_path):
    env = make(tmp_path, RECORDS)
    out = logs(env, "-t").stdout.decode().split("\n")
    assert len(out) == 5 and all(re.match(r"2023-11-14T22:13:20\.123456789Z (line|late)", l) for l in out)


def test_rotated_files_come_first(tmp_path):
    env = make(tmp_path, [(1, b"new\n")])
    with open(tmp_path / ID / "log.1", "wb") as f:
        f.write(struct.pack("<BBHIQ", 0xA7, 1, 0, 4, 1) + b"old\n")
    assert logs(env).stdout == b"old\nnew\n"


def test_a_damaged_log_stops_with_a_message(tmp_path):
    env = make(tmp_path, [(1, b"good\n")], extra=b"\x00" * 20)
    r = logs(env)
    assert r.returncode == 0 and r.stdout == b"good\n"
    assert b"damaged" in r.stderr


def test_bad_tail_value(tmp_path):
    env = make(tmp_path, RECORDS)
    r = logs(env, "--tail", "x")
    assert r.returncode == 125 and b"invalid --tail 'x'" in r.stderr
