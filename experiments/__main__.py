"""Command line of the experiment harness.

    python -m experiments run CONFIG.toml [--out DIR]    # sweep; DIR defaults to runs/<config stem>
    python -m experiments report DIR                     # re-render summary.md + plots from DIR
    python -m experiments tune CONFIG.toml [--out DIR]   # experiments.tuning.main(config, out)
    python -m experiments bench [--out DIR] [--quick]    # experiments.bench.main(out, quick)

The console script ``keras-pool-experiments`` is ``main``. Exit status: 0 done,
2 bad input (one line on stderr, no traceback), 130 interrupted.

Public API
----------
``main(argv=None) -> int``
``guarded(fn, *args, **kwargs) -> int``
    Call ``fn`` and return its exit code; a ``ConfigError`` becomes
    ``error: <message>`` on stderr and 2, Ctrl-C becomes 130. Use it around
    any entry point that takes user input.
``default_out(config_path) -> Path``
    ``runs/<config file stem>``, the default ``--out`` of ``run`` and ``tune``.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path


def _import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up log (written straight to fd 2) held back.

    The log is replayed if the import fails, so nothing that matters is lost.
    """
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_import_tensorflow_quietly()

from experiments.config import ConfigError  # noqa: E402  (imports TensorFlow)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def default_out(config_path):
    """The default output folder for a config file: runs/<stem>."""
    return Path("runs") / Path(config_path).stem


def guarded(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` as an exit code: ConfigError -> 2, Ctrl-C -> 130."""
    try:
        return int(fn(*args, **kwargs) or 0)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def _run(args):
    from experiments import config, sweep

    cfg = config.load(args.config)
    sweep.run(cfg, args.out or default_out(args.config))
    return 0


def _report(args):
    from experiments import report

    report.render(args.dir)
    print(f"wrote {Path(args.dir) / 'summary.md'} and plots")
    return 0


def _tune(args):
    from experiments import tuning

    return tuning.main(args.config, args.out or default_out(args.config))


def _bench(args):
    from experiments import bench

    return bench.main(args.out, args.quick)


def _parser():
    parser = _Parser(prog="python -m experiments",
                     description="Compare pooling choices in small CNNs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="train every variant x seed of a config (resumes)")
    run.add_argument("config", help="TOML config, e.g. configs/digits.toml")
    run.add_argument("--out", help="output folder (default: runs/<config stem>)")
    run.set_defaults(handler=_run)
    rep = commands.add_parser("report", help="re-render summary.md and plots of a run folder")
    rep.add_argument("dir", help="a folder written by `run`")
    rep.set_defaults(handler=_report)
    tune = commands.add_parser("tune", help="hyperparameter search (keras-tuner)")
    tune.add_argument("config", help="TOML config, e.g. configs/tune_digits.toml")
    tune.add_argument("--out", help="output folder (default: runs/<config stem>)")
    tune.set_defaults(handler=_tune)
    bench = commands.add_parser("bench", help="speed of keras_pool layers vs Keras built-ins")
    bench.add_argument("--out", help="output folder (default: chosen by experiments.bench)")
    bench.add_argument("--quick", action="store_true", help="tiny shapes, few rounds")
    bench.set_defaults(handler=_bench)
    return parser


def main(argv=None):
    """Parse `argv` (default: sys.argv[1:]), run the command, return the exit status."""
    args = _parser().parse_args(argv)
    return guarded(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
