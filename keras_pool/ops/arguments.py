"""Argument checks shared by the ops and the layers.

Each normalizer returns the canonical value (a tuple of ints, a lower-case
string, a float) or raises a ValueError that names the argument and the value
received. Family-specific checks live with their family (`normalize_p` in
`lp_pooling`, `normalize_blur_arguments` in `blur_pooling`).
"""

import keras


PADDINGS = ("valid", "same")


def normalize_tuple(value, rank, name):
    """`value` as a tuple of `rank` positive ints; ValueError naming `name`."""
    values = (value,) * rank if isinstance(value, int) else value
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a positive int or a tuple of {rank} positive "
            f"ints. Received: {name}={value!r}"
        ) from None
    if len(values) != rank or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a tuple of {rank} positive "
            f"ints. Received: {name}={value!r}"
        )
    return values


def normalize_padding(padding):
    return normalize_choice(padding, "padding", PADDINGS)


def normalize_data_format(data_format):
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value is None:
        return keras.config.image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be one of ('channels_last', 'channels_first') "
            f"or None. Received: data_format={data_format!r}"
        )
    return value


def normalize_bool(value, name):
    """`value` if it is a bool; ValueError naming `name` otherwise ("false" is no bool)."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def normalize_number(value, name, low, high):
    """`value` as a float in [low, high]; ValueError naming `name` for anything else
    (strings and bools included)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (
        low <= float(value) <= high
    ):
        raise ValueError(
            f"`{name}` must be a number in [{low}, {high}]. Received: {name}={value!r}"
        )
    return float(value)


def normalize_choice(value, name, choices):
    """`value` lower-cased if it is one of `choices`; ValueError naming `name` otherwise."""
    lowered = value.lower() if isinstance(value, str) else value
    if lowered not in choices:
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")
    return lowered


def _check_rank(inputs, name):
    """The number of spatial dims of `inputs` (1, 2 or 3); ValueError otherwise."""
    ndim = len(inputs.shape)
    if ndim not in (3, 4, 5):
        raise ValueError(
            f"`{name}` expects a 3D, 4D or 5D input (batch, spatial..., "
            f"channels). Received input shape: {tuple(inputs.shape)}"
        )
    return ndim - 2
