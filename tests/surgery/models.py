"""Models the surgery tests share."""

import keras
import numpy as np


def subclassed_model():
    """A built subclassed model: Keras cannot see or clone its layer graph."""

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.pool = keras.layers.MaxPooling2D()

        def call(self, x):
            return self.pool(x)

    net = Net()
    net(np.zeros((1, 4, 4, 1), "float32"))
    return net
