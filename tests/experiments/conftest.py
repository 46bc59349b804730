"""Shared helpers for the experiment tests: tiny, fast configs."""

import copy

import pytest

from experiments.config import to_toml

TINY = {
    "seeds": [0],
    "data": {"dataset": "digits", "train_size": 200, "validation_split": 0.1},
    "model": {"filters": [4, 8]},
    "train": {"epochs": 1, "batch_size": 64, "verbose": 0},
    "eval": {"max_shift": 1, "consistency_pairs": 1},
    "variants": [{"pooling": "max"}, {"pooling": "avg"}],
}


def tune_toml(train="", tune="", space=""):
    """TOML text of a tiny tuning config: extra lines for [train], [tune], [tune.space]."""
    return (
        "[data]\nimage_size = 12\ntrain_size = 128\nvalidation_split = 0.2\n"
        "[model]\nfilters = [4, 8]\n"
        "[eval]\nmax_shift = 2\nconsistency_pairs = 1\n"
        f"[train]\nepochs = 1\nverbose = 0\n{train}\n"
        f"[tune]\n{tune}\n[tune.space]\n{space}\n"
    )


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
