"""Shared helpers for the experiment tests: a tiny, fast config and a TOML writer."""

import copy
import json

import pytest

TINY = {
    "seeds": [0],
    "data": {"dataset": "digits", "train_size": 200, "validation_split": 0.1},
    "model": {"filters": [4, 8]},
    "train": {"epochs": 1, "batch_size": 64, "verbose": 0},
    "eval": {"max_shift": 1, "consistency_pairs": 1},
    "variants": [{"pooling": "max"}, {"pooling": "avg"}],
}


def to_toml(raw):
    """TOML text for a config-shaped dict (scalars, lists, tables, [[variants]])."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in raw.items() if not isinstance(v, (dict, list))
             or (isinstance(v, list) and not (v and isinstance(v[0], dict)))]
    for key, value in raw.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def tiny_raw():
    """A fresh copy of the tiny config as a dict (edit it freely)."""
    return copy.deepcopy(TINY)


@pytest.fixture
def write_config(tmp_path):
    """`write_config(raw, name="tiny")` -> path of a TOML file holding `raw`."""
    def write(raw, name="tiny"):
        path = tmp_path / f"{name}.toml"
        path.write_text(to_toml(raw), encoding="utf-8")
        return path
    return write
