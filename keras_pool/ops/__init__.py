"""Functional, backend-agnostic pooling: min, Lp, stochastic, BlurPool, MaxBlurPool,
mixed, gated and SoftPool (windowed, and global where it applies).

Everything here is written with `keras.ops` and `keras.random` only, so it runs
unchanged on the TensorFlow, JAX and PyTorch backends, eagerly and under jit/XLA.
The signatures follow `keras.ops.max_pool`.

The package mirrors `keras_pool.layers`: `arguments` holds the argument checks
the layers share, `window` the machinery every family stands on (shapes,
"same" padding, window extraction, the windowed and global drivers, and the
`_FAST_PATHS` switch), `docs` the Args text the ops' docstrings share, and one
module per family holds all of that family's code: `min_pooling`,
`lp_pooling`, `stochastic_pooling`, `blur_pooling` (BlurPool and MaxBlurPool),
`mixed_pooling` (mixed and gated), `soft_pooling`, `fractional_pooling`
(Graham's fractional max pooling), `unpooling` (max pooling with indices and
max unpooling), `pyramid_pooling` (spatial pyramid pooling) and `head_pooling`
(timm's avg-max, concatenated avg-max and log-sum-exp heads). Every name is also
importable from `keras_pool.ops` itself.

>>> import numpy as np
>>> from keras_pool import ops as pool_ops
>>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
>>> tuple(pool_ops.min_pool(x, 2).shape)
(1, 2, 2, 1)
"""

import sys
import types

from keras_pool.ops import window
from keras_pool.ops.arguments import (
    PADDINGS,
    _check_rank,
    normalize_bool,
    normalize_choice,
    normalize_data_format,
    normalize_number,
    normalize_padding,
    normalize_tuple,
)
from keras_pool.ops.blur_pooling import (
    MATRIX_BLUR_MAX,
    MAX_FILTER_SIZE,
    PADDING_MODES,
    _blur,
    _pad_axis,
    binomial_filter,
    blur_matrix,
    blur_pads,
    blur_pool,
    blurred_shape,
    max_blur_pool,
    max_blurred_shape,
    normalize_blur_arguments,
)
from keras_pool.ops.fractional_pooling import fractional_max_pool
from keras_pool.ops.head_pooling import (
    global_avg_max_pool,
    global_cat_avg_max_pool,
    global_lse_pool,
)
from keras_pool.ops.lp_pooling import (
    _lp_reduce,
    _p_argument,
    _power,
    _root,
    global_lp_pool,
    lp_pool,
    normalize_p,
)
from keras_pool.ops.min_pooling import global_min_pool, min_pool
from keras_pool.ops.mixed_pooling import (
    _max_average_mix,
    _mean_pool,
    _native_depthwise,
    gated_pool,
    mixed_pool,
)
from keras_pool.ops.pyramid_pooling import spatial_pyramid_pool
from keras_pool.ops.soft_pooling import _soft_reduce, global_soft_pool, soft_pool
from keras_pool.ops.stochastic_pooling import (
    _draw_keys,
    _first_above,
    _global_stochastic_pool,
    _sample_cells,
    _shift_right,
    _stochastic_pool,
    _stochastic_reduce,
    _uniform,
    global_stochastic_pool,
    stochastic_pool,
)
from keras_pool.ops.unpooling import max_pool_with_argmax, max_unpool
from keras_pool.ops.window import (
    HALF_DTYPES,
    _channels_last,
    _compute_dtype,
    _correlate,
    _crop,
    _finish,
    _fit,
    _global,
    _is_symbolic,
    _pad_same,
    _pool_arguments,
    _prepare,
    _restore_format,
    _same_pads,
    _spatial_shape,
    _valid_counts,
    _windowed,
    _windows,
    _zero_pad,
    global_shape,
    pooled_shape,
    spatial_dims,
    with_spatial,
)
# 0.1.0's single ops module imported these two from xla_clusters; kept importable here.
from keras_pool.xla_clusters import cluster, inside_xla


class _Ops(types.ModuleType):
    """`keras_pool.ops._FAST_PATHS` reads and sets the one switch, `window._FAST_PATHS`
    (a copy here would go stale: the families read the switch in `window`)."""

    @property
    def _FAST_PATHS(self):
        return window._FAST_PATHS

    @_FAST_PATHS.setter
    def _FAST_PATHS(self, value):
        window._FAST_PATHS = value


sys.modules[__name__].__class__ = _Ops
del sys, types
