"""arrow run: output, exit status, arguments, environment, cwd, stdin, vCPUs."""
import hashlib
import os

from conftest import BUSYBOX, arrow, guest


def test_hello_output_and_status():
    r = arrow("run", guest("hello"), "--greeting", "hi")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from an Arrow\narg: --greeting\narg: hi\n"
    assert r.stderr == b""


def test_exit_statuses():
    for status in (0, 1, 7):
        r = arrow("run", guest("hello"), "--exit", str(status))
        assert r.returncode == status, r.stderr


def test_death_by_signal_is_128_plus_n():
    r = arrow("run", BUSYBOX, "sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + 15
    r = arrow("run", BUSYBOX, "sh", "-c", "kill -KILL $$")
    assert r.returncode == 128 + 9


def test_args_with_spaces_quotes_utf8():
    args = ["two words", "it's", '"dq"', "ünïcödé ✓", "", "--not-an-option", "$HOME", "a\\b"]
    r = arrow("run", BUSYBOX, "printf", "[%s]\\n", *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "".join(f"[{a}]\n" for a in args)


def test_env_with_spaces_quotes_utf8():
    r = arrow("run", "-e", "A=one two", "-e", "B=it's \"q\"", "-e", "C=ünï ✓", "-e", "D=",
              BUSYBOX, "env")
    assert r.returncode == 0, r.stderr
    env = r.stdout.decode().splitlines()
    assert "A=one two" in env
    assert "B=it's \"q\"" in env
    assert "C=ünï ✓" in env
    assert "D=" in env
    assert any(e.startswith("PATH=") for e in env)
    assert "HOME=/root" in env


def test_env_copied_from_host_when_only_a_key_is_given():
    r = arrow("run", "-e", "ARROW_TEST_FROM_HOST", BUSYBOX, "sh", "-c",
              'echo "$ARROW_TEST_FROM_HOST"', env={**os.environ, "ARROW_TEST_FROM_HOST": "yes it is"})
    assert r.stdout == b"yes it is\n"


def test_workdir():
    r = arrow("run", "-w", "/tmp", BUSYBOX, "pwd")
    assert r.stdout == b"/tmp\n"
    r = arrow("run", BUSYBOX, "pwd")
    assert r.stdout == b"/\n"


def test_missing_workdir_is_a_clear_error():
    r = arrow("run", "-w", "/no/such/dir", BUSYBOX, "pwd")
    assert r.returncode == 126
    assert b"/no/such/dir" in r.stderr


def test_stdin_piped_in():
    r = arrow("run", BUSYBOX, "sh", "-c", "read a; read b; echo \"got $b and $a\"",
              input=b"first\nsecond\n")
    assert r.stdout == b"got second and first\n"


def test_stdin_empty_and_closed():
    r = arrow("run", BUSYBOX, "wc", "-c", input=b"")
    assert r.stdout.strip() == b"0"
    r = arrow("run", BUSYBOX, "wc", "-c", stdin=open(os.devnull, "rb"))
    assert r.stdout.strip() == b"0"


def test_10mib_through_cat_is_byte_identical(tmp_path):
    data = os.urandom(10 * 1024 * 1024)
    r = arrow("run", BUSYBOX, "cat", input=data)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == len(data)
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(data).hexdigest()


def test_stdout_and_stderr_kept_apart():
    r = arrow("run", BUSYBOX, "sh", "-c", "echo to-out; echo to-err >&2; echo more-out")
    assert r.stdout == b"to-out\nmore-out\n"
    assert r.stderr == b"to-err\n"


def test_two_vcpus():
    r = arrow("run", "--cpus", "2", BUSYBOX, "nproc")
    assert r.stdout == b"2\n", r.stderr
    r = arrow("run", BUSYBOX, "nproc")
    assert r.stdout == b"1\n"


def test_memory_size_is_what_was_asked():
    r = arrow("run", "--memory", "256", BUSYBOX, "grep", "MemTotal", "/proc/meminfo")
    total_kib = int(r.stdout.split()[1])
    assert 200 * 1024 < total_kib <= 256 * 1024


def test_hostname_and_standard_environment():
    r = arrow("run", "--hostname", "web-1", BUSYBOX, "sh", "-c",
              "hostname; echo $HOSTNAME; test -d /proc/self && test -c /dev/null && "
              "test -w /tmp && echo fs-ok; cat /proc/1/comm")
    assert r.stdout.decode().split() == ["web-1", "web-1", "fs-ok", "ainit"]


def test_app_is_not_pid_1():
    r = arrow("run", BUSYBOX, "sh", "-c", "echo $$")
    assert r.returncode == 0
    assert int(r.stdout) != 1


def test_timing_prints_phases():
    r = arrow("run", "--timing", guest("hello"))
    assert r.returncode == 0
    err = r.stderr.decode()
    for phase in ("arrowh setup", "kernel entry -> ainit", "ainit -> app exec",
                  "app exit -> arrowh exit", "total"):
        assert phase in err
    assert r.stdout == b"hello from an Arrow\n"


def test_config_files_are_placed_with_their_permissions(tmp_path):
    """--config FILE:GUESTPATH puts a host file into the Arrow (parents created), byte-exact,
    with its permission bits; the app piece stays the same cached one."""
    conf = tmp_path / "app.conf"
    conf.write_text("answer=42\n")
    conf.chmod(0o640)
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 64)
    r = arrow("run", "--network", "none", "--config", f"{conf}:/etc/app/app.conf",
              "--config", f"{blob}:/srv/data/blob", BUSYBOX, "sh", "-c",
              "cat /etc/app/app.conf; stat -c %a /etc/app/app.conf; sha256sum /srv/data/blob")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "answer=42" and lines[1] == "640"
    assert lines[2].split()[0] == hashlib.sha256(bytes(range(256)) * 64).hexdigest()


def test_config_file_errors(tmp_path):
    for args, needle in ((["--config", f"{tmp_path}/missing:/etc/x"], b"cannot read --config"),
                         (["--config", f"{tmp_path}:/etc/x"], b"not a regular file"),
                         (["--config", "/etc/hostname:/proc/x"], b"mounts over"),
                         (["--config", "/etc/hostname:/etc/../x"], b"'..' component")):
        r = arrow("run", "--network", "none", *args, BUSYBOX, "true")
        assert r.returncode == 125, (args, r.stderr)
        assert needle in r.stderr, (args, r.stderr)
