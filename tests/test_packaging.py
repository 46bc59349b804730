"""What `pip install keras-pool` installs: the built wheel, its metadata, and the
installed CLI; and keras_pool without TensorFlow.

The wheel is built once per session from a copy of the sources (so the checkout
gets no build/ or egg-info), with `python -m build --wheel` (the [test] extra
installs `build`; it fetches the build backend into an isolated environment).
"""

import email
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "keras_pool", "experiments", "configs")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out),
                             str(src)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (path,) = out.glob("keras_pool-*.whl")
    return path


def _metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_string(z.read(name).decode())


def test_wheel_installs_only_uniquely_named_packages(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"keras_pool", "keras_pool_experiments"}, sorted(top)
    # every module of the checkout is in the wheel (a subpackage missing from
    # [tool.setuptools] packages would be dropped silently)
    for package, folder in (("keras_pool", "keras_pool"), ("keras_pool_experiments", "experiments")):
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                assert f"{package}/{path.relative_to(ROOT / folder).as_posix()}" in names
    configs = sorted(p.name for p in (ROOT / "configs").glob("*.toml"))
    assert configs and all(f"keras_pool_experiments/configs/{c}" in names for c in configs)


def test_wheel_metadata_core_needs_only_keras(wheel):
    meta = _metadata(wheel)
    requires = meta.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    assert [Requirement(r).name for r in core] == ["keras"], core
    extras = set(meta.get_all("Provides-Extra"))
    assert {"tensorflow", "jax", "torch", "experiments", "test"} <= extras
    tensorflow = [r for r in requires if r.startswith("tensorflow") and "datasets" not in r]
    assert tensorflow and all('extra == "tensorflow"' in r for r in tensorflow), tensorflow
    torch = [r for r in requires if r.startswith("torch")]
    assert torch and not any("==" in r.split(";")[0] for r in torch), torch  # a range, not a pin
    assert meta["Requires-Python"] == ">=3.10"
    assert any(r.startswith("tomli") and 'python_version < "3.11"' in r for r in requires)


def test_wheel_entry_point(wheel):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = z.read(name).decode()
    assert "keras-pool-experiments = keras_pool_experiments.__main__:main" in text


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel installed (no dependencies) into a folder; (folder, env, cwd)."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                             "--target", str(target), str(wheel)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    return target, env, tmp_path_factory.mktemp("elsewhere")  # a cwd outside the checkout


def test_installed_cli_answers_help_and_finds_its_configs(installed):
    target, env, cwd = installed
    result = subprocess.run([sys.executable, "-m", "keras_pool_experiments", "run", "--help"],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: keras-pool-experiments run")
    script = target / "bin" / "keras-pool-experiments"
    if script.is_file():  # pip --target puts console scripts in bin/
        result = subprocess.run([str(script), "bench", "--help"], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and "default: runs/bench" in result.stdout, result.stderr
    code = (
        "import sys\n"
        "from keras_pool_experiments import config\nfrom keras_pool_experiments.config import shipped\nfrom keras_pool_experiments.sweeps import sweep\n"
        f"root = {str(target)!r}\n"
        "for name in ('digits', 'digits.toml', 'configs/digits.toml', 'tune_digits'):\n"
        "    path = shipped.find_config(name)\n"
        "    assert str(path).startswith(root), path\n"
        "assert config.load(shipped.find_config('digits')).data.dataset == 'digits'\n"
        "assert sweep.__file__.startswith(root), sweep.__file__\n"
        "assert 'experiments' not in sys.modules, 'imported a top-level experiments'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    result = subprocess.run([sys.executable, "-m", "keras_pool_experiments", "run", "nope"],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: nope: config file not found; shipped configs: "
        + ", ".join(sorted(p.stem for p in (ROOT / "configs").glob("*.toml")))]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_pool_runs_without_importing_tensorflow(backend):
    pytest.importorskip(backend)
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import keras_pool\n"
        "from keras_pool import registry\n"
        "y = keras_pool.LpPooling2D(p=3.0)(np.ones((1, 4, 4, 1), 'float32'))\n"
        "assert tuple(y.shape) == (1, 2, 2, 1)\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'tensorflow']\n"
        "assert not loaded, loaded[:5]\n"
    )
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_sources_parse_as_the_oldest_supported_python():
    """requires-python says 3.10: no newer syntax anywhere (tomllib is imported via
    experiments._compat, which falls back to tomli)."""
    import ast
    import re

    for path in sorted((ROOT / "keras_pool").rglob("*.py")) + sorted(
            (ROOT / "experiments").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        ast.parse(source, str(path), feature_version=(3, 10))
        if path.name != "_compat.py":
            assert not re.search(r"^\s*import tomllib\b", source, re.MULTILINE), path
