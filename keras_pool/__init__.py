"""keras_pool: the pooling layers Keras lacks, on TensorFlow, JAX and PyTorch.

Min, Lp (GeM), stochastic, anti-aliased (BlurPool, MaxBlurPool), learned
(mixed, gated), SoftPool and fractional max pooling layers, windowed in
1D/2D/3D and global; max pooling with indices and unpooling; spatial pyramid
pooling; avg-max and log-sum-exp heads; their
functional forms in `keras_pool.ops`; `keras_pool.registry` turns a name
("lp", "maxblur", ...) into a layer; `swap_pooling` and `antialias` put them
into models that already exist (pooling surgery).

>>> import keras, keras_pool
>>> model = keras.Sequential([
...     keras.Input((28, 28, 1)),
...     keras.layers.Conv2D(16, 3, activation="relu"),
...     keras_pool.MaxBlurPooling2D(),
...     keras_pool.LpPooling2D(p=3.0),
...     keras_pool.GlobalStochasticPooling2D(seed=0),
...     keras.layers.Dense(10),
... ])
>>> model.output_shape
(None, 10)
"""

from keras_pool import ops, registry
from keras_pool.antialiasing import antialias
from keras_pool.layers import (
    GlobalAvgMaxPooling1D,
    GlobalAvgMaxPooling2D,
    GlobalAvgMaxPooling3D,
    GlobalCatAvgMaxPooling1D,
    GlobalCatAvgMaxPooling2D,
    GlobalCatAvgMaxPooling3D,
    GlobalLsePooling1D,
    GlobalLsePooling2D,
    GlobalLsePooling3D,
    MaxPoolingWithArgmax1D,
    MaxPoolingWithArgmax2D,
    MaxPoolingWithArgmax3D,
    MaxUnpooling1D,
    MaxUnpooling2D,
    MaxUnpooling3D,
    SpatialPyramidPooling1D,
    SpatialPyramidPooling2D,
    SpatialPyramidPooling3D,
    FractionalMaxPooling1D,
    FractionalMaxPooling2D,
    FractionalMaxPooling3D,
    BlurPooling1D,
    BlurPooling2D,
    BlurPooling3D,
    GatedPooling1D,
    GatedPooling2D,
    GatedPooling3D,
    GlobalLpPooling1D,
    GlobalLpPooling2D,
    GlobalLpPooling3D,
    GlobalMinPooling1D,
    GlobalMinPooling2D,
    GlobalMinPooling3D,
    GlobalSoftPooling1D,
    GlobalSoftPooling2D,
    GlobalSoftPooling3D,
    GlobalStochasticPooling1D,
    GlobalStochasticPooling2D,
    GlobalStochasticPooling3D,
    LpPooling1D,
    LpPooling2D,
    LpPooling3D,
    MaxBlurPooling1D,
    MaxBlurPooling2D,
    MaxBlurPooling3D,
    MinPooling1D,
    MinPooling2D,
    MinPooling3D,
    MixedPooling1D,
    MixedPooling2D,
    MixedPooling3D,
    SoftPooling1D,
    SoftPooling2D,
    SoftPooling3D,
    StochasticPooling1D,
    StochasticPooling2D,
    StochasticPooling3D,
)

from keras_pool.surgery import swap_pooling

# Keras-style short aliases (as keras.layers.MaxPool2D for MaxPooling2D).
MinPool1D, MinPool2D, MinPool3D = MinPooling1D, MinPooling2D, MinPooling3D
LpPool1D, LpPool2D, LpPool3D = LpPooling1D, LpPooling2D, LpPooling3D
StochasticPool1D, StochasticPool2D, StochasticPool3D = StochasticPooling1D, StochasticPooling2D, StochasticPooling3D
BlurPool1D, BlurPool2D, BlurPool3D = BlurPooling1D, BlurPooling2D, BlurPooling3D
MaxBlurPool1D, MaxBlurPool2D, MaxBlurPool3D = MaxBlurPooling1D, MaxBlurPooling2D, MaxBlurPooling3D
MixedPool1D, MixedPool2D, MixedPool3D = MixedPooling1D, MixedPooling2D, MixedPooling3D
GatedPool1D, GatedPool2D, GatedPool3D = GatedPooling1D, GatedPooling2D, GatedPooling3D
SoftPool1D, SoftPool2D, SoftPool3D = SoftPooling1D, SoftPooling2D, SoftPooling3D
FractionalMaxPool1D, FractionalMaxPool2D, FractionalMaxPool3D = (
    FractionalMaxPooling1D, FractionalMaxPooling2D, FractionalMaxPooling3D
)
MaxPoolWithArgmax1D, MaxPoolWithArgmax2D, MaxPoolWithArgmax3D = (
    MaxPoolingWithArgmax1D, MaxPoolingWithArgmax2D, MaxPoolingWithArgmax3D
)
MaxUnpool1D, MaxUnpool2D, MaxUnpool3D = MaxUnpooling1D, MaxUnpooling2D, MaxUnpooling3D
SpatialPyramidPool1D, SpatialPyramidPool2D, SpatialPyramidPool3D = (
    SpatialPyramidPooling1D, SpatialPyramidPooling2D, SpatialPyramidPooling3D
)
GlobalAvgMaxPool1D, GlobalAvgMaxPool2D, GlobalAvgMaxPool3D = (
    GlobalAvgMaxPooling1D, GlobalAvgMaxPooling2D, GlobalAvgMaxPooling3D
)
GlobalCatAvgMaxPool1D, GlobalCatAvgMaxPool2D, GlobalCatAvgMaxPool3D = (
    GlobalCatAvgMaxPooling1D, GlobalCatAvgMaxPooling2D, GlobalCatAvgMaxPooling3D
)
GlobalLsePool1D, GlobalLsePool2D, GlobalLsePool3D = (
    GlobalLsePooling1D, GlobalLsePooling2D, GlobalLsePooling3D
)
GlobalMinPool1D, GlobalMinPool2D, GlobalMinPool3D = (
    GlobalMinPooling1D, GlobalMinPooling2D, GlobalMinPooling3D
)
GlobalLpPool1D, GlobalLpPool2D, GlobalLpPool3D = (
    GlobalLpPooling1D, GlobalLpPooling2D, GlobalLpPooling3D
)
GlobalStochasticPool1D, GlobalStochasticPool2D, GlobalStochasticPool3D = (
    GlobalStochasticPooling1D, GlobalStochasticPooling2D, GlobalStochasticPooling3D
)
GlobalSoftPool1D, GlobalSoftPool2D, GlobalSoftPool3D = (
    GlobalSoftPooling1D, GlobalSoftPooling2D, GlobalSoftPooling3D
)

__version__ = "0.1.0"
