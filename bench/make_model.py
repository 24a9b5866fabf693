"""Build and save one benchmark model (TF environment): python bench/make_model.py NAME PATH [GB].

Keras models are saved as PATH (.keras); the TF1 checkpoints (slim_vgg16: TF-Slim's vgg_16 at 224x224,
big_ckpt: three huge MatMul layers of GB gigabytes, both with an optimizer's slots as a training script
saves them) under the prefix PATH, and print their output op."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


RECURRENT = ("lstm", "lstm_hard", "gru", "bilstm")
CHANNELS, UNITS = 32, 64


def recurrent(name):
    import keras
    kind, steps = name.rsplit("_", 1)
    layers = keras.layers
    inp = keras.Input((int(steps), CHANNELS), name="sequence")
    if kind == "lstm":
        layer = layers.LSTM(UNITS, return_sequences=True, name="lstm")
    elif kind == "lstm_hard":
        layer = layers.LSTM(UNITS, recurrent_activation="hard_sigmoid", return_sequences=True, name="lstm")
    elif kind == "gru":
        layer = layers.GRU(UNITS, return_sequences=True, name="gru")
    else:
        layer = layers.Bidirectional(layers.LSTM(UNITS, return_sequences=True), name="bilstm")
    return keras.Model(inp, layer(inp), name=name)


def build(name, gigabytes):
    import keras
    kind, _, steps = name.rpartition("_")
    if kind in RECURRENT and steps.isdigit():
        return recurrent(name)
    if name == "vgg16":
        return keras.applications.VGG16(weights=None)
    if name == "vgg19":
        return keras.applications.VGG19(weights=None)
    if name == "resnet50":
        return keras.applications.ResNet50(weights=None)
    if name == "big":
        # A few huge Dense layers: width w, three w x w kernels hold 3 * 4 * w * w bytes.
        width = int(((gigabytes * 1e9) / 12) ** 0.5) // 256 * 256
        inp = keras.Input((width,), name="x")
        x = inp
        for i in range(3):
            x = keras.layers.Dense(width, activation="relu" if i < 2 else None, name="dense%d" % i,
                                   kernel_initializer=keras.initializers.RandomNormal(stddev=width ** -0.5))(x)
        return keras.Model(inp, x, name="big")
    raise SystemExit("unknown model %r" % name)


CHECKPOINTS = ("slim_vgg16", "big_ckpt")


def checkpoint(name, prefix, gigabytes):
    """A TF1 checkpoint written by a Saver, as a TF1 training script leaves it (momentum slots included).
    Returns the output op."""
    import tensorflow as tf
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        if name == "slim_vgg16":
            import importlib
            import tf_slim as slim
            sys.modules.setdefault("tf_keras.legacy_tf_layers", importlib.import_module("tf_keras.src.legacy_tf_layers"))
            from tf_slim.nets import vgg
            images = v1.placeholder(tf.float32, [None, 224, 224, 3], name="images")
            with slim.arg_scope(vgg.vgg_arg_scope()):
                logits, _ = vgg.vgg_16(images, num_classes=1000, is_training=False)
            output = "vgg_16/fc8/squeezed"
        else:
            width = int(((gigabytes * 1e9) / 12) ** 0.5) // 256 * 256
            x = v1.placeholder(tf.float32, [None, width], name="x")
            logits = x
            for i in range(3):
                w = v1.get_variable("dense%d/kernel" % i, [width, width], use_resource=False,
                                    initializer=v1.random_normal_initializer(0.0, width ** -0.5))
                logits = tf.matmul(logits, w)
                logits = tf.nn.relu(logits) if i < 2 else tf.identity(logits, name="logits")
            output = "logits"
        labels = v1.placeholder(tf.float32, logits.shape, name="labels")
        loss = tf.reduce_mean(tf.square(logits - labels))
        v1.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, prefix)
    return output


def main():
    name, path = sys.argv[1], sys.argv[2]
    gigabytes = float(sys.argv[3]) if len(sys.argv) > 3 else 3.2
    if name in CHECKPOINTS:
        print("%s %s" % (name, checkpoint(name, path, gigabytes)))
        return
    model = build(name, gigabytes)
    model.save(path)
    params = model.count_params()
    print("%s %d %d" % (name, params, params * 4))


if __name__ == "__main__":
    main()
