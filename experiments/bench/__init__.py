"""Speed benchmark: keras_pool layers against the Keras built-ins of the same kind.

    python -m experiments bench [--backend tensorflow|jax|torch] [--out DIR] [--quick] [--goals]
                                [--rounds N]

Times forward and forward+backward (the input gradient for a random
cotangent) of every keras_pool 2D layer, plus a 1D and a 3D sample, against the
Keras layer of the same kind (min -> max, Lp -> average, stochastic training
-> max, stochastic inference -> average) running on the same Keras backend, in
that backend's modes (``MODES``):

- tensorflow: plain ``tf.function`` and XLA (``tf.function(jit_compile=True)``);
- jax: ``jax.jit`` of ``layer.stateless_call`` (the way Keras' JAX trainer
  runs a layer; the backward pass is ``jax.vjp`` of it);
- torch: eager and ``torch.compile`` (the backward pass is
  ``torch.autograd.grad``). Compiling takes 3-25 s per function on a CPU, so
  ``torch.compile`` times only ``Settings.slow_mode_cases`` (in full runs: the
  rows with goals; before each compiled CNN pair ``torch.compiler.reset()``,
  so every CNN compiles as in a fresh process). A mode that does not work on
  the machine (a probe fails)
  is reported as unavailable, with the reason, in ``bench.md``.

Also times our ``LpPooling2D(p=3)`` against ``torch.nn.functional.lp_pool2d``
(when torch is installed; same values, same thread count; on the torch backend
in the same mode as ours, elsewhere eager) and the training step
(``train_on_batch``) of the digits CNN with each pooling against the same model
with ``MaxPooling2D``, compiled with ``jit_compile`` as the mode says.

Method: everything in one process; each candidate and its baseline are traced
and warmed up, then timed interleaved for several rounds (A B B A in each, a
block of calls long enough to dwarf the timer per letter); the reported ratio
is the median over rounds of candidate time / baseline time. Output:
``bench.md`` (a Markdown table with the backend, modes, machine and versions)
and ``bench.csv`` (one row per case, mode and pass, with a ``backend`` column)
in `out_dir` (default ``runs/bench``), both written atomically; on jax and
torch the files are ``bench-jax.*`` and ``bench-torch.*``, so one folder holds
all three. Runs unchanged on a GPU (devices are synchronized before each block
is stopped).

Public API
----------
``main(out_dir=None, quick=False, only=None, backend="tensorflow", rounds=None) -> int``
    Run the benchmark on `backend` (in a child process when Keras is already
    imported on another backend here) and write the two files.
``compare(candidate, baseline, args_c, args_b, settings) -> tuple``
    The interleaved timer shared by every backend.
``compile_fn(fn, backend, mode)``
    `fn` as the mode runs it (``tf.function``, ``jax.jit``, ``torch.compile``).
"""

import csv
import io
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields, replace

DEFAULT_OUT = os.path.join("runs", "bench")

BACKENDS = ("tensorflow", "jax", "torch")
# backend -> its modes, in order; a mode is what `compile_fn` does to a function.
MODES = {
    "tensorflow": ("tf.function", "XLA"),
    "jax": ("jit",),
    "torch": ("eager", "torch.compile"),
}
# Modes whose compilation takes seconds per function on a CPU: `Settings.slow_mode_cases`
# limits them in --quick runs.
SLOW_MODES = ("torch.compile",)


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


@dataclass(frozen=True)
class Settings:
    shape_1d: tuple
    shape_2d: tuple
    shape_3d: tuple
    cnn_batch: int
    rounds: int
    warmup: int
    block_s: float  # target seconds per timed block (one side of one round)
    cases: tuple = None  # the cases timed (names as in the `case` column; None: all)
    slow_mode_cases: tuple = None  # of those, the cases timed in SLOW_MODES (None: all)
    quick: bool = False  # a smoke test (--quick), not a measurement
    goals_only: bool = False  # --goals: only the rows with a goal (forward+backward, CNN)


FULL = Settings(
    shape_1d=(64, 1024, 64),
    shape_2d=(64, 32, 32, 64),
    shape_3d=(8, 16, 16, 16, 64),
    cnn_batch=64,
    rounds=9,
    warmup=3,
    block_s=0.1,
    # torch.compile takes 3-25 s per function on a 2-core CPU (~25 min for every row):
    # in it, the rows with goals (and the torch and the CNN rows of the README table)
    slow_mode_cases=tuple(case for _, case, *_, goal in _layer_cases() if goal is not None)
    + tuple(f"train step, {p} pooling" + (" p=3" if p == "lp" else "")
            for p in ("avg", "min", "lp", "stochastic")),
)
QUICK = Settings(
    shape_1d=(2, 16, 4),
    shape_2d=(2, 8, 8, 4),
    shape_3d=(2, 4, 4, 4, 4),
    cnn_batch=8,
    rounds=2,
    warmup=1,
    block_s=0.0,
    # a sample that takes every code path once (each compiled function costs ~0.2 s
    # to trace and compile with jit or XLA, ~5 s with torch.compile, on a CPU)
    cases=(
        "MinPooling2D 2x2/2",
        "LpPooling2D p=3 2x2/2",  # also the torch row's case
        "LpPooling2D p=3 3x3/2 same",
        "StochasticPooling2D train 2x2/2",
        "GlobalStochasticPooling2D train",
        "GatedPooling2D 2x2/2",
        "SoftPooling1D 2/2",
        "LpPooling3D p=3 2/2",
        "train step, lp pooling p=3",
    ),
    slow_mode_cases=("MinPooling2D 2x2/2",),
    quick=True,
)


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


# ----------------------------------------------------------------------------
# Timing (one interleaved timer for every backend)
# ----------------------------------------------------------------------------


def _sync(out):
    """Wait for `out` without copying it whole (train_on_batch has already synced)."""
    while isinstance(out, (tuple, list)) and out:  # jax: (output, new state)
        out = out[0]
    if hasattr(out, "block_until_ready"):  # jax
        out.block_until_ready()
    elif hasattr(out, "requires_grad"):  # torch
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


def interleaved_ratios(time_c, time_b, rounds):
    """Per-round times and ratios from two block timers, A B B A per round.

    Returns (times_c, times_b, ratios): each round's mean block time of the
    candidate and of the baseline, and their quotient. A steady drift in
    machine speed cancels within a round.
    """
    times_c, times_b, ratios = [], [], []
    for _ in range(rounds):
        t_c = time_c()
        t_b = time_b()
        t_b += time_b()
        t_c += time_c()
        times_c.append(t_c / 2)
        times_b.append(t_b / 2)
        ratios.append(t_c / t_b)
    return times_c, times_b, ratios


def summarize(times_c, times_b, ratios):
    """(median cand s, median base s, median ratio, min ratio, max ratio)."""
    return (
        statistics.median(times_c),
        statistics.median(times_b),
        statistics.median(ratios),
        min(ratios),
        max(ratios),
    )


def compare(candidate, baseline, args_c, args_b, settings):
    """Interleaved timing; returns (cand_s, base_s, ratio, ratio_min, ratio_max).

    Both callables are warmed up (traced, compiled), then timed for
    `settings.rounds` rounds of candidate, baseline, baseline, candidate; the
    round's ratio is the candidate's time over the baseline's.
    """
    for _ in range(settings.warmup):
        _sync(candidate(*args_c))
        _sync(baseline(*args_b))
    calls_c = _calls_for(candidate, args_c, settings)
    calls_b = _calls_for(baseline, args_b, settings)
    return summarize(
        *interleaved_ratios(
            lambda: _block(candidate, args_c, calls_c),
            lambda: _block(baseline, args_b, calls_b),
            settings.rounds,
        )
    )


# ----------------------------------------------------------------------------
# Backends: compiling a function, a layer's forward / backward pass, tensors
# ----------------------------------------------------------------------------


def compile_fn(fn, backend, mode):
    """`fn` as `mode` of `backend` runs it (see MODES)."""
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=mode == "XLA")
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if mode == "torch.compile":
        import torch

        return torch.compile(fn)
    return fn  # torch eager


def probe_mode(backend, mode):
    """None if `mode` compiles and runs a tiny function here, else the reason (one line)."""
    import keras

    x = keras.ops.ones((2, 4, 4, 1))
    fn = compile_fn(lambda x, dy: keras.ops.max(x * dy, axis=(1, 2)), backend, mode)
    try:
        _sync(fn(x, x))
    except Exception as e:  # noqa: BLE001 - any failure makes the mode unavailable
        text = str(e).strip().splitlines()
        return f"{type(e).__name__}: {text[0] if text else ''}"[:300]
    return None


def pass_fn(layer, training, backward, backend):
    """(fn, state): `fn(x, dy, *state)` is the layer's output, or its input gradient.

    The cotangent `dy` is an argument (random, not ones) so that no gradient
    can be constant-folded: d sum(avg_pool(x)) / dx does not depend on x, and
    both Grappler and XLA would otherwise fold the baseline's backward pass
    away. On JAX the layer runs through `stateless_call` with its variables
    as arguments (so jit neither bakes them in nor leaks tracers into them)
    and `fn` returns the new non-trainable state too (the stochastic layers'
    seed), as Keras' JAX trainer does.
    """
    if backend == "tensorflow":
        import tensorflow as tf

        def forward(x, dy):
            return layer(x, training=training)

        def backward_(x, dy):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
            return tape.gradient(y, x, output_gradients=dy)

        return (backward_ if backward else forward), ()
    if backend == "jax":
        import jax

        state = (
            [v.value for v in layer.trainable_variables],
            [v.value for v in layer.non_trainable_variables],
        )

        # stateless_call goes straight to `call`: the built-ins take no `training`
        kwargs = {"training": training} if "training" in _call_args(layer) else {}

        def stateless(x, trainable, non_trainable):
            return layer.stateless_call(trainable, non_trainable, x, **kwargs)

        def forward(x, dy, trainable, non_trainable):
            return stateless(x, trainable, non_trainable)

        def backward_(x, dy, trainable, non_trainable):
            _, vjp, new_state = jax.vjp(
                lambda x: stateless(x, trainable, non_trainable), x, has_aux=True
            )
            return vjp(dy)[0], new_state

        return (backward_ if backward else forward), state
    import torch

    def forward(x, dy):
        return layer(x, training=training)

    def backward_(x, dy):
        x = x.detach().requires_grad_(True)
        y = layer(x, training=training)
        (grad,) = torch.autograd.grad(y, x, grad_outputs=dy)
        return grad

    return (backward_ if backward else forward), ()


def _call_args(layer):
    import inspect

    return inspect.signature(layer.call).parameters


def _normal(shape, seed, absolute=False):
    """A float32 standard normal tensor of the current backend (NumPy-seeded)."""
    import keras
    import numpy as np

    values = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return keras.ops.convert_to_tensor(np.abs(values) if absolute else values)


def _make_layer(name, rank, pool_args, options):
    from keras_pool import registry

    if pool_args is None:
        return registry.head(name, rank=rank, **options)
    return registry.pooling(name, rank=rank, **pool_args, **options)


def _row(backend, group, case, baseline, mode, pass_, result, rounds, goal):
    cand_s, base_s, ratio, lo, hi = result
    return Row(
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


def _runs_in(settings, mode, case):
    """Whether `case` is timed in `mode` (--quick times a sample, fewer in slow modes)."""
    if settings.cases is not None and case not in settings.cases:
        return False
    return mode not in SLOW_MODES or settings.slow_mode_cases is None or (
        case in settings.slow_mode_cases
    )


def _built(layer, x, training):
    layer(x, training=training)  # build eagerly: stateless_call needs the variables
    return layer


def bench_layers(backend, modes, settings, log, only=None):
    shapes = {1: settings.shape_1d, 2: settings.shape_2d, 3: settings.shape_3d}
    inputs = {rank: _normal(shape, seed=(1, rank)) for rank, shape in shapes.items()}
    rows = []
    for group, case, (cand_name, options), base_name, pool_args, training, goal in (
        _layer_cases()
    ):
        if (only and only not in f"[{group}] {case}") or (settings.goals_only and goal is None):
            continue
        if not any(_runs_in(settings, mode, case) for mode in modes):
            continue
        rank = int(group[0])
        x = inputs[rank]
        candidate = _built(_make_layer(cand_name, rank, pool_args, options), x, training)
        baseline = _built(_make_layer(base_name, rank, pool_args, {}), x, training)
        base_label = type(baseline).__name__ + _describe(pool_args)
        dy = _normal(baseline.compute_output_shape(tuple(x.shape)), seed=(3, 3))
        for mode in modes:
            if not _runs_in(settings, mode, case):
                continue
            for pass_, backward in (("forward", False), ("forward+backward", True)):
                if settings.goals_only and not backward:
                    continue
                fn_c, state_c = pass_fn(candidate, training, backward, backend)
                fn_b, state_b = pass_fn(baseline, training, backward, backend)
                result = compare(
                    compile_fn(fn_c, backend, mode),
                    compile_fn(fn_b, backend, mode),
                    (x, dy, *state_c),
                    (x, dy, *state_b),
                    settings,
                )
                row = _row(backend, group, case, base_label, mode, pass_, result,
                           settings.rounds, goal if backward else None)
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


TORCH_CASE = "LpPooling2D p=3 2x2/2"


def bench_torch(backend, modes, settings, log):
    """Our LpPooling2D(p=3) (in each mode) vs torch lp_pool2d on the same values.

    On the torch backend lp_pool2d runs in the same mode as ours (eager or
    torch.compile); elsewhere it runs eager.
    """
    try:
        import torch
    except ImportError:
        log("torch is not installed: skipping the torch comparison")
        return []
    import keras
    import numpy as np

    from keras_pool import LpPooling2D

    torch.set_num_threads(_torch_threads())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    layer = LpPooling2D(pool_size=2, p=3.0)
    x = _normal(settings.shape_2d, seed=(2, 2), absolute=True)
    dy = _normal(layer.compute_output_shape(tuple(x.shape)), seed=(3, 3))

    def nchw(t):
        values = keras.ops.convert_to_numpy(t)
        return torch.from_numpy(np.transpose(values, (0, 3, 1, 2)).copy()).to(device)

    def torch_forward(t, dt):
        return torch.nn.functional.lp_pool2d(t, 3.0, 2, 2)

    def torch_backward(t, dt):
        t = t.detach().requires_grad_(True)
        y = torch.nn.functional.lp_pool2d(t, 3.0, 2, 2)
        (grad,) = torch.autograd.grad(y, t, grad_outputs=dt)
        return grad

    rows = []
    for mode in modes:
        if not _runs_in(settings, mode, TORCH_CASE):
            continue
        torch_mode = mode if backend == "torch" else "eager"
        for pass_, backward, torch_fn in (
            ("forward", False, torch_forward),
            ("forward+backward", True, torch_backward),
        ):
            fn, state = pass_fn(_built(layer, x, False), False, backward, backend)
            result = compare(
                compile_fn(fn, backend, mode),
                compile_fn(torch_fn, "torch", torch_mode),
                (x, dy, *state),
                (nchw(x), nchw(dy)),
                settings,
            )
            row = _row(
                backend,
                "torch",
                TORCH_CASE,
                f"torch lp_pool2d ({torch_mode}, {torch.get_num_threads()} threads, NCHW)",
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
    from ..run.models import build_model

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


# mode -> the `jit_compile` of `model.compile` (on jax, False would run the step op by op)
CNN_JIT = {"tf.function": False, "XLA": True, "jit": True, "eager": False, "torch.compile": True}


def bench_cnn(backend, modes, settings, log, failed=None):
    """The CNN train-step rows; a step that raises is listed in `failed`, not timed."""
    import numpy as np

    rng = np.random.default_rng(0)
    batch = (
        rng.random((settings.cnn_batch, *CNN_INPUT), dtype=np.float32),
        rng.integers(0, 10, settings.cnn_batch),
    )

    def step(model):
        return lambda x, y: model.train_on_batch(x, y, return_dict=False)

    rows = []
    for mode in modes:
        baseline = None
        for pooling, options in CNN_POOLINGS:
            case = f"train step, {pooling} pooling" + (" p=3" if options else "")
            if not _runs_in(settings, mode, case):
                continue
            if mode == "torch.compile":
                # Each pair compiled as in a fresh process: Dynamo's state from the rows
                # before (other layers, other shapes) would have marked sizes dynamic.
                import torch

                torch.compiler.reset()
            baseline = baseline or _compiled_cnn("max", None, CNN_JIT[mode])
            candidate = _compiled_cnn(pooling, options, CNN_JIT[mode])
            try:
                result = compare(step(candidate), step(baseline), batch, batch, settings)
            except Exception as e:  # noqa: BLE001 - e.g. torch.compile giving up: report it
                reason = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
                log(f"[digits CNN] {case} | {mode}: failed: {reason}")
                if failed is not None:
                    failed.append(f"digits CNN {case} ({mode}): {reason}")
                continue
            row = _row(
                backend,
                "digits CNN",
                case,
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


def _gpus(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [torch.cuda.get_device_name(i) for i in range(count)]


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
    gpus = _gpus(backend)
    info = {
        "backend": backend,
        "cpu": f"{cpu}, {_torch_threads()} cores available",
        "gpu": ", ".join(gpus) if gpus else "none (CPU only)",
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


MODE_TEXT = {
    "tf.function": "plain `tf.function` (TensorFlow graph)",
    "XLA": "`tf.function(jit_compile=True)` (XLA)",
    "jit": "`jax.jit` of `layer.stateless_call` (XLA); backward = `jax.vjp`",
    "eager": "eager PyTorch ops; backward = `torch.autograd.grad`",
    "torch.compile": "`torch.compile` (default inductor) of the same function",
}


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


def to_markdown(rows, info, settings, seconds, backend="tensorflow", unavailable=None,
                rounds_given=False, failed=()):
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
        "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()),
        "",
        f"Backend: Keras on {backend}; baselines are the Keras built-ins on the same backend. "
        f"Modes: {modes}.",
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
            f"In {', '.join(slow)}, only {'; '.join(settings.slow_mode_cases)} "
            f"(compiling takes seconds per function).",
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
    if failed:
        lines += ["", "Failed (raised, not timed):", ""] + [f"- {f}" for f in failed]
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


def file_names(backend):
    """(markdown, csv) file names: bench.md/.csv on tensorflow, bench-<backend>.* elsewhere."""
    stem = "bench" if backend == "tensorflow" else f"bench-{backend}"
    return f"{stem}.md", f"{stem}.csv"


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
    _log("Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    unavailable, failed = {}, []
    for mode in MODES[backend]:
        reason = probe_mode(backend, mode)
        if reason:
            unavailable[mode] = reason
            _log(f"mode {mode} is unavailable here: {reason}")
    modes = [m for m in MODES[backend] if m not in unavailable]
    rows = bench_layers(backend, modes, settings, _log, only)
    if not only:
        rows += bench_torch(backend, modes, settings, _log)
        rows += bench_cnn(backend, modes, settings, _log, failed)
    seconds = time.perf_counter() - start
    md_name, csv_name = file_names(backend)
    _write_atomic(os.path.join(out_dir, csv_name), to_csv(rows))
    _write_atomic(
        os.path.join(out_dir, md_name),
        to_markdown(rows, info, settings, seconds, backend, unavailable, rounds is not None,
                    failed),
    )
    _log(f"Wrote {os.path.join(out_dir, md_name)} and {csv_name} ({seconds:.0f} s)")
    return 0
