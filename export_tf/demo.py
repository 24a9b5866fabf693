"""The demo model: a small CNN trained deterministically, in seconds, on scikit-learn's bundled 8x8
digits (no download). Writes the model, the test split's images (the reference inputs) and labels.

    python -m export_tf.demo OUT_DIR
"""
import os
import sys


def train(out_dir, epochs=30, seed=0):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)

    layers = keras.layers
    inp = keras.Input((8, 8, 1), name="digit")
    h = layers.Rescaling(2.0, offset=-1.0, name="to_signed")(inp)
    h = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(h)
    h = layers.BatchNormalization(name="bn1")(h)
    h = layers.ReLU(name="relu1")(h)
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv2")(h)
    h = layers.MaxPooling2D(2, padding="same", name="pool")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dropout(0.2, name="dropout")(h)
    h = layers.Dense(32, activation="relu", name="fc1")(h)
    out = layers.Dense(10, activation="softmax", name="digit_class")(h)
    model = keras.Model(inp, out, name="digits_cnn")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    accuracy = float((np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test).mean())
    model.save(os.path.join(out_dir, "digits_cnn.keras"))
    np.save(os.path.join(out_dir, "digits_test_x.npy"), x_test)
    np.save(os.path.join(out_dir, "digits_test_y.npy"), y_test)
    return accuracy, len(x_test)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out_dir = argv[0] if argv else "build/demo"
    os.makedirs(out_dir, exist_ok=True)
    accuracy, n = train(out_dir)
    print("demo: trained digits_cnn on scikit-learn's 8x8 digits; TF test accuracy %.2f%% on %d images"
          % (100 * accuracy, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
