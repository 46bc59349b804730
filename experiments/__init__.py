"""Experiment harness: train small CNNs with swappable pooling and compare them.

Run `python -m experiments run configs/digits.toml`; see `experiments.__main__`.
The modules follow the data flow config -> data -> models -> train -> metrics
-> report (-> findings: claims judged on the results), with `sweep` looping
over training-set sizes, seeds and variants.

The harness uses the TensorFlow backend (tf.data and TFDS feed it), so the
backend is chosen here, before anything imports Keras. Installed from a wheel,
this package is `keras_pool_experiments` (its modules import each other
relatively, so both names work).
"""

import os

from .run.runtime import quiet_tensorflow_logs

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
quiet_tensorflow_logs()
