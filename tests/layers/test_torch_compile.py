"""`torch.compile` of keras_pool ops: compiled once, not once per call.

Every `keras.ops.pad` call makes an `Operation` and bumps Keras's global name
counter, which Dynamo guards on: a function that padded recompiled on every
call until Dynamo's limit, then switched to dynamic shapes, where the compiled
CNN step failed (`cannot determine truth value of Relational`). keras_pool pads
without `keras.ops.pad`; these tests count Dynamo's graphs over repeated calls.
"""

import keras
import numpy as np
import pytest

from keras_pool import ops as pool_ops

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="torch.compile exists on PyTorch only"
)

CALLS = {
    "lp_pool 3x3/2 same": lambda x: pool_ops.lp_pool(x, 3, 2, "same", p=3.0),
    "soft_pool 3x3/2 same": lambda x: pool_ops.soft_pool(x, 3, 2, "same"),
    "stochastic_pool 3x3/2 same, training": lambda x: pool_ops.stochastic_pool(
        x, 3, 2, "same", training=True, seed=7),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_compiled_once_and_equal_to_eager(name):
    import torch
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(CALLS[name])
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(2, 7, 6, 3)).astype("float32"))
    graphs = []
    for _ in range(4):
        y = compiled(x)
        graphs.append(counters["stats"]["unique_graphs"])
    assert graphs[1:] == graphs[:1] * 3, f"recompiled on later calls: {graphs}"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y),
                               keras.ops.convert_to_numpy(CALLS[name](x)), rtol=1e-5, atol=1e-6)
