"""Findings: claims from the literature, judged by paired confidence intervals over seeds.

A config lists claims as ``[[findings]]`` (``config.Finding``): variant `a`
has a greater (or less) `metric` than variant `b`, at one training-set size
or at every one; or, with ``versus_size``, a's margin over b is greater (or
less) at ``train_size`` than at ``versus_size`` (the paired quantity is then
the difference of the two margins, per seed). For each claim and regime the paired differences a - b over
the seeds both variants ran with give a mean, a 95% t-interval and n, and a
verdict:

- **supported**: the interval excludes 0 on the claimed side;
- **contradicted**: it excludes 0 on the other side;
- **inconclusive**: it contains 0 (or n < 2).

`judge` gives one verdict row per claim and regime, `markdown` writes them as
``findings.md``. This module depends on the statistics only: claims come in as
``config.Finding`` objects (or anything with their attributes).
"""

import math

from .. import tables
from ..stats import mean_ci, regimes

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


def verdict(low, high, direction):
    """The verdict of a paired-difference CI [low, high] on a claim that a - b is `direction`."""
    if math.isnan(low):
        return INCONCLUSIVE
    if low > 0:
        return SUPPORTED if direction == "greater" else CONTRADICTED
    if high < 0:
        return SUPPORTED if direction == "less" else CONTRADICTED
    return INCONCLUSIVE


def judge(claims, rows):
    """Verdicts of `claims` (config.Finding) on results rows, per claim and regime."""
    judged = []
    for claim in claims:
        sizes = [claim.train_size] if claim.train_size else regimes(rows)
        for size in sizes:
            margins = _margins(claim, rows, size)
            if claim.versus_size:  # the margin at train_size minus the one at versus_size
                other = _margins(claim, rows, claim.versus_size)
                margins = {s: margins[s] - other[s] for s in set(margins) & set(other)}
            diffs = [margins[s] for s in sorted(margins)]
            mean, _, low, high = mean_ci(diffs) if diffs else (math.nan,) * 4
            shown = f"{size} vs {claim.versus_size}" if claim.versus_size else size
            judged.append({
                "name": claim.name, "a": claim.a, "b": claim.b, "metric": claim.metric,
                "direction": claim.direction, "train_size": shown, "source": claim.source,
                "n": len(diffs), "mean": mean, "low": low, "high": high,
                "verdict": verdict(low, high, claim.direction),
            })
    return judged


def _margins(claim, rows, size):
    """seed -> a - b of `claim.metric` at training-set size `size` (NaNs left out)."""
    at = [r for r in rows if int(r["train_size"]) == size]
    a = {int(r["seed"]): r[claim.metric] for r in at if r["variant"] == claim.a}
    b = {int(r["seed"]): r[claim.metric] for r in at if r["variant"] == claim.b}
    return {s: a[s] - b[s] for s in set(a) & set(b)
            if not (math.isnan(a[s]) or math.isnan(b[s]))}


def _num(value):
    return tables.number(value, signed=True)


def markdown(judged):
    """The findings report: one table row per claim and regime, then the claims in words."""
    lines = [
        "# Findings",
        "",
        "Each claim says variant A has a greater (or less) metric than variant B. Δ = A - B, "
        "paired by seed (same seed, same initial weights and data split); 95% t-interval "
        "over the n seeds. Verdict: **supported** if the interval excludes 0 on the claimed "
        "side, **contradicted** if it excludes 0 on the other side, else **inconclusive**.",
        "",
    ]
    lines += tables.table(
        ["claim", "A", "B", "metric", "claimed", "train size", "n", "mean Δ", "95% CI of Δ",
         "verdict"], "lllllrrrll",
        [[j["name"], j["a"], j["b"], j["metric"],
          f"A {'>' if j['direction'] == 'greater' else '<'} B", j["train_size"], j["n"],
          _num(j["mean"]), tables.interval(j["low"], j["high"], signed=True),
          f"**{j['verdict']}**"] for j in judged])
    lines += ["", "## Claims and sources", ""]
    for j in judged:
        word = "greater" if j["direction"] == "greater" else "less"
        lines.append(f"- **{j['name']}** (train size {j['train_size']}): {j['a']} has a {word} "
                     f"{j['metric']} than {j['b']}. Source: {j['source'] or 'not given'}. "
                     f"Verdict: **{j['verdict']}** (Δ {_num(j['mean'])}, n = {j['n']}).")
    return "\n".join(lines) + "\n"

