"""The harness's process behaviour: a fast `--help`, no CUDA noise on GPU-less
machines, one line per epoch in logs, result files readable by others, TOML on
Python 3.10, optional TensorBoard logs."""

import importlib.util
import io
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import bench, rundir
from experiments.config import to_toml
from experiments.run import runtime

ROOT = Path(__file__).resolve().parents[2]
needs_tensorflow = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                      reason="the harness runs on TensorFlow")


def _python(code, env=None, cwd=ROOT, timeout=300):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


# --- --help: parsed before Keras or TensorFlow is imported --------------------------------


@pytest.mark.parametrize("command", ["run", "tune", "report", "bench"])
def test_help_imports_neither_keras_nor_tensorflow(command):
    code = (
        "import sys\n"
        "from experiments.__main__ import main\n"
        "try:\n"
        f"    main([{command!r}, '--help'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'keras_pool')]\n"
        "assert not heavy, heavy[:5]\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert "usage: python -m experiments" in result.stdout


def test_help_answers_fast_in_a_real_process():
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "experiments", "run", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - start
    assert result.returncode == 0 and result.stderr == ""
    assert seconds < 5, f"{seconds:.1f} s (TensorFlow alone takes ~5 s to import)"


def test_bench_help_names_the_default_folder(capsys):
    from experiments import __main__ as cli

    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {bench.DEFAULT_OUT})" in text
    assert "chosen by" not in text


def test_usage_errors_come_before_tensorflow():
    result = _python(
        "import sys\nfrom experiments.__main__ import main\n"
        "try:\n    main(['run'])\nexcept SystemExit as e:\n    assert e.code == 2\n"
        "assert 'tensorflow' not in sys.modules\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("the following arguments are required: config")


def test_missing_tensorflow_is_one_line_and_status_2():
    # TensorFlow made unimportable: the command says what to install.
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "from experiments.__main__ import main\n"
        "sys.exit(main(['run', 'configs/digits.toml']))\n"
    )
    result = _python(code)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'keras-pool[experiments]'" in lines[0], lines


# --- TensorFlow's C++ log -----------------------------------------------------------------


def test_log_level_default_hides_cuinit_only_without_a_gpu():
    env = {}
    runtime.quiet_tensorflow_logs(env, gpu=False)
    assert env == {"TF_CPP_MIN_LOG_LEVEL": "3"}
    env = {}
    runtime.quiet_tensorflow_logs(env, gpu=True)
    assert env == {"TF_CPP_MIN_LOG_LEVEL": "2"}
    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    runtime.quiet_tensorflow_logs(env, gpu=False)
    assert env == {"TF_CPP_MIN_LOG_LEVEL": "0"}  # the user's choice is kept
    assert "CUDA_VISIBLE_DEVICES" not in env  # devices are never hidden


@pytest.mark.skipif(runtime.has_nvidia_gpu(), reason="checks the CPU-only start-up")
@needs_tensorflow
def test_no_cuda_noise_on_a_machine_without_gpu(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = (
        "from experiments.run.runtime import import_tensorflow_quietly\n"
        "import_tensorflow_quietly()\n"
        "import tensorflow as tf\n"
        "print(float(tf.constant(1.0) + 1))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2.0\n"
    assert "cuInit" not in result.stderr and "CUDA" not in result.stderr, result.stderr


# --- Keras progress output ----------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_fit_verbose_is_one_line_per_epoch_off_a_terminal():
    assert runtime.fit_verbose(1, io.StringIO()) == 2
    assert runtime.fit_verbose(1, _Terminal()) == 1
    assert runtime.fit_verbose(0, io.StringIO()) == 0
    assert runtime.fit_verbose(2, _Terminal()) == 2


# --- file permissions ---------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_files_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert rundir.default_file_mode() == mode
        rundir.write_atomic(tmp_path / "summary.md", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "summary.md").stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]  # no temporary left


# --- TOML on Python 3.10 ------------------------------------------------------------------


def test_toml_falls_back_to_tomli_without_tomllib():
    pytest.importorskip("tomli")
    code = (
        "import sys\n"
        "sys.modules['tomllib'] = None  # as on Python 3.10\n"
        "from experiments._compat import tomllib\n"
        "assert tomllib.__name__ == 'tomli', tomllib\n"
        "assert tomllib.loads('a = [1, 2]') == {'a': [1, 2]}\n"
        "from experiments import config\n"
        "assert config.tomllib is tomllib\n"
        "print(config.load('configs/digits.toml').train.epochs)\n"
    )
    result = _python(code, env={"KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().isdigit()


# --- a real run: log lines, file modes, TensorBoard ---------------------------------------


@needs_tensorflow
def test_run_logs_one_line_per_epoch_writes_readable_files_and_tensorboard(tmp_path, tiny_raw):
    tiny_raw["variants"] = [{"pooling": "max"}]
    tiny_raw["train"].update(epochs=2, verbose=1, tensorboard=True)
    path = tmp_path / "tiny.toml"
    path.write_text(to_toml(tiny_raw), encoding="utf-8")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "experiments", "run", str(path), "--out",
                             str(out), "--jobs", "1"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr[-3000:]
    # stdout is a pipe: no progress-bar redraws, one line per epoch
    assert "\r" not in result.stdout and "\x1b[" not in result.stdout
    epoch_lines = [line for line in result.stdout.splitlines() if "val_accuracy" in line]
    assert len(epoch_lines) == 2, result.stdout
    if not runtime.has_nvidia_gpu():
        assert "cuInit" not in result.stderr, result.stderr
    for name in ("summary.md", "results.csv", "history.csv", "config.json", "versions.json",
                 "runs/max__n200__seed0.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
    logs = out / "tensorboard" / "max__n200__seed0"
    assert list((logs / "train").glob("events.out.tfevents.*")), sorted(logs.rglob("*"))
    assert list((logs / "validation").glob("events.out.tfevents.*"))
    assert json.loads((out / "config.json").read_text())["train"]["tensorboard"] is True


@needs_tensorflow
def test_tensorboard_is_off_by_default_and_cosmetic_for_resume(tmp_path, tiny_raw):
    from experiments import config
    from experiments.sweeps import sweep

    tiny_raw["variants"] = [{"pooling": "max"}]
    cfg = config.parse(tiny_raw)
    assert cfg.train.tensorboard is False
    sweep.run(cfg, tmp_path, log=lambda *_: None)
    assert not (tmp_path / "tensorboard").exists()
    tiny_raw["train"]["tensorboard"] = True  # turning it on later resumes the same folder
    records = sweep.run(config.parse(tiny_raw), tmp_path, log=lambda *_: None)
    assert len(records) == 1


def test_one_thread_per_process_keeps_the_users_choice():
    env = {"TF_NUM_INTEROP_THREADS": "4"}
    runtime.one_thread_per_process(env)
    assert env == {"TF_NUM_INTEROP_THREADS": "4", "TF_NUM_INTRAOP_THREADS": "1"}


def test_one_thread_reads_tensorflows_intra_op_setting():
    assert runtime.one_thread({"TF_NUM_INTRAOP_THREADS": "1"})
    assert not runtime.one_thread({"TF_NUM_INTRAOP_THREADS": "2"})
    assert not runtime.one_thread({})


def test_pin_to_cpu_binds_the_process_to_the_named_core_only_when_told():
    code = ("import os\nfrom experiments.run import runtime\nruntime.pin_to_cpu()\n"
            "print(sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else 'n/a')")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_POOL_CPU"}
    if not hasattr(os, "sched_getaffinity"):  # no pinning on this OS: a no-op, no error
        result = _python(code, env={"KERAS_POOL_CPU": "0"})
        assert result.returncode == 0 and result.stdout.strip() == "n/a", result.stderr
        return
    cores = sorted(os.sched_getaffinity(0))
    last = cores[-1]
    pinned = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**env, "KERAS_POOL_CPU": str(last)})
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.strip() == str([last])
    free = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert free.stdout.strip() == str(cores)


def test_a_core_this_process_may_not_use_is_exit_2_with_one_line():
    if not hasattr(os, "sched_getaffinity"):
        return  # nothing is pinned on this OS (the test above checks the no-op)
    bad = max(os.sched_getaffinity(0)) + 4096
    for value in (str(bad), "first"):
        result = _python("import sys\nfrom experiments.__main__ import main\n"
                         "sys.exit(main(['run', 'configs/digits.toml']))",
                         env={"KERAS_POOL_CPU": value})
        assert result.returncode == 2, result.stderr
        assert f"KERAS_POOL_CPU={value!r} is not a core" in result.stderr
        assert "Traceback" not in result.stderr
