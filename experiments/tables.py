"""Markdown tables and the number formats of every report the harness writes.

Summaries, findings, bench and tuning reports build their tables here, so a
table looks the same wherever it appears.
"""

import math


def number(value, digits=4, signed=False):
    """`value` with `digits` decimals (and a sign when `signed`); "n/a" for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def interval(low, high, digits=4, signed=False):
    """"[low, high]" formatted as `number`; "n/a" when the interval is undefined."""
    if low is None or math.isnan(low):
        return "n/a"
    return f"[{number(low, digits, signed)}, {number(high, digits, signed)}]"


def row(cells):
    """One Markdown table row: ``| a | b |``."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def rule(aligns):
    """The Markdown rule under a header: "r" right-aligned, "l" left (default) per column."""
    return "|" + "".join("---:|" if a == "r" else "---|" for a in aligns)


def table(header, aligns, rows):
    """A whole Markdown table (a list of lines): header, rule, one line per row."""
    return [row(header), rule(aligns)] + [row(r) for r in rows]
