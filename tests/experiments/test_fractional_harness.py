"""Fractional pooling in the harness: the `ratio` and `test_draws` variant options,
test-time averaging over random window draws, and the study configs."""

import keras
import numpy as np
import pytest

import keras_pool
from experiments import config
from experiments.errors import ConfigError
from experiments.run import metrics, models


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    return models.build_model((12, 12, 1), 3, pooling=["fractional", "fractional"],
                              filters=(4, 4), fractional_ratio=0.7071, seed=seed)


def test_ratio_reaches_every_fractional_layer():
    layers = [l for l in _model().layers if isinstance(l, keras_pool.FractionalMaxPooling2D)]
    assert [l.output_ratio for l in layers] == [(0.7071, 0.7071)] * 2
    assert len({l.seed for l in layers}) == 2  # a seed of its own per stage, from the run seed


def test_draws_average_probabilities_and_leave_the_model_as_it_was():
    model = _model()
    x = np.random.default_rng(0).normal(size=(6, 12, 12, 1)).astype("float32")
    fixed = metrics.predictor(model, 4)(x)
    np.testing.assert_array_equal(fixed, metrics.predictor(model, 4)(x))  # fixed windows
    with metrics.random_windows(model) as layers:
        assert len(layers) == 2 and all(l.random_at_inference for l in layers)
        one = metrics.predictor(model, 4, draws=1)(x)
        again = metrics.predictor(model, 4, draws=1)(x)
        many = metrics.predictor(model, 4, draws=12)(x)
    assert not np.array_equal(one, again)  # fresh windows on every call
    assert not any(l.random_at_inference for l in layers)
    # log of averaged probabilities: they sum to 1, and differ from the fixed windows
    np.testing.assert_allclose(np.exp(many).sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.exp(one).sum(axis=-1), 1.0, rtol=1e-5)
    assert not np.allclose(np.exp(one), keras.ops.convert_to_numpy(keras.ops.softmax(fixed)))


@pytest.mark.parametrize("variant, message", [
    ({"pooling": "max", "ratio": 0.5}, "ratio: only used by pooling 'fractional'"),
    ({"pooling": "max", "test_draws": 4}, "test_draws: only used by pooling 'fractional'"),
    ({"pooling": "fractional", "ratio": 1.0}, "ratio: must be in (0, 1)"),
    ({"pooling": "fractional", "test_draws": -1}, "test_draws"),
])
def test_bad_fractional_options_are_config_errors(variant, message):
    raw = {"variants": [variant]}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.parse(raw)


def test_labels_say_ratio_and_draws():
    cfg = config.parse({"variants": [{"pooling": "fractional", "ratio": 0.7071, "test_draws": 12},
                                     {"pooling": "fractional"}]})
    assert [v.label for v in cfg.variants] == ["fractional-r0.707-draws12", "fractional"]


@pytest.mark.parametrize("name", ["fractional", "fractional_1d"])
def test_the_study_pairs_one_trained_model_over_its_draws(name):
    cfg = config.load(f"configs/{name}.toml")
    sqrt2 = [v for v in cfg.variants if v.label.startswith("fmp-sqrt2")]
    assert {v.test_draws for v in sqrt2} == {0, 1, 12}
    assert all(v.pooling == sqrt2[0].pooling and v.ratio == sqrt2[0].ratio for v in sqrt2)
    assert len(cfg.model.filters) == 4 and len(cfg.seeds) == 5
    claims = {(f.a, f.b, f.metric) for f in cfg.findings}
    assert ("fmp-sqrt2", "max", "generalization_gap") in claims
    assert ("fmp-sqrt2-draws12", "fmp-sqrt2-draws1", "test_accuracy") in claims
