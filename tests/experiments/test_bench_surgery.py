"""bench --surgery: the plumbing and the table, on small stand-ins for ResNet50
and the peer (the real measurement takes minutes; its figures are in the README).
No timing is asserted."""

import keras
import torch

from experiments import __main__ as cli
from experiments.bench import surgery as bench_surgery


def _small(name, size):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(bench_surgery.CLASSES)(x), name=name)


def _small_peer(name, filter_size, options):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
                              torch.nn.LazyLinear(bench_surgery.CLASSES))
    return bench_surgery.torch_train_step(net)


def test_surgery_bench_writes_its_table(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_surgery, "_application", _small)
    monkeypatch.setattr(bench_surgery, "_peer_step", _small_peer)
    monkeypatch.setattr(bench_surgery, "INPUT", (16, 16, 3))
    assert cli.main(["bench", "--surgery", "--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "surgery.md").read_text()
    assert "python -m experiments bench --surgery --backend tensorflow --quick" in text
    rows = [line for line in text.splitlines() if line.startswith("| ResNet50")
            or line.startswith("| MobileNetV2")]
    # ResNet50: 3 keras_pool pairs x 2 modes + 2 peer rows; MobileNetV2: 2 x 2 + 1
    assert len(rows) == 8 + 5
    assert sum("antialiased-cnns" in r and "pool_only=False" in r for r in rows) == 1
    assert all(float(r.split("**")[1]) > 0 for r in rows)
