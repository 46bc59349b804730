"""Stand-alone program for the 1D ResNet crash once noted in docs/own-data.md (issue 27).

The note: training the harness's ``"resnet"`` family on signals several times in
one process ended in glibc's "corrupted size vs. prev_size" (SIGSEGV/SIGABRT)
in about half the attempts (TensorFlow 2.21, CPU). This program is that
workload without the harness: plain TensorFlow/Keras, with the TensorFlow calls
the harness makes for such a run, so a crash here would be TensorFlow's and a
crash only in the harness would be ours:

- one intra-op and one inter-op thread (``TF_NUM_*_THREADS=1``, set before
  TensorFlow starts; ``--threads 0`` leaves TensorFlow's defaults), oneDNN as
  TensorFlow sets it (``TF_ENABLE_ONEDNN_OPTS`` from the environment);
- ``tf.config.experimental.enable_op_determinism()`` (``--no-determinism``
  leaves it off, and then ``model.compile`` gets ``jit_compile=True`` like
  ``train.jit_compile = true``);
- per run a fresh CIFAR-style ResNet on (length, channels) signals: a
  Conv1D-BatchNormalization-ReLU stem, per stage one basic block of two Conv1D
  (same padding, no bias) + BatchNormalization (momentum 0.9), the stages after
  the first downsampling with a strided conv and a strided 1x1 shortcut conv;
  global average, Dense logits; Adam, sparse cross-entropy on logits;
- ``model.fit`` on a ``tf.data`` pipeline with a validation set, then
  ``model.evaluate`` and ``model.predict`` on shifted copies (what the harness's
  metrics do), ``keras.backend.clear_session()`` between runs (``--keep``
  skips it: the models stay alive, as the harness keeps compiled models).

The data are MNIST-1D-like signals (length 40 padded to 66, 10 classes) drawn
from fixed templates with noise and random shifts, so training makes progress
the way it does on MNIST-1D without needing the ``mnist1d`` package.

Usage (exit status 0 and "clean" on the last line when every run finished):

    python tests/experiments/repro_resnet1d_crash.py [--runs 9] [--epochs 4]

Where it crashes, the process dies by a signal (exit status 134 or 139 from a
shell, -6 or -11 from ``subprocess``) with glibc's message on stderr. On the
machine of issue 27 (TensorFlow 2.21.0, Keras 3.15.1, glibc 2.36, CPU) it did
not crash: see docs/own-data.md, "The residual family on signals", for the attempts.
"""

import argparse
import os
import sys


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="models trained in this process")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1,
                        help="TF intra/inter-op threads; 0 keeps TensorFlow's defaults")
    parser.add_argument("--no-determinism", action="store_true",
                        help="op determinism off and the train step under XLA (jit_compile)")
    parser.add_argument("--keep", action="store_true",
                        help="no clear_session between runs: every model stays alive")
    parser.add_argument("--filters", type=int, nargs="+", default=[16, 32])
    return parser.parse_args(argv)


def signals(rng, n, length=40, pad=13, classes=10):
    """MNIST-1D-like (n, length + 2 pad, 1) float32 signals and int labels."""
    import numpy as np

    t = np.linspace(0, 1, length)
    templates = np.stack([np.sin(2 * np.pi * (k + 1) * t / 3 + k) * (1 + k % 3) for k in range(classes)])
    y = rng.integers(0, classes, n)
    x = templates[y] + 0.4 * rng.normal(size=(n, length))
    x = np.stack([np.roll(row, int(s)) for row, s in zip(x, rng.integers(-4, 5, n))])
    x = (x - x.mean()) / x.std()
    x = np.pad(x, ((0, 0), (pad, pad)))[..., None]
    return x.astype("float32"), y.astype("int32")


def resnet1d(keras, input_shape, num_classes, filters, seed):
    """The harness's "resnet" family, plain strided variant, on signals (kernel 5)."""
    def conv(x, width, kernel, strides=1):
        return keras.layers.Conv1D(width, kernel, strides=strides, padding="same", use_bias=False,
                                   kernel_initializer=keras.initializers.HeNormal(seed))(x)

    def bn(x):
        return keras.layers.BatchNormalization(momentum=0.9)(x)

    inputs = keras.Input(input_shape)
    x = keras.layers.ReLU()(bn(conv(inputs, filters[0], 5)))
    for i, width in enumerate(filters):
        strides = 2 if i else 1
        main = keras.layers.ReLU()(bn(conv(x, width, 5, strides)))
        main = bn(conv(main, width, 5))
        shortcut = x
        if strides != 1 or x.shape[-1] != width:
            shortcut = bn(conv(x, width, 1, strides))
        x = keras.layers.ReLU()(keras.layers.Add()([main, shortcut]))
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def main(argv=None):
    args = parse(argv)
    if args.threads:
        os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # predict's retracing warnings on the last, short batch
    if not args.no_determinism:
        tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(0)
    x, y = signals(rng, 1400)
    x_train, y_train, x_val, y_val, x_test, y_test = x[:900], y[:900], x[900:1000], y[900:1000], x[1000:], y[1000:]
    kept = []
    for run in range(args.runs):
        seed = run % 3
        keras.utils.set_random_seed(seed)
        model = resnet1d(keras, x.shape[1:], 10, args.filters, seed)
        model.compile(keras.optimizers.Adam(0.005),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=args.no_determinism)
        train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(900, seed=seed).batch(128)
        val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(128)
        model.fit(train, validation_data=val, epochs=args.epochs, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)])
        _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
        for shift in (-2, 2):
            model.predict(np.roll(x_test, shift, axis=1), batch_size=256, verbose=0)
        print(f"run {run + 1}/{args.runs} seed {seed}: test accuracy {accuracy:.3f}", flush=True)
        if args.keep:
            kept.append(model)
        else:
            keras.backend.clear_session()
    print("clean", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
