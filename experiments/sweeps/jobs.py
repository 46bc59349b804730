"""``python -m experiments run CONFIG --jobs N``: a sweep in N processes on one machine.

``--jobs auto`` (the default) is one process per GPU where there are GPUs,
else one per usable CPU core, and never more than the runs left to do.
``--jobs 1`` is the plain sweep (or, with keras-tuner's variables set, this
process's part of a distributed one). With N > 1 this process becomes the chief
of ``experiments.sweeps.distributed`` on loopback (``127.0.0.1``, a port the
system picks) and starts N worker processes, the same command with
``KERASTUNER_TUNER_ID=tuner<slot>``, one run at a time each. So everything the
distributed sweep promises holds: the outputs are those of the one-process
sweep (the same records with ``train.deterministic``), finished runs are
skipped, an interrupted sweep resumes with the same command, and a worker that
dies loses its run for ``--lost-after`` seconds only (another worker takes it).
The chief ends when every run is done, or when no worker process is left.

Devices: with GPUs, worker `slot` sees one, ``CUDA_VISIBLE_DEVICES`` =
the slot-th modulo the count (more jobs than GPUs share them round-robin).
The GPUs are the entries of ``CUDA_VISIBLE_DEVICES`` when it is set (an
empty value or ``-1``: none), else the ones ``nvidia-smi -L`` lists; nothing
imports TensorFlow to find them. On a machine without GPUs the jobs share
the CPU cores: ``python -m experiments run`` gives every process one
TensorFlow thread (``experiments.run.runtime.one_thread_per_process``; float
round-off depends on the thread count, so results are the same bits whatever
N), and the workers inherit that environment; with no more jobs than usable
cores, worker `slot` is pinned to the slot-th core (``KERAS_POOL_CPU``,
``experiments.run.runtime.pin_to_cpu``), which makes no difference to the
results.
"""

import contextlib
import functools
import os
import subprocess
import sys

from .. import rundir
from ..errors import ConfigError
from ..run import runtime
from . import distributed, oracle, sweep
from .distributed import LOST_AFTER, RETRIES


def main(config_path, cfg, out_dir, jobs=1, lost_after=LOST_AFTER, retries=RETRIES, log=print):
    """Run the sweep of `cfg` in `jobs` processes; see the module docstring.

    With workers, the chief checks the input first (``sweep.preflight``: the
    first pending run's data, a model of every variant), before it writes
    anything or starts a worker, so bad input fails at once in one line, as in
    the plain sweep.

    Args:
        config_path: the config file `cfg` was loaded from; the workers load it
            again.
        cfg: the experiment's `Config`.
        out_dir: the run folder.
        jobs: a positive int, or "auto" (`auto_jobs`; 1 where keras-tuner's
            variables give this process a role).
        lost_after: seconds without a heartbeat after which a worker's run is
            lost and handed on (``run --lost-after``).
        retries: how often a lost or failed run is handed out again
            (``run --retries``).
        log: called with each progress line.

    Returns:
        The exit status: 0 when the sweep is complete, 1 if runs are missing.

    Raises:
        ConfigError: a bad `jobs`; more than one job while keras-tuner's
            variables are set; a folder holding other runs; bad input.
    """
    if jobs == "auto":
        jobs = auto_jobs(cfg, out_dir) if oracle.role() == "local" else 1
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"--jobs: expected a positive integer or \"auto\", got {jobs!r}")
    if jobs == 1:
        return distributed.main(cfg, out_dir, lost_after, retries, log)
    if oracle.role() != "local":
        raise ConfigError("--jobs starts its own chief and workers on this machine; unset "
                          "KERASTUNER_ORACLE_IP to use it, or start one process per worker")
    # the chief checks the input (sweep.preflight) before it starts the workers
    workers = functools.partial(_processes, config_path, out_dir, jobs)
    return distributed.chief(cfg, out_dir, "127.0.0.1:0", lost_after, retries, log,
                                   workers)


def auto_jobs(cfg, out_dir, environ=os.environ):
    """What ``--jobs auto`` means for `cfg` in `out_dir`.

    One job per GPU (else per usable CPU core), at most one per run left to do,
    and at least one.
    """
    slots = len(gpu_devices(environ)) or _usable_cores()
    return max(1, min(slots, len(_pending(cfg, out_dir))))


def _usable_cores():
    """How many cores this process may run on (all of the machine's where that is unknown)."""
    return len(_pinnable_cpus()) or os.cpu_count() or 1


def _pinnable_cpus():
    """The ids of the cores this process may run on; [] where the OS cannot pin."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return sorted(os.sched_getaffinity(0))
    return []


def _pending(cfg, out_dir):
    """The (size, seed, variant) runs of `cfg` not finished in `out_dir`."""
    return [(n, s, v) for n, s, v in sweep.plan(cfg)
            if not rundir.run_path(out_dir, v, s, n).is_file()]


def gpu_devices(environ=os.environ):
    """The GPU ids the jobs are spread over; [] for none.

    ``CUDA_VISIBLE_DEVICES``'s entries if it is set (up to a ``-1``, where CUDA
    stops), else one per GPU that ``nvidia-smi -L`` lists.
    """
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [d.strip() for d in visible.split(",") if d.strip()]
        return ids[:ids.index("-1")] if "-1" in ids else ids  # CUDA stops at an invalid id
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if listed.returncode != 0:
        return []
    gpus = [line for line in listed.stdout.splitlines() if line.startswith("GPU ")]
    return [str(i) for i in range(len(gpus))]


def worker_env(slot, devices, port, environ=os.environ, cpus=()):
    """Worker `slot`'s environment: keras-tuner's variables and its GPU or core, if any.

    Args:
        slot: the worker's index (its id is ``tuner<slot>``).
        devices: the GPU ids (`gpu_devices`); the worker gets the slot-th,
            modulo their count.
        port: the chief's port on loopback.
        environ: the environment the worker's is a copy of.
        cpus: without GPUs, the core of each worker (one per worker); used only
            when `environ` gives one TensorFlow thread. An inherited
            ``KERAS_POOL_CPU`` is never passed on.

    Returns:
        A new dict.
    """
    env = {**environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port),
           "KERASTUNER_TUNER_ID": f"tuner{slot}"}
    env.pop("KERAS_POOL_CPU", None)  # only the core given here, never one inherited
    if devices:
        env["CUDA_VISIBLE_DEVICES"] = devices[slot % len(devices)]
    elif cpus and runtime.one_thread(environ):
        env["KERAS_POOL_CPU"] = str(cpus[slot])
    return env


@contextlib.contextmanager
def _processes(config_path, out_dir, jobs, port):
    """Start `jobs` workers of the chief on `port`; yield "is one still running?"; end them."""
    devices = gpu_devices()
    cpus = _pinnable_cpus()
    cpus = cpus if jobs <= len(cpus) else []  # a shared core: leave it to the scheduler
    # the harness: "experiments" in a checkout, "keras_pool_experiments" installed
    command = [sys.executable, "-m", __package__.partition(".")[0], "run", str(config_path),
               "--out", str(out_dir)]
    procs = []
    try:
        for slot in range(jobs):
            procs.append(subprocess.Popen(command, env=worker_env(slot, devices, port,
                                                                   cpus=cpus)))
        yield lambda: any(p.poll() is None for p in procs)
    except BaseException:  # Ctrl-C, an error in the chief: no waiting
        for proc in procs:
            proc.kill()
        raise
    finally:
        for proc in procs:  # told to stop by the chief, they leave within seconds
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
