"""The three parts of the speed benchmark, each a list of `output.Row`.

- layers: forward and forward+backward (the input gradient for a random
  cotangent) of every case in `cases.LAYER_CASES` against its Keras
  built-in, in each mode of the backend;
- torch: our ``LpPooling2D(p=3)`` against ``torch.nn.functional.lp_pool2d``
  and our ``FractionalMaxPooling2D`` (training draws) against
  ``fractional_max_pool2d`` (`cases.TORCH_CASES`), on the same values and
  thread count (on the torch backend in the same mode as ours, elsewhere
  eager), when torch is installed;
- digits CNN: the ``train_on_batch`` step of the digits CNN with each pooling
  against the same model with max pooling, ``jit_compile`` as the mode says.
  A step that raises (torch.compile giving up) is reported, not fatal; so is
  a layer or torch row that raises (a backend lacking an op).
"""

from .adapters import (
    CNN_JIT,
    built,
    compile_fn,
    cotangent,
    make_layer,
    normal,
    pass_fn,
    pooled,
    torch_threads,
)
from .cases import CNN_INPUT, CNN_POOLINGS, LAYER_CASES, TORCH_CASES, cnn_case
from .output import Row
from .timing import compare, runs_in


def _reason(e):
    return f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"


def bench_layers(backend, modes, settings, log, only=None, failed=None):
    """The layer rows; `only` (a substring of "[group] case") keeps the matching cases.

    A case that raises is listed in `failed` (and logged), not timed.
    """
    shapes = {1: settings.shape_1d, 2: settings.shape_2d, 3: settings.shape_3d}
    inputs = {rank: normal(shape, seed=(1, rank)) for rank, shape in shapes.items()}
    rows = []
    for case in LAYER_CASES:
        if (only and only not in f"[{case.group}] {case.name}") or (
            settings.goals_only and case.goal is None
        ):
            continue
        if not any(runs_in(settings, mode, case.name) for mode in modes):
            continue
        try:
            rows += _bench_case(case, inputs[case.rank], backend, modes, settings, log)
        except Exception as e:  # noqa: BLE001 - e.g. an op this backend lacks: report it
            log(f"[{case.group}] {case.name}: failed: {_reason(e)}")
            if failed is not None:
                failed.append(f"[{case.group}] {case.name} ({backend}): {_reason(e)}")
    return rows


def _bench_case(case, x, backend, modes, settings, log):
    """The rows of one layer case (see `bench_layers`); unpooling runs on `pooled(x)`."""
    x_in = pooled(x) if case.pooled else x
    candidate = built(make_layer(case.candidate, case.rank, case.pool_args, case.options, x),
                      x_in, case.training)
    baseline = built(make_layer(case.baseline, case.rank, case.pool_args, {}, x), x_in,
                     case.training)
    base_label = getattr(baseline, "bench_label", type(baseline).__name__) + _describe(
        case.pool_args)
    dy_c = cotangent(candidate, x_in, case.training)
    dy_b = cotangent(baseline, x_in, case.training)
    rows = []
    for mode in modes:
        if not runs_in(settings, mode, case.name):
            continue
        for pass_, backward in (("forward", False), ("forward+backward", True)):
            if settings.goals_only and not backward:
                continue
            fn_c, state_c = pass_fn(candidate, case.training, backward, backend)
            fn_b, state_b = pass_fn(baseline, case.training, backward, backend)
            result = compare(
                compile_fn(fn_c, backend, mode),
                compile_fn(fn_b, backend, mode),
                (x_in, dy_c, *state_c),
                (x_in, dy_b, *state_b),
                settings,
            )
            row = Row.timed(backend, case.group, case.name, base_label, mode, pass_, result,
                            settings.rounds, case.goal if backward else None)
            log(row)
            rows.append(row)
    return rows


def _describe(pool_args):
    if not pool_args:
        return ""
    k, s = pool_args.get("pool_size", 2), pool_args.get("strides", 2)
    return f" {k}x{k}/{s} {pool_args.get('padding', 'valid')}"


def bench_torch(backend, modes, settings, log, failed=None):
    """Our layers (in each mode) vs their torch ops on the same values (`cases.TORCH_CASES`).

    On the torch backend the torch op runs in the same mode as ours (eager or
    torch.compile); elsewhere it runs eager. A case that raises is listed in
    `failed`, not timed.
    """
    try:
        import torch
    except ImportError:
        log("torch is not installed: skipping the torch comparison")
        return []
    torch.set_num_threads(torch_threads())
    by_name = {case.name: case for case in LAYER_CASES}
    rows = []
    for name, op in TORCH_CASES:
        if not any(runs_in(settings, mode, name) for mode in modes):
            continue
        try:
            rows += _bench_torch_case(by_name[name], op, backend, modes, settings, log)
        except Exception as e:  # noqa: BLE001 - e.g. an op this backend lacks: report it
            log(f"[torch] {name}: failed: {_reason(e)}")
            if failed is not None:
                failed.append(f"[torch] {name} ({backend}): {_reason(e)}")
    return rows


def _torch_op(op, shape):
    """`op` of torch.nn.functional on an NCHW tensor of the NHWC `shape`."""
    import torch

    if op == "lp_pool2d":
        return lambda t: torch.nn.functional.lp_pool2d(t, 3.0, 2, 2)
    if op == "fractional_max_pool2d":  # ratio 1/2, new samples every call
        size = (shape[1] // 2, shape[2] // 2)
        return lambda t: torch.nn.functional.fractional_max_pool2d(t, 2, output_size=size)
    raise ValueError(f"unknown torch op {op!r}")


def _bench_torch_case(case, op, backend, modes, settings, log):
    """The rows of one torch case (see `bench_torch`)."""
    import keras
    import numpy as np
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    layer = make_layer(case.candidate, case.rank, case.pool_args, case.options)
    x = normal(settings.shape_2d, seed=(2, 2), absolute=True)
    dy = cotangent(built(layer, x, case.training), x, case.training)
    torch_op = _torch_op(op, tuple(x.shape))

    def nchw(t):
        values = keras.ops.convert_to_numpy(t)
        return torch.from_numpy(np.transpose(values, (0, 3, 1, 2)).copy()).to(device)

    def torch_forward(t, dt):
        return torch_op(t)

    def torch_backward(t, dt):
        t = t.detach().requires_grad_(True)
        y = torch_op(t)
        (grad,) = torch.autograd.grad(y, t, grad_outputs=dt)
        return grad

    rows = []
    for mode in modes:
        if not runs_in(settings, mode, case.name):
            continue
        torch_mode = mode if backend == "torch" else "eager"
        for pass_, backward, torch_fn in (
            ("forward", False, torch_forward),
            ("forward+backward", True, torch_backward),
        ):
            fn, state = pass_fn(layer, case.training, backward, backend)
            result = compare(
                compile_fn(fn, backend, mode),
                compile_fn(torch_fn, "torch", torch_mode),
                (x, dy, *state),
                (nchw(x), nchw(dy)),
                settings,
            )
            row = Row.timed(
                backend,
                "torch",
                case.name,
                f"torch {op} ({torch_mode}, {torch.get_num_threads()} threads, NCHW)",
                mode,
                pass_,
                result,
                settings.rounds,
                1.0 if backward else None,
            )
            log(row)
            rows.append(row)
    return rows


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
            case = cnn_case(pooling, options)
            if not runs_in(settings, mode, case):
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
                reason = _reason(e)
                log(f"[digits CNN] {case} | {mode}: failed: {reason}")
                if failed is not None:
                    failed.append(f"digits CNN {case} ({mode}): {reason}")
                continue
            row = Row.timed(
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
