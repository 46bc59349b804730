"""The model families, each with the variant's pooling where it subsamples.

`from_config` builds the model of one variant in the family that
``model.family`` names (``experiments.config.ModelConfig``); every family
returns an uncompiled ``keras.Model`` that outputs logits, with the variant's
pooling at each point where the architecture subsamples and the variant's head
before the classifier.

- ``"cnn"`` (default): `build_model`, one conv per stage.
- ``"vgg"``: per stage, ``convs_per_stage`` x [Conv (same, no bias) -> BatchNorm
  -> ReLU], closed by the variant's pooling ("stride": the stage's last conv
  strided by ``pool_size``; "none": no subsampling); then the head.
- ``"resnet"``: a CIFAR-style residual network: a conv-BN-ReLU stem, then per
  stage ``blocks`` basic blocks (two ``kernel_size`` conv-BN, identity or
  1x1-conv-BN shortcut). The first block of every stage after the first
  downsamples: "stride" with its first conv and the 1x1 shortcut conv at stride
  ``pool_size`` (the usual ResNet); a pooling name with those convs at stride
  1, the main path pooled after its first ReLU and the shortcut pooled before
  its 1x1 conv; "none" keeps full resolution. The head is a global average
  unless the variant names one.
- ``"application"``: ``keras.applications.<model.application>(weights=None,
  include_top=False)`` then the head and a Dense classifier; "stride" is the
  model as it is, a pooling name swaps its max pooling
  (``keras_pool.swap_pooling``).
- ``"custom"``: ``model.builder = "module:function"`` (`load_builder`), called
  as ``build(input_shape, num_classes, *, pooling, head, seed)``;
  ``pooling(**window)`` returns a new pooling layer of the variant
  (``keras.layers.Identity`` for "none"), ``head()`` the variant's head. It
  must return an uncompiled ``keras.Model`` that outputs logits of shape
  ``(None, num_classes)``.

In every family, pooling "antialias" is the family's model (with max pooling for
cnn, vgg and custom; with strided convolutions for resnet; as it is for
application) converted by ``keras_pool.antialias``: Zhang 2019's recipe, weights
kept. BatchNormalization uses ``model.bn_momentum`` (0.9, PyTorch's default:
Keras's 0.99 lags far behind in runs of a few hundred steps).

Paired initialisation: in the cnn, vgg and resnet families and in every
family's head and classifier, each layer that draws random numbers gets its own
seed, derived from (`seed`, the layer's role, its index) and nothing else
(`layer_seed`). So for one seed, all variants start from the same conv kernels
(and the same dense kernels when their heads give the same feature size),
whatever pooling sits between them or in which order layers draw from the
global RNG. An application's base is built right after seeding the global RNG
with `seed`; a custom builder gets `seed` and is trusted to use it.
"""

import dataclasses
import importlib
import itertools
import sys

import keras
import numpy as np

import keras_pool
from keras_pool import registry

from ..config import ANTIALIAS, BASELINES, DEFAULT_HEADS, FRACTIONAL
from ..errors import ConfigError, one_line

_CONV, _DENSE, _POOL, _DROPOUT = range(4)


def layer_seed(seed, role, index=0):
    """A 31-bit seed for layer `index` of kind `role`, fixed by the run `seed` alone."""
    state = np.random.SeedSequence([seed, role, index]).generate_state(1)[0]
    return int(state) & 0x7FFFFFFF




def build_model(input_shape, num_classes, *, pooling="max", head="flatten", lp_options=None,
                filters=(16, 32), kernel_size=3, pool_size=2, dense_units=0, dropout=0.0,
                seed=0, fractional_ratio=None):
    """An uncompiled CNN: `pooling` after each conv block, `head` before the classifier.

    The model outputs logits:

        Input -> [ConvND(f, same, relu) -> pooling] for f in filters
              -> head -> [Dropout] -> [Dense(dense_units, relu)] -> Dense(num_classes)

    Its weighted layers are named ``conv1, conv2, .., hidden, logits``.

    Args:
        input_shape: one example's shape: (length, channels) gives Conv1D,
            (height, width, channels) Conv2D.
        num_classes: units of the Dense classifier.
        pooling: one of ``keras_pool.registry.POOLINGS`` or a baseline, or a
            sequence of them, one per conv stage: "none" (no pooling layer: the
            stage keeps full resolution) or "stride" (no pooling layer: the conv
            itself has strides = `pool_size`).
        head: one of ``keras_pool.registry.HEADS``.
        lp_options: ``p``, ``normalize``, ``trainable_p`` for the Lp layers.
        filters: the conv widths, one stage each.
        kernel_size: the convs' kernel size.
        pool_size: the pooling window and stride.
        dense_units: a hidden Dense layer before the classifier; 0 for none.
        dropout: rate of a Dropout before the dense layers; 0 for none.
        seed: fixes the initial weights, the same for every pooling (paired
            initialisation: see ``experiments.run.models``).
        fractional_ratio: the output ratio of "fractional" poolings; None is
            1 / `pool_size`.

    Raises:
        ValueError: a `pooling` sequence whose length is not that of `filters`,
            or an `input_shape` of another rank.
    """
    lp_options = dict(lp_options or {})
    if fractional_ratio is not None:
        lp_options["output_ratio"] = fractional_ratio
    kinds = [pooling] * len(filters) if isinstance(pooling, str) else list(pooling)
    if len(kinds) != len(filters):
        raise ValueError(f"`pooling` needs one kind per conv stage ({len(filters)}); got {pooling}")
    rank = len(input_shape) - 1
    if rank not in (1, 2):
        raise ValueError(f"input_shape must be (length, channels) or (height, width, channels); "
                         f"got {input_shape}")
    conv = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
    inputs = keras.Input(input_shape)
    x = inputs
    for i, width in enumerate(filters):
        x = conv(
            width, kernel_size, strides=pool_size if kinds[i] == "stride" else 1,
            padding="same", activation="relu", name=f"conv{i + 1}",
            kernel_initializer=keras.initializers.GlorotUniform(layer_seed(seed, _CONV, i)),
        )(x)
        if kinds[i] not in BASELINES:
            x = registry.pooling(kinds[i], rank=rank, pool_size=pool_size,
                                 **_options(kinds[i], lp_options, seed, i))(x)
    outputs = _classifier(x, num_classes, rank, head, lp_options, seed, len(filters),
                          dense_units, dropout)
    return keras.Model(inputs, outputs, name="cnn")


def _classifier(x, num_classes, rank, head, lp_options, seed, index, dense_units=0, dropout=0.0):
    """head -> [Dropout] -> [Dense(dense_units, relu)] -> Dense(num_classes) logits."""
    x = registry.head(head, rank=rank, **_options(head, lp_options, seed, index))(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=layer_seed(seed, _DROPOUT), name="dropout")(x)
    if dense_units:
        x = keras.layers.Dense(
            dense_units, activation="relu", name="hidden",
            kernel_initializer=keras.initializers.GlorotUniform(layer_seed(seed, _DENSE, 0)),
        )(x)
    return keras.layers.Dense(
        num_classes, name="logits",
        kernel_initializer=keras.initializers.GlorotUniform(layer_seed(seed, _DENSE, 1)),
    )(x)


def from_config(variant, model_cfg, input_shape, num_classes, seed):
    """The model of `variant` in the family `model_cfg.family`, uncompiled, with logits out.

    Args:
        variant: a `config.Variant`: its pooling ("none", "stride", "antialias"
            or a registry name, one per stage or one for all) and head.
        model_cfg: the config's `ModelConfig` (`[model]`): family, filters, ...
        input_shape: one example's shape, channels last.
        num_classes: units of the Dense classifier.
        seed: the run's seed; the same seed gives every variant the same initial
            weights.

    Returns:
        A `keras.Model`.

    Raises:
        ConfigError: a variant the family cannot build, or a custom builder that
            cannot be imported or returns something else than such a model.
    """
    family = model_cfg.family
    head = variant.head or DEFAULT_HEADS[family]
    if variant.pooling == ANTIALIAS:
        plain = {"resnet": "stride", "application": "stride"}.get(family, "max")
        model = from_config(dataclasses.replace(variant, pooling=plain, head=head), model_cfg,
                            input_shape, num_classes, seed)
        try:
            return keras_pool.antialias(model)
        except ValueError as error:
            raise ConfigError(f"variant {variant.label!r}: {error}") from None
    kinds = (variant.kinds * len(model_cfg.filters) if len(variant.kinds) == 1
             else variant.kinds)
    build = {"cnn": _cnn, "vgg": _vgg, "resnet": _resnet, "application": _application,
             "custom": _custom}[family]
    return build(input_shape, num_classes, kinds, head, variant.layer_options, model_cfg, seed)


def _cnn(input_shape, num_classes, kinds, head, lp_options, cfg, seed):
    return build_model(
        input_shape, num_classes, pooling=list(kinds), head=head, lp_options=lp_options,
        filters=cfg.filters, kernel_size=cfg.kernel_size, pool_size=cfg.pool_size,
        dense_units=cfg.dense_units, dropout=cfg.dropout, seed=seed,
    )


class _Layers:
    """Seeded conv / BN / pooling layers of one model, numbered in creation order."""

    def __init__(self, rank, cfg, lp_options, seed):
        self.rank, self.cfg, self.lp_options, self.seed = rank, cfg, lp_options, seed
        self.convs = self.pools = 0

    def conv(self, x, filters, kernel_size, strides=1, name=None):
        conv = (keras.layers.Conv1D, keras.layers.Conv2D)[self.rank - 1]
        self.convs += 1
        return conv(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                    name=name, kernel_initializer=keras.initializers.HeNormal(
                        layer_seed(self.seed, _CONV, self.convs)))(x)

    def bn(self, x, name=None):
        return keras.layers.BatchNormalization(momentum=self.cfg.bn_momentum, name=name)(x)

    def pool(self, x, kind, name=None):
        self.pools += 1
        options = _options(kind, self.lp_options, self.seed, self.pools - 1)
        layer = registry.pooling(kind, rank=self.rank, pool_size=self.cfg.pool_size, **options)
        return layer(x)


def _rank(input_shape, family):
    rank = len(input_shape) - 1
    if rank not in (1, 2):
        raise ConfigError(f"model.family {family!r}: inputs must be (length, channels) or "
                          f"(height, width, channels); got {input_shape}")
    return rank


def _vgg(input_shape, num_classes, kinds, head, lp_options, cfg, seed):
    rank = _rank(input_shape, "vgg")
    make = _Layers(rank, cfg, lp_options, seed)
    inputs = keras.Input(input_shape)
    x = inputs
    for i, (width, kind) in enumerate(zip(cfg.filters, kinds), start=1):
        for j in range(1, cfg.convs_per_stage + 1):
            last = j == cfg.convs_per_stage
            strides = cfg.pool_size if last and kind == "stride" else 1
            x = make.conv(x, width, cfg.kernel_size, strides, name=f"stage{i}_conv{j}")
            x = make.bn(x, name=f"stage{i}_bn{j}")
            x = keras.layers.ReLU(name=f"stage{i}_relu{j}")(x)
        if kind not in ("none", "stride"):
            x = make.pool(x, kind)
    outputs = _classifier(x, num_classes, rank, head, lp_options, seed, len(cfg.filters),
                          cfg.dense_units, cfg.dropout)
    return keras.Model(inputs, outputs, name="vgg")


def _resnet(input_shape, num_classes, kinds, head, lp_options, cfg, seed):
    rank = _rank(input_shape, "resnet")
    make = _Layers(rank, cfg, lp_options, seed)
    inputs = keras.Input(input_shape)
    x = make.conv(inputs, cfg.filters[0], cfg.kernel_size, name="stem_conv")
    x = keras.layers.ReLU(name="stem_relu")(make.bn(x, name="stem_bn"))
    for i, (width, kind) in enumerate(zip(cfg.filters, kinds), start=1):
        for b in range(1, cfg.blocks + 1):
            down = kind if i > 1 and b == 1 else "none"
            x = _basic_block(make, x, width, down, f"stage{i}_block{b}")
    outputs = _classifier(x, num_classes, rank, head, lp_options, seed, len(cfg.filters),
                          cfg.dense_units, cfg.dropout)
    return keras.Model(inputs, outputs, name="resnet")


def _basic_block(make, x, width, down, name):
    """Two 3x3 conv-BN; `down` ("none", "stride" or a pooling name) subsamples."""
    k, s = make.cfg.kernel_size, make.cfg.pool_size
    strides = s if down == "stride" else 1
    pooled = down not in ("none", "stride")
    main = make.conv(x, width, k, strides, name=f"{name}_conv1")
    main = keras.layers.ReLU(name=f"{name}_relu1")(make.bn(main, name=f"{name}_bn1"))
    if pooled:
        main = make.pool(main, down)
    main = make.bn(make.conv(main, width, k, name=f"{name}_conv2"), name=f"{name}_bn2")
    shortcut = x
    if down != "none" or x.shape[-1] != width:
        if pooled:
            shortcut = make.pool(shortcut, down)
        shortcut = make.conv(shortcut, width, 1, strides, name=f"{name}_shortcut")
        shortcut = make.bn(shortcut, name=f"{name}_shortcut_bn")
    x = keras.layers.Add(name=f"{name}_add")([main, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def _application(input_shape, num_classes, kinds, head, lp_options, cfg, seed):
    (kind,) = set(kinds)
    if len(input_shape) != 3:
        raise ConfigError(f"model.application {cfg.application!r} needs images "
                          f"(height, width, channels); the data gives {input_shape}")
    keras.utils.set_random_seed(seed)  # the same initial weights for every variant
    try:
        base = getattr(keras.applications, cfg.application)(
            weights=None, include_top=False, input_shape=tuple(input_shape))
        if kind != "stride":
            options = _options(kind, lp_options, seed, 0)
            base = keras_pool.swap_pooling(base, "max", kind, **options)
    except ValueError as error:
        message = " ".join(str(error).split())
        raise ConfigError(f"model.application {cfg.application!r} with pooling {kind!r}: "
                          f"{message}") from None
    inputs = keras.Input(input_shape)
    outputs = _classifier(base(inputs), num_classes, 2, head, lp_options, seed, 1,
                          cfg.dense_units, cfg.dropout)
    return keras.Model(inputs, outputs, name=cfg.application.lower())


def check_buildable(variants, model_cfg, input_shape, num_classes, seed=0):
    """Build (and drop) the model of every variant once: ConfigError if one cannot be built.

    The pre-flight check of every command that trains (``experiments.sweeps.sweep.preflight``):
    a builder that cannot be imported, raises or returns a wrong model, a variant the
    family cannot express on these inputs (an application without max pooling to swap,
    images too small for the poolings), each fails here in one line that names the
    variant, before anything is written or trained. Nothing is compiled or trained.
    """
    for variant in variants:
        try:
            from_config(variant, model_cfg, input_shape, num_classes, seed)
        except ConfigError:
            raise  # it names its key (model.builder, model.application, the variant)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"variant {variant.label!r}: the {model_cfg.family} model cannot "
                              f"be built for inputs {tuple(input_shape)}: "
                              f"{one_line(error)}") from None


def load_builder(cfg):
    """The function named by `cfg.builder` ("module:function").

    `cfg.builder_dir`, if set, is put first on ``sys.path`` (and stays there)
    before the module is imported.

    Args:
        cfg: the config's `ModelConfig`.

    Returns:
        The builder function, called as ``experiments.run.models`` describes
        for family "custom".

    Raises:
        ConfigError: the module cannot be imported, or has no such function.
    """
    module_name, function = cfg.builder.split(":")
    folder = cfg.builder_dir
    try:
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any import failure is the config's
        raise ConfigError(f"model.builder: cannot import {module_name!r} (from "
                          f"{folder or 'PYTHONPATH'}): {type(error).__name__}: {error}") from None
    build = getattr(module, function, None)
    if not callable(build):
        raise ConfigError(f"model.builder: {module_name!r} has no function {function!r}")
    return build


def _custom(input_shape, num_classes, kinds, head, lp_options, cfg, seed):
    (kind,) = set(kinds)
    rank = len(input_shape) - 1
    counter = itertools.count()

    def pooling(**window):
        if kind == "none":
            return keras.layers.Identity()
        options = _options(kind, lp_options, seed, next(counter))
        try:
            return registry.pooling(kind, rank=rank, **window, **options)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model.builder: pooling({window}) for {kind!r}: {error}") from None

    def make_head():
        return registry.head(head, rank=rank, **_options(head, lp_options, seed, 0))

    build = load_builder(cfg)
    try:
        model = build(tuple(input_shape), num_classes, pooling=pooling, head=make_head,
                      seed=seed)
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the user's code raises is its own
        raise ConfigError(f"model.builder: {cfg.builder} raised {type(error).__name__} for "
                          f"input_shape {tuple(input_shape)}, {num_classes} classes, pooling "
                          f"{kind!r}: {one_line(error)}") from None
    if not isinstance(model, keras.Model):
        raise ConfigError(f"model.builder: {cfg.builder} returned {type(model).__name__}, "
                          f"not a keras.Model")
    if tuple(model.output_shape) != (None, num_classes):
        raise ConfigError(f"model.builder: {cfg.builder} outputs {model.output_shape}; "
                          f"expected logits of shape (None, {num_classes})")
    return model


def _options(name, lp_options, seed, index):
    """Keyword arguments for the registry layer `name` at pooling stage `index`, from the
    variant's layer options (`lp_options`: the Lp ones and fractional's ``output_ratio``)."""
    if name.endswith("lp"):
        return {k: v for k, v in lp_options.items() if k != "output_ratio"}
    if name.endswith("stochastic"):
        return {"seed": layer_seed(seed, _POOL, index)}
    if name == FRACTIONAL:
        ratio = {k: v for k, v in lp_options.items() if k == "output_ratio"}
        return {"seed": layer_seed(seed, _POOL, index), **ratio}
    return {}
