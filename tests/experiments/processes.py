"""Helpers for tests that start a chief and workers: free ports, deadlines, cleanup.

``free_port()`` -> a TCP port free on 127.0.0.1 now; ``loopback_env()`` -> the
environment with keras-tuner's variables for a chief on such a port; ``wait_for(predicate,
timeout, what)`` polls or fails naming `what`; ``Processes(tmp_path, env)``
is a context manager that starts named processes (``start(name, command,
**env)``), each logging to ``tmp_path/<name>.log`` (``log(name)``), and
kills every one still running when the block ends;
``kill_a_worker_mid_task(...)`` is the scenario both distributed tests play.
"""

import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Processes(dict):
    """name -> Popen; see the module docstring."""

    def __init__(self, tmp_path, env):
        super().__init__()
        self.tmp_path, self.env = tmp_path, env

    def start(self, name, command, **env):
        with (self.tmp_path / f"{name}.log").open("w") as out:
            self[name] = subprocess.Popen(command, env={**self.env, **env}, stdout=out,
                                          stderr=subprocess.STDOUT)

    def log(self, name):
        return (self.tmp_path / f"{name}.log").read_text()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc in self.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def kill_a_worker_mid_task(procs, command, started, what, timeout=60, deadline=150):
    """Chief, tuner0, then tuner1; SIGKILL tuner0 as it starts its second task; both others end 0.

    `started` matches tuner0's log line for the start of a task (group 1: its
    id); `what` names a task in timeout messages. Returns (id tuner0
    finished, id it was killed in).
    """
    for name in ("chief", "tuner0"):
        procs.start(name, command, KERASTUNER_TUNER_ID=name)
    wait_for(lambda: started.search(procs.log("tuner0")), timeout, f"tuner0's first {what}")
    procs.start("tuner1", command, KERASTUNER_TUNER_ID="tuner1")
    wait_for(lambda: len(started.findall(procs.log("tuner0"))) >= 2, timeout,
             f"tuner0's second {what}")
    procs["tuner0"].send_signal(signal.SIGKILL)
    finished, killed = started.findall(procs.log("tuner0"))[:2]
    assert procs["chief"].wait(deadline) == 0, procs.log("chief")
    assert procs["tuner1"].wait(30) == 0, procs.log("tuner1")
    return finished, killed


def loopback_env():
    """This environment plus keras-tuner's variables for a chief on a free loopback port."""
    return {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": str(free_port())}
