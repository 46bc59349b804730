"""Sweeps: every variant x seed of a config, resumable. `sweep` runs them in one process;
`jobs` starts N local worker processes (`run --jobs`); `distributed` is the chief and
workers of a sweep over processes or machines, handing out runs through the
keras-tuner oracle service in `oracle` (which tuning shares).
"""
