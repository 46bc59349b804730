"""Speed benchmark: keras_pool layers against the Keras built-ins of the same kind.

    python -m experiments bench [--out DIR] [--quick]

Times forward and forward+backward (the input gradient for a random
cotangent) of every keras_pool 2D layer, plus a 1D and a 3D sample, against the
Keras layer of the same kind (min -> max, Lp -> average, stochastic training
-> max, stochastic inference -> average), on the TensorFlow backend, in two
graph modes: plain `tf.function` and XLA (`jit_compile=True`). Also times our
`LpPooling2D(p=3)` against `torch.nn.functional.lp_pool2d` (when torch is
installed, same input, same thread count) and the training step of the digits
CNN with each pooling against the same model with `MaxPooling2D`.

Method: everything in one process; each candidate and its baseline are traced
and warmed up, then timed interleaved for several rounds (A B B A in each, a
block of calls long enough to dwarf the timer per letter); the reported ratio
is the median over rounds of candidate time / baseline time. Output:
`bench.md` (a Markdown table with the machine and versions) and `bench.csv`
in `out_dir` (default `runs/bench`), both written atomically. Runs unchanged
on a GPU (devices are synchronized before each block is stopped).
"""

import csv
import io
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields

DEFAULT_OUT = os.path.join("runs", "bench")

MODES = (("tf.function", False), ("XLA", True))


@dataclass(frozen=True)
class Settings:
    shape_1d: tuple
    shape_2d: tuple
    shape_3d: tuple
    cnn_batch: int
    rounds: int
    warmup: int
    block_s: float  # target seconds per timed block (one side of one round)


FULL = Settings(
    shape_1d=(64, 1024, 64),
    shape_2d=(64, 32, 32, 64),
    shape_3d=(8, 16, 16, 16, 64),
    cnn_batch=64,
    rounds=9,
    warmup=3,
    block_s=0.1,
)
QUICK = Settings(
    shape_1d=(2, 16, 4),
    shape_2d=(2, 8, 8, 4),
    shape_3d=(2, 4, 4, 4, 4),
    cnn_batch=8,
    rounds=2,
    warmup=1,
    block_s=0.0,
)


@dataclass
class Row:
    group: str  # "2D", "1D", "3D", "torch", "digits CNN"
    case: str  # what the candidate is
    baseline: str
    mode: str  # "tf.function" or "XLA"
    pass_: str  # "forward", "forward+backward" or "train step"
    candidate_ms: float  # median per-call time over rounds
    baseline_ms: float
    ratio: float  # median over rounds of candidate / baseline
    ratio_min: float
    ratio_max: float
    rounds: int
    goal: str  # "<= 2.0" or ""
    met: str  # "yes", "no" or ""


# (group, case, candidate (registry name, options), baseline, pool args, training, goal)
def _layer_cases():
    same = {"pool_size": 3, "strides": 2, "padding": "same"}
    cases = [
        ("2D", "MinPooling2D 2x2/2", ("min", {}), "max", {}, False, 1.0),
        ("2D", "MinPooling2D 3x3/2 same", ("min", {}), "max", same, False, None),
        ("2D", "LpPooling2D p=2 2x2/2", ("lp", {"p": 2.0}), "avg", {}, False, 2.0),
        ("2D", "LpPooling2D p=3 2x2/2", ("lp", {"p": 3.0}), "avg", {}, False, 2.0),
        ("2D", "LpPooling2D p=3 3x3/2 same", ("lp", {"p": 3.0}), "avg", same, False, 2.0),
        ("2D", "LpPooling2D p=2.5 2x2/2", ("lp", {"p": 2.5}), "avg", {}, False, None),
        (
            "2D",
            "LpPooling2D p=3 normalize trainable_p 2x2/2",
            ("lp", {"p": 3.0, "normalize": True, "trainable_p": True}),
            "avg",
            {},
            False,
            None,
        ),
        ("2D", "StochasticPooling2D train 2x2/2", ("stochastic", {"seed": 0}), "max", {}, True, 1.0),
        ("2D", "StochasticPooling2D infer 2x2/2", ("stochastic", {"seed": 0}), "avg", {}, False, 2.0),
        (
            "2D",
            "StochasticPooling2D train 3x3/2 same",
            ("stochastic", {"seed": 0}),
            "max",
            same,
            True,
            None,
        ),
        (
            "2D",
            "StochasticPooling2D infer 3x3/2 same",
            ("stochastic", {"seed": 0}),
            "avg",
            same,
            False,
            None,
        ),
        ("2D", "GlobalMinPooling2D", ("global_min", {}), "global_max", None, False, 1.0),
        ("2D", "GlobalLpPooling2D p=3", ("global_lp", {"p": 3.0}), "global_avg", None, False, 2.0),
        (
            "2D",
            "GlobalStochasticPooling2D train",
            ("global_stochastic", {"seed": 0}),
            "global_max",
            None,
            True,
            1.5,
        ),
        (
            "2D",
            "GlobalStochasticPooling2D infer",
            ("global_stochastic", {"seed": 0}),
            "global_avg",
            None,
            False,
            None,
        ),
        ("2D", "BlurPooling2D filter 4/2 reflect", ("blur", {}), "avg", {}, False, 1.5),
        ("2D", "MaxBlurPooling2D 2x2/2 filter 4", ("maxblur", {}), "max", {}, False, 2.5),
        ("2D", "MixedPooling2D 2x2/2", ("mixed", {}), "max", {}, False, 2.5),
        ("2D", "MixedPooling2D 3x3/2 same", ("mixed", {}), "max", same, False, None),
        ("2D", "GatedPooling2D 2x2/2", ("gated", {}), "max", {}, False, 3.0),
        ("2D", "GatedPooling2D 3x3/2 same", ("gated", {}), "max", same, False, None),
        ("2D", "SoftPooling2D 2x2/2", ("soft", {}), "avg", {}, False, 3.0),
        ("2D", "SoftPooling2D 3x3/2 same", ("soft", {}), "avg", same, False, None),
        ("2D", "GlobalSoftPooling2D", ("global_soft", {}), "global_avg", None, False, None),
    ]
    for rank in (1, 3):
        group = f"{rank}D"
        cases += [
            (group, f"MinPooling{rank}D 2/2", ("min", {}), "max", {}, False, None),
            (group, f"LpPooling{rank}D p=3 2/2", ("lp", {"p": 3.0}), "avg", {}, False, None),
            (
                group,
                f"StochasticPooling{rank}D train 2/2",
                ("stochastic", {"seed": 0}),
                "max",
                {},
                True,
                None,
            ),
            (group, f"BlurPooling{rank}D filter 4/2", ("blur", {}), "avg", {}, False, None),
            (group, f"MaxBlurPooling{rank}D 2/2", ("maxblur", {}), "max", {}, False, None),
            (group, f"SoftPooling{rank}D 2/2", ("soft", {}), "avg", {}, False, None),
        ]
    return cases


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------


def _sync(out):
    """Wait for `out` without copying it whole (train_on_batch has already synced)."""
    if hasattr(out, "requires_grad"):  # torch
        if out.is_cuda:
            import torch

            torch.cuda.synchronize()
    elif hasattr(out, "numpy"):  # TensorFlow
        out[(0,) * len(out.shape)].numpy()


def _block(fn, args, calls):
    """Seconds per call of `fn(*args)` over `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        out = fn(*args)
    _sync(out)
    return (time.perf_counter() - start) / calls


def _calls_for(fn, args, settings):
    """Calls per block so that one block lasts about `settings.block_s`."""
    per_call = min(_block(fn, args, 1) for _ in range(2))
    return max(1, min(1000, round(settings.block_s / max(per_call, 1e-6))))


def compare(candidate, baseline, args_c, args_b, settings):
    """Interleaved timing; returns (cand_s, base_s, ratio, ratio_min, ratio_max).

    Each round times candidate, baseline, baseline, candidate (A B B A), so a
    steady drift in machine speed cancels within the round; the round's ratio
    is the candidate's time over the baseline's.
    """
    for _ in range(settings.warmup):
        _sync(candidate(*args_c))
        _sync(baseline(*args_b))
    calls_c = _calls_for(candidate, args_c, settings)
    calls_b = _calls_for(baseline, args_b, settings)
    times_c, times_b, ratios = [], [], []
    for _ in range(settings.rounds):
        t_c = _block(candidate, args_c, calls_c)
        t_b = _block(baseline, args_b, calls_b)
        t_b += _block(baseline, args_b, calls_b)
        t_c += _block(candidate, args_c, calls_c)
        times_c.append(t_c / 2)
        times_b.append(t_b / 2)
        ratios.append(t_c / t_b)
    return (
        statistics.median(times_c),
        statistics.median(times_b),
        statistics.median(ratios),
        min(ratios),
        max(ratios),
    )


def _tf_fn(layer, training, backward, jit):
    """`fn(x, dy)`: the layer's output, or its input gradient for cotangent `dy`.

    The cotangent is an argument (random, not ones) so that no gradient can be
    constant-folded: d sum(avg_pool(x)) / dx does not depend on x, and both
    Grappler and XLA would otherwise fold the baseline's backward pass away.
    """
    import tensorflow as tf

    if backward:

        def fn(x, dy):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
            return tape.gradient(y, x, output_gradients=dy)

    else:

        def fn(x, dy):
            return layer(x, training=training)

    return tf.function(fn, jit_compile=jit)


def _make_layer(name, rank, pool_args, options):
    from keras_pool import registry

    if pool_args is None:
        return registry.head(name, rank=rank, **options)
    return registry.pooling(name, rank=rank, **pool_args, **options)


def _row(group, case, baseline, mode, pass_, result, rounds, goal):
    cand_s, base_s, ratio, lo, hi = result
    return Row(
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


def bench_layers(settings, log, only=None):
    import tensorflow as tf

    shapes = {1: settings.shape_1d, 2: settings.shape_2d, 3: settings.shape_3d}
    inputs = {
        rank: tf.random.stateless_normal(shape, seed=(1, rank))
        for rank, shape in shapes.items()
    }
    rows = []
    for group, case, (cand_name, options), base_name, pool_args, training, goal in (
        _layer_cases()
    ):
        if only and only not in f"[{group}] {case}":
            continue
        rank = int(group[0])
        candidate = _make_layer(cand_name, rank, pool_args, options)
        baseline = _make_layer(base_name, rank, pool_args, {})
        base_label = type(baseline).__name__ + _describe(pool_args)
        x = inputs[rank]
        dy = tf.random.stateless_normal(baseline.compute_output_shape(x.shape), seed=(3, 3))
        args = (x, dy)
        for mode, jit in MODES:
            for pass_, backward in (("forward", False), ("forward+backward", True)):
                result = compare(
                    _tf_fn(candidate, training, backward, jit),
                    _tf_fn(baseline, training, backward, jit),
                    args,
                    args,
                    settings,
                )
                row = _row(group, case, base_label, mode, pass_, result, settings.rounds,
                           goal if backward else None)
                log(row)
                rows.append(row)
    return rows


def _describe(pool_args):
    if not pool_args:
        return ""
    k, s = pool_args.get("pool_size", 2), pool_args.get("strides", 2)
    return f" {k}x{k}/{s} {pool_args.get('padding', 'valid')}"


def _torch_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def bench_torch(settings, log):
    """Our LpPooling2D(p=3) (TF graph / XLA) vs torch lp_pool2d on the same values."""
    try:
        import torch
    except ImportError:
        log("torch is not installed: skipping the torch comparison")
        return []
    import numpy as np
    import tensorflow as tf

    from keras_pool import LpPooling2D

    torch.set_num_threads(_torch_threads())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    layer = LpPooling2D(pool_size=2, p=3.0)
    x = tf.abs(tf.random.stateless_normal(settings.shape_2d, seed=(2, 2)))
    dy = tf.random.stateless_normal(layer.compute_output_shape(x.shape), seed=(3, 3))

    def nchw(t):
        return torch.from_numpy(np.transpose(t.numpy(), (0, 3, 1, 2)).copy()).to(device)

    def torch_forward(t, dt):
        return torch.nn.functional.lp_pool2d(t, 3.0, 2, 2)

    def torch_backward(t, dt):
        t = t.detach().requires_grad_(True)
        y = torch.nn.functional.lp_pool2d(t, 3.0, 2, 2)
        (grad,) = torch.autograd.grad(y, t, grad_outputs=dt)
        return grad
    rows = []
    for mode, jit in MODES:
        for pass_, backward, torch_fn in (
            ("forward", False, torch_forward),
            ("forward+backward", True, torch_backward),
        ):
            result = compare(
                _tf_fn(layer, False, backward, jit),
                torch_fn,
                (x, dy),
                (nchw(x), nchw(dy)),
                settings,
            )
            row = _row(
                "torch",
                "LpPooling2D p=3 2x2/2",
                f"torch lp_pool2d (eager, {torch.get_num_threads()} threads, NCHW)",
                mode,
                pass_,
                result,
                settings.rounds,
                1.0 if backward else None,
            )
            log(row)
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------
# Digits CNN training step
# ----------------------------------------------------------------------------

CNN_POOLINGS = (
    ("avg", None), ("min", None), ("lp", {"p": 3.0}), ("stochastic", None), ("blur", None),
    ("maxblur", None), ("mixed", None), ("gated", None), ("soft", None),
)
CNN_INPUT = (24, 24, 1)  # configs/digits.toml: 8x8 digits upsampled to 16x16, 4-pixel border


def _digits_cnn(pooling, lp_options):
    """The digits CNN of `configs/digits.toml` (conv16-pool-conv32-pool-flatten-dense10)."""
    from .models import build_model

    return build_model(CNN_INPUT, 10, pooling=pooling, lp_options=lp_options, seed=0)


def _compiled_cnn(pooling, lp_options, jit):
    import keras

    model = _digits_cnn(pooling, lp_options)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    return model


def bench_cnn(settings, log):
    import numpy as np

    rng = np.random.default_rng(0)
    batch = (
        rng.random((settings.cnn_batch, *CNN_INPUT), dtype=np.float32),
        rng.integers(0, 10, settings.cnn_batch),
    )

    def step(model):
        return lambda x, y: model.train_on_batch(x, y, return_dict=False)

    rows = []
    for mode, jit in MODES:
        baseline = _compiled_cnn("max", None, jit)
        for pooling, options in CNN_POOLINGS:
            candidate = _compiled_cnn(pooling, options, jit)
            result = compare(step(candidate), step(baseline), batch, batch, settings)
            row = _row(
                "digits CNN",
                f"train step, {pooling} pooling" + (" p=3" if options else ""),
                "same model, max pooling",
                mode,
                "train step",
                result,
                settings.rounds,
                1.25,
            )
            log(row)
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------


def machine_info():
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    info = {
        "cpu": f"{cpu}, {_torch_threads()} cores available",
        "gpu": ", ".join(gpus) if gpus else "none (CPU only)",
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = "not installed"
    return info


def _fmt(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def to_csv(rows):
    buffer = io.StringIO()
    names = [f.name for f in fields(Row)]
    writer = csv.DictWriter(buffer, fieldnames=[n.rstrip("_") for n in names])
    writer.writeheader()
    for row in rows:
        writer.writerow({k.rstrip("_"): _fmt(v) for k, v in asdict(row).items()})
    return buffer.getvalue()


def to_markdown(rows, info, settings, seconds):
    lines = [
        "# keras_pool speed benchmark",
        "",
        "Command: `python -m experiments bench"
        + (" --quick` (a smoke test, not a measurement)" if settings is QUICK else "`"),
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()),
        "",
        f"Method: TensorFlow backend, float32, one process; candidate and baseline timed "
        f"interleaved for {settings.rounds} rounds after {settings.warmup} warm-up calls, "
        f"each round A B B A with ~{settings.block_s:g} s blocks; ratio = median over rounds "
        f"of candidate / baseline (min-max in brackets); the ms columns are medians of "
        f"per-call times, so their quotient need not equal the ratio. Forward+backward = "
        f"input gradient for a random cotangent (not ones: the average pooling gradient "
        f"of a sum would be constant-folded). Inputs: 1D {settings.shape_1d}, "
        f"2D {settings.shape_2d}, 3D {settings.shape_3d} (standard normal; |normal| for "
        f"the torch row); digits CNN (`experiments.models.build_model`, "
        f"{'x'.join(map(str, CNN_INPUT))} input, digits.toml settings) batch "
        f"{settings.cnn_batch} with `train_on_batch`. Total {seconds:.0f} s.",
        "",
    ]
    goal_rows = [r for r in rows if r.goal]
    met = sum(r.met == "yes" for r in goal_rows)
    lines += [f"Goals met: {met} of {len(goal_rows)}.", ""]
    lines += [
        "| group | candidate | baseline | mode | pass | candidate ms | baseline ms "
        "| ratio (min-max) | goal | met |",
        "|---|---|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.group} | {r.case} | {r.baseline} | {r.mode} | {r.pass_} "
            f"| {r.candidate_ms:.3f} | {r.baseline_ms:.3f} "
            f"| **{r.ratio:.2f}** ({r.ratio_min:.2f}-{r.ratio_max:.2f}) "
            f"| {r.goal} | {r.met} |"
        )
    misses = [r for r in goal_rows if r.met == "no"]
    if misses:
        lines += ["", "Missed goals:", ""]
        lines += [f"- {r.case} ({r.mode}, {r.pass_}): {r.ratio:.2f} vs {r.goal}" for r in misses]
    return "\n".join(lines) + "\n"


def _write_atomic(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def _log(item):
    if isinstance(item, Row):
        item = (
            f"[{item.group}] {item.case} vs {item.baseline} | {item.mode} | {item.pass_}: "
            f"{item.candidate_ms:.3f} ms / {item.baseline_ms:.3f} ms = {item.ratio:.2f}x"
            + (f" (goal {item.goal}: {item.met})" if item.goal else "")
        )
    print(item, flush=True)


def _rerun_on_tensorflow(out_dir, quick, only=None):
    """Keras is on another backend in this process: run the bench in a child."""
    code = (
        f"import sys; from {__name__} import main; "
        f"sys.exit(main({out_dir!r}, {bool(quick)!r}, {only!r}))"
    )
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    return subprocess.call([sys.executable, "-c", code], env=env)


def main(out_dir=None, quick=False, only=None):
    """Run the benchmark, write `bench.md` and `bench.csv` into `out_dir`; returns 0.

    `only` (a substring of "[group] case", for development) times just the
    matching layer cases and skips the torch and CNN parts.
    """
    out_dir = DEFAULT_OUT if out_dir is None else os.fspath(out_dir)
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    if keras.backend.backend() != "tensorflow":
        return _rerun_on_tensorflow(out_dir, quick, only)
    settings = QUICK if quick else FULL
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    info = machine_info()
    _log("Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    rows = bench_layers(settings, _log, only)
    if not only:
        rows += bench_torch(settings, _log)
        rows += bench_cnn(settings, _log)
    seconds = time.perf_counter() - start
    _write_atomic(os.path.join(out_dir, "bench.csv"), to_csv(rows))
    _write_atomic(
        os.path.join(out_dir, "bench.md"), to_markdown(rows, info, settings, seconds)
    )
    _log(f"Wrote {os.path.join(out_dir, 'bench.md')} and bench.csv ({seconds:.0f} s)")
    return 0

