"""One run: the data (`data`, read through the table of sources in `sources`), the model with its pooling injected (`models`), training to
convergence (`train`), the scores and shift metrics (`metrics`), and the process it
runs in (`runtime`: threads, cores, TensorFlow's start-up). Sweeps and tuning call
these; nothing here knows about sweeps, reports or other processes.
"""
