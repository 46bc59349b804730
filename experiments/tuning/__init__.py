"""Tuning: the pooling choice (and other hyperparameters) searched with keras-tuner.
`search_space` reads a config's ``[tune]`` section into a search space, `tuner` runs
the search on one machine or in keras-tuner's distributed mode.
"""
from .tuner import main  # noqa: F401  (experiments.tuning.main, as documented in 0.1.0)
