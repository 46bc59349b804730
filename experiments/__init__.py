"""Experiment harness: train small CNNs with swappable pooling and compare them.

Run `python -m experiments run configs/digits.toml`; see `experiments.__main__`.
The package is grouped by role, and data flows one way: `config` -> `run` (data,
models, train, metrics: one run) -> `sweeps` (every variant x seed, in one
process, N local workers or across machines) -> `results` (summary, plots,
findings). `tuning` searches the pooling choice with keras-tuner; `bench` times
the layers. At the bottom, importing nothing of the harness: `errors`, `stats`
(confidence intervals), `rundir` (the run folder and its atomic writes) and
`tables` (Markdown).

The harness uses the TensorFlow backend (tf.data and TFDS feed it), so the
backend is chosen here, before anything imports Keras. Installed from a wheel,
this package is `keras_pool_experiments` (its modules import each other
relatively, so both names work). The module paths of 0.1.0's API reference
(`experiments.data`, `.models`, `.report`, `.findings`, `.distributed`) still
import: `import experiments.data` is `experiments.run.data`.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

from .run.runtime import quiet_tensorflow_logs

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
quiet_tensorflow_logs()

# 0.1.0's documented module -> where it lives now (the same module object).
MOVED = {"data": "run.data", "models": "run.models", "report": "results.report",
         "findings": "results.findings", "distributed": "sweeps.oracle"}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `<package>.<old name>` as the module it moved to."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package == __name__ and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(f"{__name__}.{MOVED[spec.name.rpartition('.')[2]]}")

    def exec_module(self, module):
        pass  # already executed under its own name


sys.meta_path.append(_MovedModules())
