"""Experiment configs: TOML files -> validated, frozen dataclasses.

Every input of an experiment is checked here, before anything trains. `load`
reads a TOML file and `parse` validates an already-parsed mapping; the result is
a frozen `Config` (of `DataConfig`, `ModelConfig`, `TrainConfig`, `EvalConfig`,
`Variant` and `Finding`) that the rest of the harness only reads. Bad input
raises `ConfigError` (``experiments.errors``), whose message is one line naming
the key and the allowed values (``configs/x.toml: variants[1].pooling: unknown
value 'mx'; allowed: max, avg, min, lp, ...``); ``python -m experiments``
turns it into exit status 2.

The checks of a single key live on the dataclass fields: a field made with
`option` carries its choices and bounds, and `from_mapping` applies them to any
such dataclass, so a new section (tuning's ``[tune]``,
``experiments.tuning.search_space``) is a dataclass and one call. The checks
that span keys run after, in `parse`: a pooling the model family cannot build,
a per-stage pooling list whose length is not that of ``model.filters``,
duplicate variant labels, early stopping without a validation split, XLA under
op determinism, findings that name unknown variants, metrics or training-set
sizes. ``data.pad = "auto"`` is resolved there too, to the `border` for the
larger of ``eval.max_shift`` and ``train.augment_shift``. A `Config` turns back
into a plain mapping with `Config.to_dict` and into TOML with `to_toml` (what a
run folder's ``config.json`` and tuning's ``best.toml`` hold).

Schema (every key optional; defaults below; each key's meaning is in the
config reference, ``docs/config.md``)::

    seeds = [0, 1, 2]          # one run per variant per seed (per training-set size)
    baseline = ""              # variant label for paired differences; "" = "max" if there is one
    [data]    dataset="digits" path="" layout="auto" test_split=0.2 data_dir="" download=false
              image_size=0 pad=0 (or "auto") train_size=0 (or a list: one regime per size)
              validation_split=0.1 normalize="unit" split_seed=0 (or "seed": the run's seed)
    [data.mnist1d] num_samples=5000 train_split=0.8 ... seed=42  (get_dataset_args)
    [model]   family="cnn" filters=[16, 32] kernel_size=3 pool_size=2 dense_units=0 dropout=0.0
              convs_per_stage=2 blocks=1 bn_momentum=0.9 application="" builder="" builder_dir=""
    [train]   epochs=10 batch_size=64 optimizer="adam" learning_rate=0.001 patience=0
              monitor="val_loss" steps=0 eval_every=0 steps_per_execution=1
              augment_shift=0 deterministic=true jit_compile=false distribution="none"
              verbose=1 tensorboard=false
    [eval]    max_shift=4 consistency_pairs=5 batch_size=256
    [[variants]] pooling="max" head="" (the family's) p=... normalize=... trainable_p=... name=""
                 (pooling may list one kind per conv stage: ["max", "lp"]; besides the
                 registry's kinds, "none" and "stride" are the no-pooling baselines and
                 "antialias" is Zhang's recipe on the family's model; no [[variants]]:
                 one variant per registry pooling kind)
    [[findings]] name a b metric="test_accuracy" direction="greater" train_size=0
                 versus_size=0 source=""
"""

import dataclasses
import json
import math
import re
import types
import typing
from pathlib import Path

from keras_pool import registry

from .._compat import tomllib
from ..errors import ConfigError  # noqa: F401  (experiments.config.ConfigError)


def option(default, *, choices=None, low=None, high=None, choices_str=None):
    """A dataclass field with the checks `from_mapping` applies.

    `choices` lists the allowed values (the default is allowed too); `low`/`high` bound numbers (each
    element, for tuples); `choices_str` lists the strings a field typed
    ``int | str`` accepts besides numbers.
    """
    return dataclasses.field(
        default=default,
        metadata={"choices": choices, "low": low, "high": high, "choices_str": choices_str,
                  "default": default},
    )


# Besides these, `data.dataset` takes any TFDS image-classification name.
DATASETS = ("digits", "mnist1d", "mnist5k", "folder", "npz",
            "mnist", "fashion_mnist", "cifar10", "cifar100", "svhn_cropped")
EMBEDDED = ("digits", "mnist1d", "mnist5k")  # generated or shipped by a package: no download
USER_DATA = ("folder", "npz")  # the user's own files, at data.path
LAYOUTS = ("auto", "images", "signals")
BASELINES = ("none", "stride")  # conv at full resolution / conv strided by pool_size
FRACTIONAL = "fractional"  # the registry's fractional max pooling: takes `ratio`, `test_draws`
ANTIALIAS = "antialias"  # Zhang's recipe (keras_pool.antialias) on the family's model
FAMILIES = ("cnn", "vgg", "resnet", "application", "custom")
DEFAULT_HEADS = {"cnn": "flatten", "vgg": "flatten", "resnet": "global_avg",
                 "application": "global_avg", "custom": "global_avg"}
DIRECTIONS = ("greater", "less")
NORMALIZATIONS = ("unit", "standardize")
OPTIMIZERS = ("adam", "sgd")
DISTRIBUTIONS = ("none", "mirrored")
MONITORS = ("val_loss", "val_accuracy")


@dataclasses.dataclass(frozen=True)
class Mnist1DConfig:
    """`mnist1d.data.get_dataset_args()` overrides (Greydanus 2020); defaults are the package's.

    `num_samples` examples are generated (train_split of them train, the rest test).
    """

    num_samples: int = option(5000, low=20)
    train_split: float = option(0.8, low=0.05, high=0.95)
    template_len: int = option(12, low=1)
    padding: tuple[int, ...] = option((36, 60), low=0)
    scale_coeff: float = option(0.4, low=0.0)
    max_translation: int = option(48, low=0)
    corr_noise_scale: float = option(0.25, low=0.0)
    iid_noise_scale: float = option(2e-2, low=0.0)
    shear_scale: float = option(0.75, low=0.0)
    shuffle_seq: bool = False
    final_seq_length: int = option(40, low=4)
    seed: int = option(42, low=0)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which images, how many, and how they are scaled (see `experiments.run.data`)."""

    dataset: str = "digits"  # one of DATASETS, or any TFDS image-classification name
    path: str = ""  # "folder" / "npz": the folder or file (relative: to the config file)
    layout: str = option("auto", choices=LAYOUTS)  # "npz": (N, L, C) arrays are "signals"
    test_split: float = option(0.2, low=0.05, high=0.9)  # "folder" / "npz" without a test set
    data_dir: str = ""  # TFDS folder; "" means $TFDS_DATA_DIR or ~/tensorflow_datasets
    download: bool = False  # TFDS only: download when not prepared (needs internet)
    # square resize; 0 keeps the native size; at most 4096 (more is a typo that would only
    # run out of memory)
    image_size: int = option(0, low=0, high=4096)
    # zero border added on every side, after the resize; "auto" = wide enough that no
    # shift up to eval.max_shift (or train.augment_shift) clips a feature map
    pad: int | str = option(0, low=0, choices_str=("auto",))
    # examples to fit on; 0 = all left after validation; a list = one regime per size
    train_size: int | tuple[int, ...] = option(0, low=0)
    validation_split: float = option(0.1, low=0.0, high=0.5)
    normalize: str = option("unit", choices=NORMALIZATIONS)
    # fixes the train/test split (embedded sets), the train subset and validation split;
    # "seed" = the run's seed, so the split varies with the seed
    split_seed: int | str = option(0, low=0, choices_str=("seed",))
    mnist1d: Mnist1DConfig = Mnist1DConfig()  # generation arguments ([data.mnist1d])

    @property
    def train_sizes(self):
        """The training-set sizes (regimes) as a tuple."""
        return (self.train_size,) if isinstance(self.train_size, int) else self.train_size



@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The model family (see `experiments.run.models`): one stage per entry of `filters`,
    each closed by the variant's pooling."""

    family: str = option("cnn", choices=FAMILIES)
    filters: tuple[int, ...] = option((16, 32), low=1)
    kernel_size: int = option(3, low=1)
    pool_size: int = option(2, low=1)
    dense_units: int = option(0, low=0)  # hidden dense layer before the classifier; 0 = none
    dropout: float = option(0.0, low=0.0, high=0.9)
    convs_per_stage: int = option(2, low=1)  # "vgg"
    blocks: int = option(1, low=1)  # "resnet": basic blocks per stage
    bn_momentum: float = option(0.9, low=0.0, high=0.999)  # "vgg", "resnet" (PyTorch's 0.1)
    application: str = ""  # "application": a keras.applications name, e.g. "ResNet50"
    builder: str = ""  # "custom": "module:function" (module in the config's folder or on PYTHONPATH)
    builder_dir: str = ""  # folder searched first for the builder's module ("": the config's)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How each model is fitted."""

    epochs: int = option(10, low=1)
    batch_size: int = option(64, low=1)
    optimizer: str = option("adam", choices=OPTIMIZERS)  # "sgd" has momentum 0.9
    learning_rate: float = option(1e-3, low=0.0)
    # early stopping on `monitor`, best weights restored (epochs = the budget);
    # 0 = off (train all epochs)
    patience: int = option(0, low=0)
    monitor: str = option("val_loss", choices=MONITORS)  # what early stopping watches
    # > 0: the budget in optimizer steps instead of epochs (the training set repeats,
    # reshuffled each pass); history is recorded every `eval_every` steps
    steps: int = option(0, low=0)
    eval_every: int = option(0, low=0)  # with `steps`: steps per history point (0 = one pass)
    steps_per_execution: int = option(1, low=1)  # Keras: steps per compiled call (speed only)
    augment_shift: int = option(0, low=0)  # random shifts up to k during training (0 = off)
    deterministic: bool = True  # TensorFlow op determinism (bit-repeatable on one machine)
    jit_compile: bool = False  # XLA; TensorFlow allows it only with deterministic = false
    distribution: str = option("none", choices=DISTRIBUTIONS)
    verbose: int = option(1, choices=(0, 1, 2))  # Keras fit output (1 -> 2 when not a terminal)
    tensorboard: bool = False  # TensorBoard logs per run, in <out>/tensorboard/<run>


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Translation-invariance measurements (see `experiments.run.metrics`)."""

    max_shift: int = option(4, low=0)  # accuracy at shifts 0..max_shift; consistency within ±
    consistency_pairs: int = option(5, low=1)  # random shift pairs per test image
    batch_size: int = option(256, low=1)


_LP_OPTIONS = ("p", "normalize", "trainable_p")
_LABEL = re.compile(r"[A-Za-z0-9_.+-]+")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One model variant: a pooling for every stage (or a list, one per stage), a head, Lp options.

    `p`, `normalize` and `trainable_p` go to every Lp layer of the variant
    (pooling "lp" and/or head "global_lp"); None keeps the layer default.
    `ratio` is the output ratio of every fractional pooling of the variant
    (None: 1 / `model.pool_size`, a drop-in for max pooling; Graham's
    1/sqrt(2) halves the size over two stages). `test_draws` is how its
    fractional poolings score: 0 (default) with the fixed windows of
    inference, N > 0 with the class probabilities averaged over N random draws
    of the windows (Graham 2014's test-time averaging). Training is the same
    for every `test_draws`: with the same seed, variants that differ only in it
    score one trained model.
    """

    pooling: str | tuple[str, ...] = option(
        "max", choices=registry.POOLINGS + BASELINES + (ANTIALIAS,))
    head: str = option("", choices=registry.HEADS)  # default "": the family's (DEFAULT_HEADS)
    p: float | None = option(None, low=1.0)
    normalize: bool | None = None
    trainable_p: bool | None = None
    ratio: float | None = option(None, low=0.0, high=1.0)
    test_draws: int = option(0, low=0, high=1000)
    name: str = ""  # label override

    @property
    def label(self):
        """Short name of the (pooling, head, options) combination, or `name` if set.

        ``max``, ``lp-p3``, ``max+global_avg``, ``max-lp`` (one kind per stage);
        unique within a config (`parse` checks) and safe in file names.
        """
        if self.name:
            return self.name
        text = self.pooling_label
        if self.head not in ("", "flatten"):
            text += f"+{self.head}"
        if self.p is not None:
            text += f"-p{self.p:g}"
        if self.normalize:
            text += "-norm"
        if self.trainable_p:
            text += "-trainable"
        if self.ratio is not None:
            text += f"-r{self.ratio:.3g}"
        if self.test_draws:
            text += f"-draws{self.test_draws}"
        return text

    @property
    def kinds(self):
        """The pooling names as a tuple: one for every stage, or one per stage."""
        return (self.pooling,) if isinstance(self.pooling, str) else self.pooling

    @property
    def pooling_label(self):
        """The pooling part of the label: ``max``, or ``max-lp`` for one kind per stage."""
        return "-".join(self.kinds)

    @property
    def lp_options(self):
        """The Lp keyword arguments that are set."""
        return {k: getattr(self, k) for k in _LP_OPTIONS if getattr(self, k) is not None}

    @property
    def layer_options(self):
        """The pooling layers' keyword arguments that are set: the Lp ones and
        fractional pooling's ``output_ratio``."""
        ratio = {} if self.ratio is None else {"output_ratio": self.ratio}
        return {**self.lp_options, **ratio}


DEFAULT_VARIANTS = tuple(Variant(pooling=name) for name in registry.POOLINGS)
METRICS = ("test_accuracy", "train_accuracy", "generalization_gap", "test_loss", "train_loss",
           "shift_consistency")  # plus accuracy_shift_<s> and accuracy_axis_shift_<s>


@dataclasses.dataclass(frozen=True)
class Finding:
    """A claim to test: variant `a` has a `direction` (greater/less) `metric` than variant `b`.

    Judged on the paired differences a - b over seeds (`experiments.results.findings`),
    at training-set size `train_size` (0 = at every regime).
    """

    name: str = ""
    a: str = ""
    b: str = ""
    metric: str = "test_accuracy"
    direction: str = option("greater", choices=DIRECTIONS)
    train_size: int = option(0, low=0)
    # > 0: the claim is about the margin: (a - b at train_size) - (a - b at versus_size),
    # paired by seed, is `direction` than 0 (e.g. the margin shrinks with more data)
    versus_size: int = option(0, low=0)
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole experiment: every variant is trained once per seed."""

    seeds: tuple[int, ...] = option((0, 1, 2), low=0)
    baseline: str = ""
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    variants: tuple[Variant, ...] = DEFAULT_VARIANTS
    findings: tuple[Finding, ...] = ()

    @property
    def baseline_label(self):
        """The variant paired differences are taken against, or None."""
        labels = [v.label for v in self.variants]
        if self.baseline:
            return self.baseline
        return "max" if "max" in labels else None

    def to_dict(self):
        """A plain, TOML-shaped dict (lists, no None values); ``parse(cfg.to_dict()) == cfg``."""
        return _plain(dataclasses.asdict(self))


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig}


def read_toml(path):
    """The parsed TOML file at `path`, not validated.

    A module with a section of its own (tuning's ``[tune]``) reads the file with
    this, pops its section and passes the rest to `parse`.

    Raises:
        ConfigError: the file is missing, is a folder, or is not valid TOML.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def load(path):
    """The validated `Config` in the TOML file at `path`.

    A relative `data.path` and the custom builder's folder (`model.builder_dir`,
    when unset) are taken relative to the file's folder (`with_base_dir`).

    Raises:
        ConfigError: the file is missing or malformed, or a key or value is bad;
            the message names the file and the key.
    """
    config = parse(read_toml(path), source=str(path))
    return with_base_dir(config, Path(path).resolve().parent)


def with_base_dir(config, folder):
    """`config` with a relative `data.path` and an unset `model.builder_dir` under `folder`."""
    data, model = config.data, config.model
    if data.path and not Path(data.path).is_absolute():
        data = dataclasses.replace(data, path=str(Path(folder) / data.path))
    if model.builder and not model.builder_dir:
        model = dataclasses.replace(model, builder_dir=str(folder))
    return dataclasses.replace(config, data=data, model=model)


def parse(raw, source="config"):
    """Validate a mapping (parsed TOML) into a `Config`.

    Args:
        raw: the mapping, shaped as the TOML file (sections as dicts,
            ``variants`` and ``findings`` as lists of dicts).
        source: what error messages name first (a file path).

    Raises:
        ConfigError: ``<source>: <key>: <what is wrong; what is allowed>``.
    """
    try:
        return _parse(raw)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def _parse(raw):
    _mapping(raw, "config")
    top = {k: v for k, v in raw.items() if k not in _SECTIONS and k not in _LISTS}
    base = from_mapping(Config, top, "")
    _mapping(raw.get("data", {}), "data")
    data_raw = dict(raw.get("data", {}))
    mnist1d = from_mapping(Mnist1DConfig, data_raw.pop("mnist1d", {}), "data.mnist1d")
    sections = {name: from_mapping(cls, data_raw if name == "data" else raw.get(name, {}), name)
                for name, cls in _SECTIONS.items()}
    sections["data"] = dataclasses.replace(sections["data"], mnist1d=mnist1d)
    variants = DEFAULT_VARIANTS
    if "variants" in raw:
        variants = tuple(_variant(item, f"variants[{i}]")
                         for i, item in enumerate(_tables(raw, "variants")))
    findings = tuple(from_mapping(Finding, item, f"findings[{i}]")
                     for i, item in enumerate(_tables(raw, "findings")))
    config = dataclasses.replace(base, variants=variants, findings=findings, **sections)
    if config.data.pad == "auto":
        shift = max(config.eval.max_shift, config.train.augment_shift)
        config = dataclasses.replace(
            config, data=dataclasses.replace(config.data, pad=border(config.model, shift)))
    _check_config(config)
    return config


_LISTS = ("variants", "findings")


def _tables(raw, key):
    items = raw.get(key, [])
    if not isinstance(items, list) or (key == "variants" and not items):
        raise ConfigError(f"{key}: expected a non-empty array of tables ([[{key}]])")
    return items


def border(model_cfg, max_shift):
    """Zero border (per side) so that a shift up to `max_shift` clips no feature map.

    What ``data.pad = "auto"`` resolves to (`model_cfg` is the `ModelConfig`).

    A pattern's footprint grows, at conv/pool stage i (input stride J_i, the
    product of the earlier strides), by J_i * (kernel_size // 2) for the
    "same" conv and J_i * (pool_size - 1) for the pooling window; the border
    must hold the shift plus that growth.
    """
    reach, jump = 0, 1
    for _ in model_cfg.filters:
        reach += jump * (model_cfg.kernel_size // 2 + model_cfg.pool_size - 1)
        jump *= model_cfg.pool_size
    return max_shift + reach


def _variant(raw, where):
    variant = from_mapping(Variant, raw, where)
    uses_lp = "lp" in (*variant.kinds, variant.head.removeprefix("global_"))
    for key in _LP_OPTIONS:
        if getattr(variant, key) is not None and not uses_lp:
            raise ConfigError(
                f"{where}.{key}: only used by pooling 'lp' or head 'global_lp' "
                f"(this variant has pooling {variant.pooling!r}, head {variant.head!r})"
            )
    if variant.trainable_p and variant.p == float("inf"):
        raise ConfigError(f"{where}.p: must be finite when trainable_p = true")
    for key in ("ratio", "test_draws"):
        if getattr(variant, key) and FRACTIONAL not in variant.kinds:
            raise ConfigError(f"{where}.{key}: only used by pooling {FRACTIONAL!r} (this "
                              f"variant has pooling {variant.pooling!r})")
    if variant.ratio is not None and not 0.0 < variant.ratio < 1.0:
        raise ConfigError(f"{where}.ratio: must be in (0, 1), got {variant.ratio!r}")
    if variant.name and not _LABEL.fullmatch(variant.name):
        raise ConfigError(
            f"{where}.name: {variant.name!r} may only use letters, digits and _ . + -"
        )
    return variant


def _check_config(config):
    stages = len(config.model.filters)
    _check_data(config.data)
    _check_family(config.model)
    for i, variant in enumerate(config.variants):
        if not isinstance(variant.pooling, str) and len(variant.pooling) != stages:
            raise ConfigError(
                f"variants[{i}].pooling: {len(variant.pooling)} kinds for {stages} conv stages "
                f"(model.filters); give one kind, or one per stage"
            )
        check_expressible(variant, config.model.family, f"variants[{i}].pooling")
    labels = [v.label for v in config.variants]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise ConfigError(
                f"variants[{i}]: duplicate variant {label!r}; give one a distinct `name`"
            )
    if config.baseline and config.baseline not in labels:
        raise ConfigError(
            f"baseline: unknown variant {config.baseline!r}; allowed: {', '.join(labels)}"
        )
    if config.train.jit_compile and config.train.deterministic:
        raise ConfigError(
            "train.jit_compile: true needs train.deterministic = false "
            "(TensorFlow turns XLA off under op determinism)"
        )
    if not config.seeds or len(set(config.seeds)) != len(config.seeds):
        raise ConfigError(f"seeds: expected distinct integers, got {list(config.seeds)}")
    sizes = config.data.train_sizes
    if len(set(sizes)) != len(sizes):
        raise ConfigError(f"data.train_size: expected distinct sizes, got {list(sizes)}")
    if config.train.patience and not config.data.validation_split:
        raise ConfigError("train.patience: early stopping needs data.validation_split > 0")
    if config.train.eval_every and not config.train.steps:
        raise ConfigError("train.eval_every: only used with train.steps > 0")
    for i, finding in enumerate(config.findings):
        _check_finding(finding, f"findings[{i}]", labels, config)


def _check_data(cfg):
    if cfg.dataset in USER_DATA and not cfg.path:
        raise ConfigError(f"data.path: dataset {cfg.dataset!r} needs the path of its "
                          f"{'folder' if cfg.dataset == 'folder' else '.npz file'}")
    if cfg.path and cfg.dataset not in USER_DATA:
        raise ConfigError(f"data.path: only used by dataset 'folder' or 'npz' "
                          f"(this config has dataset {cfg.dataset!r})")
    if cfg.dataset not in DATASETS and not _is_tfds_name(cfg.dataset):
        raise ConfigError(f"data.dataset: unknown value {cfg.dataset!r}; allowed: "
                          f"{', '.join(DATASETS)}, or a TFDS image-classification name")


def _is_tfds_name(name):
    """Whether TFDS knows `name` ("beans", "cifar10/config:3.0.2"), offline."""
    if not re.fullmatch(r"[a-z0-9_]+(/[a-z0-9_.]+)?(:[0-9.]+)?", name):
        return False
    try:
        import tensorflow_datasets as tfds
    except ImportError:  # no TFDS here: data.load says what to install
        return True
    return re.split(r"[/:]", name)[0] in tfds.list_builders()


def _check_family(model):
    family = model.family
    if family == "application":
        if not model.application:
            raise ConfigError("model.application: family 'application' needs a "
                              "keras.applications name, e.g. \"ResNet50\"")
        import keras

        if not callable(getattr(keras.applications, model.application, None)):
            raise ConfigError(f"model.application: unknown keras.applications model "
                              f"{model.application!r} (e.g. ResNet50, MobileNetV2, VGG16)")
    elif model.application:
        raise ConfigError(f"model.application: only used by family 'application' "
                          f"(this config has family {family!r})")
    if family == "custom":
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", model.builder):
            raise ConfigError(f"model.builder: family 'custom' needs \"module:function\", "
                              f"got {model.builder!r}")
    elif model.builder:
        raise ConfigError(f"model.builder: only used by family 'custom' "
                          f"(this config has family {family!r})")


def check_expressible(variant, family, where):
    """ConfigError for a variant that `family` cannot build."""
    kinds = variant.kinds
    if family in ("application", "custom") and not isinstance(variant.pooling, str):
        raise ConfigError(f"{where}: family {family!r} takes one pooling per variant, "
                          f"not one per stage")
    if ANTIALIAS in kinds and len(kinds) > 1:
        raise ConfigError(f"{where}: 'antialias' converts the whole model; give it alone")
    if family == "application" and "none" in kinds:
        raise ConfigError(f"{where}: family 'application' cannot express 'none' (its "
                          f"subsampling is part of the architecture)")
    if family == "custom" and "stride" in kinds:
        raise ConfigError(f"{where}: family 'custom' cannot express 'stride' (the builder "
                          f"places pooling layers; use 'none' or a pooling name)")


def _check_finding(finding, where, labels, config):
    if not finding.name:
        raise ConfigError(f"{where}.name: give the claim a name")
    for key in ("a", "b"):
        if getattr(finding, key) not in labels:
            raise ConfigError(f"{where}.{key}: unknown variant {getattr(finding, key)!r}; "
                              f"allowed: {', '.join(labels)}")
    shifts = range(config.eval.max_shift + 1)
    allowed = (*METRICS, *(f"accuracy_shift_{s}" for s in shifts),
               *(f"accuracy_axis_shift_{s}" for s in shifts))
    if finding.metric not in allowed:
        raise ConfigError(f"{where}.metric: unknown value {finding.metric!r}; "
                          f"allowed: {', '.join(allowed)}")
    sizes = config.data.train_sizes
    if finding.train_size and finding.train_size not in sizes:
        raise ConfigError(f"{where}.train_size: {finding.train_size} is not one of "
                          f"data.train_size {list(sizes)}")
    if finding.versus_size and (not finding.train_size or finding.versus_size not in sizes
                                or finding.versus_size == finding.train_size):
        raise ConfigError(f"{where}.versus_size: needs train_size and another of "
                          f"data.train_size {list(sizes)}")


def from_mapping(cls, raw, where):
    """An instance of dataclass `cls` from mapping `raw`, every key and value checked.

    Works for any frozen dataclass whose fields are typed ``int``, ``float``,
    ``bool``, ``str``, ``tuple[X, ...]`` of those, ``X | None`` or
    ``X | tuple[X, ...]`` (and ``int | str`` with `choices_str`), with their
    checks given by `option`: reuse it for a new section.

    Args:
        cls: the dataclass.
        raw: the mapping (a parsed TOML table).
        where: prefixes key names in errors ("train" -> "train.epochs").

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or one outside
            the field's choices or ``[low, high]``.
    """
    _mapping(raw, where or "config")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        name = f"{where}.{key}" if where else key
        if key not in fields:
            allowed = ", ".join(fields)
            raise ConfigError(f"{name}: unknown key; allowed: {allowed}")
        values[key] = _value(value, hints[key], fields[key].metadata, name)
    return cls(**values)


def _mapping(raw, where):
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table, got {_show(raw)}")


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_LIST_NAMES = {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}


def _value(value, hint, meta, name):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # `X | None` (absent: None), `X | tuple[X, ...]`
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        listed = [a for a in options if typing.get_origin(a) is tuple]
        hint = listed[0] if listed and isinstance(value, list) else options[0]
        if int in options and str in options and isinstance(value, str):  # `int | str`
            choices = meta.get("choices_str") or ()
            if value not in choices:
                raise ConfigError(f"{name}: unknown value {value!r}; allowed: an integer or "
                                  + ", ".join(repr(c) for c in choices))
            return value
        origin = typing.get_origin(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list) or not value:
            raise ConfigError(
                f"{name}: expected a non-empty list of {_LIST_NAMES[item]}, got {_show(value)}"
            )
        return tuple(_scalar(v, item, meta, f"{name}[{i}]") for i, v in enumerate(value))
    return _scalar(value, hint, meta, name)


def _scalar(value, kind, meta, name):
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError(f"{name}: expected {_TYPE_NAMES[kind]}, got {_show(value)}")
    value = float(value) if kind is float else value
    choices, low, high = meta.get("choices"), meta.get("low"), meta.get("high")
    if choices is not None and value not in choices and value != meta.get("default"):
        allowed = ", ".join(str(c) for c in choices)
        raise ConfigError(f"{name}: unknown value {value!r}; allowed: {allowed}")
    if (low is not None and not value >= low) or (high is not None and not value <= high):
        bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{name}: {value!r} is out of range; allowed: {bounds}")
    return value


def _show(value):
    kind = {bool: "boolean", int: "integer", float: "number", str: "string",
            list: "list", dict: "table"}.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_toml(raw, prefix=""):
    """TOML text of a config dict (scalars, lists, tables, nested tables, arrays of tables)."""
    lines, tables = [], []
    for key, value in raw.items():
        if isinstance(value, dict):
            tables.append((f"[{prefix}{key}]", value, f"{prefix}{key}."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            tables.extend((f"[[{prefix}{key}]]", item, None) for item in value)
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for header, table, sub in tables:
        if sub is None:
            text += f"\n{header}\n" + "".join(f"{k} = {_toml_value(v)}\n"
                                               for k, v in table.items())
        else:
            text += f"\n{header}\n" + to_toml(table, sub)
    return text


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)
