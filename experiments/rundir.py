"""The run folder: where a sweep's files live, and writing them so nothing is half-written.

A run folder (``runs/<config stem>`` by default) holds ``config.json`` and
``versions.json`` (written before the first run), ``runs/<variant>[__n<size>]__seed<s>.json``
(one record per finished run: what resuming skips), ``results.csv`` and
``history.csv`` (the tables, rewritten after each run), ``summary.md``,
``findings.md`` and the plots (rendered from the tables), and ``tensorboard/``
when asked for. Every file is written whole or not at all (`write_atomic`;
`save_figure` for the plots): a kill at any moment leaves the previous version
(and, at worst, a hidden ``.<name>.*.tmp`` file beside it). Sweeps, tuning and the
benchmarks all write through this module.
"""

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

CONFIG = "config.json"
VERSIONS = "versions.json"
RESULTS = "results.csv"
HISTORY = "history.csv"
SUMMARY = "summary.md"
FINDINGS = "findings.md"
RECORDS = "runs"
TENSORBOARD = "tensorboard"

COLUMNS = (
    "dataset", "variant", "pooling", "head", "p", "seed", "train_size", "test_size",
    "train_accuracy", "test_accuracy", "train_loss", "test_loss",
    "generalization_gap", "shift_consistency", "epochs", "best_epoch", "epoch_budget",
    "hit_budget", "train_seconds",
)
HISTORY_COLUMNS = ("variant", "train_size", "seed", "epoch", "loss", "accuracy", "val_loss",
                   "val_accuracy")
_TEXT = {"dataset", "variant", "pooling", "head"}


def run_path(out_dir, variant, seed, train_size=0):
    """Where the finished run of `variant` with `seed` (at `train_size`) is stored."""
    size = f"__n{train_size}" if train_size else ""
    return Path(out_dir) / RECORDS / f"{variant.label}{size}__seed{seed}.json"


def tensorboard_dir(out_dir, variant, seed, train_size=0):
    """Where the TensorBoard logs of a run go (``train.tensorboard = true``)."""
    return Path(out_dir) / TENSORBOARD / run_path(out_dir, variant, seed, train_size).stem


def default_file_mode():
    """0o666 less the process umask (read from /proc on Linux: thread-safe)."""
    return 0o666 & ~_umask()


def _umask():
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc: set it and set it back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _replacing(path, mode):
    """A file opened in `mode` on a temporary beside `path` that replaces `path` (with the
    mode a plain ``open(path, "w")`` would give: 0666 less the umask, not mkstemp's 0600)
    only when the block ends without an exception; on one the temporary is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, default_file_mode())
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_atomic(path, text):
    """Write `text` to `path` via a temporary file in the same folder and a rename: a reader
    (or a kill) never sees half of it."""
    with _replacing(path, "w") as f:
        f.write(text)


def save_figure(fig, path, **kwargs):
    """Save the matplotlib `fig` to `path` as `write_atomic` writes text: whole or not at all.

    The format is the suffix of `path`; `kwargs` go to ``fig.savefig``.
    """
    with _replacing(path, "wb") as f:
        fig.savefig(f, format=Path(path).suffix.lstrip(".") or None, **kwargs)


def write_json(path, value, indent=None):
    """`value` as one JSON document (and a newline), written atomically."""
    write_atomic(path, json.dumps(value, indent=indent) + "\n")


def read_json(path):
    """The JSON document in `path`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def csv_text(columns, rows, extrasaction="ignore"):
    """`rows` (dicts) as CSV text with a header of `columns`, "\\n" line ends."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction=extrasaction,
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def shift_columns(row, prefix="accuracy_shift_"):
    """The ``accuracy_shift_<s>`` keys of a row, by increasing shift."""
    keys = [k for k in row if k.startswith(prefix)]
    return sorted(keys, key=lambda k: int(k.rsplit("_", 1)[1]))


def axis_shift_columns(row):
    """The ``accuracy_axis_shift_<s>`` keys of a row (images only), by increasing shift."""
    return shift_columns(row, "accuracy_axis_shift_")


def write_tables(records, out_dir):
    """Rewrite ``results.csv`` and ``history.csv`` in `out_dir` from run records
    (a results row plus ``"history"``: per-epoch lists)."""
    out_dir = Path(out_dir)
    if not records:
        return
    columns = list(COLUMNS) + shift_columns(records[0]) + axis_shift_columns(records[0])
    write_atomic(out_dir / RESULTS, csv_text(columns, records))
    epochs = []
    for record in records:
        history = record["history"]
        for epoch in range(len(history["loss"])):
            row = {"variant": record["variant"], "train_size": record["train_size"],
                   "seed": record["seed"], "epoch": epoch + 1}
            row.update({k: v[epoch] for k, v in history.items()})
            epochs.append(row)
    write_atomic(out_dir / HISTORY, csv_text(HISTORY_COLUMNS, epochs))


def read_csv(path):
    """The rows of a results or history CSV, numbers as float (empty -> NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: (v if k in _TEXT else _number(v)) for k, v in row.items()}
                for row in csv.DictReader(f)]


def _number(text):
    return float(text) if text != "" else math.nan
