"""The harness's layout: leaves at the bottom, no import cycle, 0.1.0's documented paths."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "experiments"
LEAVES = ("errors", "stats", "rundir", "tables")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _harness_imports(path):
    """The harness modules `path` imports (relative imports, resolved), at any depth."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                found.add(target)
            else:
                found.update(".".join(filter(None, [target, a.name])) for a in node.names)
    return {_known(t) for t in found} - {None, name}


_MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _known(target):
    while target and target not in _MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_leaves_import_nothing_of_the_harness():
    for leaf in LEAVES:
        assert _harness_imports(_MODULES[leaf]) == set(), leaf


def test_findings_depend_on_statistics_only():
    assert _harness_imports(_MODULES["results.findings"]) <= {"stats", "tables"}


def test_no_import_cycle():
    graph = {name: _harness_imports(path) - {""} for name, path in _MODULES.items()}
    # a package's __init__ importing its own submodules is not a cycle of roles
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", " -> ".join(trail + [node])
        state[node] = "open"
        for child in graph.get(node, ()):
            if not child.startswith(node + ".") and node != "":
                visit(child, trail + [node])
        state[node] = "done"

    for name in graph:
        visit(name, [])


@pytest.mark.parametrize("old, new, names", [
    ("experiments.data", "experiments.run.data", ["load", "Data"]),
    ("experiments.models", "experiments.run.models", ["build_model", "from_config",
                                                      "load_builder"]),
    ("experiments.report", "experiments.results.report", ["render"]),
    ("experiments.findings", "experiments.results.findings", ["judge", "markdown"]),
    ("experiments.distributed", "experiments.sweeps.oracle", ["role", "address", "Chief",
                                                              "serve"]),
])
def test_the_documented_paths_of_0_1_0_still_import(old, new, names):
    assert importlib.import_module(old) is importlib.import_module(new)
    module = importlib.import_module(old)
    for name in names:
        assert callable(getattr(module, name)), name


def test_documented_entry_points_unchanged():
    from experiments import config, tuning
    from experiments.__main__ import main

    assert callable(main) and callable(tuning.main)
    assert all(callable(getattr(config, n)) for n in ("load", "parse", "Config"))
    assert issubclass(config.ConfigError, ValueError)
