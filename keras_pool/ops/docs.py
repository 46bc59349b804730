"""The Args and Returns of the ops' docstrings, each entry written once.

An op's docstring in its family module is its description and its example;
`document` puts an `Args:` section (one entry per parameter of the op's
signature, in order) and a `Returns:` section between them. The entries
shared by several families are `ARGS` here; a family passes its own (and any
entry it words differently) by name. `help()`, the doctests and the API
reference (which reads the docstrings by inspection, `force_inspection` in
docs/api/ops.md) all see the composed text.
"""

import inspect

ARGS = {
    "inputs": """\
tensor of rank 3, 4 or 5 (1D, 2D or 3D pooling), or a symbolic
`keras.Input` (then a `KerasTensor` of the output shape is returned).""",
    "pool_size": "int or tuple of ints, the window size.",
    "strides": "int or tuple; `None` means `pool_size`.",
    "padding": """\
`"valid"` or `"same"` (Keras/TF placement, the extra cell at the end);
padded cells never count.""",
    "data_format": """\
`"channels_last"` (N, *spatial, C) or `"channels_first"` (N, C, *spatial);
None uses `keras.config.image_data_format()`.""",
    "keepdims": "bool; True keeps the spatial dims with size 1.",
}

WINDOWED_RETURNS = """\
A tensor of the input's dtype and layout, each spatial size n pooled to
(n - pool_size) // strides + 1 ("valid") or ceil(n / strides) ("same").
A window larger than a "valid" input is a ValueError."""

GLOBAL_RETURNS = """\
(N, C), or with `keepdims=True` the input's layout with every spatial size 1;
the input's dtype."""


def _indent(text, prefix):
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def document(returns, **own):
    """Decorator: the op's docstring with Args (from `own`, then `ARGS`) and `returns`
    inserted before its example (the first `>>>` line). A parameter with no entry
    is a TypeError at import, so a new argument cannot go undocumented."""

    def decorate(fn):
        parameters = inspect.signature(fn).parameters
        unknown = set(own) - set(parameters)
        if unknown:
            raise TypeError(f"{fn.__name__}: Args entries for no parameter: {sorted(unknown)}")
        text = inspect.cleandoc(fn.__doc__)
        start = text.find("\n>>>")
        description, example = (text, "") if start < 0 else (text[:start], text[start + 1 :])
        entries = []
        for name in parameters:
            entry = own.get(name, ARGS.get(name))
            if entry is None:
                raise TypeError(f"{fn.__name__}: no Args entry for `{name}`")
            first, _, rest = inspect.cleandoc(entry).partition("\n")
            entries.append(f"    {name}: {first}" + ("\n" + _indent(rest, " " * 8) if rest else ""))
        sections = [
            description.rstrip(),
            "Args:\n" + "\n".join(entries),
            "Returns:\n" + _indent(inspect.cleandoc(returns), " " * 4),
        ]
        if example:
            sections.append(example)
        fn.__doc__ = "\n\n".join(sections) + "\n"
        return fn

    return decorate
