"""What the speed benchmark times: the layer cases and the digits CNN's poolings.

Each `Case` pairs a keras_pool layer (a registry name and its options) with
the Keras built-in of the same kind (min -> max, Lp -> average, stochastic
training -> max, stochastic inference -> average) and carries the goal for
its forward+backward ratio, if it has one. A candidate or baseline that is
not a registry pool (the issue 26 ops: argmax pooling, unpooling, a pyramid
and its levels) is an adapter of `adapters.ADAPTERS`, named the same way.
Names here are the ``case`` column of ``bench.csv``; changing one changes
the files the bench writes.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One layer row of the bench: a keras_pool layer against a Keras built-in."""

    group: str  # "1D", "2D" or "3D": the rank of the input
    name: str  # the `case` column
    candidate: str  # keras_pool registry name (or adapters.ADAPTERS name) of the layer timed
    baseline: str  # registry (or adapter) name of the Keras built-in it is timed against
    options: dict = field(default_factory=dict)  # the candidate's own arguments
    pool_args: dict | None = field(default_factory=dict)  # both layers' window; None: heads
    training: bool = False  # call both layers with training=True
    goal: float | None = None  # the forward+backward ratio to stay under (None: no goal)
    pooled: bool = False  # both run on the input max-pooled 2x2/2 (unpooling)

    @property
    def rank(self):
        return int(self.group[0])


_SAME = {"pool_size": 3, "strides": 2, "padding": "same"}
_P3 = {"p": 3.0}
_SEED = {"seed": 0}

LAYER_CASES = (
    Case("2D", "MinPooling2D 2x2/2", "min", "max", goal=1.0),
    Case("2D", "MinPooling2D 3x3/2 same", "min", "max", pool_args=_SAME),
    Case("2D", "LpPooling2D p=2 2x2/2", "lp", "avg", {"p": 2.0}, goal=2.0),
    Case("2D", "LpPooling2D p=3 2x2/2", "lp", "avg", _P3, goal=2.0),
    Case("2D", "LpPooling2D p=3 3x3/2 same", "lp", "avg", _P3, _SAME, goal=2.0),
    Case("2D", "LpPooling2D p=2.5 2x2/2", "lp", "avg", {"p": 2.5}),
    Case("2D", "LpPooling2D p=3 normalize trainable_p 2x2/2", "lp", "avg",
         {"p": 3.0, "normalize": True, "trainable_p": True}),
    Case("2D", "StochasticPooling2D train 2x2/2", "stochastic", "max", _SEED, training=True,
         goal=1.0),
    Case("2D", "StochasticPooling2D infer 2x2/2", "stochastic", "avg", _SEED, goal=2.0),
    Case("2D", "StochasticPooling2D train 3x3/2 same", "stochastic", "max", _SEED, _SAME,
         training=True),
    Case("2D", "StochasticPooling2D infer 3x3/2 same", "stochastic", "avg", _SEED, _SAME),
    Case("2D", "GlobalMinPooling2D", "global_min", "global_max", pool_args=None, goal=1.0),
    Case("2D", "GlobalLpPooling2D p=3", "global_lp", "global_avg", _P3, None, goal=2.0),
    Case("2D", "GlobalStochasticPooling2D train", "global_stochastic", "global_max", _SEED, None,
         training=True, goal=1.5),
    Case("2D", "GlobalStochasticPooling2D infer", "global_stochastic", "global_avg", _SEED,
         None),
    Case("2D", "BlurPooling2D filter 4/2 reflect", "blur", "avg", goal=1.5),
    Case("2D", "MaxBlurPooling2D 2x2/2 filter 4", "maxblur", "max", goal=2.5),
    Case("2D", "MixedPooling2D 2x2/2", "mixed", "max", goal=2.5),
    Case("2D", "MixedPooling2D 3x3/2 same", "mixed", "max", pool_args=_SAME),
    Case("2D", "GatedPooling2D 2x2/2", "gated", "max", goal=3.0),
    Case("2D", "GatedPooling2D 3x3/2 same", "gated", "max", pool_args=_SAME),
    Case("2D", "SoftPooling2D 2x2/2", "soft", "avg", goal=3.0),
    Case("2D", "SoftPooling2D 3x3/2 same", "soft", "avg", pool_args=_SAME),
    Case("2D", "GlobalSoftPooling2D", "global_soft", "global_avg", pool_args=None),
    # issue 26
    Case("2D", "FractionalMaxPooling2D 2x2 ratio 1/2 train", "fractional", "max", _SEED,
         training=True, goal=1.5),
    Case("2D", "FractionalMaxPooling2D 2x2 ratio 1/2 infer", "fractional", "max", _SEED),
    Case("2D", "max_pool_with_argmax 2x2/2", "max_pool_with_argmax", "max", goal=1.5),
    Case("2D", "max_unpool 2x2/2", "max_unpool", "upsampling", pooled=True, goal=2.0),
    Case("2D", "SpatialPyramidPooling2D max bins 1,2,4", "spp_max", "spp_max_levels",
         pool_args=None, goal=1.25),
) + tuple(
    case
    for rank in (1, 3)
    for case in (
        Case(f"{rank}D", f"MinPooling{rank}D 2/2", "min", "max"),
        Case(f"{rank}D", f"LpPooling{rank}D p=3 2/2", "lp", "avg", _P3),
        Case(f"{rank}D", f"StochasticPooling{rank}D train 2/2", "stochastic", "max", _SEED,
             training=True),
        Case(f"{rank}D", f"BlurPooling{rank}D filter 4/2", "blur", "avg"),
        Case(f"{rank}D", f"MaxBlurPooling{rank}D 2/2", "maxblur", "max"),
        Case(f"{rank}D", f"SoftPooling{rank}D 2/2", "soft", "avg"),
    )
)

# The torch rows: our layer (a LAYER_CASES name) against a torch.nn.functional op.
TORCH_CASE = "LpPooling2D p=3 2x2/2"  # against lp_pool2d
TORCH_CASES = (
    (TORCH_CASE, "lp_pool2d"),
    ("FractionalMaxPooling2D 2x2 ratio 1/2 train", "fractional_max_pool2d"),
)

# The digits CNN's train step with each pooling (registry name, options) against max pooling.
CNN_POOLINGS = (
    ("avg", None), ("min", None), ("lp", {"p": 3.0}), ("stochastic", None), ("blur", None),
    ("maxblur", None), ("mixed", None), ("gated", None), ("soft", None), ("fractional", None),
)
CNN_INPUT = (24, 24, 1)  # configs/digits.toml: 8x8 digits upsampled to 16x16, 4-pixel border


def cnn_case(pooling, options):
    """The `case` column of the digits CNN row with `pooling`."""
    return f"train step, {pooling} pooling" + (" p=3" if options else "")
