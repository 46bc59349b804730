"""Distributed `experiments tune` on loopback: a chief and two workers, one killed mid-trial.

Three processes run the same command with keras-tuner's environment
variables. Worker tuner0 starts first; when it begins its second trial it is
killed (SIGKILL). The search must still finish by itself: the chief hands the
lost trial to tuner1 after `lost_after` seconds, keeps tuner0's completed
trial, and exits once every trial is done. Every process is killed when
the test ends (`tests.experiments.processes`), and each wait has a deadline.
"""

import csv
import re
import sys

from tests.experiments.conftest import tune_toml
from tests.experiments.processes import Processes, kill_a_worker_mid_task, loopback_env

CONFIG = tune_toml(
    tune="max_trials = 4\nlost_after = 6.0",
    space='pooling = ["max", "avg", "min", "lp", "stochastic"]\n'
    'head = ["flatten", "global_avg", "global_max"]',
)
DEADLINE = 150  # seconds for the whole search
STARTED = re.compile(r"^\[tuner0\] trial (\d+): ", re.M)
DONE = r"^\[{}\] trial (\d+) done: "


def test_chief_and_two_workers_survive_a_killed_worker(tmp_path):
    config, out = tmp_path / "tune.toml", tmp_path / "out"
    config.write_text(CONFIG)
    command = [sys.executable, "-m", "experiments", "tune", str(config), "--out", str(out)]

    with Processes(tmp_path, loopback_env()) as procs:
        finished, killed = kill_a_worker_mid_task(procs, command, STARTED, "trial", 60, DEADLINE)
    log = procs.log

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
