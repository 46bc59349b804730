"""keras_pool layers: min, Lp and stochastic pooling, windowed and global."""

from keras_pool.layers.base import AtLeastOne, BaseGlobalPooling, BasePooling
from keras_pool.layers.lp_pooling import (
    GlobalLpPooling1D,
    GlobalLpPooling2D,
    GlobalLpPooling3D,
    LpPooling1D,
    LpPooling2D,
    LpPooling3D,
)
from keras_pool.layers.min_pooling import (
    GlobalMinPooling1D,
    GlobalMinPooling2D,
    GlobalMinPooling3D,
    MinPooling1D,
    MinPooling2D,
    MinPooling3D,
)
from keras_pool.layers.stochastic_pooling import (
    GlobalStochasticPooling1D,
    GlobalStochasticPooling2D,
    GlobalStochasticPooling3D,
    StochasticPooling1D,
    StochasticPooling2D,
    StochasticPooling3D,
)
