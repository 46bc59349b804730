"""Speed benchmark: keras_pool layers against the Keras built-ins of the same kind.

    python -m experiments bench [--backend tensorflow|jax|torch] [--out DIR] [--quick] [--goals]
                                [--rounds N]
    python -m experiments bench --surgery ...    # what anti-aliasing a model costs (`surgery`)

`main` runs one benchmark on one Keras backend, in this process or, when
Keras already runs on another backend here, in a child process. Its parts,
each importing no backend library until it runs:

- `cases`: what is timed (each keras_pool layer against its built-in, with
  its goal; the digits CNN's poolings);
- `timing`: the settings of a full or a --quick run, and the one interleaved
  timer (A B B A rounds, median ratio) that every backend and `surgery` use;
- `adapters`: what differs between backends (compiling a function in a mode,
  a layer's forward or backward pass as a function, probing a mode, GPUs);
- `suites`: the layer rows, the torch rows (``lp_pool2d``, ``fractional_max_pool2d``)
  and the CNN train steps;
- `output`: the rows, ``bench.csv`` and ``bench.md`` (``bench-jax.*`` and
  ``bench-torch.*`` on the other backends), written atomically;
- `surgery`: the train-step overhead of ``keras_pool.antialias`` (``--surgery``).

The method and the cases are described in ``docs/speed.md`` and in each
``bench.md`` a run writes.
"""

import os
import subprocess
import sys
import time
from dataclasses import replace

from . import output
from .adapters import probe_mode
from .cases import CNN_INPUT, CNN_POOLINGS, LAYER_CASES, Case
from .output import DEFAULT_OUT, Row, file_names, machine_info, to_markdown
from .suites import bench_cnn, bench_layers, bench_torch
from .timing import (
    BACKENDS,
    FULL,
    MODES,
    QUICK,
    SLOW_MODES,
    Settings,
    compare,
    interleaved_ratios,
    summarize,
)

__all__ = [
    "BACKENDS",
    "CNN_INPUT",
    "CNN_POOLINGS",
    "DEFAULT_OUT",
    "FULL",
    "LAYER_CASES",
    "MODES",
    "QUICK",
    "SLOW_MODES",
    "Case",
    "Row",
    "Settings",
    "bench_cnn",
    "bench_layers",
    "bench_torch",
    "compare",
    "file_names",
    "interleaved_ratios",
    "machine_info",
    "main",
    "summarize",
    "to_markdown",
]


def _rerun_on(backend, out_dir, quick, only=None, rounds=None, goals=False):
    """Keras is on another backend in this process: run the bench in a child."""
    code = (
        f"import sys; from {__name__} import main; sys.exit(main({out_dir!r}, {bool(quick)!r}, "
        f"{only!r}, {backend!r}, {rounds!r}, {bool(goals)!r}))"
    )
    env = dict(os.environ, KERAS_BACKEND=backend)
    return subprocess.call([sys.executable, "-c", code], env=env)


def main(out_dir=None, quick=False, only=None, backend="tensorflow", rounds=None, goals=False):
    """Run the benchmark on `backend`, write its two files into `out_dir`; returns 0.

    `only` (a substring of "[group] case", for development) times just the
    matching layer cases and skips the torch and CNN parts. `rounds` overrides
    the number of timed rounds (9 in full runs). `goals` times only the rows
    that have a goal: the forward+backward layer rows, the torch row and the
    CNN train steps (about a third of a full run).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    out_dir = DEFAULT_OUT if out_dir is None else os.fspath(out_dir)
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend
    import keras

    if keras.backend.backend() != backend:
        return _rerun_on(backend, out_dir, quick, only, rounds, goals)
    settings = replace(QUICK if quick else FULL, goals_only=bool(goals))
    if rounds is not None:
        settings = replace(settings, rounds=int(rounds))
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    info = machine_info(backend)
    output.log(output.machine_line(info))
    unavailable, failed = {}, []
    for mode in MODES[backend]:
        reason = probe_mode(backend, mode)
        if reason:
            unavailable[mode] = reason
            output.log(f"mode {mode} is unavailable here: {reason}")
    modes = [m for m in MODES[backend] if m not in unavailable]
    rows = bench_layers(backend, modes, settings, output.log, only, failed)
    if not only:
        rows += bench_torch(backend, modes, settings, output.log, failed)
        rows += bench_cnn(backend, modes, settings, output.log, failed)
    seconds = time.perf_counter() - start
    markdown = to_markdown(rows, info, settings, seconds, backend, unavailable,
                           rounds is not None, failed)
    output.write(out_dir, backend, rows, markdown)
    md_name, csv_name = file_names(backend)
    output.log(f"Wrote {os.path.join(out_dir, md_name)} and {csv_name} ({seconds:.0f} s)")
    return 0
