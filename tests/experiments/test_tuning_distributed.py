"""Distributed `experiments tune` on loopback: a chief and two workers, one killed mid-trial.

Three processes run the same command with keras-tuner's environment
variables. Worker tuner0 starts first; when it begins its second trial it is
killed (SIGKILL). The search must still finish by itself: the chief hands the
lost trial to tuner1 after `lost_after` seconds, keeps tuner0's completed
trial, and exits once every trial is done. Every process is killed in
`finally`, and each wait has a deadline.
"""

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time

from tests.experiments.conftest import tune_toml

CONFIG = tune_toml(
    tune="max_trials = 4\nlost_after = 6.0",
    space='pooling = ["max", "avg", "min", "lp", "stochastic"]\n'
    'head = ["flatten", "global_avg", "global_max"]',
)
DEADLINE = 150  # seconds for the whole search
STARTED = re.compile(r"^\[tuner0\] trial (\d+): ", re.M)
DONE = r"^\[{}\] trial (\d+) done: "


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


def test_chief_and_two_workers_survive_a_killed_worker(tmp_path):
    config, out = tmp_path / "tune.toml", tmp_path / "out"
    config.write_text(CONFIG)
    env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": str(free_port())}
    logs, procs = {}, {}

    def start(tuner_id):
        logs[tuner_id] = tmp_path / f"{tuner_id}.log"
        procs[tuner_id] = subprocess.Popen(
            [sys.executable, "-m", "experiments", "tune", str(config), "--out", str(out)],
            env={**env, "KERASTUNER_TUNER_ID": tuner_id}, stdout=logs[tuner_id].open("w"),
            stderr=subprocess.STDOUT)

    def log(tuner_id):
        return logs[tuner_id].read_text()

    try:
        start("chief")
        start("tuner0")
        wait_for(lambda: STARTED.search(log("tuner0")), 60, "tuner0's first trial")
        start("tuner1")
        wait_for(lambda: len(STARTED.findall(log("tuner0"))) >= 2, 60, "tuner0's second trial")
        procs["tuner0"].send_signal(signal.SIGKILL)
        finished, killed = STARTED.findall(log("tuner0"))[:2]

        assert procs["chief"].wait(DEADLINE) == 0, log("chief")
        assert procs["tuner1"].wait(30) == 0, log("tuner1")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    with open(out / "trials.csv", newline="") as f:
        rows = {r["trial"]: r for r in csv.DictReader(f)}
    assert len(rows) == 4 and {r["status"] for r in rows.values()} == {"COMPLETED"}
    # tuner0's finished trial is kept and not redone; its cut-off trial went to tuner1.
    assert re.findall(DONE.format("tuner0"), log("tuner0"), re.M) == [finished]
    done_by_tuner1 = re.findall(DONE.format("tuner1"), log("tuner1"), re.M)
    assert killed in done_by_tuner1 and finished not in done_by_tuner1
    assert sorted(done_by_tuner1 + [finished]) == sorted(rows)
    assert f"trial {killed} lost: no heartbeat from tuner0" in log("chief")
    assert (out / "best.toml").is_file() and (out / "objective_by_pooling.png").is_file()
