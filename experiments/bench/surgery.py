"""What anti-aliasing costs: the train step of `keras_pool.antialias(model)` over `model`.

    python -m experiments bench --surgery [--backend tensorflow|jax|torch] [--rounds N] [--quick]

For ResNet50 and MobileNetV2 (`keras.applications`, `weights=None`, 64x64x3,
10 classes, batch 16, SGD), in each mode of the backend (TensorFlow: plain
`tf.function` and XLA; JAX: jit; PyTorch: eager), the median over rounds of
the train-step time of the anti-aliased model (`filter_size=4`) over the
original model's, and over the anti-aliased model with `filter_size=1` (the
same stride-1 layers, no blur); for ResNet50 also with `skip_first=True`.
Beside them, in the same process with the same thread count, the peer's
ratio: antialiased-cnns' own `resnet50(filter_size=4)` over
`resnet50(filter_size=1)` (its default `pool_only=True` keeps the stem conv
strided; also `pool_only=False`) and `mobilenet_v2`, in PyTorch eager. Its
`filter_size=1` models already run their convolutions at stride 1, so the
peer's ratio is the cost of its blur alone; ours "over filter_size=1" is the
same quantity, "over the original" the whole cost of the conversion.

Timing is the speed benchmark's (`timing.compare`: interleaved rounds,
A B B A). Writes ``surgery[-<backend>].md`` into the bench folder (default
``runs/bench``), atomically.
"""

import os
import time
from dataclasses import replace

from .. import tables
from ..rundir import write_atomic
from . import timing
from .adapters import CNN_JIT, torch_threads
from .output import DEFAULT_OUT, machine_info, machine_line
from .timing import MODES, SLOW_MODES, compare

ARCHITECTURES = ("ResNet50", "MobileNetV2")
PEERS = {"ResNet50": "resnet50", "MobileNetV2": "mobilenet_v2"}
INPUT = (64, 64, 3)
BATCH = 16
CLASSES = 10
SETTINGS = replace(timing.FULL, rounds=5, warmup=2, block_s=0.5)
QUICK = replace(timing.QUICK, rounds=1, warmup=1, block_s=0.0)


def _keras_step(model, mode):
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=CNN_JIT[mode])
    return lambda x, y: model.train_on_batch(x, y, return_dict=False)


def _application(name, size):
    import keras

    build = getattr(keras.applications, name)
    return build(weights=None, input_shape=(size, size, 3), classes=CLASSES,
                 classifier_activation=None)


def _peer_step(name, filter_size, options):
    import antialiased_cnns
    import torch

    torch.manual_seed(0)
    net = getattr(antialiased_cnns, PEERS[name])(filter_size=filter_size, num_classes=CLASSES,
                                                 **options)
    return torch_train_step(net)


def torch_train_step(net):
    """`step(x, y)`: one SGD step of `net` on a batch, cross-entropy on its logits."""
    import torch

    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)

    def step(x, y):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def measure(backend, modes, settings, size, log):
    """Rows (architecture, mode, baseline, ratio, min, max, candidate ms, baseline ms)."""
    import numpy as np

    import keras_pool

    rng = np.random.default_rng(0)
    batch = (rng.random((BATCH, size, size, 3), dtype=np.float32),
             rng.integers(0, CLASSES, BATCH))
    rows = []
    for name in ARCHITECTURES:
        model = _application(name, size)
        pairs = [("antialias(m)", keras_pool.antialias(model), "original", model),
                 ("antialias(m)", keras_pool.antialias(model),
                  "antialias(m, filter_size=1)", keras_pool.antialias(model, filter_size=1))]
        if name == "ResNet50":  # the peer's default leaves the stem conv strided
            pairs.append(("antialias(m, skip_first=True)",
                          keras_pool.antialias(model, skip_first=True), "original", model))
        for mode in modes:
            for candidate, smooth, baseline, base_model in pairs:
                result = compare(_keras_step(smooth, mode), _keras_step(base_model, mode),
                                 batch, batch, settings)
                rows.append((name, f"keras_pool, {backend} {mode}", candidate, baseline, *result))
                log(rows[-1])
        for options in PEER_OPTIONS[name]:
            peer = _peer_ratio(name, options, settings, size)
            if peer is not None:
                rows.append(peer)
                log(peer)
    return rows


# The peer's constructors: resnet50's default is pool_only=True (stem conv kept strided).
PEER_OPTIONS = {"ResNet50": ({}, {"pool_only": False}), "MobileNetV2": ({},)}


def _peer_ratio(name, options, settings, size):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(torch_threads())
    rng = torch.Generator().manual_seed(0)
    x = torch.rand((BATCH, 3, size, size), generator=rng)
    y = torch.randint(0, CLASSES, (BATCH,), generator=rng)
    result = compare(_peer_step(name, 4, options), _peer_step(name, 1, options),
                     (x, y), (x, y), settings)
    args = "".join(f", {k}={v}" for k, v in options.items())
    return (name, "antialiased-cnns, torch eager", f"{PEERS[name]}(filter_size=4{args})",
            f"{PEERS[name]}(filter_size=1{args})", *result)


TABLE_HEADER = ("model", "library, mode", "anti-aliased", "over", "ratio (median)", "min-max",
                "step ms", "baseline ms")


def to_markdown(rows, info, seconds, command):
    """``surgery.md``: the command, the machine, one table line per row of `measure`."""
    cells = [(name, impl, candidate, baseline, f"**{ratio:.2f}**", f"{low:.2f}-{high:.2f}",
              f"{cand * 1e3:.0f}", f"{base * 1e3:.0f}")
             for name, impl, candidate, baseline, cand, base, ratio, low, high in rows]
    lines = [
        "# Anti-aliasing overhead: train step of the anti-aliased model / baseline",
        "",
        f"Command: `{command}`; {seconds:.0f} s.",
        machine_line(info),
        "",
        *tables.table(TABLE_HEADER, "l" * len(TABLE_HEADER), cells),
    ]
    return "\n".join(lines) + "\n"


def main(out_dir=None, quick=False, backend="tensorflow", rounds=None):
    """Measure on the current Keras backend (`backend`) and write `surgery*.md`; returns 0."""
    import keras

    if keras.backend.backend() != backend:
        raise ValueError(f"Keras runs on {keras.backend.backend()}, not {backend}")
    settings = QUICK if quick else SETTINGS
    if rounds is not None:
        settings = replace(settings, rounds=int(rounds))
    size = INPUT[0]
    out_dir = DEFAULT_OUT if out_dir is None else os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    info = machine_info(backend)
    modes = [m for m in MODES[backend] if m not in SLOW_MODES]
    rows = measure(backend, modes, settings, size, print)
    command = (f"python -m experiments bench --surgery --backend {backend}"
               + (" --quick" if quick else "") + (f" --rounds {rounds}" if rounds else ""))
    name = "surgery.md" if backend == "tensorflow" else f"surgery-{backend}.md"
    path = os.path.join(out_dir, name)
    write_atomic(path, to_markdown(rows, info, time.perf_counter() - start, command))
    print(f"Wrote {path}", flush=True)
    return 0
