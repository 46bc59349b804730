"""``python -m experiments report DIR``: a run folder's summary, plots and findings from its tables.

`render` reads ``results.csv`` and ``history.csv`` and writes ``summary.md``
(`summary`), the plots (`plots`) and, when ``config.json`` lists claims,
``findings.md`` (`findings`). Sweeps call it after their last run; it can be
re-run on any folder a sweep wrote.
"""

import json
from pathlib import Path

from .. import config, rundir
from ..errors import ConfigError
from . import findings, plots, summary


def render(out_dir):
    """Write ``summary.md``, the plots and (if ``config.json`` has findings)
    ``findings.md`` in `out_dir` from its CSV files (and the baseline named in
    ``config.json``, if there is one)."""
    out_dir = Path(out_dir)
    results = out_dir / rundir.RESULTS
    if not results.is_file():
        raise ConfigError(f"{out_dir}: no results.csv here; run `python -m experiments run` first")
    rows = rundir.read_csv(results)
    if not rows:
        raise ConfigError(f"{results}: no runs recorded yet")
    history_path = out_dir / rundir.HISTORY
    history = rundir.read_csv(history_path) if history_path.is_file() else []
    baseline = _baseline(out_dir, rows)
    rundir.write_atomic(out_dir / rundir.SUMMARY, summary.summarize(rows, baseline))
    plots.plot(rows, history, out_dir, baseline)
    claims = claims_in(out_dir)
    if claims:
        rundir.write_atomic(out_dir / rundir.FINDINGS,
                            findings.markdown(findings.judge(claims, rows)))


def claims_in(out_dir):
    """The findings (``config.Finding``) of the config recorded in `out_dir`, or ()."""
    path = Path(out_dir) / rundir.CONFIG
    if not path.is_file():
        return ()
    raw = rundir.read_json(path)
    return tuple(config.from_mapping(config.Finding, item, f"findings[{i}]")
                 for i, item in enumerate(raw.get("findings", [])))


def _baseline(out_dir, rows):
    """The config's baseline variant, else "max" when present."""
    config_path = out_dir / rundir.CONFIG
    if config_path.is_file():
        baseline = json.loads(config_path.read_text(encoding="utf-8")).get("baseline")
        if baseline:
            return baseline
    return "max" if any(r["variant"] == "max" for r in rows) else None
