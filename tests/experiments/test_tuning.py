"""`experiments tune` on one machine: config checks, search-space translation, outputs, resume.

Searches here are tiny (128 digits, 1 epoch, 2-4 trials) and run in-process.
"""

import csv
import json
import shutil

import pytest

from experiments import __main__ as cli
from experiments import config
from experiments._compat import tomllib
from experiments.config import ConfigError
from experiments.run import train
from experiments.sweeps import sweep
from experiments.tuning import search_space
from experiments.tuning import tuner as tuning
from tests.experiments.conftest import tune_toml

SPACE = {"pooling": '["max", "lp", "stochastic"]', "head": '["flatten", "global_avg"]',
         "p": "[1.5, 4.0]", "trainable_p": "[false, true]"}


def tune_config(tmp_path, tune="", **space):
    """A tiny tuning config: extra `tune` lines, and `space` keys (TOML values) over SPACE."""
    path = tmp_path / "tune.toml"
    lines = "\n".join(f"{k} = {v}" for k, v in {**SPACE, **space}.items())
    path.write_text(tune_toml(tune="max_trials = 2\n" + tune, space=lines))
    return path


def read_trials(out):
    with open(out / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


# --- config checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("tune, space, message", [
    ("", {"pooling": '["max", "mx"]'},
     "tune.space.pooling[1]: unknown value 'mx'; allowed: max, avg, min, lp, stochastic"),
    ("", {"head": "[]"}, "tune.space.head: expected a non-empty list of strings"),
    ("", {"p": "[0.5, 4.0]"}, "tune.space.p[0]: 0.5 is out of range; allowed: >= 1.0"),
    ("", {"p": "[4.0, 2.0]"}, "tune.space.p: expected [low, high] with low <= high"),
    ("", {"p_sampling": '"cubic"'}, "tune.space.p_sampling: unknown value 'cubic'"),
    ('tuner = "grid"', {}, "tune.tuner: unknown value 'grid'; allowed: random, bayesian"),
    ('objective = "val_loss"', {}, "tune.objective: unknown value 'val_loss'"),
    ("", {"learning_rate": "[0.0, 0.1]"}, "tune.space.learning_rate: must be > 0"),
])
def test_bad_entries_exit_2_with_one_line_before_training(tmp_path, capsys, tune, space, message):
    path = tune_config(tmp_path, tune, **space)
    out = tmp_path / "out"
    assert cli.main(["tune", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith(f"error: {path}: ")
    assert not out.exists()


@pytest.mark.parametrize("extra, message", [
    ("seeds = [0, 1]\n", "seeds: not used by `tune`"),
    ('[[variants]]\npooling = "max"\n', "variants: not used by `tune`"),
])
def test_harness_only_keys_are_rejected(tmp_path, extra, message):
    path = tmp_path / "t.toml"
    path.write_text(extra + tune_config(tmp_path).read_text())
    with pytest.raises(ConfigError, match=message):
        search_space.load(path)


def test_missing_tune_table_is_a_config_error(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text("[train]\nepochs = 1\n")
    with pytest.raises(ConfigError, match=r"tune: missing \[tune\] table"):
        search_space.load(path)


def test_tune_digits_config_loads_and_explores_three_kinds():
    base, tune = search_space.load("configs/tune_digits.toml")
    assert len(set(tune.space.pooling)) >= 3 and tune.max_trials >= 3
    assert base.data.dataset == "digits"


# --- search-space translation -------------------------------------------------------------------


def test_space_declares_one_pooling_per_stage_and_the_lp_options(tmp_path):
    base, tune = search_space.load(tune_config(tmp_path, learning_rate="[1e-3, 1e-2]"))
    hp = search_space.hyperparameters(tune, len(base.model.filters))
    declared = {h.name: h for h in hp.space}
    assert {name: type(h).__name__ for name, h in declared.items()} == {
        "pooling_1": "Choice", "pooling_2": "Choice", "head": "Choice",
        "p": "Float", "trainable_p": "Boolean", "learning_rate": "Float"}
    p = declared["p"]
    assert (p.min_value, p.max_value, p.sampling) == (1.5, 4.0, "log")
    assert declared["pooling_2"].values == ["max", "lp", "stochastic"]


def test_space_without_lp_has_no_p_and_shared_pooling_is_one_choice():
    space = search_space.Space(pooling=("max", "avg"), per_stage=False, pool_size=(2, 3))
    hp = search_space.hyperparameters(search_space.Tune(space=space), 2)
    assert [(h.name, type(h).__name__) for h in hp.space] == [
        ("pooling", "Choice"), ("head", "Fixed"), ("pool_size", "Choice")]


def test_trial_config_is_a_runnable_single_variant_config(tmp_path):
    base, tune = search_space.load(tune_config(tmp_path, tune="seed = 7"))
    values = {"pooling_1": "max", "pooling_2": "lp", "head": "global_avg", "p": 3.0,
              "trainable_p": True, "pool_size": 3, "learning_rate": 0.005, "tuner/epochs": 4}
    cfg = search_space.trial_config(base, tune, values)
    (variant,) = cfg.variants
    assert variant.pooling == ("max", "lp") and variant.head == "global_avg"
    assert (variant.p, variant.trainable_p) == (3.0, True)
    assert (cfg.model.pool_size, cfg.train.learning_rate, cfg.train.epochs) == (3, 0.005, 4)
    assert cfg.seeds == (7,) and cfg.data == base.data
    assert config.parse(cfg.to_dict()) == cfg


def test_trial_config_drops_unused_lp_options_and_collapses_equal_stages(tmp_path):
    base, tune = search_space.load(tune_config(tmp_path))
    values = {"pooling_1": "max", "pooling_2": "max", "head": "flatten", "p": 3.0,
              "trainable_p": True}
    (variant,) = search_space.trial_config(base, tune, values).variants
    assert variant == config.Variant(pooling="max", head="flatten")
    assert not search_space.used("p", values) and search_space.used("head", values)
    assert search_space.used("p", {**values, "head": "global_lp"})


def test_same_model_is_not_tried_twice(tmp_path):
    base, tune = search_space.load(tune_config(tmp_path))
    oracle = tuning._oracle(base, tune)
    a = {"pooling_1": "max", "pooling_2": "max", "head": "flatten", "p": 2.0,
         "trainable_p": False}
    b = {**a, "p": 3.0}
    assert oracle._compute_values_hash(a) == oracle._compute_values_hash(b)
    lp = {**a, "pooling_2": "lp"}
    assert oracle._compute_values_hash(lp) != oracle._compute_values_hash({**lp, "p": 3.0})


def test_to_toml_round_trips_a_config():
    cfg = config.parse({"data": {"data_dir": 'C:\\data "x"'},
                        "train": {"learning_rate": 1e-05, "epochs": 3},
                        "variants": [{"pooling": ["max", "lp"], "p": 2.5, "trainable_p": True},
                                     {"pooling": "avg", "head": "global_avg"}]})
    text = config.to_toml(cfg.to_dict())
    assert tomllib.loads(text) == cfg.to_dict()
    assert config.parse(tomllib.loads(text)) == cfg


# --- searches -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A finished 2-trial random search: (config path, out folder, log lines)."""
    tmp = tmp_path_factory.mktemp("search")
    path = tune_config(tmp, learning_rate="[1e-3, 1e-2]")
    out, lines = tmp / "out", []
    assert tuning.main(path, out, log=lines.append) == 0
    return path, out, lines


def test_outputs_one_row_per_trial_best_toml_and_plot(searched):
    _, out, lines = searched
    rows = read_trials(out)
    assert [r["trial"] for r in rows] == ["0", "1"]
    assert list(rows[0]) == ["trial", "status", "objective", "pooling_1", "pooling_2", "head",
                             "p", "trainable_p", "learning_rate", *tuning.METRICS]
    for row in rows:
        assert row["status"] == "COMPLETED"
        assert row["objective"] == row["val_accuracy"]
        assert 0 <= float(row["val_shift_consistency"]) <= 1 and float(row["seconds"]) > 0
        assert (row["p"] != "") == ("lp" in (row["pooling_1"], row["pooling_2"]))
    assert (out / "best.toml").is_file() and (out / "objective_by_pooling.png").stat().st_size
    assert (out / "keras_tuner" / "oracle.json").is_file()
    assert "best: trial" in lines[-1]


def test_best_toml_runs_and_reproduces_the_best_trial(searched, tmp_path):
    _, out, _ = searched
    rows = read_trials(out)
    best = max(rows, key=lambda r: float(r["objective"]))
    cfg = config.load(out / "best.toml")
    (variant,) = cfg.variants
    stages = (best["pooling_1"], best["pooling_2"])
    assert variant.kinds == (stages[:1] if stages[0] == stages[1] else stages)
    assert variant.head == best["head"] and cfg.train.epochs == 1
    assert cfg.train.learning_rate == float(best["learning_rate"])
    (record,) = sweep.run(cfg, tmp_path / "rerun", log=lambda _: None)
    # Same config, same seed, deterministic ops: the same validation accuracy.
    assert record["history"]["val_accuracy"][-1] == pytest.approx(float(best["val_accuracy"]))


def test_rerun_keeps_finished_trials_and_extends_to_max_trials(searched, tmp_path, monkeypatch):
    path, out = tmp_path / "tune.toml", tmp_path / "out"
    shutil.copy(searched[0], path)
    shutil.copytree(searched[1], out)
    before, trained, fit = read_trials(out), [], train.fit
    monkeypatch.setattr(train, "fit", lambda *a: trained.append(a[0]) or fit(*a))
    assert tuning.main(path, out, log=lambda _: None) == 0
    assert trained == [] and read_trials(out) == before
    path.write_text(path.read_text().replace("max_trials = 2", "max_trials = 3"))
    assert tuning.main(path, out, log=lambda _: None) == 0
    rows = read_trials(out)
    assert len(trained) == 1 and rows[:2] == before and rows[2]["status"] == "COMPLETED"


def test_a_search_is_resumed_under_another_tuner_id(searched, monkeypatch):
    # As when a search started on one machine goes on as the chief of a distributed one.
    path, out, _ = searched
    before, trained, fit = read_trials(out), [], train.fit
    monkeypatch.setattr(train, "fit", lambda *a: trained.append(a[0]) or fit(*a))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "elsewhere")
    assert tuning.main(path, out, log=lambda _: None) == 0
    assert trained == [] and read_trials(out) == before


def test_resume_reruns_only_the_trial_that_was_cut_off(tmp_path, monkeypatch):
    path = tune_config(tmp_path)
    path.write_text(path.read_text().replace("max_trials = 2", "max_trials = 3"))
    out, fit, calls, interrupted = tmp_path / "out", train.fit, [], []

    def fit_interrupting_the_second_trial(*args):
        calls.append(args[0])
        if len(calls) == 2 and not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt  # as Ctrl-C, or a kill, would cut it off
        return fit(*args)

    monkeypatch.setattr(train, "fit", fit_interrupting_the_second_trial)
    with pytest.raises(KeyboardInterrupt):
        tuning.main(path, out, log=lambda _: None)
    first = json.loads((out / "keras_tuner" / "trial_0" / "trial.json").read_text())
    assert first["status"] == "COMPLETED"
    cut = json.loads((out / "keras_tuner" / "trial_1" / "trial.json").read_text())
    assert cut["status"] == "RUNNING"

    calls.clear()
    assert tuning.main(path, out, log=lambda _: None) == 0
    rows = read_trials(out)
    assert [r["status"] for r in rows] == ["COMPLETED"] * 3
    assert len(calls) == 2  # trial 1 again, then trial 2; trial 0 is kept
    assert calls[0] == search_space.trial_config(
        *search_space.load(path), cut["hyperparameters"]["values"]).variants[0]
    assert json.loads((out / "keras_tuner" / "trial_0" / "trial.json").read_text()) == first


def test_resume_with_other_settings_is_refused(searched, tmp_path):
    path, out, _ = searched
    other = tmp_path / "other.toml"
    other.write_text(path.read_text().replace("filters = [4, 8]", "filters = [4, 4]"))
    with pytest.raises(ConfigError, match="holds a search made with other 'model' settings"):
        tuning.main(other, out, log=lambda _: None)


@pytest.mark.parametrize("tuner, extra", [
    ("bayesian", ""),
    ("hyperband", "factor = 2"),
])
def test_other_tuners_complete_a_tiny_search(tmp_path, tuner, extra):
    path = tune_config(tmp_path, tune=f'tuner = "{tuner}"\nobjective = "val_shift_consistency"\n'
                                       f"{extra}")
    if tuner == "hyperband":
        path.write_text(path.read_text().replace("epochs = 1", "epochs = 2"))
    out = tmp_path / "out"
    assert tuning.main(path, out, log=lambda _: None) == 0
    rows = read_trials(out)
    assert len(rows) >= 2 and {r["status"] for r in rows} == {"COMPLETED"}
    assert all(r["objective"] == r["val_shift_consistency"] for r in rows)
    if tuner == "hyperband":
        assert {r["epochs"] for r in rows} == {"1", "2"}
        assert config.load(out / "best.toml").train.epochs in (1, 2)


def test_objective_plot_tells_heads_apart_and_counts_trials(tmp_path, monkeypatch):
    import types

    from matplotlib import pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)  # keep the figure to inspect it
    done = tuning.TrialStatus.COMPLETED
    rows = [
        {"status": done, "objective": 0.9, "pooling_1": "max", "head": "flatten"},
        {"status": done, "objective": 0.8, "pooling_1": "max", "head": "global_avg"},
        {"status": done, "objective": 0.7, "pooling_1": "lp", "head": "global_avg"},
        {"status": "FAILED", "objective": "", "pooling_1": "lp", "head": "flatten"},
    ]
    tune = types.SimpleNamespace(
        objective="val_accuracy",
        space=types.SimpleNamespace(pooling=("max", "lp", "avg"), head=("flatten", "global_avg")))
    tuning._plot(rows, ["pooling_1"], tune, tmp_path / "plot.png")
    ax = kept[0].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["max\n(n=2)", "lp\n(n=1)", "avg\n(n=0)"]
    dots = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert set(dots) == {"flatten", "global_avg"}
    assert dots["flatten"].get_marker() != dots["global_avg"].get_marker()
    assert dots["flatten"].get_color() != dots["global_avg"].get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["flatten", "global_avg"]


@pytest.mark.parametrize("old, new, message", [
    ("train_size = 128", "train_size = [64, 128]", "data.train_size: tune takes one size"),
    ("train_size = 128", 'train_size = 128\nsplit_seed = "seed"', 'data.split_seed: "seed" is for'),
])
def test_run_only_data_settings_are_rejected(tmp_path, old, new, message):
    path = tune_config(tmp_path)
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(ConfigError, match=message):
        search_space.load(path)
