"""The harness's errors: the bottom of the import graph (imports nothing).

A ``ConfigError`` is bad input (a config, a command-line argument, the user's
data or builder): the command line prints its one-line message and exits 2.
Modules that only need to raise or catch it import it from here, without
pulling in Keras or TensorFlow.
"""


class ConfigError(ValueError):
    """A bad config or bad command-line input; the message is one readable line."""


class DataUnavailable(ConfigError):
    """A TFDS dataset is not prepared locally and downloading is off, or a package is missing."""
