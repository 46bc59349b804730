"""The yardstick for the harness's speed: a sweep's trainings and scores as a plain Keras script.

What a user would write by hand for the same study: one process with
TensorFlow's default thread pools; for every seed and variant a new model,
``model.fit`` on the arrays with early stopping, ``model.evaluate`` on the
training and test sets, and ``model.predict`` (where the harness has its traced
``metrics.predictor``) on the shifted copies of the test set that the harness
scores (accuracy at each diagonal and axis shift, the consistency pairs). The
data and the models come from the harness's own builders, so both do the same
arithmetic; ``docs/speed.md`` times the two.

    python -m experiments.yardstick configs/digits.toml

It prints one line per run and the total; it writes nothing. Flat configs only
(one training-set size, ``train.epochs``; ``train.steps`` is not modelled).
"""

import sys
import time

import keras

from . import config
from .run import data as data_lib
from .run import metrics, models, train


def main(argv=None):
    """Train and score every run of the config named in `argv`.

    Args:
        argv: ``[CONFIG.toml]``; default ``sys.argv[1:]``.

    Returns:
        The exit status: 0 when done, 2 on a usage error.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m experiments.yardstick CONFIG.toml", file=sys.stderr)
        return 2
    cfg = config.load(args[0])
    start = time.perf_counter()
    for seed in cfg.seeds:
        data = data_lib.load(cfg.data, seed=seed)
        for variant in cfg.variants:
            keras.utils.set_random_seed(seed)
            model = models.from_config(variant, cfg.model, data.input_shape,
                                       data.num_classes, seed)
            train.compile_model(model, cfg.train)
            model.fit(data.x_train, data.y_train, batch_size=cfg.train.batch_size,
                      epochs=cfg.train.epochs,
                      validation_data=(data.x_val, data.y_val) if len(data.x_val) else None,
                      callbacks=[keras.callbacks.EarlyStopping(
                          monitor=cfg.train.monitor, patience=cfg.train.patience,
                          restore_best_weights=True)] if cfg.train.patience else [],
                      verbose=0)
            _, train_accuracy = model.evaluate(data.x_train, data.y_train, verbose=0)
            _, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)

            def predict(x):
                return model.predict(x, batch_size=cfg.eval.batch_size, verbose=0)

            consistency = metrics.shift_consistency(
                predict, data.x_test, cfg.eval.max_shift, cfg.eval.consistency_pairs, seed)
            for along in ("diagonal", "axis"):
                metrics.accuracy_under_shift(predict, data.x_test, data.y_test,
                                             cfg.eval.max_shift, along=along)
            print(f"{variant.label} seed={seed}: train acc {train_accuracy:.4f}, "
                  f"test acc {test_accuracy:.4f}, consistency {consistency:.3f}", flush=True)
            keras.backend.clear_session()
    print(f"{len(cfg.seeds) * len(cfg.variants)} runs in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
