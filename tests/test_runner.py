"""`python -m tests` (tests/__main__.py): every backend's pytest runs, and any
failure, including pytest's exit 5 ("no tests collected"), fails the whole run."""

from tests import __main__ as runner


def _suite(tmp_path, name, body):
    folder = tmp_path / name
    folder.mkdir()
    if body is not None:
        (folder / f"test_{name}.py").write_text(body)
    return str(folder)


def test_runs_every_backend_and_fails_on_no_tests_or_a_failure(tmp_path, monkeypatch, capsys):
    passing = _suite(tmp_path, "passing", "def test_ok():\n    assert True\n")
    failing = _suite(tmp_path, "failing", "def test_bad():\n    assert False\n")
    empty = _suite(tmp_path, "empty", None)
    monkeypatch.setattr(runner, "RUNS", [("a", [passing]), ("b", [passing])])
    assert runner.main(["-q", "-p", "no:cacheprovider"]) == 0
    out = capsys.readouterr().out
    assert out.count("1 passed") == 2 and "All backends passed" in out
    for broken in (empty, failing):
        monkeypatch.setattr(runner, "RUNS", [("a", [passing]), ("b", [broken]), ("c", [passing])])
        assert runner.main(["-q", "-p", "no:cacheprovider"]) == 1
        assert "FAILED on: b (pytest exit " in capsys.readouterr().err
