"""`python -m tests`: the whole suite on TensorFlow; the layer tests and the docs tests
(docstring examples, README code blocks) on JAX and PyTorch.

Each backend runs in its own pytest process (Keras picks its backend at
import). Any pytest exit code other than 0 fails the run, including 5 ("no
tests collected"). Extra arguments are passed to every pytest call.
"""

import os
import subprocess
import sys

RUNS = [
    ("tensorflow", ["tests"]),
    ("jax", ["tests/layers", "tests/docs"]),
    ("torch", ["tests/layers", "tests/docs"]),
]


def main(argv):
    failures = []
    for backend, paths in RUNS:
        print(f"\n=== KERAS_BACKEND={backend}: pytest {' '.join(paths)} ===", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend}
        code = subprocess.call([sys.executable, "-m", "pytest", *paths, *argv], env=env)
        if code != 0:
            failures.append(f"{backend} (pytest exit {code})")
    if failures:
        print(f"\nFAILED on: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\nAll backends passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
