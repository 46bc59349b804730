import keras
import numpy as np

import keras_pool

# SegNet-style encoder-decoder: the decoder unpools with the encoder's indices,
# at the size of the pooling's input (the `reference`, so any input size works).
inputs = keras.Input((32, 32, 3))
x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
x1, idx1 = keras_pool.MaxPoolingWithArgmax2D(2)(x)  # 16 x 16
y = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x1)
y2, idx2 = keras_pool.MaxPoolingWithArgmax2D(2)(y)  # 8 x 8

z = keras_pool.MaxUnpooling2D()([y2, idx2, y])  # back to 16 x 16
z = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(z)
z = keras_pool.MaxUnpooling2D()([z, idx1, x])  # back to 32 x 32
z = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(z)
outputs = keras.layers.Conv2D(4, 1, activation="softmax")(z)  # 4 classes per pixel
model = keras.Model(inputs, outputs)

model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
images = rng.uniform(size=(8, 32, 32, 3)).astype("float32")
masks = keras.utils.to_categorical(rng.integers(0, 4, size=(8, 32, 32)), 4)  # one-hot per pixel
history = model.fit(images, masks, batch_size=4, epochs=2, verbose=0)
print(model.predict(images[:1], verbose=0).shape)  # (1, 32, 32, 4)
