"""Results of a sweep: `summary` (means and intervals as Markdown), `plots` (PNG),
`findings` (claims judged by paired intervals) and `report`, which renders all three
from a run folder's tables. They read the tables through `experiments.rundir` and
compute every interval with `experiments.stats`.
"""
