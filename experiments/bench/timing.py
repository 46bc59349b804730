"""How the benchmarks time: the settings of a run and one interleaved timer for every backend.

A candidate and its baseline are warmed up (traced, compiled), then timed
for several rounds, A B B A in each, each letter a block of calls long
enough to dwarf the timer; the reported ratio is the median over rounds of
candidate time / baseline time, so a steady drift in machine speed cancels.
Devices are synchronized before a block is stopped, so GPUs time right.
`FULL` is a measurement, `QUICK` a smoke test that takes every code path
once; both say which cases run in the modes whose compilation is slow.
"""

import statistics
import time
from dataclasses import dataclass

from .cases import CNN_POOLINGS, LAYER_CASES, cnn_case

BACKENDS = ("tensorflow", "jax", "torch")
# backend -> its modes, in order; a mode is what `adapters.compile_fn` does to a function.
MODES = {
    "tensorflow": ("tf.function", "XLA"),
    "jax": ("jit",),
    "torch": ("eager", "torch.compile"),
}
# Modes whose compilation takes seconds per function on a CPU: `Settings.slow_mode_cases`
# limits them in --quick runs.
SLOW_MODES = ("torch.compile",)


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
    slow_mode_cases=tuple(case.name for case in LAYER_CASES if case.goal is not None)
    + tuple(cnn_case(pooling, options) for pooling, options in CNN_POOLINGS
            if pooling in ("avg", "min", "lp", "stochastic")),
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
        "FractionalMaxPooling2D 2x2 ratio 1/2 train",  # also a torch row's case
        "max_pool_with_argmax 2x2/2",
        "max_unpool 2x2/2",
        "SpatialPyramidPooling2D max bins 1,2,4",
        "train step, fractional pooling",
    ),
    slow_mode_cases=("MinPooling2D 2x2/2",),
    quick=True,
)


def runs_in(settings, mode, case):
    """Whether `case` is timed in `mode` (--quick times a sample, fewer in slow modes)."""
    if settings.cases is not None and case not in settings.cases:
        return False
    return mode not in SLOW_MODES or settings.slow_mode_cases is None or (
        case in settings.slow_mode_cases
    )


def sync(out):
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
    sync(out)
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
        sync(candidate(*args_c))
        sync(baseline(*args_b))
    calls_c = _calls_for(candidate, args_c, settings)
    calls_b = _calls_for(baseline, args_b, settings)
    return summarize(
        *interleaved_ratios(
            lambda: _block(candidate, args_c, calls_c),
            lambda: _block(baseline, args_b, calls_b),
            settings.rounds,
        )
    )
