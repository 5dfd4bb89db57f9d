"""The code sandbox contains what generated programs try: writes outside their temp dir, the network, fork bombs,
huge allocations, endless loops, killing their parent — and still reports ordinary failures the way the shipped
labels do (error type, message, failing line and its text)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from ranksuite.domains.code.data import program_text
from ranksuite.domains.code.sandbox import Limits, Sandbox, SandboxError, SandboxWarning, source_line

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(workers=2, limits=Limits(timeout_s=2.0)) as sb:
        if not sb.network_isolated and not os.environ.get("RANKSUITE_SANDBOX_ALLOW_NO_ISOLATION"):
            pytest.fail(
                f"no namespaces on this machine ({sb.isolation}): the sandbox runs without network isolation. "
                "Set RANKSUITE_SANDBOX_ALLOW_NO_ISOLATION=1 to run the remaining tests anyway."
            )
        yield sb


def test_a_passing_program_runs_isolated(box: Sandbox) -> None:
    res = box.run("import math\nprint(math.factorial(5))")
    assert res.status == "passed" and res.passed
    assert res.stdout == "120\n"
    assert res.error_type is None and res.fail_line is None
    assert res.network_isolated and "net" in res.isolation


def test_failures_are_reported_like_the_shipped_labels(box: Sandbox) -> None:
    code = "def div(a, b):\n    return a / b\n"
    test = "def check(f):\n    assert f(4, 2) == 2\n    assert f(1, 0) == 0\n\ncheck(div)"
    res = box.run(program_text(code, test))
    assert (res.status, res.error_type, res.error_message) == (
        "failed",
        "ZeroDivisionError",
        "division by zero",
    )
    assert res.fail_line == 2 and res.fail_source == "    return a / b"  # innermost frame of the program

    wrong = "def div(a, b):\n    return a * b\n"
    res = box.run(program_text(wrong, test))
    assert (res.status, res.error_type, res.error_message) == ("failed", "AssertionError", "")
    lines = program_text(wrong, test).split("\n")
    assert res.fail_line == lines.index("    assert f(4, 2) == 2") + 1
    assert res.fail_source == "    assert f(4, 2) == 2"

    res = box.run("x = 1\ndef f(:\n    pass\n")
    assert (res.error_type, res.fail_line) == ("SyntaxError", 2)
    assert res.error_message == "invalid syntax (<candidate>, line 2)"
    res = box.run(
        "def f():\nreturn 1\n"
    )  # IndentationError is reported as SyntaxError, like the shipped labels
    assert (res.error_type, res.fail_line) == ("SyntaxError", 2)

    res = box.run("print(input())")  # stdin is empty
    assert (res.error_type, res.error_message) == ("EOFError", "EOF when reading a line")
    res = box.run("import numpy")  # standard library only
    assert res.error_type == "ModuleNotFoundError"
    res = box.run("if __name__ == '__main__':\n    raise SystemExit(3)")  # it runs as __main__
    assert (res.error_type, res.error_message, res.fail_line) == ("SystemExit", "3", 2)
    res = box.run("import os\nos._exit(0)")  # ended before the tests: not a pass
    assert (res.status, res.error_type) == ("crashed", "Crash")


def test_source_line_counts_lines_like_python() -> None:
    src = "a = 1\r\nb = 2\rc = 3\nd = '\x0c'\n"
    assert [source_line(src, i) for i in (1, 2, 3, 4)] == ["a = 1", "b = 2", "c = 3", "d = '\x0c'"]
    assert source_line(src, 99) is None and source_line(src, None) is None


def test_writes_outside_the_temp_dir_land_nowhere(box: Sandbox, tmp_path: Path) -> None:
    targets = [tmp_path / "pwned.txt", REPO / "PWNED_BY_SANDBOX", Path.home() / "PWNED_BY_SANDBOX"]
    prog = "import os\nres = []\n"
    for t in targets:
        prog += (
            "try:\n"
            f"    os.makedirs({str(t.parent)!r}, exist_ok=True)\n"
            f"    open({str(t)!r}, 'w').write('x')\n"
            "    res.append('wrote')\n"
            "except OSError as e:\n"
            "    res.append(type(e).__name__)\n"
        )
    prog += "open('here.txt', 'w').write('mine')\nprint(res, os.getcwd(), sorted(os.listdir('.')))\n"
    res = box.run(prog)
    assert res.status == "passed", res
    for t in targets:
        assert not t.exists(), f"{t} was written by the sandboxed program"
    assert "here.txt" in res.stdout  # its own working dir is writable ...
    again = box.run("import os\nprint(sorted(os.listdir('.')))")
    assert again.stdout == "[]\n"  # ... and fresh for the next program


def test_no_network_not_even_localhost(box: Sandbox) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        res = box.run(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).send(b'hi')"
        )
        assert res.status == "failed", res
        assert res.error_type in ("OSError", "ConnectionRefusedError", "TimeoutError"), res
        server.settimeout(0.2)
        with pytest.raises((BlockingIOError, TimeoutError, socket.timeout)):
            server.accept()
    finally:
        server.close()


def test_a_fork_bomb_is_contained_and_killed_in_time(box: Sandbox) -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    t0 = time.monotonic()
    res = box.run(bomb, timeout_s=1.5)
    elapsed = time.monotonic() - t0
    assert res.status == "timeout" and res.error_type == "Timeout"
    assert elapsed < 1.5 + 5.0
    # a bomb that does not catch the error stops at the process limit
    res = box.run("import os\nwhile True:\n    os.fork()\n", timeout_s=1.5)
    assert res.error_type == "BlockingIOError", res
    # the host is fine, and every bomb process is gone: a new program can fork its full share again
    assert subprocess.run(["true"]).returncode == 0
    res = box.run(
        "import os\npids = []\nfor _ in range(20):\n    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n"
        "    pids.append(pid)\nfor p in pids:\n    os.waitpid(p, 0)\nprint(len(pids))"
    )
    assert res.status == "passed" and res.stdout == "20\n", res


def test_an_8gb_allocation_fails_inside(box: Sandbox) -> None:
    res = box.run("x = bytearray(8 * 1024 ** 3)")
    assert (res.status, res.error_type, res.fail_line) == ("failed", "MemoryError", 1)


def test_an_endless_loop_times_out(box: Sandbox) -> None:
    t0 = time.monotonic()
    res = box.run("while True:\n    pass\n", timeout_s=1.0)
    assert (res.status, res.error_type, res.error_message) == ("timeout", "Timeout", "timed out after 1.0s")
    assert res.fail_line is None
    assert 0.9 < res.duration_s < 3.0 and time.monotonic() - t0 < 6.0


def test_killing_the_parent_kills_nothing_outside(box: Sandbox) -> None:
    prog = (
        "import os, signal\n"
        "print(os.getppid())\n"
        "for target in (os.getppid(), -1, 1):\n"
        "    try:\n"
        "        os.kill(target, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('still here')\n"
    )
    res = box.run(prog)
    assert res.status in ("passed", "crashed"), res
    assert res.stdout.startswith("0\n")  # its parent is outside its PID namespace: invisible
    # the test process is alive (we are running), and the sandbox still works
    assert box.run("print(1)").stdout == "1\n"


def test_the_environment_is_scrubbed_and_privileges_gone(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANKSUITE_SECRET_TOKEN", "hunter2")
    with Sandbox(workers=1) as sb:
        res = sb.run(
            "import os\nprint(sorted(os.environ))\n"
            "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])"
        )
    env, caps = res.stdout.splitlines()
    assert "RANKSUITE_SECRET_TOKEN" not in env and "hunter2" not in res.stdout
    assert int(caps, 16) == 0


def test_io_tests_feed_stdin_and_compare_stdout(box: Sandbox) -> None:
    tests = [{"input": "2 3\n", "output": ["5\n"]}, {"input": "10 -4\n", "output": [6]}]
    ok = box.run("a, b = map(int, input().split())\nprint(a + b)", io_tests=tests)
    assert ok.status == "passed", ok
    wrong = box.run("a, b = map(int, input().split())\nprint(a * b)", io_tests=tests)
    assert (wrong.status, wrong.error_type) == ("failed", "AssertionError")
    assert "test 1" in (wrong.error_message or "")
    crash = box.run("a, b = map(int, input().split())\nprint(a // (b - 3))", io_tests=tests)
    assert (crash.error_type, crash.fail_line) == ("ZeroDivisionError", 2)
    slow = box.run("import time\ntime.sleep(5)", io_tests=tests, timeout_s=0.5)
    assert slow.error_type == "Timeout"


def test_without_namespaces_it_warns_or_refuses() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Sandbox(workers=1, isolate=False) as sb:
            res = sb.run("print('ran')")
    assert res.stdout == "ran\n" and not res.network_isolated and res.isolation.startswith("none")
    assert any(issubclass(w.category, SandboxWarning) for w in caught)
    with pytest.raises(SandboxError, match="network isolation required"):
        Sandbox(workers=1, isolate=False, require_isolation=True)
