"""The harness's process environment: quiet TensorFlow start-up, Keras output fit for logs.

Most of it must act before TensorFlow starts: ``experiments/__init__.py`` sets
the log level on import, and the command line (``experiments.__main__``) sets
the threads and the core, then imports TensorFlow.

- Quiet start-up: TensorFlow's C++ log is set to errors only where there is an
  NVIDIA GPU, and off on a machine without one, where its only error line is
  the harmless ``failed call to cuInit`` (`quiet_tensorflow_logs`); the import
  itself holds back the start-up lines written straight to fd 2 and replays them
  only if it fails (`import_tensorflow_quietly`). Python exceptions are
  unaffected.
- One TensorFlow thread per ``run`` process (`one_thread_per_process`): float
  round-off depends on the intra-op thread count, so with one thread a run gives
  the same bits whatever ``--jobs`` and the machine's core count, and the cores
  go to parallel runs: one thread trains a small CNN about as fast as two, so
  on a 2-core CPU two runs at a time finish the digits sweep 1.4x sooner than
  one run on two threads. Such a process also gets a one-thread input pipeline
  (`one_thread`, ``experiments.run.data``).
- Pinning (`pin_to_cpu`): ``run --jobs`` gives each of its one-thread CPU
  workers a core of its own (``KERAS_POOL_CPU``) when there are cores enough;
  two single-thread workers left to the scheduler hand their threads between
  the cores and wait (measured on the 2-core CPU, the max CNN's epoch: 0.13 s
  pinned against 0.17-0.18 s not).
- Keras's progress output (`fit_verbose`): a redrawn bar only on a terminal, so
  logs and CI output get one line per epoch.

Values the user set in the environment are always kept.
"""

import glob
import os
import sys
import tempfile


class MissingTensorFlow(ImportError):
    """TensorFlow is not installed (the message says how to install it)."""


def has_nvidia_gpu():
    """Whether this machine shows an NVIDIA device.

    True if a device node (``/dev/nvidia<N>``) or a driver entry
    (``/proc/driver/nvidia/gpus/*``) exists. Only looks; never hides a device.
    """
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/proc/driver/nvidia/gpus/*"))


def quiet_tensorflow_logs(environ=os.environ, gpu=None):
    """Default ``TF_CPP_MIN_LOG_LEVEL`` to "2" (errors only) with a GPU, else "3".

    Args:
        environ: the environment to set it in (a value already there is kept).
        gpu: whether there is a GPU; None asks `has_nvidia_gpu`.
    """
    if gpu is None:
        gpu = has_nvidia_gpu()
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if gpu else "3")


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up log held back (replayed on failure).

    Raises:
        MissingTensorFlow: TensorFlow is not installed (the message names the
            extra to install; the command line exits 2).
    """
    if sys.modules.get("tensorflow") is not None:
        return
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException as e:
            os.dup2(saved, 2)
            if isinstance(e, ModuleNotFoundError) and e.name == "tensorflow":
                raise MissingTensorFlow(
                    "the experiment harness runs on TensorFlow, which is not installed; "
                    "pip install 'keras-pool[experiments]'"
                ) from None
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def one_thread_per_process(environ=os.environ):
    """Default ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS`` to "1".

    Call it before TensorFlow starts; values already in `environ` are kept.
    """
    environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


def one_thread(environ=os.environ):
    """Whether TensorFlow runs its ops on one intra-op thread in this process.

    True when ``TF_NUM_INTRAOP_THREADS`` is "1" in `environ`.
    """
    return environ.get("TF_NUM_INTRAOP_THREADS") == "1"


def pin_to_cpu(environ=os.environ):
    """Bind this process, and the threads it starts, to the core ``KERAS_POOL_CPU`` names.

    Does nothing where the variable is unset or the OS cannot pin. Call it
    before TensorFlow starts its threads.

    Raises:
        ValueError: the value is not a core this process may run on (the
            message names it and the allowed cores).
    """
    cpu = environ.get("KERAS_POOL_CPU")
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return
    try:
        os.sched_setaffinity(0, {int(cpu)})
    except (ValueError, OSError):
        raise ValueError(f"KERAS_POOL_CPU={cpu!r} is not a core this process may run on "
                         f"(it may run on {sorted(os.sched_getaffinity(0))})") from None


def fit_verbose(verbose, stream=None):
    """`verbose` for model.fit, with a progress bar only on a terminal.

    1 (a redrawn progress bar) becomes 2 (one line per epoch) when `stream`
    (default ``sys.stdout``) is not a terminal; other values are kept.
    """
    stream = sys.stdout if stream is None else stream
    if verbose == 1:
        isatty = getattr(stream, "isatty", None)
        if not (isatty and isatty()):
            return 2
    return verbose


