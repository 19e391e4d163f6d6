"""One way for tests to run a command as a subprocess, such that nothing it starts can outlive the test.

The command runs in a session (hence a process group) of its own. If it is still running when `timeout` seconds have
passed, or the test is interrupted, every process it started is killed with SIGKILL, and the test fails with the
captured output. Killing the process group alone is not enough: `torchrun` starts each rank with
`start_new_session=True`, so the ranks are in groups of their own; the whole tree is stopped (SIGSTOP, so nothing
forks or exits while it is walked), then killed. The timeouts are generous on purpose: they only turn a hung run into
a failure that shows its output, they never judge speed (CI, on two busy cores, has its own limit for the suite).
"""

import os
import signal
import subprocess

import psutil  # an accelerate dependency
import pytest


# Generous limits, for two busy CPU cores.
TIMEOUT = 600
MULTIPROCESS_TIMEOUT = 900


def run(command, *, timeout=TIMEOUT, check=True, cwd=None, env=None):
    """
    Run `command` (a list) to completion and return its `subprocess.CompletedProcess` (text `stdout` and `stderr`).

    Fails the test if the command runs past `timeout` seconds (after killing all of its processes) or, with `check`,
    if it exits with a nonzero status.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        # The pipes reach EOF only once every process that inherited them is gone: a rank left behind keeps this
        # waiting, so it ends here as a timeout.
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_all(process)
        stdout, stderr = _drain(process)
        pytest.fail(f"timed out after {timeout} s, all its processes killed: {_describe(command, stdout, stderr)}")
    except BaseException:  # KeyboardInterrupt, or pytest's own timeout: leave nothing running behind
        kill_all(process)
        _drain(process)
        raise
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        pytest.fail(f"exit status {result.returncode}: {_describe(command, stdout, stderr)}")
    return result


def kill_all(process):
    """SIGKILL `process`, every process it started (whatever their session) and its process group."""
    try:
        root = psutil.Process(process.pid)  # not reaped yet: the pid (and the group id) cannot have been reused
        tree = {root}
        frontier = [root]
        while frontier:  # stop each process before listing its children: none forks or exits meanwhile
            for member in frontier:
                _signal(member, signal.SIGSTOP)
            children = {child for member in frontier for child in _children(member)}
            frontier = list(children - tree)
            tree |= children
        for member in tree:
            _signal(member, signal.SIGKILL)
    except psutil.NoSuchProcess:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(member, signum):
    try:
        member.send_signal(signum)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass


def _children(member):
    try:
        return member.children()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _drain(process):
    """The output so far of a killed `process` (a process outside its tree could still hold the pipes open)."""
    try:
        return process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        for pipe in (process.stdout, process.stderr):
            pipe.close()
        process.wait()
        return "(output not collected: its pipes stayed open)", ""


def _describe(command, stdout, stderr):
    return f"{' '.join(map(str, command))}\n--- stdout (end) ---\n{stdout[-3000:]}\n--- stderr (end) ---\n{stderr[-5000:]}"
