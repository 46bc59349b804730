"""A tuning config (the harness config plus ``[tune]``) and its keras-tuner search space.

This module is where ``tune`` (``experiments.tuning.tuner``) meets the rest of
the harness. `load` reads a tuning TOML file: the usual ``[data] [model]
[train] [eval]`` sections, validated as in ``experiments.config``, and a
``[tune]`` table with its ``[tune.space]`` (the frozen `Tune` and `Space`),
validated the same way through ``config.from_mapping``. Everything is checked
before any training; a bad entry raises ``ConfigError`` naming it
(``tune.space.pooling[1]: unknown value 'mx'; allowed: max, avg, min, lp,
...``). `hyperparameters` turns the space into keras-tuner's, and
`trial_config` turns a trial's values back into an ordinary ``experiments
run`` config, so a trial trains exactly as a sweep's run would, and the best
trial is a config one can run (``best.toml``).

Schema of ``[tune]`` (defaults, except where it says "e.g.")::

    [tune]
    tuner = "random"            # random | bayesian | hyperband
    objective = "val_accuracy"  # or "val_shift_consistency" (shift invariance)
    max_trials = 10             # random / bayesian (hyperband: budget from train.epochs, factor)
    factor = 3                  # hyperband's reduction factor; its max_epochs is train.epochs
    seed = 0                    # the oracle's draws and every trial's weights and shuffling
    retries = 1                 # a crashed, or lost (distributed), trial runs again this often
    lost_after = 60.0           # distributed: seconds without a worker's heartbeat -> trial lost
    [tune.space]
    pooling = ["max", "avg", ...]  # every registry kind; "antialias" too, with per_stage = false
    per_stage = true            # a kind per conv stage; false: one kind for every stage
    head = [""]                 # "": the family's head; and/or flatten, global_max, global_lp, ...
    pool_size = [2, 3]          # e.g.; absent: model.pool_size
    p = [1.0, 8.0]              # Lp's p: [low, high], low >= 1 (equal: fixed)
    p_sampling = "log"          # linear | log
    trainable_p = [false]       # [false, true] tunes it
    learning_rate = [1e-3, 1e-2]  # e.g.; [low, high], log-sampled; absent: train.learning_rate

A tuning config has no ``seeds``, ``baseline``, ``[[variants]]`` or
``[[findings]]``: the
trials' variants come from the space and their seed is ``tune.seed``, so a
trial is repeatable and every trial starts from the same initial weights
where the shapes agree (``experiments.run.models``).
"""

import dataclasses
import math
from pathlib import Path

import keras_tuner

from keras_pool import registry

from .. import config
from ..config import option
from ..errors import ConfigError

TUNERS = ("random", "bayesian", "hyperband")
OBJECTIVES = ("val_accuracy", "val_shift_consistency")
_NOT_IN_TUNE = ("seeds", "baseline", "variants", "findings")


@dataclasses.dataclass(frozen=True)
class Space:
    """``[tune.space]``: the choices a search draws from."""

    # "antialias": Zhang's recipe on the family's model (with per_stage = false only)
    pooling: tuple[str, ...] = option(registry.POOLINGS,
                                      choices=registry.POOLINGS + (config.ANTIALIAS,))
    per_stage: bool = True
    head: tuple[str, ...] = option(("",), choices=("",) + registry.HEADS)  # "": the family's
    pool_size: tuple[int, ...] | None = option(None, low=1)
    p: tuple[float, ...] = option((1.0, 8.0), low=1.0)
    p_sampling: str = option("log", choices=("linear", "log"))
    trainable_p: tuple[bool, ...] = (False,)
    learning_rate: tuple[float, ...] | None = option(None, low=0.0)


@dataclasses.dataclass(frozen=True)
class Tune:
    """``[tune]``: which tuner, what it optimizes, and for how long."""

    tuner: str = option("random", choices=TUNERS)
    objective: str = option("val_accuracy", choices=OBJECTIVES)
    max_trials: int = option(10, low=1)
    factor: int = option(3, low=2)
    seed: int = option(0, low=0)
    retries: int = option(1, low=0)
    lost_after: float = option(60.0, low=1.0)
    space: Space = Space()


def load(path):
    """The base harness config and the `Tune` of the tuning TOML file at `path`.

    A relative ``data.path`` and the model builder's folder are taken relative
    to the file's folder.

    Returns:
        ``(config.Config, Tune)``.

    Raises:
        ConfigError: the file is missing or malformed, has no ``[tune]``, has a
            key a tuning config does not take (``seeds``, ``baseline``,
            ``[[variants]]``, ``[[findings]]``), or a bad entry.
    """
    raw = config.read_toml(path)
    try:
        base, tune = _parse(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    # data.path and the model builder's folder are relative to the tuning file
    return config.with_base_dir(base, Path(path).resolve().parent), tune


def _parse(raw):
    raw = dict(raw)
    tune_raw = raw.pop("tune", None)
    if not isinstance(tune_raw, dict):
        raise ConfigError("tune: missing [tune] table (the search settings)")
    for key in _NOT_IN_TUNE:
        if key in raw:
            raise ConfigError(
                f"{key}: not used by `tune` (trials use tune.seed and the variants of "
                f"[tune.space]); remove it"
            )
    base = config.parse(raw, source="config")
    tune_raw = dict(tune_raw)
    space = config.from_mapping(Space, tune_raw.pop("space", {}), "tune.space")
    tune = dataclasses.replace(config.from_mapping(Tune, tune_raw, "tune"), space=space)
    _check(base, tune)
    return base, tune


def _check(base, tune):
    space = tune.space
    _range(space.p, "tune.space.p")
    if space.learning_rate is not None:
        _range(space.learning_rate, "tune.space.learning_rate")
        if space.learning_rate[0] <= 0:
            raise ConfigError("tune.space.learning_rate: must be > 0 (it is log-sampled)")
    if not base.data.validation_split:
        raise ConfigError("data.validation_split: must be > 0; trials are scored on validation")
    if config.ANTIALIAS in space.pooling and space.per_stage and len(base.model.filters) > 1:
        raise ConfigError("tune.space.pooling: 'antialias' converts the whole model; set "
                          "tune.space.per_stage = false to search it")
    for kind in space.pooling:
        config.check_expressible(config.Variant(pooling=kind), base.model.family,
                                 "tune.space.pooling")
    if tune.tuner == "hyperband" and base.train.epochs < 2:
        raise ConfigError("train.epochs: hyperband needs >= 2 (it is hyperband's max_epochs)")
    if len(base.data.train_sizes) > 1:
        raise ConfigError(f"data.train_size: tune takes one size, got {list(base.data.train_sizes)}")
    if base.data.split_seed == "seed":
        raise ConfigError('data.split_seed: "seed" is for `run`; tune needs a fixed integer')


def _range(values, name):
    if len(values) != 2 or not values[0] <= values[1] or math.isinf(values[1]):
        raise ConfigError(f"{name}: expected [low, high] with low <= high, finite; got "
                          f"{list(values)}")


def _stage_names(tune, stages):
    if not tune.space.per_stage:
        return ["pooling"]
    return [f"pooling_{i + 1}" for i in range(stages)]


def hyperparameters(tune, stages):
    """The keras-tuner search space of `tune` for a CNN with `stages` conv stages.

    Its names: ``pooling_1 .. pooling_<stages>`` (or ``pooling`` with
    ``per_stage = false``), ``head``, ``pool_size`` (only when
    ``space.pool_size`` is set), ``p`` and ``trainable_p`` (only when the space
    has an Lp pooling or head), ``learning_rate`` (only when
    ``space.learning_rate`` is set). A choice of one value, or a range whose
    ends are equal, is a fixed value.

    Returns:
        A ``keras_tuner.HyperParameters``.
    """
    space, hp = tune.space, keras_tuner.HyperParameters()
    for name in _stage_names(tune, stages):
        _choice(hp, name, space.pooling)
    _choice(hp, "head", space.head)
    if space.pool_size is not None:
        _choice(hp, "pool_size", space.pool_size)
    if _may_use_lp(space):
        _range_hp(hp, "p", space.p, space.p_sampling)
        _choice(hp, "trainable_p", space.trainable_p)
    if space.learning_rate is not None:
        _range_hp(hp, "learning_rate", space.learning_rate, "log")
    return hp


def _choice(hp, name, values):
    values = list(dict.fromkeys(values))
    if len(values) == 1:
        hp.Fixed(name, values[0])
    elif isinstance(values[0], bool):
        hp.Boolean(name)
    else:
        hp.Choice(name, values)


def _range_hp(hp, name, bounds, sampling):
    low, high = bounds
    if low == high:
        hp.Fixed(name, low)
    else:
        hp.Float(name, low, high, sampling=sampling)


def _may_use_lp(space):
    return "lp" in space.pooling or "global_lp" in space.head


def _kinds(values):
    if "pooling" in values:
        return (values["pooling"],)
    names = sorted((k for k in values if k.startswith("pooling_")), key=lambda k: int(k[8:]))
    return tuple(values[k] for k in names)


def _uses_lp(values):
    return "lp" in _kinds(values) or values.get("head") == "global_lp"


def used(name, values):
    """Whether hyperparameter `name` shapes the model of a trial with `values`.

    All do except ``p`` and ``trainable_p`` in a trial without an Lp layer.
    """
    return name not in ("p", "trainable_p") or _uses_lp(values)


def trial_config(base, tune, values):
    """The validated ``experiments run`` config that trains the trial with `values`.

    `base` with a single variant (the trial's pooling and head; ``p`` and
    ``trainable_p`` only when it has an Lp layer), the trial's pool size and
    learning rate when they are searched, ``seeds = [tune.seed]`` and, for
    Hyperband, ``train.epochs = values["tuner/epochs"]``.

    Args:
        base: the base config from `load`.
        tune: the `Tune` from `load`.
        values: the trial's ``trial.hyperparameters.values``.

    Returns:
        A `config.Config`.
    """
    kinds = _kinds(values)
    variant = {"pooling": kinds[0] if len(set(kinds)) == 1 else list(kinds),
               "head": values["head"]}
    if _uses_lp(values):
        variant.update(p=float(values["p"]), trainable_p=bool(values["trainable_p"]))
    raw = base.to_dict()
    raw.update(seeds=[tune.seed], variants=[variant])
    if "pool_size" in values:
        raw["model"]["pool_size"] = int(values["pool_size"])
    if "learning_rate" in values:
        raw["train"]["learning_rate"] = float(values["learning_rate"])
    if "tuner/epochs" in values:
        raw["train"]["epochs"] = int(values["tuner/epochs"])
    return config.parse(raw, source="trial config")
