"""keras_pool layers: min, Lp, stochastic, blur, max-blur, mixed, gated, soft and fractional
max pooling; max pooling with indices and unpooling; spatial pyramid pooling; avg-max and
log-sum-exp heads."""

from keras_pool.layers.base import AtLeastOne, BaseGlobalPooling, BasePooling
from keras_pool.layers.blur_pooling import (
    BlurPooling1D,
    BlurPooling2D,
    BlurPooling3D,
    MaxBlurPooling1D,
    MaxBlurPooling2D,
    MaxBlurPooling3D,
)
from keras_pool.layers.fractional_pooling import (
    FractionalMaxPooling1D,
    FractionalMaxPooling2D,
    FractionalMaxPooling3D,
)
from keras_pool.layers.head_pooling import (
    AtLeast,
    GlobalAvgMaxPooling1D,
    GlobalAvgMaxPooling2D,
    GlobalAvgMaxPooling3D,
    GlobalCatAvgMaxPooling1D,
    GlobalCatAvgMaxPooling2D,
    GlobalCatAvgMaxPooling3D,
    GlobalLsePooling1D,
    GlobalLsePooling2D,
    GlobalLsePooling3D,
)
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
from keras_pool.layers.mixed_pooling import (
    GatedPooling1D,
    GatedPooling2D,
    GatedPooling3D,
    MixedPooling1D,
    MixedPooling2D,
    MixedPooling3D,
    UnitInterval,
)
from keras_pool.layers.pyramid_pooling import (
    SpatialPyramidPooling1D,
    SpatialPyramidPooling2D,
    SpatialPyramidPooling3D,
)
from keras_pool.layers.soft_pooling import (
    GlobalSoftPooling1D,
    GlobalSoftPooling2D,
    GlobalSoftPooling3D,
    SoftPooling1D,
    SoftPooling2D,
    SoftPooling3D,
)
from keras_pool.layers.stochastic_pooling import (
    GlobalStochasticPooling1D,
    GlobalStochasticPooling2D,
    GlobalStochasticPooling3D,
    StochasticPooling1D,
    StochasticPooling2D,
    StochasticPooling3D,
)
from keras_pool.layers.unpooling import (
    MaxPoolingWithArgmax1D,
    MaxPoolingWithArgmax2D,
    MaxPoolingWithArgmax3D,
    MaxUnpooling1D,
    MaxUnpooling2D,
    MaxUnpooling3D,
)
