import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# As `python -m experiments run` sets them (experiments.runtime.one_thread_per_process),
# so runs made in this process give the bits the command line's do.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
