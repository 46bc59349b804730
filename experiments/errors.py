"""The harness's errors: the bottom of the import graph (imports nothing).

A ``ConfigError`` is bad input (a config, a command-line argument, the user's
data or builder): the command line prints its one-line message and exits 2.
Modules that only need to raise or catch it import it from here, without
pulling in Keras or TensorFlow; `one_line` turns an exception from the user's
data or code into the one line such a message quotes.
"""


class ConfigError(ValueError):
    """A bad config or bad command-line input; the message is one readable line."""


class DataUnavailable(ConfigError):
    """A TFDS dataset is not prepared locally and downloading is off, or a package is missing."""


def one_line(error, limit=400):
    """The message of `error` (or a string) on one line: whitespace runs and terminal colour
    codes collapsed, Keras's "Arguments received by ..." dump dropped, at most `limit`
    characters."""
    text = str(error)
    text = text.split("Arguments received by")[0]
    while "\x1b[" in text:  # ANSI colour codes: ESC [ digits/semicolons m
        start = text.index("\x1b[")
        end = start + 2
        while end < len(text) and (text[end].isdigit() or text[end] == ";"):
            end += 1
        text = text[:start] + text[end + 1:]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
