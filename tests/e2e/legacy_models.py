"""Checkpoints written by TF-Slim and tflearn themselves, for tests/e2e/test_legacy_nets.py.

Run as a script in its own process (`python legacy_models.py FOLDER NAME...`, one line per NAME:
its checkpoint prefix and output ops): tflearn switches TensorFlow
to TF1 behaviour for the whole process when imported, and both libraries need a shim on TF 2.21 that
belongs in the test, not in the converter. Random initialisation only, no
pretrained weights.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> (builder, its arg_scope, input size, output ops: the logits, and the softmax where there is one)
SLIM = {
    "vgg_16": ("vgg.vgg_16", "vgg.vgg_arg_scope", 224, "vgg_16/fc8/squeezed"),
    "alexnet_v2": ("alexnet.alexnet_v2", "alexnet.alexnet_v2_arg_scope", 224, "alexnet_v2/fc8/squeezed"),
    "resnet_v1_50": ("resnet_v1.resnet_v1_50", "resnet_utils.resnet_arg_scope", 64,
                     "resnet_v1_50/logits/BiasAdd,resnet_v1_50/predictions/Softmax"),
    "resnet_v2_50": ("resnet_v2.resnet_v2_50", "resnet_utils.resnet_arg_scope", 64,
                     "resnet_v2_50/logits/BiasAdd,resnet_v2_50/predictions/Softmax"),
    "inception_v3": ("inception_v3.inception_v3", "inception_v3.inception_v3_arg_scope", 96,
                     "InceptionV3/Logits/SpatialSqueeze,InceptionV3/Predictions/Softmax"),
    "inception_v1": ("inception_v1.inception_v1", "inception_v1.inception_v1_arg_scope", 224,
                     "InceptionV1/Logits/SpatialSqueeze,InceptionV1/Logits/Predictions/Softmax"),
    "inception_v2": ("inception_v2.inception_v2", "inception_v2.inception_v2_arg_scope", 64,
                     "InceptionV2/Logits/SpatialSqueeze,InceptionV2/Predictions/Softmax"),
}
NUM_CLASSES = 10


def _slim_shims():
    """TF 2.21: tf_slim's batch norm imports tf_keras' legacy layers under their old Keras 2 name."""
    import importlib
    sys.modules.setdefault("tf_keras.legacy_tf_layers", importlib.import_module("tf_keras.src.legacy_tf_layers"))


def slim_checkpoint(name, folder, placeholder_flag=False):
    """A TF-Slim net built with is_training=False (or a bool placeholder named is_training), its
    variables randomly initialised (batch-norm statistics too), saved with a Saver. Returns
    (prefix, output op)."""
    import numpy as np
    import tensorflow as tf
    _slim_shims()
    import importlib
    v1 = tf.compat.v1
    import tf_slim as slim

    def find(path):
        module, function = path.rsplit(".", 1)
        return getattr(importlib.import_module("tf_slim.nets." + module), function)
    build, scope, size, output = find(SLIM[name][0]), find(SLIM[name][1]), SLIM[name][2], SLIM[name][3]
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        images = v1.placeholder(tf.float32, [None, size, size, 3], name="images")
        training = v1.placeholder(tf.bool, [], name="is_training") if placeholder_flag else False
        kwargs = {"num_classes": NUM_CLASSES, "is_training": training}
        if name.startswith("resnet"):
            kwargs["global_pool"] = True
        if name == "inception_v3":
            kwargs["create_aux_logits"] = False
        with slim.arg_scope(scope()):
            build(images, **kwargs)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            rng = np.random.default_rng(1)
            for var in v1.global_variables():      # statistics and offsets far from their initial 0 / 1
                short = var.op.name.split("/")[-1]
                shape = var.shape.as_list()
                if short in ("moving_mean", "beta", "biases"):
                    var.load(rng.normal(0.0, 0.2, shape).astype(np.float32), sess)
                elif short in ("moving_variance", "gamma"):
                    var.load(rng.uniform(0.5, 1.5, shape).astype(np.float32), sess)
            prefix = v1.train.Saver().save(sess, os.path.join(folder, name + ".ckpt"))
    return prefix, output


def _tflearn():
    """tflearn 0.5.0 on TF 2.21 needs two one-line shims (here, in the test, never in the converter)."""
    from tensorflow.python.util import nest
    nest.is_sequence = nest.is_nested
    import PIL.Image
    PIL.Image.ANTIALIAS = PIL.Image.LANCZOS
    import tflearn
    return tflearn


def tflearn_lrn_bn(folder):
    """An AlexNet-style tflearn net: local_response_normalization, tflearn's batch_normalization (a tf.cond
    on is_training, its statistics set to random values), dropout; saved with DNN.save."""
    import numpy as np
    import tensorflow as tf
    tflearn = _tflearn()
    from tflearn.layers.conv import conv_2d, max_pool_2d
    from tflearn.layers.core import dropout, fully_connected, input_data
    from tflearn.layers.estimator import regression
    from tflearn.layers.normalization import batch_normalization, local_response_normalization
    tf.compat.v1.reset_default_graph()
    tf.compat.v1.set_random_seed(0)
    net = input_data(shape=[None, 32, 32, 3])
    net = local_response_normalization(max_pool_2d(conv_2d(net, 16, 5, strides=2, activation="relu"), 3, strides=2))
    net = batch_normalization(conv_2d(net, 32, 3, activation="relu"))
    net = local_response_normalization(max_pool_2d(net, 3, strides=2), depth_radius=3, bias=2.0, alpha=0.01)
    net = dropout(fully_connected(net, 64, activation="tanh"), 0.5)
    net = fully_connected(net, 10, activation="softmax")
    net = regression(net, optimizer="adam", loss="categorical_crossentropy", learning_rate=0.001)
    model = tflearn.DNN(net, tensorboard_verbose=0)
    rng = np.random.default_rng(2)
    for var in tf.compat.v1.global_variables():
        if var.op.name.startswith("BatchNormalization/"):
            role = var.op.name.split("/")[-1]
            shape = var.shape.as_list()
            value = rng.uniform(0.5, 1.5, shape) if role in ("gamma", "moving_variance") else rng.normal(0, 0.3, shape)
            model.set_weights(var, value.astype(np.float32))
    prefix = os.path.join(folder, "lrn_bn.tfl")
    model.save(prefix)
    return prefix, "FullyConnected_1/Softmax"


def tflearn_vgg19(folder):
    """The seed question's VGG-19 at 112x112, built as its answer describes and saved with DNN.save."""
    import tensorflow as tf
    tflearn = _tflearn()
    from tflearn.layers.conv import conv_2d, max_pool_2d
    from tflearn.layers.core import dropout, fully_connected, input_data
    from tflearn.layers.estimator import regression
    tf.compat.v1.reset_default_graph()
    tf.compat.v1.set_random_seed(0)                      # the same random weights every run
    net = input_data(shape=[None, 112, 112, 3])
    for filters, convs in ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)):
        for _ in range(convs):
            net = conv_2d(net, filters, 3, activation="relu")
        net = max_pool_2d(net, 2, strides=2)
    net = fully_connected(net, 4096, activation="relu")
    net = dropout(net, 0.5)
    net = fully_connected(net, 4096, activation="relu")
    net = dropout(net, 0.5)
    net = fully_connected(net, 17, activation="softmax")
    net = regression(net, optimizer="momentum", loss="categorical_crossentropy", learning_rate=0.001)
    model = tflearn.DNN(net, tensorboard_verbose=0)
    prefix = os.path.join(folder, "vgg19.tfl")
    model.save(prefix)
    return prefix, "FullyConnected_2/Softmax"


def main(argv):
    folder = argv[1]
    for name in argv[2:]:
        where = os.path.join(folder, name.replace("+", "_"))
        os.makedirs(where)
        if name == "tflearn_vgg19":
            prefix, output = tflearn_vgg19(where)
        elif name == "tflearn_lrn_bn":
            prefix, output = tflearn_lrn_bn(where)
        elif name.endswith("+placeholder"):
            prefix, output = slim_checkpoint(name[:-len("+placeholder")], where, placeholder_flag=True)
        else:
            prefix, output = slim_checkpoint(name, where)
        print("%s %s %s" % (name, prefix, output))


if __name__ == "__main__":
    main(sys.argv)
