"""`train.distribution = "mirrored"`: tuning and fitting under MirroredStrategy on two CPU devices.

The CPU is split into two logical devices in a fresh Python process (the
split must precede TensorFlow's initialization, which this test process has
already done). The model uses stochastic pooling at every stage and in the
head, so its random draws happen inside the strategy's replicas.
"""

import json
import subprocess
import sys

from tests.experiments.conftest import tune_toml

CONFIG = tune_toml(
    train='batch_size = 32\ndistribution = "mirrored"',
    tune="max_trials = 1",
    space='pooling = ["stochastic"]\nhead = ["global_stochastic"]',
)

SCRIPT = """
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
from experiments.run import data
from experiments.tuning import search_space
from experiments.run import train
from experiments.tuning import tuner as tuning

config_path, out = sys.argv[1], sys.argv[2]
code = tuning.main(config_path, out, log=lambda _: None)
base, tune = search_space.load(config_path)
cfg = search_space.trial_config(base, tune, {"pooling_1": "stochastic",
        "pooling_2": "stochastic", "head": "global_stochastic"})
images = data.load(cfg.data)
fitted = train.fit(cfg.variants[0], cfg, images, seed=0)
layers = [l for l in fitted.model.layers if "Stochastic" in type(l).__name__]
x = images.x_train[:8]
draws = [keras.ops.convert_to_numpy(layers[0](x, training=True)).tolist() for _ in range(2)]
print(json.dumps({
    "code": code,
    "replicas": fitted.model.distribute_strategy.num_replicas_in_sync,
    "devices": len(tf.config.list_logical_devices("CPU")),
    "stochastic_layers": len(layers),
    "seed_states": [keras.ops.convert_to_numpy(l.seed_generator.state).tolist() for l in layers],
    "fresh_draws": draws[0] != draws[1],
    "loss": fitted.history["loss"],
}))
"""


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    config, out = tmp_path / "tune.toml", tmp_path / "out"
    config.write_text(CONFIG)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(config), str(out)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and result["devices"] == 2 and result["replicas"] == 2
    assert result["stochastic_layers"] == 3 and result["fresh_draws"]
    # A SeedGenerator's state is [seed, draws]: one draw per training step (128 images in
    # batches of 32: 4 steps), plus the two calls above for the first layer.
    assert [state[1] for state in result["seed_states"]] == [4 + 2, 4, 4]
    assert all(loss == loss for loss in result["loss"])  # finite, not NaN
    trials = (out / "trials.csv").read_text().splitlines()
    assert len(trials) == 2 and ",COMPLETED," in trials[1]
