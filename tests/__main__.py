"""`python -m tests`: the whole suite on TensorFlow; the layer, surgery and docs tests
(docstring examples, README code blocks) on JAX and PyTorch.

Each backend runs in its own pytest process (Keras picks its backend at
import), as many at once as the machine has cores (most of a layer test's
time is one core's Python dispatch); each process's output is printed whole
when it ends. Any pytest exit code other than 0 fails the run, including 5
("no tests collected"). Extra arguments are passed to every pytest call.
"""

import os
import subprocess
import sys
import tempfile
import time

RUNS = [
    ("tensorflow", ["tests"]),
    ("jax", ["tests/layers", "tests/surgery", "tests/docs"]),
    ("torch", ["tests/layers", "tests/surgery", "tests/docs"]),
]


def main(argv):
    slots = max(1, min(len(RUNS), os.cpu_count() or 1))
    waiting, running, failures = list(RUNS), [], []
    while waiting or running:
        while waiting and len(running) < slots:
            backend, paths = waiting.pop(0)
            log = tempfile.TemporaryFile(mode="w+")
            env = {**os.environ, "KERAS_BACKEND": backend}
            process = subprocess.Popen([sys.executable, "-m", "pytest", *paths, *argv], env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
            running.append((backend, paths, process, log, time.monotonic()))
        time.sleep(0.5)
        for entry in [e for e in running if e[2].poll() is not None]:
            running.remove(entry)
            backend, paths, process, log, start = entry
            log.seek(0)
            print(f"\n=== KERAS_BACKEND={backend}: pytest {' '.join(paths)} "
                  f"({time.monotonic() - start:.0f} s) ===", flush=True)
            sys.stdout.write(log.read())
            sys.stdout.flush()
            log.close()
            if process.returncode != 0:
                failures.append(f"{backend} (pytest exit {process.returncode})")
    if failures:
        print(f"\nFAILED on: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\nAll backends passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
