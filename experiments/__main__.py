"""Command line of the experiment harness.

    python -m experiments run CONFIG.toml [--out DIR]    # sweep; DIR defaults to runs/<config stem>
        [--jobs N|auto] [--lost-after S] [--retries N]   # N processes; distributed: experiments.sweeps.jobs
    python -m experiments report DIR                     # re-render summary.md + plots from DIR
    python -m experiments tune CONFIG.toml [--out DIR]   # experiments.tuning.tuner.main
    python -m experiments bench [--backend B] [--out DIR] [--quick] [--goals] [--rounds N]
                                  # experiments.bench.main
    python -m experiments bench --surgery [--backend B] [--out DIR] [--quick] [--rounds N]
                                  # experiments.bench.surgery.main: antialias overhead

The console script ``keras-pool-experiments`` is ``main``; CONFIG may also be
the name of a shipped config (``digits``, ``tune_digits``). Exit status: 0 done,
2 bad input (one line on stderr, no traceback), 130 interrupted. Parsing (and
so ``--help``) imports neither Keras nor TensorFlow. ``bench --backend jax|torch``
sets ``KERAS_BACKEND`` before Keras is imported and never imports TensorFlow
(a JAX-only or torch-only install runs it); every other command runs on
TensorFlow. Wrap any other entry point that takes user input in `guarded` to get
the same exit statuses.
"""

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from .bench import BACKENDS as BENCH_BACKENDS
from .bench import DEFAULT_OUT as BENCH_OUT

# Nothing above imports Keras or TensorFlow (the bench package imports its backends
# only when it runs): `--help` and usage errors answer at once. TensorFlow is
# imported (its start-up log held back) after parsing.
PROG = "python -m experiments" if __package__ == "experiments" else "keras-pool-experiments"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def default_out(config_path):
    """The default ``--out`` of ``run`` and ``tune`` for a config file: ``runs/<stem>``."""
    return Path("runs") / Path(config_path).stem


def guarded(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` as an exit code: ConfigError -> 2, Ctrl-C -> 130.

    A ``ConfigError`` is printed as ``error: <message>`` on stderr (one line, no
    traceback); Ctrl-C prints how to resume.
    """
    from .errors import ConfigError

    try:
        return int(fn(*args, **kwargs) or 0)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def _run(args):
    from . import config
    from .config import shipped
    from .sweeps import jobs

    path = shipped.find_config(args.config)
    cfg = config.load(path)
    return jobs.main(path, cfg, args.out or default_out(path), args.jobs, args.lost_after,
                     args.retries)


def _number(kind, low, what):
    """An argparse type: `kind` (int or float) >= `low`; else a one-line usage error."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= low:  # NaN too
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


def _jobs(text):
    """--jobs: "auto" or a positive integer."""
    return text if text == "auto" else _number(int, 1, 'a positive integer or "auto"')(text)


def _report(args):
    from .results import report

    report.render(args.dir)
    print(f"wrote {Path(args.dir) / 'summary.md'} and plots")
    return 0


def _tune(args):
    from .config import shipped
    from .tuning import tuner

    path = shipped.find_config(args.config)
    return tuner.main(path, args.out or default_out(path))


def _bench(args):
    if args.surgery:
        from .bench import surgery as bench_surgery

        return bench_surgery.main(args.out, args.quick, backend=args.backend, rounds=args.rounds)
    from . import bench

    return bench.main(args.out, args.quick, backend=args.backend, rounds=args.rounds,
                      goals=args.goals)


def _parser():
    parser = _Parser(prog=PROG,
                     description="Compare pooling choices in small CNNs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="train every variant x seed of a config (resumes)")
    run.add_argument("config", help="TOML config, e.g. configs/digits.toml, or the name of a "
                     "shipped one (digits)")
    run.add_argument("--out", help="output folder (default: runs/<config stem>)")
    run.add_argument("--jobs", type=_jobs, default="auto",
                     metavar="N", help="train in N processes on this machine, one GPU each "
                     "where there are GPUs (default: auto, one per GPU, else one per CPU "
                     "core, at most one per run; 1 is the plain sweep); results as with 1. "
                     "Across machines: the same command with KERASTUNER_ORACLE_IP, "
                     "KERASTUNER_ORACLE_PORT and KERASTUNER_TUNER_ID (chief, tuner0, ...)")
    run.add_argument("--lost-after", type=_number(float, 1, "seconds >= 1"), default=60.0,
                     metavar="S", help="with workers: a run not heard of for S seconds is "
                     "lost and goes to another worker (default: 60)")
    run.add_argument("--retries", type=_number(int, 0, "an integer >= 0"), default=2,
                     metavar="N", help="with workers: a lost or crashed run runs again up to "
                     "N times (default: 2)")
    run.set_defaults(handler=_run)
    rep = commands.add_parser("report", help="re-render summary.md and plots of a run folder")
    rep.add_argument("dir", help="a folder written by `run`")
    rep.set_defaults(handler=_report)
    tune = commands.add_parser("tune", help="hyperparameter search (keras-tuner)")
    tune.add_argument("config", help="TOML config, e.g. configs/tune_digits.toml, or the name "
                      "of a shipped one (tune_digits)")
    tune.add_argument("--out", help="output folder (default: runs/<config stem>)")
    tune.set_defaults(handler=_tune)
    bench = commands.add_parser("bench", help="speed of keras_pool layers vs Keras built-ins")
    bench.add_argument("--backend", choices=BENCH_BACKENDS, default="tensorflow",
                       help="Keras backend to time on (default: tensorflow; files "
                       "bench.md/.csv, or bench-jax.* / bench-torch.*)")
    bench.add_argument("--out", help=f"output folder (default: {BENCH_OUT})")
    bench.add_argument("--quick", action="store_true", help="tiny shapes, few rounds")
    bench.add_argument("--goals", action="store_true",
                       help="only the rows with a goal (forward+backward, torch, CNN)")
    bench.add_argument("--rounds", type=_number(int, 1, "a positive integer"),
                       help="timed rounds per row (default: 9; 2 with --quick)")
    bench.add_argument("--surgery", action="store_true",
                       help="instead: the train-step overhead of keras_pool.antialias on "
                       "ResNet50 and MobileNetV2, beside antialiased-cnns' (surgery*.md)")
    bench.set_defaults(handler=_bench)
    return parser


def main(argv=None):
    """Parse `argv` (default: sys.argv[1:]), run the command, return the exit status."""
    args = _parser().parse_args(argv)
    from .run.runtime import (
        MissingTensorFlow,
        import_tensorflow_quietly,
        one_thread_per_process,
        pin_to_cpu,
    )

    if args.command == "run":
        one_thread_per_process()
        try:
            pin_to_cpu()  # a worker of `run --jobs`: before TensorFlow starts its threads
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    backend = getattr(args, "backend", None)  # only bench has --backend
    if backend and "keras" not in sys.modules:  # else bench.main re-runs itself in a child
        os.environ["KERAS_BACKEND"] = backend
    if backend in ("jax", "torch"):  # no TensorFlow needed
        if importlib.util.find_spec(backend) is None:
            print(f"error: --backend {backend} needs {backend}, which is not installed; "
                  f"pip install 'keras-pool[{backend}]'", file=sys.stderr)
            return 2
        return guarded(args.handler, args)
    try:
        import_tensorflow_quietly()
    except MissingTensorFlow as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return guarded(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
