"""The harness's process environment: quiet TensorFlow start-up, Keras output fit for logs.

Public API
----------
``has_nvidia_gpu() -> bool``
    Whether this machine shows an NVIDIA device (``/dev/nvidia<N>`` or
    ``/proc/driver/nvidia/gpus/*``). Only looks; never hides a device.
``quiet_tensorflow_logs(environ=os.environ, gpu=None)``
    Default ``TF_CPP_MIN_LOG_LEVEL`` (a value the user set is kept): "2"
    (errors only) where there is a GPU, "3" on a machine without one, where
    TensorFlow's only C++ error line is the harmless ``failed call to cuInit``.
    Python exceptions are unaffected. ``experiments/__init__.py`` calls it
    before anything imports TensorFlow.
``import_tensorflow_quietly()``
    Import TensorFlow with its C++ start-up log (written straight to fd 2 before
    the log level is read) held back; replayed if the import fails. A missing
    TensorFlow raises ``MissingTensorFlow`` (an ImportError) naming the extra to
    install; the command line turns it into exit status 2.
``default_file_mode() -> int``
    The mode ``open(path, "w")`` gives a new file: 0o666 less the umask. Files
    written via ``tempfile.mkstemp`` (0o600) are set to it before the rename.
``one_thread_per_process(environ=os.environ)``
    Default ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS`` to 1 (values
    the user set are kept), for ``run`` before TensorFlow starts: float round-off
    depends on the intra-op thread count, so with one thread a run gives the same
    bits whatever ``--jobs`` and the machine's core count, and the cores go to
    parallel runs (``--jobs``): one thread trains a small CNN about as fast as
    two, so on a 2-core CPU two runs at a time finish the digits sweep 1.4x
    sooner than one run on two threads.
``one_thread(environ=os.environ) -> bool``
    Whether TensorFlow's intra-op pool has one thread (``TF_NUM_INTRAOP_THREADS``
    is "1"): such a process also gets a one-thread input pipeline
    (``experiments.data``).
``pin_to_cpu(environ=os.environ)``
    Where ``KERAS_POOL_CPU`` names a core (``run --jobs`` sets it for its
    one-thread CPU workers, one core each) and the OS can pin, bind this
    process and the threads it starts to that core: two single-thread workers
    left to the scheduler hand their threads between the cores and wait
    (measured on the 2-core CPU, the max CNN's epoch: 0.13 s pinned against
    0.17-0.18 s not).
``fit_verbose(verbose, stream=None) -> int``
    The ``verbose`` for ``model.fit``: 1 (a redrawn progress bar) becomes 2
    (one line per epoch) when `stream` (default ``sys.stdout``) is not a
    terminal, so logs and CI output get one line per epoch.
"""

import glob
import os
import sys
import tempfile


class MissingTensorFlow(ImportError):
    """TensorFlow is not installed (the message says how to install it)."""


def has_nvidia_gpu():
    """True if an NVIDIA GPU device node or driver entry exists."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/proc/driver/nvidia/gpus/*"))


def quiet_tensorflow_logs(environ=os.environ, gpu=None):
    """Set a default TF_CPP_MIN_LOG_LEVEL; see the module docstring."""
    if gpu is None:
        gpu = has_nvidia_gpu()
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if gpu else "3")


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up log held back (replayed on failure)."""
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
    """Default TensorFlow's thread pools to one thread; see the module docstring."""
    environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


def one_thread(environ=os.environ):
    """Whether TensorFlow runs its ops on one intra-op thread in this process."""
    return environ.get("TF_NUM_INTRAOP_THREADS") == "1"


def pin_to_cpu(environ=os.environ):
    """Bind this process to the core ``KERAS_POOL_CPU`` names, if set; see the docstring.

    Raises ValueError naming the value if it is not a core this process may run on.
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
    """`verbose` for model.fit, with a progress bar only on a terminal."""
    stream = sys.stdout if stream is None else stream
    if verbose == 1:
        isatty = getattr(stream, "isatty", None)
        if not (isatty and isatty()):
            return 2
    return verbose


