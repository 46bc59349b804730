"""What the speed benchmark writes: its rows, ``bench.csv`` and ``bench.md``.

A `Row` is one case, mode and pass with its timings and goal. The CSV holds
every row with a ``backend`` column; the Markdown file is the table people
read, headed by the command that reproduces it, the machine and versions,
the modes (and why any is unavailable here) and the method. On jax and torch
the files are ``bench-jax.*`` and ``bench-torch.*``, so one folder holds all
three backends. Both are written whole or not at all (`experiments.rundir`).
"""

import csv
import io
import os
import platform
from dataclasses import asdict, dataclass, fields

from .. import tables
from ..rundir import write_atomic
from .adapters import CNN_JIT, gpus, torch_threads
from .cases import CNN_INPUT
from .timing import MODES, SLOW_MODES

DEFAULT_OUT = os.path.join("runs", "bench")

MODE_TEXT = {
    "tf.function": "plain `tf.function` (TensorFlow graph)",
    "XLA": "`tf.function(jit_compile=True)` (XLA)",
    "jit": "`jax.jit` of `layer.stateless_call` (XLA); backward = `jax.vjp`",
    "eager": "eager PyTorch ops; backward = `torch.autograd.grad`",
    "torch.compile": "`torch.compile` (default inductor) of the same function",
}


@dataclass
class Row:
    backend: str  # the Keras backend: "tensorflow", "jax" or "torch"
    group: str  # "2D", "1D", "3D", "torch", "digits CNN"
    case: str  # what the candidate is
    baseline: str
    mode: str  # one of MODES[backend]
    pass_: str  # "forward", "forward+backward" or "train step"
    candidate_ms: float  # median per-call time over rounds
    baseline_ms: float
    ratio: float  # median over rounds of candidate / baseline
    ratio_min: float
    ratio_max: float
    rounds: int
    goal: str  # "<= 2.0" or ""
    met: str  # "yes", "no" or ""

    @classmethod
    def timed(cls, backend, group, case, baseline, mode, pass_, result, rounds, goal):
        """The row of a `timing.compare` result; `goal` is a ratio or None."""
        cand_s, base_s, ratio, lo, hi = result
        return cls(
            backend=backend,
            group=group,
            case=case,
            baseline=baseline,
            mode=mode,
            pass_=pass_,
            candidate_ms=cand_s * 1e3,
            baseline_ms=base_s * 1e3,
            ratio=ratio,
            ratio_min=lo,
            ratio_max=hi,
            rounds=rounds,
            goal="" if goal is None else f"<= {goal:.2f}",
            met="" if goal is None else ("yes" if ratio <= goal else "no"),
        )


def machine_info(backend="tensorflow"):
    """The machine and the versions that matter for `backend` (imports only what it needs)."""
    import importlib

    import keras
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    found = gpus(backend)
    info = {
        "backend": backend,
        "cpu": f"{cpu}, {torch_threads()} cores available",
        "gpu": ", ".join(found) if found else "none (CPU only)",
        "os": platform.platform(),
        "python": platform.python_version(),
        backend: importlib.import_module(backend).__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    if backend == "jax":
        import jaxlib

        info["jaxlib"] = jaxlib.__version__
    if backend != "torch":
        try:
            import torch

            info["torch"] = torch.__version__
        except ImportError:
            info["torch"] = "not installed"
    return info


def machine_line(info):
    """`machine_info` as one line: "Machine: backend tensorflow; cpu ...; ..."."""
    return "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items())


def _fmt(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def to_csv(rows):
    """The rows as ``bench.csv`` text (csv's "\\r\\n" line ends, as the files have always had)."""
    buffer = io.StringIO()
    names = [f.name for f in fields(Row)]
    writer = csv.DictWriter(buffer, fieldnames=[n.rstrip("_") for n in names])
    writer.writeheader()
    for row in rows:
        writer.writerow({k.rstrip("_"): _fmt(v) for k, v in asdict(row).items()})
    return buffer.getvalue()


def command(backend, settings, rounds_given=False):
    """The command line that reproduces a run with these settings."""
    words = ["python -m experiments bench"]
    if backend != "tensorflow":
        words.append(f"--backend {backend}")
    if settings.quick:
        words.append("--quick")
    if settings.goals_only:
        words.append("--goals")
    if rounds_given:
        words.append(f"--rounds {settings.rounds}")
    return " ".join(words)


TABLE_HEADER = ("group", "candidate", "baseline", "mode", "pass", "candidate ms", "baseline ms",
                "ratio (min-max)", "goal", "met")
TABLE_ALIGNS = "lllllrrrll"


def _table_cells(r):
    return (r.group, r.case, r.baseline, r.mode, r.pass_, tables.number(r.candidate_ms, 3),
            tables.number(r.baseline_ms, 3),
            f"**{r.ratio:.2f}** ({r.ratio_min:.2f}-{r.ratio_max:.2f})", r.goal, r.met)


def to_markdown(rows, info, settings, seconds, backend="tensorflow", unavailable=None,
                rounds_given=False, failed=()):
    """``bench.md``: the command, machine, modes and method, then one table line per row."""
    unavailable = unavailable or {}
    quick = settings.quick
    modes = "; ".join(
        f"{mode}: {MODE_TEXT[mode]}"
        + (f" -- unavailable here ({unavailable[mode]})" if mode in unavailable else "")
        for mode in MODES[backend]
    )
    lines = [
        f"# keras_pool speed benchmark ({backend} backend)",
        "",
        f"Command: `{command(backend, settings, rounds_given)}`"
        + (" (a smoke test, not a measurement)" if quick else ""),
        "",
        machine_line(info),
        "",
        (f"Backend: Keras on {backend}; baselines are the Keras built-ins on the same backend. "
         f"Modes: {modes}."),
        "",
        f"Method: float32, one process; candidate and baseline timed "
        f"interleaved for {settings.rounds} rounds after {settings.warmup} warm-up calls, "
        f"each round A B B A with ~{settings.block_s:g} s blocks; ratio = median over rounds "
        f"of candidate / baseline (min-max in brackets); the ms columns are medians of "
        f"per-call times, so their quotient need not equal the ratio. Forward+backward = "
        f"input gradient for a random cotangent (not ones: the average pooling gradient "
        f"of a sum would be constant-folded). Inputs: 1D {settings.shape_1d}, "
        f"2D {settings.shape_2d}, 3D {settings.shape_3d} (standard normal; |normal| for "
        f"the torch row); digits CNN (`experiments.models.build_model`, "
        f"{'x'.join(map(str, CNN_INPUT))} input, digits.toml settings) batch "
        f"{settings.cnn_batch} with `train_on_batch`, `jit_compile` = "
        + ", ".join(f"{CNN_JIT[m]} in {m}" for m in MODES[backend])
        + f". Total {seconds:.0f} s.",
        "",
    ]
    if settings.cases is not None:
        lines += [f"Cases timed (a sample): {'; '.join(settings.cases)}.", ""]
    slow = [m for m in MODES[backend] if m in SLOW_MODES]
    if slow and settings.slow_mode_cases is not None:
        lines += [
            (f"In {', '.join(slow)}, only {'; '.join(settings.slow_mode_cases)} "
             f"(compiling takes seconds per function)."),
            "",
        ]
    goal_rows = [r for r in rows if r.goal]
    met = sum(r.met == "yes" for r in goal_rows)
    lines += [f"Goals met: {met} of {len(goal_rows)}.", ""]
    lines += tables.table(TABLE_HEADER, TABLE_ALIGNS, [_table_cells(r) for r in rows])
    misses = [r for r in goal_rows if r.met == "no"]
    if misses:
        lines += ["", "Missed goals:", ""]
        lines += [f"- {r.case} ({r.mode}, {r.pass_}): {r.ratio:.2f} vs {r.goal}" for r in misses]
    if failed:
        lines += ["", "Failed (raised, not timed):", ""] + [f"- {f}" for f in failed]
    return "\n".join(lines) + "\n"


def log(item):
    """Print a `Row` (one line: the pair, mode, pass, times, ratio, goal) or a message."""
    if isinstance(item, Row):
        item = (
            f"[{item.group}] {item.case} vs {item.baseline} | {item.mode} | {item.pass_}: "
            f"{item.candidate_ms:.3f} ms / {item.baseline_ms:.3f} ms = {item.ratio:.2f}x"
            + (f" (goal {item.goal}: {item.met})" if item.goal else "")
        )
    print(item, flush=True)


def file_names(backend):
    """(markdown, csv) file names: bench.md/.csv on tensorflow, bench-<backend>.* elsewhere."""
    stem = "bench" if backend == "tensorflow" else f"bench-{backend}"
    return f"{stem}.md", f"{stem}.csv"



def write(out_dir, backend, rows, markdown):
    """Write ``bench.csv`` (from `rows`) and ``bench.md`` of `backend` into `out_dir`."""
    md_name, csv_name = file_names(backend)
    write_atomic(os.path.join(out_dir, csv_name), to_csv(rows))
    write_atomic(os.path.join(out_dir, md_name), markdown)
