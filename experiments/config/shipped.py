"""The configs shipped with the harness, and finding a config by path or by name.

So that ``keras-pool-experiments run digits`` works from any folder, a config
argument that is not an existing file is looked up among the shipped configs by
name. The shipped configs are ``configs/`` of a checkout, or the
``keras_pool_experiments/configs`` package data of an installed wheel.
"""

from pathlib import Path


def configs_dir():
    """The folder of shipped configs: the wheel's package data or the checkout's ``configs/``.

    The first of the two that holds a ``.toml`` file; None if neither does.
    """
    harness = Path(__file__).resolve().parent.parent
    for folder in (harness / "configs", harness.parent / "configs"):  # wheel, checkout
        if folder.is_dir() and any(folder.glob("*.toml")):
            return folder
    return None


def names():
    """The shipped config names (file stems), sorted; [] if there are none."""
    folder = configs_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder else []


def find_config(name):
    """The config file `name` refers to.

    `name` itself if that file exists; else, for a bare name (``digits``,
    ``digits.toml``) or ``configs/<name>``, the shipped config of that name.

    Raises:
        ConfigError: neither exists ("config file not found", listing the
            shipped names).
    """
    path = Path(name)
    if path.exists():
        return path
    folder = configs_dir()
    if folder is not None and path.parent in (Path("."), Path("configs")):
        candidate = folder / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
        if candidate.is_file():
            return candidate
    from ..errors import ConfigError

    shipped = ", ".join(names()) or "none"
    raise ConfigError(f"{path}: config file not found; shipped configs: {shipped}")
