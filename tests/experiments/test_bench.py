"""The bench command's smoke test: it runs end to end and writes its table and CSV.

No timing is asserted here (timings belong in `runs/bench`, not in tests).
"""

import csv

import pytest

from experiments import bench

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
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert bench.main(out, quick=True) == 0
    with open(out / "bench.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return out, rows


def test_writes_only_the_two_files(quick_run):
    out, _ = quick_run
    assert sorted(p.name for p in out.iterdir()) == ["bench.csv", "bench.md"]


def test_csv_covers_every_case_mode_and_pass(quick_run):
    _, rows = quick_run
    layer_cases = {(group, case) for group, case, *_ in bench._layer_cases()}
    assert {("2D", case) for case in GOAL_CASES} <= layer_cases
    assert {"1D", "3D"} <= {group for group, _ in layer_cases}
    for group, case in layer_cases:
        for mode in ("tf.function", "XLA"):
            for pass_ in ("forward", "forward+backward"):
                key = (group, case, mode, pass_)
                matching = [
                    r for r in rows if (r["group"], r["case"], r["mode"], r["pass"]) == key
                ]
                assert len(matching) == 1, key
    groups = {r["group"] for r in rows}
    assert groups == {"1D", "2D", "3D", "torch", "digits CNN"}
    cnn = [r for r in rows if r["group"] == "digits CNN"]
    assert len(cnn) == 2 * len(bench.CNN_POOLINGS)
    assert {r["baseline"] for r in cnn} == {"same model, max pooling"}
    torch_rows = [r for r in rows if r["group"] == "torch"]
    assert len(torch_rows) == 4
    assert all("lp_pool2d" in r["baseline"] for r in torch_rows)


def test_csv_values_are_well_formed(quick_run):
    _, rows = quick_run
    for r in rows:
        for key in ("candidate_ms", "baseline_ms", "ratio", "ratio_min", "ratio_max"):
            assert float(r[key]) > 0, (r, key)
        assert float(r["ratio_min"]) <= float(r["ratio"]) <= float(r["ratio_max"])
        assert int(r["rounds"]) == bench.QUICK.rounds
        if r["pass"] == "forward":
            assert r["goal"] == r["met"] == ""
        if r["goal"]:
            assert r["met"] in ("yes", "no")
    goals = {r["case"]: r["goal"] for r in rows if r["goal"] and r["group"] == "2D"}
    assert goals["MinPooling2D 2x2/2"] == "<= 1.00"
    assert goals["LpPooling2D p=3 2x2/2"] == "<= 2.00"
    assert goals["GlobalStochasticPooling2D train"] == "<= 1.50"


def test_markdown_names_machine_and_lists_every_row(quick_run):
    out, rows = quick_run
    text = (out / "bench.md").read_text()
    assert "tensorflow" in text and "cpu" in text and "gpu" in text
    assert "--quick" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(rows)  # header + one line per CSV row
    for case in GOAL_CASES:
        assert case in text
    assert "Goals met:" in text


def test_main_reruns_itself_on_tensorflow_elsewhere(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(bench.subprocess, "call", lambda cmd, env: calls.append(env) or 0)
    assert bench._rerun_on_tensorflow(str(tmp_path), True) == 0
    assert calls[0]["KERAS_BACKEND"] == "tensorflow"
