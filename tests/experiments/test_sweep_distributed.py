"""`experiments run` over several processes: a chief and workers on loopback, and `--jobs N`.

Both must give the results of a one-process sweep of the same config (the
metric columns of results.csv; train_seconds differs), each run exactly once.
In the loopback test worker tuner0 is killed (SIGKILL) when it starts its
second run: the chief hands that run to tuner1 after `--lost-after` seconds
and the sweep still ends by itself. Every process is killed when the test
ends, and each wait has a deadline.
"""

import csv
import json
import re
import shutil
import subprocess
import sys

import pytest

from experiments import __main__ as cli
from experiments.config import ConfigError, parse, to_toml
from experiments.sweeps import distributed as distributed_sweep
from experiments.sweeps import jobs, sweep
from tests.experiments.conftest import TINY
from tests.experiments.processes import Processes, kill_a_worker_mid_task, loopback_env

RAW = {**TINY, "seeds": [0, 1]}  # 2 variants x 2 seeds
RUNS = {"max__n200__seed0", "avg__n200__seed0", "max__n200__seed1", "avg__n200__seed1"}
DEADLINE = 150  # seconds for a whole sweep
STARTED = re.compile(r"^\[tuner0\] run (\S+): started", re.M)
DONE = r"^\[{}\] run (\S+) done: "


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """results.csv rows of the one-process sweep of RAW, with the run files' folder."""
    out = tmp_path_factory.mktemp("reference")
    sweep.run(parse(RAW), out, log=lambda *_: None)
    return _metrics(out), out


def _metrics(out):
    """results.csv rows, keyed by (variant, seed), less the timing columns."""
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keyed = {(r["variant"], r["seed"]): {k: v for k, v in r.items() if not k.endswith("seconds")}
             for r in rows}
    assert len(keyed) == len(rows), "a run appears twice in results.csv"
    return keyed


def _config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(to_toml(RAW), encoding="utf-8")
    return path


def _run_command(config, out, *extra):
    return [sys.executable, "-m", "experiments", "run", str(config), "--out", str(out), *extra]


def test_chief_and_two_workers_survive_a_killed_worker(tmp_path, reference):
    config, out = _config(tmp_path), tmp_path / "out"
    with Processes(tmp_path, loopback_env()) as procs:
        finished, killed = kill_a_worker_mid_task(
            procs, _run_command(config, out, "--lost-after", "4"), STARTED, "run", 90, DEADLINE)
    log = procs.log

    assert _metrics(out) == reference[0]
    assert {p.stem for p in (out / "runs").glob("*.json")} == RUNS
    # tuner0's finished run is kept and not redone; its cut-off run went to tuner1.
    assert re.findall(DONE.format("tuner0"), log("tuner0"), re.M) == [finished]
    done_by_tuner1 = re.findall(DONE.format("tuner1"), log("tuner1"), re.M)
    assert killed in done_by_tuner1 and finished not in done_by_tuner1
    assert sorted(done_by_tuner1 + [finished]) == sorted(RUNS)
    assert "lost: no heartbeat from tuner0" in log("chief")
    for name in ("summary.md", "history.csv", "config.json", "learning_curves.png"):
        assert (out / name).is_file(), name


def test_jobs_2_gives_the_one_process_results_and_skips_finished_runs(tmp_path, reference):
    config, out = _config(tmp_path), tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    done = {"max__n200__seed0", "avg__n200__seed0"}  # finished before: never redone
    for run in done:
        shutil.copy(reference[1] / "runs" / f"{run}.json", out / "runs")
    result = subprocess.run(_run_command(config, out, "--jobs", "2"), capture_output=True,
                            text=True, timeout=DEADLINE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 already finished" in result.stdout
    started = re.findall(r"^\[tuner\d\] run (\S+): started", result.stdout, re.M)
    assert sorted(started) == sorted(RUNS - done)
    assert _metrics(out) == reference[0]
    assert (out / "summary.md").is_file()

    # Everything finished: the same command only re-renders (no workers are started).
    lines = []
    assert jobs.main(config, parse(RAW), out, 2, log=lines.append) == 0
    assert "4 already finished" in lines[0] and lines[-1].startswith("done:")


@pytest.mark.parametrize("value, message", [
    ("0", "expected a positive integer or \"auto\", got '0'"),
    ("-2", "expected a positive integer or \"auto\", got '-2'"),
    ("two", "expected a positive integer or \"auto\", got 'two'"),
    ("1.5", "expected a positive integer or \"auto\", got '1.5'"),
])
def test_bad_jobs_exit_2_with_one_line(capsys, value, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "digits", "--jobs", value])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1
    assert err[0].endswith(f"argument --jobs: {message}")


@pytest.mark.parametrize("option, value", [("--lost-after", "0.5"), ("--lost-after", "nan"),
                                           ("--retries", "-1")])
def test_bad_lost_after_and_retries_exit_2(capsys, option, value):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "digits", option, value])
    assert exit_.value.code == 2 and f"argument {option}: expected" in capsys.readouterr().err


def test_jobs_auto_is_one_per_gpu_or_core_and_at_most_one_per_run_left(tmp_path, monkeypatch):
    cfg = parse(RAW)  # 4 runs
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    assert jobs.auto_jobs(cfg, tmp_path, {"CUDA_VISIBLE_DEVICES": "0,1"}) == 2
    assert jobs.auto_jobs(cfg, tmp_path, {"CUDA_VISIBLE_DEVICES": ""}) == 4  # 8 cores, 4 runs
    (tmp_path / "runs").mkdir()
    for run in sorted(RUNS)[:3]:
        (tmp_path / "runs" / f"{run}.json").write_text("{}")
    assert jobs.auto_jobs(cfg, tmp_path, {"CUDA_VISIBLE_DEVICES": ""}) == 1
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: {0})
    assert jobs.auto_jobs(cfg, tmp_path / "empty", {"CUDA_VISIBLE_DEVICES": ""}) == 1


def test_jobs_check_the_data_before_starting_workers(tmp_path):
    raw = {**RAW, "data": {"dataset": "mnist", "data_dir": str(tmp_path / "none")}}
    with pytest.raises(ConfigError, match="'mnist' is not prepared"):
        jobs.main(_config(tmp_path), parse(raw), tmp_path / "out", 2)
    assert not (tmp_path / "out").exists()


def test_jobs_with_keras_tuner_variables_is_bad_input(monkeypatch, tmp_path):
    for name, value in [("KERASTUNER_ORACLE_IP", "127.0.0.1"), ("KERASTUNER_ORACLE_PORT", "1"),
                        ("KERASTUNER_TUNER_ID", "chief")]:
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="--jobs starts its own chief"):
        jobs.main(_config(tmp_path), parse(RAW), tmp_path / "out", 2)


def test_gpus_from_cuda_visible_devices_one_per_slot_round_robin():
    assert jobs.gpu_devices({"CUDA_VISIBLE_DEVICES": "0,1"}) == ["0", "1"]
    assert jobs.gpu_devices({"CUDA_VISIBLE_DEVICES": "3, GPU-abc"}) == ["3", "GPU-abc"]
    assert jobs.gpu_devices({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert jobs.gpu_devices({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert jobs.gpu_devices({"CUDA_VISIBLE_DEVICES": "2,-1,3"}) == ["2"]
    envs = [jobs.worker_env(slot, ["0", "1"], 5000, {"PATH": "/bin"}) for slot in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0"]
    assert [e["KERASTUNER_TUNER_ID"] for e in envs] == ["tuner0", "tuner1", "tuner2"]
    assert envs[0]["KERASTUNER_ORACLE_PORT"] == "5000" and envs[0]["PATH"] == "/bin"
    assert "CUDA_VISIBLE_DEVICES" not in jobs.worker_env(0, [], 5000, {})


def test_one_thread_cpu_workers_are_pinned_one_core_each():
    one = {"TF_NUM_INTRAOP_THREADS": "1"}
    envs = [jobs.worker_env(slot, [], 5000, one, cpus=[2, 5]) for slot in range(2)]
    assert [e["KERAS_POOL_CPU"] for e in envs] == ["2", "5"]
    # GPUs, more threads than one, or no cores to pin to: left to the scheduler
    assert "KERAS_POOL_CPU" not in jobs.worker_env(0, ["0"], 5000, one, cpus=[2, 5])
    assert "KERAS_POOL_CPU" not in jobs.worker_env(0, [], 5000, {"TF_NUM_INTRAOP_THREADS": "2"},
                                                   cpus=[2, 5])
    assert "KERAS_POOL_CPU" not in jobs.worker_env(0, [], 5000, one)
    inherited = {**one, "KERAS_POOL_CPU": "0"}  # the chief's own: not passed on to every worker
    assert "KERAS_POOL_CPU" not in jobs.worker_env(1, ["0"], 5000, inherited, cpus=[2, 5])
    assert jobs.worker_env(1, [], 5000, inherited, cpus=[2, 5])["KERAS_POOL_CPU"] == "5"


def test_a_run_check_changes_with_results_settings_only():
    cfg = parse(RAW)
    check = distributed_sweep._check(cfg, cfg.variants[0])
    cosmetic = parse({**RAW, "train": {**RAW["train"], "verbose": 2}, "seeds": [5]})
    assert distributed_sweep._check(cosmetic, cosmetic.variants[0]) == check
    other = parse({**RAW, "model": {"filters": [4, 4]}})
    assert distributed_sweep._check(other, other.variants[0]) != check
    assert distributed_sweep._check(cfg, cfg.variants[1]) != check
    assert json.dumps(distributed_sweep._values(cfg, (200, 1, cfg.variants[1]), 6.0)) == json.dumps(
        {"run": "avg__n200__seed1", "variant": "avg", "seed": 1, "train_size": 200,
         "check": distributed_sweep._check(cfg, cfg.variants[1]), "heartbeat": 1.0})


def test_each_worker_keeps_to_its_variants_while_it_can():
    cfg = parse({**RAW, "seeds": [0, 1, 2], "variants": [{"pooling": p} for p in
                                                         ("max", "avg", "min")]})
    oracle = distributed_sweep._RunOracle(
        [distributed_sweep._values(cfg, run, 60.0) for run in sweep.plan(cfg)], retries=0)
    given = {"tuner0": [], "tuner1": []}
    for _ in range(len(oracle.runs)):  # the workers ask in turn, each finishing at once
        tuner = min(given, key=lambda t: len(given[t]))
        trial = oracle.create_trial(tuner)
        given[tuner].append(trial.hyperparameters.values["run"])
        oracle.update_trial(trial.trial_id, {distributed_sweep.OBJECTIVE: 0.5})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert sorted(given["tuner0"] + given["tuner1"]) == sorted(oracle.runs[i]["run"]
                                                              for i in range(len(oracle.runs)))
    assert given["tuner0"][:3] == ["max__n200__seed0", "max__n200__seed1", "max__n200__seed2"]
    assert given["tuner1"][:3] == ["avg__n200__seed0", "avg__n200__seed1", "avg__n200__seed2"]
    assert given["tuner0"][3:] == ["min__n200__seed0", "min__n200__seed2"]  # then both share min
    assert given["tuner1"][3:] == ["min__n200__seed1"]


def test_gpus_from_nvidia_smi_without_cuda_visible_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert jobs.gpu_devices({}) == []  # no nvidia-smi: no GPU
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-a)'\n"
                   "echo 'GPU 1: NVIDIA H100 (UUID: GPU-b)'\n")
    smi.chmod(0o755)
    assert jobs.gpu_devices({}) == ["0", "1"]
