"""A sandbox for untrusted generated programs: one fresh process per program, in namespaces, limited.

Why not ``exec`` in a subprocess: candidates come from language models and are run by the thousand; some loop
forever, fork, allocate everything, write files or open sockets. The peers' harnesses (human-eval, evalplus, the
bigcode harness) guard with rlimits and ``os.kill = None``-style monkey patches, and not at all against the
network. Here every program runs

- in its **own process**, forked from a *zygote* (below), in its **own session**, with **rlimits**: address
  space (``memory_bytes``, 2 GiB: an 8 GB allocation is a ``MemoryError``), CPU time, file size, open files, no
  core dumps, and a **process count** (``nproc``);
- with **no network**: each worker (zygote) lives in its own user, network, mount and UTS namespaces
  (``unshare(2)`` through ctypes: Python 3.11 has no ``os.unshare``). Its network namespace has one loopback,
  down, and nothing else: no connection anywhere, not even to 127.0.0.1. Programs of a worker run one after
  the other in it, every process of the previous one dead before the next starts;
- in a fresh **PID namespace** per program, as its PID 1: it sees no process outside, so it cannot signal its
  parent, the test runner or anything else (``os.getppid()`` is 0; ``kill(-1)`` reaches only its own), and when it
  ends the kernel kills everything it left behind (a fork bomb dies with it). ``/proc`` is its own;
- on a **read-only file system**: the worker's mount namespace remounts every mount read-only
  (``mount_setattr(AT_RECURSIVE)``), and each program gets a fresh mount namespace with size-limited ``tmpfs`` on
  ``/tmp`` (its working directory) and ``/dev/shm``, gone when it ends: it writes nowhere else. A fresh IPC
  namespace per program leaves no shared memory behind;
- as an **unprivileged user**: started as root, the zygote prepares the read-only file system as root, then
  switches to a uid of its own (``0x40000000 + its pid``: no file on the machine is its) before creating the user
  namespace. This matters because the kernel never applies ``RLIMIT_NPROC`` to the real root user, even inside a
  user namespace (a root-mapped sandbox does not contain a fork bomb), and a root-mapped program could write
  every root-owned file but for the read-only mounts. When Python itself lives somewhere that uid may not enter
  (a pyenv under ``/root``), an empty tmpfs covers that directory and the installation alone is bind-mounted
  back, read-only (which also hides the rest of ``/root``). Inside, the program has no capabilities, cannot
  regain them by ``execve`` (securebits locked) and has ``no_new_privs``: it can neither unmount nor bring the
  loopback up;
- with a **scrubbed environment** (``PATH``, ``HOME=/tmp``, ``TMPDIR``, ``LANG``; nothing inherited), the standard
  library only (the zygote runs ``python -s -S``; ``PYTHONHASHSEED=0``), stdin ``/dev/null`` (or given text),
  stdout/stderr captured through pipes (the last ``output_bytes`` kept);
- under a **wall-clock timeout** kept from outside its namespaces: the zygote SIGKILLs the program, PID 1 of
  its namespace, so all of it dies (without namespaces: its process group, and what it orphaned comes back to the
  zygote, a child subreaper, to be killed); the parent has a further deadline for a zygote that hangs.

Where namespaces are unavailable (a container without user namespaces, another OS) programs still run with the
rlimits, their own session, the unprivileged uid when possible, a fresh temp directory and the timeout, but
**without network isolation**: a :class:`SandboxWarning` is issued, and every :class:`ExecResult` says
``network_isolated=False`` and what ``isolation`` it had — never silently. ``Sandbox(require_isolation=True)``
raises instead.

Speed: a fresh ``python -I`` per program costs ~20 ms of start-up. Instead each worker is a *zygote* (this file
run as ``python -s -S <this file> --zygote``) that imports nothing heavy, makes its worker namespaces once and then
starts each program with one raw ``clone`` into new PID, mount and IPC namespaces (a fork, for the cost of one:
see :func:`_clone_into_namespaces`). A :class:`Sandbox` keeps ``workers`` zygotes busy from threads.
``benchmarks/code_sandbox.py`` measures it against a plain fork-per-program baseline in the same run.

Not promised: a program can lie about its own result (it runs in the process that reports it, as in every
harness); it can read what its uid may read (the read-only file system stays visible: the standard library must
be); it may use ``memory_bytes`` of memory plus its tmpfs, and CPU until the timeout. Being PID 1 changes one
thing for a program: a signal it sends itself with no handler installed is ignored (``os.kill(os.getpid(),
SIGTERM)`` does nothing, ``os.abort()`` ends in SIGSEGV: a crash either way). ``random`` starts from the same
state in every program (reproducible, like the fixed hash seed).

Results follow the shipped labels' conventions: the program is compiled as ``<candidate>`` and run as the
``__main__`` module; ``error_type`` is the exception's class name (``IndentationError`` and ``TabError`` reported
as ``SyntaxError``), ``Timeout`` or ``Crash``; ``error_message`` is ``str(exception)``; ``fail_line`` the line, in
the executed program, of the innermost frame that belongs to it (a ``SyntaxError``'s own line); ``fail_source``
that line's text.

This module must stay importable with the standard library alone (the zygote runs it without site-packages).
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import json
import os
import queue
import re
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import types
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

CANDIDATE_FILENAME = "<candidate>"
SANDBOX_UID_BASE = 0x40000000  # a uid range no real account uses; + zygote pid keeps concurrent workers apart


class SandboxWarning(RuntimeWarning):
    """Issued when programs run without the full isolation (no namespaces: no network isolation)."""


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program): a zygote died, or isolation was required but unavailable."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program run. ``cpu_s`` (CPU seconds, a backstop behind the wall-clock
    ``timeout_s``: threads can burn CPU faster than the clock runs) defaults to ``int(timeout_s) + 2``."""

    timeout_s: float = 5.0
    memory_bytes: int = 2 << 30
    cpu_s: int | None = None
    file_bytes: int = 16 << 20
    nproc: int = 64
    open_files: int = 256
    tmpfs_bytes: int = 64 << 20
    output_bytes: int = 8192


@dataclass
class ExecResult:
    """The outcome of one program run.

    ``status``: ``passed`` (ran to the end), ``failed`` (an exception: ``error_type`` is its class name),
    ``timeout`` (killed at the wall-clock limit; ``error_type`` ``Timeout``), ``crashed`` (died without
    finishing: a signal, ``os._exit``, a hard limit; ``error_type`` ``Crash``), ``error`` (the sandbox failed;
    no verdict on the program). ``network_isolated`` and ``isolation`` say what the run actually had.
    """

    status: str
    error_type: str | None = None
    error_message: str | None = None
    fail_line: int | None = None
    fail_source: str | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    network_isolated: bool = False
    isolation: str = ""
    exit_code: int | None = None
    signal: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ============================================================================ Linux plumbing (ctypes)

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_SECUREBITS = 36, 47, 4, 28
# NOROOT, NO_SETUID_FIXUP, KEEP_CAPS (off), NO_CAP_AMBIENT_RAISE: each set and locked
_SECBITS_LOCKED_DOWN = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
SYS_MOUNT_SETATTR = 442  # same number on every architecture (added in 5.12 with the unified syscall table)
MOUNT_ATTR_RDONLY, AT_RECURSIVE, AT_FDCWD = 0x1, 0x8000, -100
_CAP_VERSION_3 = 0x20080522


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, arg: int = 0) -> int:
    if not hasattr(_libc, "prctl"):  # not Linux
        return -1
    return _libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _make_readonly(top: str) -> None:
    """Every mount at or under ``top`` (in this new, private mount namespace) read-only: one
    ``mount_setattr(AT_RECURSIVE)`` where the kernel has it (>= 5.12), else a read-only bind remount of each mount
    point (keeping its other flags)."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    ret = _libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        top.encode(),
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if ret == 0:
        if top == "/":  # procfs stays writable: the id maps of the user namespace are written there
            attr = _MountAttr(0, MOUNT_ATTR_RDONLY, 0, 0)
            _check(
                _libc.syscall(
                    ctypes.c_long(SYS_MOUNT_SETATTR),
                    ctypes.c_int(AT_FDCWD),
                    b"/proc",
                    ctypes.c_uint(0),
                    ctypes.byref(attr),
                    ctypes.c_size_t(ctypes.sizeof(attr)),
                ),
                "mount_setattr /proc",
            )
        return
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    flag_bits = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": 8, "noatime": 1024, "nodiratime": 2048}
    with open("/proc/self/mountinfo") as fh:
        opts = [line.split()[5].split(",") for line in fh]
    for point, o in zip(points, opts, strict=True):
        point = point.replace("\\040", " ")
        if point == "/proc" or (point != top and not point.startswith(top.rstrip("/") + "/")):
            continue
        extra = sum(flag_bits.get(x, 0) for x in o)
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra)


def _drop_capabilities() -> None:
    """No capabilities, now or after an ``execve`` (securebits: uid 0 is not special, locked), and no way to gain
    privileges (``no_new_privs``): the program cannot remount, unmount, configure the network, or ptrace."""
    _check(_prctl(PR_SET_SECUREBITS, _SECBITS_LOCKED_DOWN), "prctl(PR_SET_SECUREBITS)")
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "prctl(PR_SET_NO_NEW_PRIVS)")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    hdr = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(hdr), ctypes.byref(data)), "capset")


def _hidden_ancestor(path: str) -> str | None:
    """The first directory on the way to ``path`` that other users may not enter (``/root`` for a pyenv
    Python installed by root), or None. An unprivileged run uid could not import the standard library there."""
    current = "/"
    for part in os.path.realpath(path).strip("/").split("/"):
        current = os.path.join(current, part)
        try:
            if not os.stat(current).st_mode & 0o001:
                return current
        except OSError:
            return current
    return None


def _expose_python(prefix_fd: int, hidden: str, prefix: str) -> None:
    """Make the Python installation reachable for the run uid without opening the hidden directory: an empty
    tmpfs over ``hidden`` (which also hides the rest of it, e.g. root's home) and, inside, a read-only bind mount
    of the installation, taken from a descriptor opened before the tmpfs covered it."""
    _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=256,mode=0755")
    os.makedirs(prefix, exist_ok=True)
    _mount(f"/proc/self/fd/{prefix_fd}", prefix, None, MS_BIND | MS_REC)
    _make_readonly(prefix)


def _readonly_fs(hidden: str | None) -> None:
    """In a new mount namespace: no propagation to the host, every mount read-only, and the Python installation
    made reachable when it lies under ``hidden`` (the writable ``/tmp`` comes per program)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    prefix = os.path.realpath(sys.base_prefix)
    prefix_fd = os.open(prefix, os.O_PATH | os.O_DIRECTORY) if hidden else None
    try:
        _make_readonly("/")
        if prefix_fd is not None and hidden is not None:
            _expose_python(prefix_fd, hidden, prefix)
    finally:
        if prefix_fd is not None:
            os.close(prefix_fd)


_WORKER_NAMESPACES = CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS
_PROGRAM_NAMESPACES = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC


def _isolate_worker(run_uid: int | None, nproc: int) -> dict[str, Any]:
    """Once per zygote: its own user, network, mount and UTS namespaces, a read-only file system, and the run uid.
    Returns what was achieved; never raises for an unavailable feature (the results report it).

    The network namespace (loopback down, no interface) is the worker's for its lifetime: programs run one
    after the other in it, each one's processes all dead before the next starts (PID namespace), and none can
    configure it (no capabilities). Per program come a PID, mount (fresh ``/tmp``) and IPC namespace.

    Started as root (``run_uid`` given), the file system is prepared *first*, as root, in a mount namespace of its
    own (root can still reach a Python installed under ``/root``, and mounts made there cannot be undone from the
    user namespace that follows: the kernel locks them); then the uid changes and the namespaces are created.
    Not root, it is one step: namespaces, then mounts."""
    info: dict[str, Any] = {"userns": False, "netns": False, "mountns": False, "readonly_fs": False}
    info["problem"] = None
    if not hasattr(_libc, "unshare"):
        info["problem"] = f"no unshare(2) on {sys.platform}"
        return info
    prepared = False
    if run_uid is not None:
        hidden = _hidden_ancestor(sys.base_prefix)
        try:
            _check(_libc.unshare(ctypes.c_int(CLONE_NEWNS)), "unshare(mount namespace)")
            _readonly_fs(hidden)
            prepared = True
        except OSError as exc:
            info["problem"] = f"no read-only file system ({exc})"
            if hidden:  # the run uid could not reach the standard library: stay root (no RLIMIT_NPROC then)
                info["problem"] += f"; running as root (the Python installation is under {hidden})"
                run_uid = None
        if run_uid is not None:
            os.setgroups([])
            os.setresgid(run_uid, run_uid, run_uid)
            os.setresuid(run_uid, run_uid, run_uid)
            # a uid change makes us non-dumpable, and /proc/self/uid_map would stay root's
            _prctl(PR_SET_DUMPABLE, 1)
            # the user namespace takes this as its process cap (the kernel copies its creator's limit)
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            info["own_uid"] = True
    info["uid"] = os.getuid()
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(ctypes.c_int(_WORKER_NAMESPACES)) != 0:
        err = ctypes.get_errno()
        info["problem"] = f"unshare(user, net, mount namespaces) refused: {os.strerror(err)}"
        info["readonly_fs"] = info["mountns"] = prepared
        return info
    _write_file("/proc/self/setgroups", "deny")
    _write_file("/proc/self/uid_map", f"0 {uid} 1")
    _write_file("/proc/self/gid_map", f"0 {gid} 1")
    info.update(userns=True, netns=True, mountns=True)
    if prepared:
        info["readonly_fs"] = True
    else:
        try:
            _readonly_fs(None)
            info["readonly_fs"] = True
        except OSError as exc:
            info["problem"] = f"no read-only file system ({exc})"
    return info


def _program_mounts(limits: dict[str, Any]) -> None:
    """In the program's fresh mount namespace: size-limited tmpfs on ``/tmp`` (its working directory) and
    ``/dev/shm``, and a ``/proc`` of its PID namespace (best effort: a host that over-mounts parts of its
    ``/proc`` refuses a new one, and the host's then stays, read-only)."""
    size = limits["tmpfs_bytes"]
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},nr_inodes=4096,mode=1777")
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=64,mode=1777")
    with contextlib.suppress(OSError):
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


_SYS_CLONE = {"x86_64": 56, "aarch64": 220, "ppc64le": 120, "s390x": 120}.get(os.uname().machine)


def _clone_into_namespaces(flags: int) -> int:
    """``fork()`` into new namespaces in one step: the raw ``clone`` system call with ``SIGCHLD`` and no stack
    (the child continues on a copy of ours, like ``fork``). Returns the child's pid in the parent, 0 in the child.

    Why not ``os.fork`` + ``unshare`` + another ``os.fork`` (a new PID namespace only applies to the unsharer's
    children): each fork of a Python process costs ~1 ms of CPU here (page tables, copy-on-write faults), and
    that was most of the sandbox's overhead. The child skips CPython's and glibc's at-fork handlers: harmless in
    the single-threaded zygote (no lock can be held by another thread); ``random`` is not reseeded (programs get
    the same random state every run, like ``PYTHONHASHSEED=0``: reproducible); glibc >= 2.34 takes the thread id
    from the kernel where it matters (``raise``)."""
    pid = _libc.syscall(
        ctypes.c_long(_SYS_CLONE), ctypes.c_ulong(flags | signal.SIGCHLD), None, None, None, None
    )
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone(pid, mount, ipc namespaces): {os.strerror(err)}")
    return pid


def _describe_isolation(info: dict[str, Any]) -> str:
    if not info.get("netns"):
        return "none (no namespaces: " + str(info.get("problem") or "unavailable") + ")"
    text = "namespaces: user, net, pid, mount, ipc, uts"
    if info.get("readonly_fs"):
        text += "; read-only file system, private /tmp"
    if info.get("proc"):
        text += ", own /proc"
    if info.get("own_uid"):
        text += f"; uid {info.get('uid')}"
    if info.get("problem"):
        text += "; " + str(info["problem"])
    return text


# ============================================================================ inside the sandbox


def _exception_info(exc: BaseException) -> dict[str, Any]:
    line = None
    if isinstance(exc, SyntaxError) and exc.filename == CANDIDATE_FILENAME:
        line = exc.lineno
    else:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == CANDIDATE_FILENAME:
                line = tb.tb_lineno
            tb = tb.tb_next
    try:
        message = str(exc)
    except BaseException:  # a broken __str__ is the program's problem, not ours
        message = "<unprintable exception>"
    if len(message) > 2000:
        message = message[:2000] + "…"
    # IndentationError and TabError are reported as SyntaxError, as in the shipped labels (one class of
    # "does not compile"; the message still says which)
    name = "SyntaxError" if isinstance(exc, SyntaxError) else type(exc).__name__
    return {"type": name, "message": message, "line": line}


def _run_program(source: str) -> dict[str, Any]:
    """Compile and run ``source`` as ``__main__``; the outcome as a small dict."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    sys.argv = [CANDIDATE_FILENAME]
    try:
        code = compile(source, CANDIDATE_FILENAME, "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException as exc:
        return {"exc": _exception_info(exc)}
    return {"ok": True}


class _TestTimeout(BaseException):
    """Raised by the per-test alarm of :func:`_run_io_tests`."""


def _output_matches(got: str, expected: Any) -> bool:
    """Competitive-programming comparison: the same whitespace-separated tokens (a non-string expected value is
    compared as ``str(value)``, which is what ``print`` writes)."""
    text = expected if isinstance(expected, str) else str(expected)
    return got.split() == text.split()


def _run_io_tests(source: str, tests: list[dict[str, Any]], per_test_s: float) -> dict[str, Any]:
    """Run ``source`` once per test, stdin = the test's ``input``, stdout captured and compared with its first
    ``output``. The first failure is the outcome: the program's exception (``SystemExit`` with status 0 or None is
    a normal end), ``Timeout`` past ``per_test_s``, or an ``AssertionError`` naming the wrong output."""
    import io

    try:
        code = compile(source, CANDIDATE_FILENAME, "exec", dont_inherit=True)
    except BaseException as exc:
        return {"exc": _exception_info(exc)}

    def alarm(signum: int, frame: Any) -> None:
        raise _TestTimeout

    signal.signal(signal.SIGALRM, alarm)
    real_stdin, real_stdout = sys.stdin, sys.stdout
    for i, test in enumerate(tests):
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        sys.stdin, sys.stdout = io.StringIO(str(test.get("input", ""))), io.StringIO()
        try:
            signal.setitimer(signal.ITIMER_REAL, per_test_s)
            try:
                exec(code, module.__dict__)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _TestTimeout:
            sys.stdin, sys.stdout = real_stdin, real_stdout
            msg = f"timed out after {float(per_test_s)}s on test {i + 1}"
            return {"exc": {"type": "Timeout", "message": msg, "line": None}, "test": i}
        except SystemExit as exc:
            if exc.code not in (None, 0):
                sys.stdin, sys.stdout = real_stdin, real_stdout
                return {"exc": _exception_info(exc), "test": i}
        except BaseException as exc:
            sys.stdin, sys.stdout = real_stdin, real_stdout
            return {"exc": _exception_info(exc), "test": i}
        got = sys.stdout.getvalue()
        sys.stdin, sys.stdout = real_stdin, real_stdout
        expected = test.get("output")
        first = expected[0] if isinstance(expected, list) and expected else expected
        if not _output_matches(got, "" if first is None else first):
            exp, out = str(first), got.strip()
            exp = exp if len(exp) <= 200 else exp[:200] + "…"
            out = out if len(out) <= 200 else out[:200] + "…"
            message = f"wrong output on test {i + 1}: expected {exp!r}, got {out!r}"
            return {"exc": {"type": "AssertionError", "message": message, "line": None}, "test": i}
    return {"ok": True}


def _runner(job: dict[str, Any], info: dict[str, Any], workdir: str, fds: dict[str, int]) -> None:
    """The program's process: PID 1 of its own PID, mount and IPC namespaces when the worker has namespaces
    (it mounts its ``/tmp``, ``/dev/shm`` and ``/proc`` itself, then drops every capability). Never returns."""
    me = os.getpid()
    in_pidns = info["pidns"]
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _prctl(PR_SET_DUMPABLE, 1)
        if in_pidns:
            _program_mounts(job["limits"])
        os.chdir(workdir)
        os.setsid()  # its own session: kill(0, ...) reaches only the program's own processes
        stdin_text = job.get("stdin")
        if stdin_text is not None:
            mfd = os.memfd_create("stdin")
            os.write(mfd, stdin_text.encode())
            os.lseek(mfd, 0, os.SEEK_SET)
        else:
            mfd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(mfd, 0)
        os.dup2(fds["out"], 1)
        os.dup2(fds["err"], 2)
        os.dup2(fds["res"], 3)
        os.closerange(4, 1 << 16)
        lim = job["limits"]
        cpu = lim.get("cpu_s") or int(lim["timeout_s"]) + 2
        limits = [
            (resource.RLIMIT_AS, lim["memory_bytes"]),
            (resource.RLIMIT_FSIZE, lim["file_bytes"]),
            (resource.RLIMIT_NOFILE, lim["open_files"]),
            (resource.RLIMIT_CORE, 0),
        ]
        if info["userns"] or info.get("own_uid"):
            # counted in our own user namespace / for our own uid; without either it would count every
            # process of the user who runs us, and starve their forks instead of the program's
            limits.append((resource.RLIMIT_NPROC, lim["nproc"]))
        for res, value in limits:
            resource.setrlimit(res, (value, value))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large file is an OSError, not a silent death
        if in_pidns:
            _drop_capabilities()
        os.environ.clear()
        os.environ.update(
            {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}
        )
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(fds["res"], json.dumps({"setup_error": f"{type(exc).__name__}: {exc}"}).encode())
        os._exit(70)
    if job.get("io_tests") is not None:
        outcome = _run_io_tests(job["source"], job["io_tests"], float(job["per_test_s"]))
    else:
        outcome = _run_program(job["source"])
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
    with contextlib.suppress(BaseException):
        sys.stderr.flush()
    if os.getpid() == me:  # a child the program forked ends here too: only the program itself reports
        with contextlib.suppress(BaseException):
            os.write(3, json.dumps(outcome).encode())
    os._exit(0)


# ============================================================================ the zygote (one per worker)


def _send(fd: int, obj: Any) -> None:
    data = json.dumps(obj).encode()
    payload = memoryview(struct.pack("<Q", len(data)) + data)
    while payload:
        payload = payload[os.write(fd, payload) :]


def _recv_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _recv(fd: int) -> Any:
    head = _recv_exact(fd, 8)
    if head is None:
        return None
    body = _recv_exact(fd, struct.unpack("<Q", head)[0])
    return None if body is None else json.loads(body)


def _zygote_run(job: dict[str, Any], worker_info: dict[str, Any]) -> dict[str, Any]:
    """Run one job: start the program (in new PID, mount and IPC namespaces when the worker has namespaces),
    collect its output, SIGKILL it at the timeout (PID 1 of its namespace: all of it dies), reap it."""
    limits = job["limits"]
    namespaced = bool(worker_info.get("userns"))
    info = dict(worker_info, pidns=namespaced, private_tmp=namespaced, proc=namespaced)
    own_dir = None if namespaced else tempfile.mkdtemp(prefix="ranksuite-sbx-")
    pipes = {name: os.pipe() for name in ("out", "err", "res")}
    t0 = time.monotonic()
    pid = _clone_into_namespaces(_PROGRAM_NAMESPACES) if namespaced else os.fork()
    if pid == 0:
        try:
            for r, _ in pipes.values():
                os.close(r)
            _runner(job, info, own_dir or "/tmp", {name: w for name, (_, w) in pipes.items()})
        finally:
            os._exit(71)
    for _, w in pipes.values():
        os.close(w)
    reading = {r: name for name, (r, _) in pipes.items()}
    cap = int(limits["output_bytes"])
    bufs = {name: bytearray() for name in pipes}
    caps = {"out": cap, "err": cap, "res": 1 << 20}
    poller = select.poll()
    for fd in reading:
        poller.register(fd, select.POLLIN | select.POLLHUP)
    try:
        pidfd: int | None = os.pidfd_open(pid)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pidfd = None
    deadline = t0 + float(limits["timeout_s"])
    status = None
    timed_out = False
    ended_at = None
    while status is None or (reading and time.monotonic() < ended_at + 0.2):  # type: ignore[operator]
        now = time.monotonic()
        if status is None and now >= deadline and not timed_out:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
        if status is None:
            wait = 1.0 if timed_out else deadline - now
            if pidfd is None:
                wait = min(wait, 0.005)
        else:
            wait = ended_at + 0.2 - now  # type: ignore[operator]
        for fd, _ in poller.poll(max(0, int(wait * 1000) + 1)):
            if fd == pidfd:
                continue
            data = os.read(fd, 1 << 16)
            name = reading.get(fd)
            if name is None:
                continue
            if not data:
                poller.unregister(fd)
                del reading[fd]
                continue
            buf = bufs[name]
            if name == "res":
                if len(buf) < caps[name]:
                    buf += data[: caps[name] - len(buf)]
            else:
                buf += data
                if len(buf) > caps[name]:
                    del buf[: len(buf) - caps[name]]
        if status is None:
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid:
                status, ended_at = st, time.monotonic()
                duration = ended_at - t0
                if pidfd is not None:
                    poller.unregister(pidfd)
                    os.close(pidfd)
                    pidfd = None
                if not namespaced:
                    with contextlib.suppress(OSError):
                        os.killpg(pid, signal.SIGKILL)  # what it forked and left in its session
    for fd in list(reading) + [r for r, _ in pipes.values() if r not in reading]:
        with contextlib.suppress(OSError):
            os.close(fd)
    if not namespaced:
        with contextlib.suppress(ChildProcessError):  # orphans it left came to us (child subreaper)
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        shutil.rmtree(own_dir, ignore_errors=True)  # type: ignore[arg-type]
    result = None
    if bufs["res"]:
        try:
            result = json.loads(bytes(bufs["res"]).decode("utf-8", "replace"))
        except ValueError:
            result = {"garbled": True}
    return {
        "result": result,
        "timed_out": timed_out,
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "duration_s": duration,
        "stdout": bytes(bufs["out"]).decode("utf-8", "replace"),
        "stderr": bytes(bufs["err"]).decode("utf-8", "replace"),
        "isolation": info,
    }


def _zygote_main() -> None:
    """``python -s -S sandbox.py --zygote NPROC``: isolate, then serve jobs from stdin one at a time, replies on
    stdout."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]  # no sibling modules for programs
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    os.chdir("/")
    config = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    nproc = int(config.get("nproc", Limits.nproc))
    run_uid = SANDBOX_UID_BASE + os.getpid() if os.geteuid() == 0 else None
    try:
        if config.get("isolate", True):
            info = _isolate_worker(run_uid, nproc)
        else:
            info = {"userns": False, "netns": False, "problem": "namespaces switched off (isolate=False)"}
    except OSError as exc:  # half-way: report it, programs will be refused
        info = {
            "userns": False,
            "netns": False,
            "problem": f"isolation failed half-way: {exc}",
            "broken": True,
        }
    if info.get("userns") and _SYS_CLONE is None:
        info = {
            "userns": False,
            "netns": False,
            "problem": f"no clone(2) number known for {os.uname().machine}",
        }
    if not info.get("userns"):
        _prctl(PR_SET_CHILD_SUBREAPER, 1)  # what a program leaves behind comes back to us, to be killed
    _prctl(PR_SET_DUMPABLE, 0)  # programs (same uid) may not ptrace or read the zygote
    _send(proto_out, {"hello": True, "pid": os.getpid(), "info": info, "python": sys.version.split()[0]})
    while True:
        job = _recv(proto_in)
        if job is None:
            return
        if info.get("broken"):
            _send(proto_out, {"sandbox_error": info["problem"]})
            continue
        _send(proto_out, _zygote_run(job, info))


# ============================================================================ the parent side


_SPLIT_LINES = re.compile(r"\r\n|\r|\n")


def source_line(source: str, line: int | None) -> str | None:
    """Line ``line`` (1-based) of ``source`` as Python counts lines (``\\r\\n``, ``\\r`` and ``\\n`` end one)."""
    if line is None or line < 1:
        return None
    lines = _SPLIT_LINES.split(source)
    return lines[line - 1] if line <= len(lines) else None


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def result_from_report(report: dict[str, Any], source: str, limits: Limits) -> ExecResult:
    """Turn a zygote's report into an :class:`ExecResult` (conventions of the shipped labels)."""
    if "sandbox_error" in report:
        return ExecResult("error", error_message=str(report["sandbox_error"]), isolation="unknown")
    info = report.get("isolation") or {}
    common: dict[str, Any] = {
        "stdout": report.get("stdout", ""),
        "stderr": report.get("stderr", ""),
        "duration_s": float(report.get("duration_s", 0.0)),
        "network_isolated": bool(info.get("netns")),
        "isolation": _describe_isolation(info),
        "exit_code": report.get("exit_code"),
        "signal": _signal_name(report["signal"]) if report.get("signal") else None,
    }
    result = report.get("result") or {}
    if report.get("timed_out"):
        return ExecResult(
            "timeout", "Timeout", f"timed out after {float(limits.timeout_s)}s", None, None, **common
        )
    if "setup_error" in result:
        return ExecResult("error", error_message="sandbox set-up failed: " + result["setup_error"], **common)
    if result.get("ok"):
        return ExecResult("passed", **common)
    if "exc" in result:
        exc = result["exc"]
        line = exc.get("line")
        return ExecResult(
            "failed", exc.get("type"), exc.get("message"), line, source_line(source, line), **common
        )
    if report.get("signal"):
        message = f"killed by {common['signal']}"
        if report["signal"] == signal.SIGKILL:
            message += " (a hard limit: CPU time or memory)"
    else:
        message = f"exited with status {report.get('exit_code')} before finishing"
    return ExecResult("crashed", "Crash", message, None, None, **common)


class _Zygote:
    """One worker: a zygote process and the pipes to it."""

    def __init__(self, python: str, config: dict[str, Any]) -> None:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0",  # set iteration order the same on every run (labels reproducible)
            "PYTHONIOENCODING": "utf-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.proc = subprocess.Popen(
            [python, "-s", "-S", "-B", os.path.abspath(__file__), "--zygote", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.w, self.r = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        hello = _recv(self.r)
        if not hello or not hello.get("hello"):
            self.close()
            raise SandboxError("the sandbox zygote did not start")
        self.hello = hello

    def run(self, job: dict[str, Any], deadline_s: float) -> dict[str, Any]:
        try:
            _send(self.w, job)
        except OSError as exc:
            self.close()
            raise SandboxError(f"the sandbox zygote is gone ({exc})") from exc
        ready, _, _ = select.select([self.r], [], [], deadline_s)
        if not ready:
            self.close()
            raise SandboxError("the sandbox zygote hung")
        reply = _recv(self.r)
        if reply is None:
            self.close()
            raise SandboxError("the sandbox zygote died")
        return reply

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(Exception):
            self.proc.stdout.close()  # type: ignore[union-attr]


@dataclass
class Sandbox:
    """A pool of ``workers`` zygotes running programs concurrently (``workers`` defaults to the CPU count).

    Use as a context manager (or call :meth:`close`). :meth:`run` is thread-safe; :meth:`map` runs many
    programs across the workers and yields results in input order. ``require_isolation`` makes a missing
    network isolation an error instead of a :class:`SandboxWarning`; ``isolate=False`` switches the namespaces
    off (to measure what they cost, or to see the fallback: it warns like a machine without them).
    """

    workers: int | None = None
    limits: Limits = field(default_factory=Limits)
    require_isolation: bool = False
    isolate: bool = True
    python: str = sys.executable
    network_isolated: bool = field(init=False, default=False)
    isolation: str = field(init=False, default="")

    def __post_init__(self) -> None:
        n = self.workers or os.cpu_count() or 1
        self.workers = n
        self._config = {"nproc": self.limits.nproc, "isolate": self.isolate}
        self._idle: queue.Queue[_Zygote] = queue.Queue()
        self._all: list[_Zygote] = []
        self._lock = threading.Lock()
        self._warned = False
        try:
            for _ in range(n):
                z = _Zygote(self.python, self._config)
                self._all.append(z)
                self._idle.put(z)
            # the standard library must be importable in there (a Python under /root is mounted in for the
            # run uid)
            probe = self.run("import collections, heapq, itertools, json, math, re")
            if probe.status != "passed":
                raise SandboxError(
                    f"the sandbox cannot run a trivial program: {probe.status} {probe.error_type} "
                    f"{probe.error_message} ({probe.isolation})"
                )
        except BaseException:
            self.close()
            raise
        self.network_isolated = probe.network_isolated
        self.isolation = probe.isolation

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            zygotes, self._all = self._all, []
        for z in zygotes:
            z.close()

    def run(
        self,
        source: str,
        *,
        stdin: str | None = None,
        timeout_s: float | None = None,
        io_tests: list[dict[str, Any]] | None = None,
    ) -> ExecResult:
        """Run one program; ``stdin`` is its standard input (default: empty, ``/dev/null``).

        With ``io_tests`` (``[{"input": str, "output": [expected, ...]}, ...]``, the APPS / competitive
        programming format) the program is run once per test inside the same sandbox, stdin = the input, its
        stdout compared token by token with the first expected output; ``timeout_s`` then applies to each test
        and the whole run gets ``timeout_s`` × tests (+1 s)."""
        limits = (
            self.limits if timeout_s is None else Limits(**{**asdict(self.limits), "timeout_s": timeout_s})
        )
        job: dict[str, Any] = {"source": source, "stdin": stdin, "limits": asdict(limits)}
        if io_tests is not None:
            job["io_tests"] = io_tests
            job["per_test_s"] = limits.timeout_s
            total = limits.timeout_s * max(1, len(io_tests)) + 1.0
            job["limits"] = asdict(Limits(**{**asdict(limits), "timeout_s": total}))
            limits = Limits(**job["limits"])
        z = self._idle.get()
        try:
            try:
                report = z.run(job, limits.timeout_s + 30.0)
            except SandboxError as exc:
                z = self._replace(z)
                return ExecResult("error", error_message=str(exc), isolation="unknown")
        finally:
            self._idle.put(z)
        result = result_from_report(report, source, limits)
        if result.status != "error" and not result.network_isolated:
            self._no_isolation(result.isolation)
        return result

    def _replace(self, dead: _Zygote) -> _Zygote:
        fresh = _Zygote(self.python, self._config)
        with self._lock:
            self._all = [fresh if z is dead else z for z in self._all]
        return fresh

    def _no_isolation(self, isolation: str) -> None:
        if self.require_isolation:
            raise SandboxError(f"network isolation required but unavailable: {isolation}")
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"sandboxed programs run WITHOUT network isolation on this machine ({isolation}); "
                "user namespaces are needed (unshare --user --net)",
                SandboxWarning,
                stacklevel=3,
            )

    def map(
        self, programs: Iterable[str | dict[str, Any]], *, timeout_s: float | None = None
    ) -> Iterator[ExecResult]:
        """Run many programs across the workers; results in input order. Each item is a source, or a dict of
        :meth:`run`'s arguments (``{"source": ..., "stdin": ..., "io_tests": ...}``)."""
        from concurrent.futures import ThreadPoolExecutor

        def one(item: str | dict[str, Any]) -> ExecResult:
            if isinstance(item, str):
                return self.run(item, timeout_s=timeout_s)
            return self.run(**{"timeout_s": timeout_s, **item})

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            yield from pool.map(one, programs)


def run_program(source: str, *, stdin: str | None = None, limits: Limits | None = None) -> ExecResult:
    """Run one program in a one-off sandbox (starts and stops a zygote: ~50 ms; use :class:`Sandbox` for many)."""
    with Sandbox(workers=1, limits=limits or Limits()) as sb:
        return sb.run(source, stdin=stdin)


if __name__ == "__main__" and sys.argv[1:2] == ["--zygote"]:
    _zygote_main()
