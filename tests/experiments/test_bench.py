"""The bench command: it runs end to end on each backend and writes its table and CSV.

No timing is asserted here (timings belong in `runs/bench`, not in tests); the
timer's arithmetic is checked with fake clocks. Each backend's --quick run is a
real `python -m experiments bench --backend B --quick` in a child process (the
flag, not the environment, picks the backend); on jax and torch TensorFlow is
made unimportable there, so a jax-only or torch-only install works.
"""

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import __main__ as cli
from experiments import bench
from experiments.bench import cases, output, suites, timing

ROOT = Path(__file__).resolve().parents[2]

GOAL_CASES = {
    "MinPooling2D 2x2/2",
    "LpPooling2D p=2 2x2/2",
    "LpPooling2D p=3 2x2/2",
    "LpPooling2D p=3 3x3/2 same",
    "StochasticPooling2D train 2x2/2",
    "StochasticPooling2D infer 2x2/2",
    "GlobalMinPooling2D",
    "GlobalLpPooling2D p=3",
    "GlobalStochasticPooling2D train",
    # issue 26
    "FractionalMaxPooling2D 2x2 ratio 1/2 train",
    "max_pool_with_argmax 2x2/2",
    "max_unpool 2x2/2",
    "SpatialPyramidPooling2D max bins 1,2,4",
}
ISSUE_26_GOALS = {
    "FractionalMaxPooling2D 2x2 ratio 1/2 train": ("fractional", "max", 1.5),
    "max_pool_with_argmax 2x2/2": ("max_pool_with_argmax", "max", 1.5),
    "max_unpool 2x2/2": ("max_unpool", "upsampling", 2.0),
    "SpatialPyramidPooling2D max bins 1,2,4": ("spp_max", "spp_max_levels", 1.25),
}


def _installed(name):
    return importlib.util.find_spec(name) is not None


BACKEND_PARAMS = [
    pytest.param(b, marks=pytest.mark.skipif(not _installed(b), reason=f"{b} not installed"))
    for b in bench.BACKENDS
]


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def quick_run(request, tmp_path_factory):
    backend = request.param
    out = tmp_path_factory.mktemp(f"bench-{backend}")
    argv = ["bench", "--quick", "--out", str(out)]
    if backend != "tensorflow":
        argv += ["--backend", backend]
    block = "sys.modules['tensorflow'] = None\n" if backend != "tensorflow" else ""
    code = f"import sys\n{block}from experiments.__main__ import main\nsys.exit(main({argv!r}))\n"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if backend != "tensorflow":
        env["KERAS_BACKEND"] = "tensorflow"  # the flag must win over the environment
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    md_name, csv_name = output.file_names(backend)
    with open(out / csv_name, newline="") as f:
        rows = list(csv.DictReader(f))
    return backend, out, rows


def test_writes_only_the_two_files(quick_run):
    backend, out, _ = quick_run
    names = sorted(p.name for p in out.iterdir())
    stem = "bench" if backend == "tensorflow" else f"bench-{backend}"
    assert names == [f"{stem}.csv", f"{stem}.md"]


def test_every_case_has_a_goal_case_and_all_ranks():
    layer_cases = {(case.group, case.name) for case in cases.LAYER_CASES}
    assert {("2D", case) for case in GOAL_CASES} <= layer_cases
    assert {"1D", "3D"} <= {group for group, _ in layer_cases}
    cnn_cases = {cases.cnn_case(p, o) for p, o in cases.CNN_POOLINGS}
    assert {"train step, lp pooling p=3", "train step, fractional pooling"} <= cnn_cases
    known = {case for _, case in layer_cases} | cnn_cases
    assert set(timing.QUICK.cases) <= known  # the quick sample names real cases
    assert set(timing.QUICK.slow_mode_cases) <= set(timing.QUICK.cases)
    assert timing.FULL.cases is None
    assert set(timing.FULL.slow_mode_cases) >= {c for c in GOAL_CASES}


def test_issue_26_cases_their_baselines_goals_and_quick_sample():
    by_name = {case.name: case for case in cases.LAYER_CASES}
    for name, (candidate, baseline, goal) in ISSUE_26_GOALS.items():
        case = by_name[name]
        assert (case.candidate, case.baseline, case.goal) == (candidate, baseline, goal)
        assert name in timing.QUICK.cases
    assert by_name["FractionalMaxPooling2D 2x2 ratio 1/2 train"].training
    assert by_name["FractionalMaxPooling2D 2x2 ratio 1/2 infer"].goal is None
    assert by_name["max_unpool 2x2/2"].pooled
    assert ("FractionalMaxPooling2D 2x2 ratio 1/2 train", "fractional_max_pool2d") in (
        cases.TORCH_CASES)
    assert {name for name, _ in cases.TORCH_CASES} <= set(by_name)
    assert ("fractional", None) in cases.CNN_POOLINGS
    assert "train step, fractional pooling" in timing.QUICK.cases


def test_adapters_build_the_issue_26_layers_and_their_baselines():
    """Each adapter's layer on TensorFlow: the shapes the rows time, and the
    backward pass through argmax pooling's values that carries its indices."""
    import keras

    from experiments.bench import adapters

    x = adapters.normal((2, 8, 8, 3), seed=0)
    argmax = adapters.make_layer("max_pool_with_argmax", 2, {}, {}, x)
    values, indices = argmax(x)
    assert tuple(values.shape) == (2, 4, 4, 3) and "int" in str(indices.dtype)
    fn, state = adapters.pass_fn(argmax, False, True, "tensorflow")
    dy = adapters.cotangent(argmax, x, False)
    grad, carried = fn(x, dy, *state)
    assert tuple(grad.shape) == tuple(x.shape) and carried.dtype == indices.dtype
    v = adapters.pooled(x)
    unpool = adapters.make_layer("max_unpool", 2, {}, {}, x)
    assert tuple(unpool(v).shape) == tuple(x.shape)
    assert keras.ops.convert_to_numpy(unpool(v)).sum() == pytest.approx(
        keras.ops.convert_to_numpy(v).sum(), rel=1e-5)
    assert tuple(adapters.make_layer("upsampling", 2, {}, {}, x)(v).shape) == tuple(x.shape)
    spp = adapters.make_layer("spp_max", 2, None, {}, x)
    levels = adapters.make_layer("spp_max_levels", 2, None, {}, x)
    shapes = [tuple(t.shape) for t in levels(x)]
    assert shapes == [(2, 1, 1, 3), (2, 2, 2, 3), (2, 4, 4, 3)]
    assert tuple(spp(x).shape) == (2, 1 + 4 + 16, 3)  # TF-Addons layout
    fn, state = adapters.pass_fn(levels, False, True, "tensorflow")
    grad = fn(x, adapters.cotangent(levels, x, False), *state)
    assert tuple(grad.shape) == tuple(x.shape)


def test_csv_covers_the_quick_sample_in_every_mode_and_pass(quick_run):
    backend, _, rows = quick_run
    assert {r["backend"] for r in rows} == {backend}
    assert {r["mode"] for r in rows} == set(bench.MODES[backend])
    sample = set(timing.QUICK.cases)
    for layer_case in cases.LAYER_CASES:
        group, case = layer_case.group, layer_case.name
        for mode in bench.MODES[backend]:
            for pass_ in ("forward", "forward+backward"):
                key = (group, case, mode, pass_)
                matching = [
                    r for r in rows if (r["group"], r["case"], r["mode"], r["pass"]) == key
                ]
                timed = case in sample and (
                    mode not in timing.SLOW_MODES or case in timing.QUICK.slow_mode_cases
                )
                assert len(matching) == (1 if timed else 0), key
    groups = {r["group"] for r in rows}
    assert {"1D", "2D", "3D", "digits CNN"} <= groups
    cnn = [r for r in rows if r["group"] == "digits CNN"]
    fast_modes = [m for m in bench.MODES[backend] if m not in timing.SLOW_MODES]
    assert {r["mode"] for r in cnn} == set(fast_modes)
    assert {r["baseline"] for r in cnn} == {"same model, max pooling"}
    torch_rows = [r for r in rows if r["group"] == "torch"]
    if _installed("torch"):
        assert len(torch_rows) == 2 * 2 * len(fast_modes)  # two cases, two passes
        ops = {r["case"]: r["baseline"].split(" (")[0] for r in torch_rows}
        assert ops == {"LpPooling2D p=3 2x2/2": "torch lp_pool2d",
                       "FractionalMaxPooling2D 2x2 ratio 1/2 train":
                           "torch fractional_max_pool2d"}


def test_csv_values_are_well_formed(quick_run):
    _, _, rows = quick_run
    for r in rows:
        for key in ("candidate_ms", "baseline_ms", "ratio", "ratio_min", "ratio_max"):
            assert float(r[key]) > 0, (r, key)
        assert float(r["ratio_min"]) <= float(r["ratio"]) <= float(r["ratio_max"])
        assert int(r["rounds"]) == timing.QUICK.rounds
        if r["pass"] == "forward":
            assert r["goal"] == r["met"] == ""
        if r["goal"]:
            assert r["met"] in ("yes", "no")
    goals = {r["case"]: r["goal"] for r in rows if r["goal"] and r["group"] == "2D"}
    assert goals["MinPooling2D 2x2/2"] == "<= 1.00"
    assert goals["LpPooling2D p=3 2x2/2"] == "<= 2.00"
    assert goals["GlobalStochasticPooling2D train"] == "<= 1.50"
    for case, (_, _, goal) in ISSUE_26_GOALS.items():
        assert goals[case] == f"<= {goal:.2f}"
    baselines = {r["case"]: r["baseline"] for r in rows if r["group"] == "2D"}
    assert baselines["max_unpool 2x2/2"] == "UpSampling2D"
    assert baselines["SpatialPyramidPooling2D max bins 1,2,4"].startswith(
        "GlobalMaxPooling2D + AdaptiveMaxPooling2D 2, 4")


def test_markdown_names_backend_modes_machine_and_lists_every_row(quick_run):
    backend, out, rows = quick_run
    text = (out / output.file_names(backend)[0]).read_text()
    assert f"({backend} backend)" in text and f"backend {backend}" in text
    assert "cpu" in text and "gpu" in text and "keras" in text
    for mode in bench.MODES[backend]:
        assert f"{mode}: " in text
    assert "--quick" in text and (backend == "tensorflow" or f"--backend {backend}" in text)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(rows)  # header + one line per CSV row
    assert "Goals met:" in text


def test_bad_backend_is_one_line_and_status_2():
    result = subprocess.run([sys.executable, "-m", "experiments", "bench", "--backend", "mxnet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid choice: 'mxnet'" in lines[0], lines


def test_bad_rounds_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--rounds", "0"])
    assert e.value.code == 2
    assert "--rounds: expected a positive integer, got '0'" in capsys.readouterr().err


def test_cli_and_bench_agree_on_backends(capsys):
    assert bench.BACKENDS == tuple(bench.MODES)
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    assert "{" + ",".join(bench.BACKENDS) + "}" in capsys.readouterr().out


def test_main_rejects_an_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        bench.main(quick=True, backend="mxnet")


@pytest.mark.parametrize("backend", bench.BACKENDS)
def test_main_reruns_itself_on_the_asked_backend(monkeypatch, tmp_path, backend):
    calls = []
    monkeypatch.setattr(bench.subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 0)
    assert bench._rerun_on(backend, str(tmp_path), True, None, 3) == 0
    assert bench._rerun_on(backend, str(tmp_path), True, None, 3, goals=True) == 0
    (cmd, env), (goals_cmd, _) = calls
    assert env["KERAS_BACKEND"] == backend
    assert f"{backend!r}, 3, False))" in cmd[-1] and f"{backend!r}, 3, True))" in goals_cmd[-1]


# --- the timer's arithmetic, with fake clocks ---------------------------------------------


def test_interleaving_cancels_a_linear_drift():
    tick = [0]

    def timer(per_call):
        def time_block():
            tick[0] += 1
            return per_call * (1 + 0.1 * tick[0])  # the machine slows down steadily
        return time_block

    times_c, times_b, ratios = timing.interleaved_ratios(timer(3.0), timer(1.5), rounds=4)
    assert len(ratios) == len(times_c) == len(times_b) == 4
    assert ratios == pytest.approx([2.0] * 4)  # A B B A: the drift cancels in each round
    assert times_c[0] == pytest.approx(3.0 * (1 + 0.1 * 2.5))  # mean of ticks 1 and 4


def test_summary_is_medians_and_the_ratio_range():
    cand_s, base_s, ratio, lo, hi = timing.summarize([3, 1, 2], [1, 1, 4], [3.0, 0.5, 1.0])
    assert (cand_s, base_s, ratio, lo, hi) == (2, 1, 1.0, 0.5, 3.0)


def test_compare_warms_up_then_times_interleaved_blocks():
    calls = []
    settings = timing.Settings(shape_1d=(1,), shape_2d=(1,), shape_3d=(1,), cnn_batch=1,
                              rounds=3, warmup=2, block_s=0.0)
    result = timing.compare(lambda x: calls.append(("c", x)), lambda x: calls.append(("b", x)),
                           (1,), (2,), settings)
    assert calls[:4] == [("c", 1), ("b", 2), ("c", 1), ("b", 2)]  # warm-up, then timing
    assert calls.count(("c", 1)) == 2 + 2 + 2 * 3  # warm-up, calls_for probe, 2 per round
    assert len(result) == 5 and result[3] <= result[2] <= result[4]


def test_mode_list_and_slow_mode_filter():
    assert bench.MODES["jax"] == ("jit",)
    assert bench.MODES["torch"] == ("eager", "torch.compile")
    assert timing.runs_in(timing.FULL, "torch.compile", "SoftPooling2D 2x2/2")
    assert not timing.runs_in(timing.FULL, "torch.compile", "SoftPooling1D 2/2")
    assert timing.runs_in(timing.FULL, "eager", "SoftPooling1D 2/2")
    assert not timing.runs_in(timing.QUICK, "torch.compile", "LpPooling2D p=3 2x2/2")
    assert timing.runs_in(timing.QUICK, "eager", "LpPooling2D p=3 2x2/2")
    assert not timing.runs_in(timing.QUICK, "eager", "SoftPooling2D 2x2/2")


def test_goals_times_only_the_rows_with_a_goal(tmp_path):
    """`bench --goals` (TensorFlow, --quick shapes): the layer rows are the
    forward+backward rows of cases with a goal, and the command says --goals."""
    code = ("import sys\nfrom experiments.__main__ import main\n"
            f"sys.exit(main(['bench', '--quick', '--goals', '--out', {str(tmp_path)!r}]))\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "bench.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    goals = {case.name for case in cases.LAYER_CASES if case.goal is not None}
    layer_rows = [r for r in rows if r["group"] in ("1D", "2D", "3D")]
    assert layer_rows and {r["case"] for r in layer_rows} == goals & set(timing.QUICK.cases)
    assert {r["pass"] for r in layer_rows} == {"forward+backward"}
    assert all(r["goal"] for r in layer_rows)
    assert any(r["group"] == "digits CNN" for r in rows)
    assert "--quick --goals" in (tmp_path / "bench.md").read_text()


def test_a_cnn_row_that_raises_is_reported_not_fatal(monkeypatch):
    """torch.compile gave up on a CNN step in a full torch run: that row is
    listed as failed in bench.md, and the bench goes on."""
    import dataclasses

    def broken(*args, **kwargs):
        raise RuntimeError("compiler gave up\non this step")

    monkeypatch.setattr(suites, "compare", broken)
    settings = dataclasses.replace(timing.QUICK, cases=("train step, avg pooling",))
    failed, logged = [], []
    rows = suites.bench_cnn("tensorflow", ["tf.function"], settings, logged.append, failed)
    assert rows == []
    assert failed == ["digits CNN train step, avg pooling (tf.function): "
                      "RuntimeError: compiler gave up on this step"]
    text = output.to_markdown([], {"cpu": "x"}, settings, 1.0, failed=failed)
    assert "Failed (raised, not timed):" in text and failed[0] in text
