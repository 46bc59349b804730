"""Zhang 2019's anti-aliasing ("Making Convolutional Networks Shift-Invariant
Again") applied to an existing Keras model, weights kept.

Every subsampling layer is split into its dense part and a BlurPool that
subsamples on the original's grid:

- strided max pooling -> the same max pooling with stride 1, then BlurPool;
- a strided convolution (Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D)
  -> the same convolution with stride 1, then BlurPool after the pointwise
  layers that follow it alone (BatchNormalization, activations, dropout), as
  Zhang places the blur after the ReLU. A strided convolution whose kernel is
  1 on every strided axis (a ResNet's 1x1 shortcut) samples its input
  without mixing neighbours, so the blur goes before it, as Zhang's
  shortcut `BlurPool -> conv1x1` (the same function at 1/stride**rank of
  the cost of a stride-1 convolution before the blur);
- strided average pooling -> BlurPool (Zhang's DenseNet transitions).

Alignment: a blur of `filter_size=1` is the identity, and each BlurPool
samples the cells that the original layer sampled (a `Cropping` layer in
front of it drops the leading cells where Keras's "same" padding puts its
extra cell at the end), so `antialias(m, filter_size=1)` computes what `m`
computes for every model without strided average pooling.
"""

import keras

from keras_pool import layers as pool_layers
from keras_pool import ops as pool_ops
from keras_pool._keras_private import inbound_nodes, outbound_nodes
from keras_pool.surgery import Edit, check_model, clone_layer, leaf_layers, rebuild

CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
)
MAX_POOLS = (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D)
AVERAGE_POOLS = (
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
)
# Layers that act on each cell alone: the blur may move past them.
POINTWISE = (
    keras.layers.BatchNormalization,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
)
BLURS = (pool_layers.BlurPooling1D, pool_layers.BlurPooling2D, pool_layers.BlurPooling3D)
CROPPINGS = (keras.layers.Cropping1D, keras.layers.Cropping2D, keras.layers.Cropping3D)
CONVERT = ("all", "pools", "convs")


def antialias(model, filter_size=4, padding_mode="reflect", convert="all", skip_first=False):
    """Anti-alias every subsampling layer of `model` as Zhang 2019 does.

    Strided max pooling becomes max pooling with stride 1 and a BlurPool;
    a strided convolution becomes the same convolution with stride 1 and a
    BlurPool after the BatchNormalization and activation that follow it (or
    before it, for a 1x1 convolution); strided average pooling becomes a
    BlurPool. Weights are kept (same layer names), nested models are
    converted too, the output shape is the original's, and `model` is left
    untouched. With `filter_size=1` the new model computes what `model`
    computes (each BlurPool samples the original's grid), unless it has
    strided average pooling.

    Args:
        model: a built Functional or Sequential `keras.Model`.
        filter_size: binomial taps of each BlurPool, 1..7 (default 4, [1, 3, 3, 1]).
        padding_mode: the BlurPool's, "reflect" (default), "replicate" or "zero".
        convert: "all" (default), "pools" (max and average pooling only) or
            "convs" (strided convolutions only).
        skip_first: True leaves the first subsampling layer in graph order
            as it is, as antialiased-cnns' `pool_only=True` leaves a ResNet's
            strided stem convolution (the most expensive to anti-alias).

    Returns:
        A new model of the same kind, inputs and output shapes.

    Raises:
        ValueError: for bad arguments, a subclassed model, a model with no
            subsampling layer to convert, or an unknown spatial size where
            the sampling grid depends on it ("same" padding).

    >>> import keras, keras_pool
    >>> resnet = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    >>> smooth = keras_pool.antialias(resnet, filter_size=4)
    >>> type(smooth.get_layer("pool1_pool")).__name__, smooth.output_shape
    ('MaxPooling2D', (None, 1000))
    >>> sum(isinstance(l, keras_pool.BlurPooling2D) for l in smooth.layers)
    8
    """
    check_model(model, "antialias")
    # The BlurPool layers' own checks (one axis: every strided axis gets this filter).
    (filter_size,), _, padding_mode = pool_ops.normalize_blur_arguments(
        1, filter_size, 1, padding_mode
    )
    if convert not in CONVERT:
        raise ValueError(f"`convert` must be one of {CONVERT}. Received: convert={convert!r}")
    if not isinstance(skip_first, bool):
        raise ValueError(f"`skip_first` must be a bool. Received: skip_first={skip_first!r}")
    chosen = _chosen(convert)
    if not any(_subsamples(layer, chosen) for layer in leaf_layers(model)):
        raise ValueError(
            f"model {model.name!r} has no strided {_KINDS[convert]} to anti-alias "
            f"(convert={convert!r})."
        )
    return rebuild(model, _Planner(filter_size, padding_mode, chosen, skip_first))


_KINDS = {"all": "pooling or convolution", "pools": "max or average pooling",
          "convs": "convolution"}


def _chosen(convert):
    return {"all": MAX_POOLS + AVERAGE_POOLS + CONVOLUTIONS,
            "pools": MAX_POOLS + AVERAGE_POOLS, "convs": CONVOLUTIONS}[convert]


def _subsamples(layer, chosen):
    return isinstance(layer, chosen) and max(layer.strides) > 1


class _Planner:
    """The `edit` of `rebuild`: decides, layer by layer in graph order, what each becomes."""

    def __init__(self, filter_size, padding_mode, chosen, skip_first):
        self.filter_size, self.padding_mode = filter_size, padding_mode
        self.chosen, self.skip = chosen, skip_first
        self.pending = {}  # id(original layer) -> layers to apply after it

    def __call__(self, layer, parent):
        after = self.pending.pop(id(layer), ())
        if not _subsamples(layer, self.chosen):
            return Edit(clone_layer(layer), after=after) if after else None
        if self.skip:
            self.skip = False
            return Edit(clone_layer(layer), after=after) if after else None
        window = _window(layer)
        if isinstance(layer, AVERAGE_POOLS):
            blur = self._blur(layer, window, "input", name=layer.name)
            return Edit(blur[-1], before=blur[:-1], after=after, keep_weights=False)
        dense = clone_layer(layer, strides=1)
        strided = [i for i, s in enumerate(layer.strides) if s > 1]
        if isinstance(layer, CONVOLUTIONS) and all(window[i] == 1 for i in strided):
            return Edit(dense, before=self._blur(layer, window, "input"), after=after)
        blur = self._blur(layer, window, "dense")
        end = _pointwise_chain_end(layer, parent) if isinstance(layer, CONVOLUTIONS) else layer
        if end is layer:
            return Edit(dense, after=(*blur, *after))
        self.pending[id(end)] = blur
        return Edit(dense, after=after)

    def _blur(self, layer, window, grid, name=None):
        """[Cropping (when needed), BlurPool] that subsample as `layer` did."""
        rank = len(layer.strides)
        data_format = layer.data_format
        spatial = _spatial(layer, data_format)
        grids = [_grid_cropping(n, k, s, layer.padding, grid, layer.name)
                 for n, k, s in zip(spatial, window, layer.strides)]
        cropping = tuple((start, end) for start, end, _ in grids)
        filter_size = tuple(self.filter_size if s > 1 else 1 for s in layer.strides)
        try:  # a reflect that needs more cells than the map has: say where
            pool_ops.blurred_shape((None, *(kept for *_, kept in grids), None), filter_size,
                                   layer.strides, self.padding_mode, "channels_last")
        except ValueError as error:
            raise ValueError(f"antialias: at layer {layer.name!r}: {error}") from None
        common = {"dtype": layer.dtype_policy}
        out = []
        if any(c != (0, 0) for c in cropping):
            if rank == 1 and data_format == "channels_first":
                raise ValueError(
                    f"antialias: layer {layer.name!r} needs its grid kept by a Cropping1D, "
                    "which Keras has only for channels_last data."
                )
            args = {"cropping": cropping[0] if rank == 1 else cropping}
            if rank > 1:
                args["data_format"] = data_format
            out.append(CROPPINGS[rank - 1](name=f"{layer.name}_crop", **args, **common))
        out.append(BLURS[rank - 1](
            filter_size=filter_size, strides=layer.strides, padding_mode=self.padding_mode,
            data_format=data_format, name=name or f"{layer.name}_blurpool", **common,
        ))
        return out


def _window(layer):
    return tuple(getattr(layer, "pool_size", None) or layer.kernel_size)


def _spatial(layer, data_format):
    shape = layer.input.shape if len(inbound_nodes(layer)) == 1 else None
    if shape is None:  # a shared layer: its calls must agree
        shapes = {tuple(node.input_tensors[0].shape) for node in inbound_nodes(layer)}
        if len(shapes) != 1:
            raise ValueError(
                f"antialias: layer {layer.name!r} is called on inputs of different shapes "
                f"{sorted(shapes)}; one sampling grid cannot serve them all."
            )
        shape = shapes.pop()
    return shape[1:-1] if data_format == "channels_last" else shape[2:]


def _grid_cropping(n, k, s, padding, grid, name):
    """(before, after, kept) cells: crop `before` and `after` so that
    subsampling the `kept` cells by `s` from index 0 takes the cells the
    original strided layer took.

    `grid` is "dense" (the layer's stride-1 output is subsampled) or
    "input" (its input is: a 1x1 convolution, or average pooling, sampled at
    the window's centre). An unknown size `n` is allowed where the answer
    does not depend on it.
    """
    if n is not None:
        return _cropping(n, k, s, padding, grid)
    answers = {_cropping(1000 * s + r, k, s, padding, grid)[:2] for r in range(s)}
    if len(answers) > 1:
        raise ValueError(
            f"antialias: layer {name!r} ({padding!r} padding, window {k}, stride {s}) "
            "samples a grid that depends on its input size, which is unknown. Give the "
            "model a fixed input size, e.g. rebuild it with `input_shape=(224, 224, 3)`."
        )
    return (*answers.pop(), None)


def _cropping(n, k, s, padding, grid):
    if padding == "same":
        count = -(-n // s)
        before = max((count - 1) * s + k - n, 0) // 2
    elif padding == "causal":
        count, before = -(-n // s), k - 1
    else:
        count, before = (n - k) // s + 1, 0
    if grid == "dense":  # the stride-1 layer's output: its own padding
        length = n - k + 1 if padding == "valid" else n
        dense_before = {"same": (k - 1) // 2, "causal": k - 1}.get(padding, 0)
    else:  # the input itself, sampled at the window's centre
        length, dense_before = n, (k - 1) // 2
    start = dense_before - before
    end = max(length - start - count * s, 0)
    return start, end, length - start - end


def _pointwise_chain_end(layer, parent):
    """The last of the pointwise layers that follow `layer` alone in `parent`."""
    if isinstance(parent, keras.Sequential):
        following = parent.layers[parent.layers.index(layer) + 1:]
        end = layer
        for nxt in following:
            if not _is_pointwise(nxt):
                break
            end = nxt
        return end
    inside = {id(op) for op in parent.operations}
    end = layer
    while len(inbound_nodes(end)) == 1:
        consumers = [n for n in outbound_nodes(end) if id(n.operation) in inside]
        if len(consumers) != 1:
            break
        nxt = consumers[0].operation
        if not _is_pointwise(nxt) or len(inbound_nodes(nxt)) != 1:
            break
        end = nxt
    return end


def _is_pointwise(layer):
    if not isinstance(layer, POINTWISE):
        return False
    if isinstance(layer, keras.layers.BatchNormalization):  # per channel, not per cell
        return len(_as_list(layer.axis)) == 1
    return True


def _as_list(axis):
    return axis if isinstance(axis, (list, tuple)) else [axis]
