"""Pooling surgery: keras_pool's layers in a model the user already has.

`swap_pooling` replaces every pooling layer of one kind by another; both it and
`keras_pool.antialias` stand on `rebuild`, which makes a new model in which
each layer is cloned, replaced, or wrapped by layers applied before or after
it, with the weights of every kept layer copied by layer. Functional models
are rebuilt with `keras.models.clone_model` (its `clone_function` and
`call_function`); a Sequential model is listed anew (Keras's `call_function`
does not apply to it); nested models, e.g. a `keras.applications` model used
as a layer, are rebuilt the same way. The original model is not touched.

>>> import keras, keras_pool
>>> model = keras.Sequential([
...     keras.Input((16, 16, 3)),
...     keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
...     keras.layers.MaxPooling2D(name="pool"),
...     keras.layers.GlobalAveragePooling2D(name="head"),
... ])
>>> gem = keras_pool.swap_pooling(model, "global_avg", "global_lp", p=3.0, normalize=True)
>>> type(gem.get_layer("head")).__name__
'GlobalLpPooling2D'
"""

import dataclasses

import keras

from keras_pool import registry
from keras_pool._keras_private import Functional, inbound_nodes, producer


@dataclasses.dataclass
class Edit:
    """What a layer of the original model becomes in the rebuilt one.

    `layer` takes its place (called on the same inputs); `before` are
    applied, in order, to its first input and `after` to its output;
    `keep_weights` copies the original's weights into `layer`.
    """

    layer: keras.layers.Layer
    before: tuple = ()
    after: tuple = ()
    keep_weights: bool = True


def clone_layer(layer, **changes):
    """A new layer of the same class and config, with `changes` applied."""
    return type(layer).from_config({**layer.get_config(), **changes})


def is_model(layer):
    return isinstance(layer, (keras.Sequential, Functional))


def check_model(model, function):
    """ValueError unless `model` is a built Functional or Sequential model."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a keras.Model. Received: model={model!r} "
            f"of type {type(model).__name__}"
        )
    if not is_model(model):
        raise ValueError(
            f"{function} rebuilds Functional and Sequential models with "
            f"keras.models.clone_model; {type(model).__name__} {model.name!r} is a "
            f"subclassed model, whose layer graph Keras cannot see or clone. Build it "
            f"as a Functional model (keras.Model(inputs, outputs)) or a Sequential one, "
            f"or construct it with keras_pool layers directly."
        )
    if not model.built or not model.inputs:
        raise ValueError(
            f"{function} needs a built model with a known input; model {model.name!r} "
            f"is not built. Give it a keras.Input (or call model.build(input_shape))."
        )


def leaf_layers(model):
    """Every layer of `model` and its nested models that is not itself a model."""
    for layer in model.layers:
        if is_model(layer):
            yield from leaf_layers(layer)
        else:
            yield layer


def rebuild(model, edit):
    """A new model in which each leaf layer L of `model` becomes `edit(L, parent)`.

    `edit` takes the layer and the model that directly holds it, and returns
    an `Edit`, or None to keep a clone of the layer with its weights. Each
    layer is edited once, in graph order (a shared layer stays shared).
    """
    clones, pairs = {}, []
    new = _rebuild(model, edit, clones, pairs)
    for original, edited in pairs:
        if edited.keep_weights and original.weights:
            edited.layer.set_weights(original.get_weights())
    return new


def _rebuild(model, edit, clones, pairs):
    def clone(layer):
        if id(layer) not in clones:
            if is_model(layer):
                clones[id(layer)] = _rebuild(layer, edit, clones, pairs)
            else:
                edited = edit(layer, model) or Edit(clone_layer(layer))
                pairs.append((layer, edited))
                clones[id(layer)] = edited.layer
                edits[id(edited.layer)] = edited
        return clones[id(layer)]

    edits = {}
    if isinstance(model, keras.Sequential):
        layers = []
        for layer in model.layers:
            new = clone(layer)
            edited = edits.get(id(new), Edit(new))
            layers += [*edited.before, new, *edited.after]
        source = model.inputs[0]
        inputs = keras.Input(batch_shape=source.shape, dtype=source.dtype)
        new = keras.Sequential([inputs, *layers], name=model.name, trainable=model.trainable)
        if model.compiled:  # as clone_model does for a Functional model
            new.compile_from_config(model.get_compile_config())
        return new

    def call(layer, *args, **kwargs):
        edited = edits.get(id(layer))
        if edited is None:
            return layer(*args, **kwargs)
        if edited.before:
            first = args[0]
            for extra in edited.before:
                first = extra(first)
            args = (first, *args[1:])
        outputs = layer(*args, **kwargs)
        for extra in edited.after:
            outputs = extra(outputs)
        return outputs

    # Inputs keep their layer names (clone_model names them after their tensors).
    inputs = keras.tree.map_structure(
        lambda t: keras.Input(batch_shape=t.shape, dtype=t.dtype,
                              name=producer(t).name),
        model.input,
    )
    return keras.models.clone_model(
        model, input_tensors=inputs, clone_function=clone, call_function=call
    )


def _pooling_kind(name_or_class, role):
    """(classes, registry name or None, is_global) of a `source` or `target`."""
    if isinstance(name_or_class, type) and issubclass(name_or_class, keras.layers.Layer):
        return (name_or_class,), None, None
    if isinstance(name_or_class, str):
        if name_or_class in registry.POOLINGS:
            return registry.pooling_classes(name_or_class), name_or_class, False
        if name_or_class in registry.HEADS and name_or_class != "flatten":
            return registry.pooling_classes(name_or_class), name_or_class, True
    names = [*registry.POOLINGS, *(h for h in registry.HEADS if h != "flatten")]
    raise ValueError(
        f"`{role}` must be a pooling name ({', '.join(names)}) or a Keras layer class. "
        f"Received: {role}={name_or_class!r}"
    )


def _rank(layer):
    return layer.input_spec.ndim - 2


def _is_global(layer):
    return not hasattr(layer, "pool_size") and not hasattr(layer, "strides")


def swap_pooling(model, source, target, **layer_kwargs):
    """Replace every pooling layer of kind `source` in `model` by a `target` layer.

    Every layer of kind `source` (1D, 2D and 3D, in nested models too) becomes
    a `target` layer of the same rank, name and dtype policy with the same
    window arguments (`pool_size`, `strides`, `padding`, `data_format`; or
    `data_format` and `keepdims` for global pooling) plus `layer_kwargs`.
    Every other layer is cloned with its weights; `model` is left untouched.

    Args:
        model: a built Functional or Sequential `keras.Model`.
        source: a registry name ("max", "avg", "global_avg", "global_max", or
            a keras_pool name: "lp", "min", "global_lp", ...) or a layer
            class (its instances and subclasses are replaced).
        target: a registry name or a layer class, windowed for a windowed
            source and global for a global one.
        **layer_kwargs: the target's own arguments, e.g. `p=3.0,
            trainable_p=True` for "lp" or "global_lp".

    Returns:
        A new model of the same kind and the same inputs and outputs.

    Raises:
        ValueError: for an unknown name, a model without a `source` layer, a
            subclassed model, a target that does not take the arguments, or a
            target whose output shape differs from the replaced layer's.

    >>> import keras, keras_pool
    >>> base = keras.applications.ResNet50(
    ...     weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3))
    >>> gem = keras_pool.swap_pooling(base, "global_avg", "global_lp", p=3.0,
    ...                               normalize=True, trainable_p=True)
    >>> type(gem.layers[-1]).__name__, gem.output_shape
    ('GlobalLpPooling2D', (None, 2048))
    """
    check_model(model, "swap_pooling")
    sources, _, _ = _pooling_kind(source, "source")
    targets, target_name, target_global = _pooling_kind(target, "target")
    if not any(isinstance(layer, sources) for layer in leaf_layers(model)):
        poolings = sorted({type(layer).__name__ for layer in leaf_layers(model)
                           if "Pool" in type(layer).__name__})
        raise ValueError(
            f"`source` {source!r} matches no layer of model {model.name!r}: nothing to swap. "
            f"Its pooling layers: {poolings}"
        )

    def make(layer):
        rank, is_global = _rank(layer), _is_global(layer)
        if target_global is not None and target_global != is_global:
            raise ValueError(
                f"`target` {target!r} is a {'global' if target_global else 'windowed'} "
                f"pooling, but layer {layer.name!r} ({type(layer).__name__}) is "
                f"{'global' if is_global else 'windowed'}: swap windowed for windowed "
                f"and global for global."
            )
        if is_global:
            window = {"data_format": layer.data_format, "keepdims": layer.keepdims}
        else:
            # A BlurPool source has only strides; its output has "same" sizes.
            window = {"pool_size": getattr(layer, "pool_size", layer.strides),
                      "strides": layer.strides, "padding": getattr(layer, "padding", "same"),
                      "data_format": layer.data_format}
        common = {"name": layer.name, "dtype": layer.dtype_policy, "trainable": layer.trainable}
        if target_name is None:
            cls = targets[0]
        else:
            # The registry checks the target's own arguments by name.
            check = registry.head if is_global else registry.pooling
            cls = type(check(target_name, rank, **window, **layer_kwargs))
            if target_name == "blur":  # a blur has no window, only its stride
                window = {"strides": layer.strides, "data_format": layer.data_format}
            if target_name == "fractional" and not {"output_size", "output_ratio"} & set(
                    layer_kwargs):
                window = _fractional_window(layer, window)
        try:
            new = cls(**window, **layer_kwargs, **common)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"`target` {target!r} does not take the arguments of layer {layer.name!r} "
                f"({type(layer).__name__}): {error}"
            ) from None
        _check_same_shape(layer, new, target)
        return new

    return rebuild(model, lambda layer, _: Edit(make(layer), keep_weights=False)
                   if isinstance(layer, sources) else None)


def _fractional_window(layer, window):
    """A fractional pooling's arguments in place of windowed `layer`: its window size and
    the replaced layer's output size when the model fixes it (else the ratio 1 / strides,
    which gives "valid" pooling's sizes)."""
    fractional = {"pool_size": window["pool_size"], "data_format": window["data_format"]}
    try:
        out = layer.output.shape
    except (AttributeError, ValueError):  # several nodes, or none
        out = None
    spatial = None if out is None else (
        tuple(out[1:-1]) if window["data_format"] == "channels_last" else tuple(out[2:]))
    if spatial and all(isinstance(n, int) for n in spatial):
        return {**fractional, "output_size": spatial}
    return {**fractional, "output_ratio": tuple(1.0 / s for s in window["strides"])}


def _check_same_shape(layer, new, target):
    """ValueError when `new` would not give `layer`'s output shape."""
    try:
        shapes = [(node.input_tensors[0].shape, node.output_tensors[0].shape)
                  for node in inbound_nodes(layer)]
    except (AttributeError, IndexError):
        return
    for in_shape, out_shape in shapes:
        got = tuple(new.compute_output_shape(in_shape))
        if got != tuple(out_shape):
            raise ValueError(
                f"`target` {target!r} at layer {layer.name!r} gives output shape {got} "
                f"where the model has {tuple(out_shape)}; the layers after it expect the "
                f"original shape. Choose other window arguments or another target."
            )
