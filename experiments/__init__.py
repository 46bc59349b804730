"""Experiment harness: train small CNNs with swappable pooling and compare them.

Run `python -m experiments run configs/digits.toml`; see `experiments.__main__`.
The modules follow the data flow config -> data -> models -> train -> metrics
-> report (-> findings: claims judged on the results), with `sweep` looping
over training-set sizes, seeds and variants.

The harness uses the TensorFlow backend (tf.data and TFDS feed it), so the
backend is chosen here, before anything imports Keras.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
