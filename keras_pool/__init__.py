"""keras_pool: the pooling layers Keras lacks (min, Lp, stochastic), on every backend.

>>> import keras, keras_pool
>>> model = keras.Sequential([
...     keras.Input((28, 28, 1)),
...     keras.layers.Conv2D(16, 3, activation="relu"),
...     keras_pool.LpPooling2D(p=3.0),
...     keras_pool.GlobalStochasticPooling2D(seed=0),
...     keras.layers.Dense(10),
... ])
"""

from keras_pool import ops
from keras_pool.layers import (
    GlobalLpPooling1D,
    GlobalLpPooling2D,
    GlobalLpPooling3D,
    GlobalMinPooling1D,
    GlobalMinPooling2D,
    GlobalMinPooling3D,
    GlobalStochasticPooling1D,
    GlobalStochasticPooling2D,
    GlobalStochasticPooling3D,
    LpPooling1D,
    LpPooling2D,
    LpPooling3D,
    MinPooling1D,
    MinPooling2D,
    MinPooling3D,
    StochasticPooling1D,
    StochasticPooling2D,
    StochasticPooling3D,
)

# Keras-style short aliases (as keras.layers.MaxPool2D for MaxPooling2D).
MinPool1D, MinPool2D, MinPool3D = MinPooling1D, MinPooling2D, MinPooling3D
LpPool1D, LpPool2D, LpPool3D = LpPooling1D, LpPooling2D, LpPooling3D
StochasticPool1D, StochasticPool2D, StochasticPool3D = (
    StochasticPooling1D,
    StochasticPooling2D,
    StochasticPooling3D,
)
GlobalMinPool1D, GlobalMinPool2D, GlobalMinPool3D = (
    GlobalMinPooling1D,
    GlobalMinPooling2D,
    GlobalMinPooling3D,
)
GlobalLpPool1D, GlobalLpPool2D, GlobalLpPool3D = (
    GlobalLpPooling1D,
    GlobalLpPooling2D,
    GlobalLpPooling3D,
)
GlobalStochasticPool1D, GlobalStochasticPool2D, GlobalStochasticPool3D = (
    GlobalStochasticPooling1D,
    GlobalStochasticPooling2D,
    GlobalStochasticPooling3D,
)

__version__ = "0.1.0"
