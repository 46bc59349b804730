import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
