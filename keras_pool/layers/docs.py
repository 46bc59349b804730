"""Keras-style docstrings for every layer class, composed once per class.

A concrete layer (one that sets `rank`) writes a one-paragraph summary and an
example; `document` adds the Args (the family's own after the shared ones) and
the input and output shapes for its rank and both data formats, so `help()`
shows the full reference without thirty hand-kept copies.
"""

import inspect

SPATIAL = {1: ("steps",), 2: ("height", "width"), 3: ("dim1", "dim2", "dim3")}

WINDOWED_ARGS = """\
pool_size: int or tuple of {rank} ints, the window size.
strides: int, tuple of {rank} ints, or None (the default: `pool_size`).
padding: "valid" (windows inside the input) or "same" (zero-padded as
    Keras/TF place it, the extra cell at the end; padded cells never count).
data_format: "channels_last" or "channels_first"; None uses
    `keras.config.image_data_format()`."""

GLOBAL_ARGS = """\
data_format: "channels_last" or "channels_first"; None uses
    `keras.config.image_data_format()`.
keepdims: bool; True keeps the spatial dims with size 1."""

WINDOWED_OUTPUT = """\
The input's layout with each spatial size n pooled to
(n - pool_size) // strides + 1 ("valid") or ceil(n / strides) ("same")."""

GLOBAL_OUTPUT = """\
(batch, channels); with `keepdims=True` the input's layout with every spatial
size 1."""


def _shapes(rank):
    spatial = ", ".join(SPATIAL[rank])
    return (
        f'channels_last: (batch, {spatial}, channels); '
        f'channels_first: (batch, channels, {spatial}).'
    )


def _indent(text, prefix="    "):
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def document(cls, shared_args, output):
    """`cls.__doc__` with Args, Input shape and Output shape added after its summary."""
    text = inspect.cleandoc(cls.__doc__ or cls.__name__)
    summary, _, example = text.partition("\n\n")
    args = shared_args.format(rank=cls.rank)
    if cls.args_doc:
        args += "\n" + inspect.cleandoc(cls.args_doc)
    sections = [
        summary,
        "Args:\n" + _indent(args) + "\n    **kwargs: base layer arguments (`name`, `dtype`, ...).",
        "Input shape:\n" + _indent(_shapes(cls.rank)),
        "Output shape:\n" + _indent(inspect.cleandoc(output)),
    ]
    if example:
        sections.append("Example:\n\n" + example)
    cls.__doc__ = "\n\n".join(sections) + "\n"
    return cls
