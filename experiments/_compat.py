"""`tomllib` on every supported Python: the standard library's (3.11+) or `tomli` (3.10).

``tomllib`` is the module; it has ``load``, ``loads`` and ``TOMLDecodeError``.
"""

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the `tomli` backport (a dependency there)
    import tomli as tomllib

__all__ = ["tomllib"]
