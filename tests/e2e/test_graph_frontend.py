"""The graph front end end to end: TF1 checkpoints, frozen GraphDefs and SavedModels (tf.Module and
Keras model.export()) convert through the same bundle and importer as Keras files, at the parity bar."""
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_parity, import_bundle, randomize, run_export
from export_tf.exporter import export
from export_tf.graphdef.detect import detect_format
from shared.errors import UnsupportedError, UsageError

v1 = tf.compat.v1
VGG_BLOCKS = (2, 2, 4, 4, 4)             # VGG-19: 16 convolutions in 5 blocks
VGG_WIDTHS = (8, 16, 24, 32, 32)         # narrower than 64..512 to stay within the test budget
VGG_FC = (64, 64, 10)


def _vgg19_tf1(folder):
    """The seed question's network written with raw TF1 ops, saved as a TF1 checkpoint with its training
    ops (loss, optimizer, saver), and frozen to a .pb. Returns (checkpoint prefix, .pb path)."""
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        images = v1.placeholder(tf.float32, [None, 112, 112, 3], name="images")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        x, cin = images, 3
        for block, (convs, width) in enumerate(zip(VGG_BLOCKS, VGG_WIDTHS), 1):
            for i in range(1, convs + 1):
                with v1.variable_scope("conv%d_%d" % (block, i)):
                    w = v1.get_variable("weights", [3, 3, cin, width],
                                        initializer=v1.initializers.he_normal(seed=block * 10 + i))
                    b = v1.get_variable("biases", [width], initializer=v1.random_normal_initializer(0.0, 0.2))
                    x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), b))
                cin = width
            # SAME pooling: 112 -> 56 -> 28 -> 14 -> 7 -> 4 (the 7x7 map pools to 4x4)
            x = v1.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME", name="pool%d" % block)
        x = tf.reshape(x, [-1, 4 * 4 * cin])   # the 4*4*512 reshape of the question, at this width
        for k, units in enumerate(VGG_FC, 6):
            with v1.variable_scope("fc%d" % k):
                w = v1.get_variable("weights", [x.shape[1], units],
                                    initializer=v1.initializers.he_normal(seed=k))
                b = v1.get_variable("biases", [units], initializer=v1.random_normal_initializer(0.0, 0.2))
                x = tf.matmul(x, w) + b
                if units != VGG_FC[-1]:
                    x = tf.nn.relu(x)
        tf.nn.softmax(x, name="prob")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x))
        v1.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = saver.save(sess, os.path.join(folder, "vgg19.ckpt"))
            frozen = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), ["prob"])
    pb = os.path.join(folder, "vgg19_frozen.pb")
    with open(pb, "wb") as f:
        f.write(frozen.SerializeToString())
    return prefix, pb


@pytest.fixture(scope="module")
def vgg19(tmp_path_factory):
    return _vgg19_tf1(str(tmp_path_factory.mktemp("vgg19")))


def test_vgg19_tf1_checkpoint_with_training_ops(vgg19, tmp_path):
    """`make export` on the checkpoint folder, naming the input and output past the loss and optimizer."""
    prefix, _ = vgg19
    folder = os.path.dirname(prefix)
    for path in (folder, prefix, prefix + ".meta", prefix + ".index"):
        assert detect_format(path) == ("checkpoint", prefix)
    with pytest.raises(UsageError, match="--outputs"):
        export(folder, str(tmp_path / "refused.npz"))
    assert not os.listdir(str(tmp_path))
    bundle = str(tmp_path / "vgg19.npz")
    proc = run_export(folder, bundle, "-q", "--inputs", "images:112x112x3", "--outputs", "prob")
    assert proc.returncode == 0, proc.stderr
    result = import_bundle(bundle, str(tmp_path / "caffe"))
    assert_parity(result)
    nodes = _manifest(bundle)["nodes"]
    ops = [n["op"] for n in nodes]
    assert ops.count("conv2d") == 16 and ops.count("max_pool2d") == 5 and ops.count("dense") == 3
    assert "flatten" in ops     # the (N, 4, 4, C) -> (N, 4*4*C) reshape before fc6
    assert nodes[0]["name"] == "conv1_1/Conv2D" and nodes[0]["outputs"] == ["conv1_1/BiasAdd"]


def test_vgg19_frozen_pb_needs_no_flags(vgg19, tmp_path):
    _, pb = vgg19
    assert detect_format(pb) == ("graphdef", pb)
    bundle = str(tmp_path / "vgg19.npz")
    manifest = export(pb, bundle)
    assert [e["name"] for e in manifest["inputs"]] == ["images"]       # the labels placeholder is pruned
    assert [e["name"] for e in manifest["outputs"]] == ["prob"]
    names = [n["name"] for n in manifest["nodes"]]
    assert "conv1_1/Conv2D" in names and "fc6/MatMul" in names
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def test_inference_checkpoint_needs_no_flags(tmp_path):
    """A checkpoint without training ops: its outputs are the sinks past the saver and the initializer.
    Its dropout's keep_prob defaults to 1, so the random mask TF folds is all ones."""
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        w = v1.get_variable("w", [3, 3, 3, 6], initializer=v1.random_normal_initializer(0.0, 0.4, seed=1))
        b = v1.get_variable("b", [6], initializer=v1.random_normal_initializer(0.0, 0.2, seed=2))
        h = tf.nn.conv2d(x, w, 1, "SAME") + b
        h = tf.concat([tf.nn.selu(h), tf.nn.softsign(h), tf.exp(tf.tanh(h))], axis=3)
        keep_prob = v1.placeholder_with_default(1.0, [], name="keep_prob")    # TF1 dropout, off by default
        h = v1.nn.dropout(h, keep_prob=keep_prob)
        fc = v1.get_variable("fc", [8 * 8 * 18, 5], initializer=v1.random_normal_initializer(0.0, 0.05, seed=3))
        tf.identity(tf.matmul(tf.reshape(h, [-1, 8 * 8 * 18]), fc), name="logits")
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "ckpt" / "small"))
    bundle = str(tmp_path / "small.npz")
    manifest = export(prefix + ".meta", bundle)
    assert [(e["name"], e["tensor"]) for e in manifest["outputs"]] == [("logits", "MatMul")]  # an Identity
    functions = set(n["attrs"].get("function") for n in manifest["nodes"])
    assert {"selu", "softsign", "exponential", "tanh"} <= functions, functions
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


class _Module(tf.Module):
    """A tf.Module whose signature exercises the raw ops the Keras layers do not write."""

    def __init__(self):
        super(_Module, self).__init__()
        rng = np.random.default_rng(3)

        def var(*shape, scale=0.3, loc=0.0):
            return tf.Variable(rng.normal(loc, scale, shape).astype(np.float32))
        self.k1, self.b1 = var(3, 3, 3, 8), var(8, scale=0.2)
        self.gamma = tf.Variable(rng.uniform(0.5, 1.5, 8).astype(np.float32))
        self.beta, self.mean = var(8, scale=0.2), var(8, scale=0.5)
        self.var = tf.Variable(rng.uniform(0.5, 2.0, 8).astype(np.float32))
        self.dw, self.db = var(3, 3, 8, 2), var(16, scale=0.2)
        self.kt, self.bt = var(3, 3, 8, 24, scale=0.2), var(8, scale=0.2)
        self.k2 = var(1, 1, 24, 8)
        self.fc, self.fcb = var(8, 10), var(10, scale=0.2)
        self.shift = tf.constant(rng.normal(0.0, 0.5, 3).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 16, 16, 3], tf.float32, name="pixels")])
    def __call__(self, x):
        x = x * 1.5 - self.shift                                      # scale and shift -> rescale
        x = tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]])               # asymmetric Pad -> 19x19
        x = tf.nn.conv2d(x, self.k1, 1, "VALID") + self.b1            # Conv2D + AddV2 bias -> 17x17x8
        x, _, _ = v1.nn.fused_batch_norm(x, self.gamma, self.beta, self.mean, self.var, epsilon=1e-3,
                                         is_training=False)
        x = tf.nn.relu6(x * 3.0)
        y = tf.nn.bias_add(tf.nn.depthwise_conv2d(x, self.dw, [1, 2, 2, 1], "SAME"), self.db)  # 9x9x16
        y = tf.nn.leaky_relu(y, 0.1)
        z = tf.nn.avg_pool2d(x, 3, 2, "SAME")                        # 9x9x8
        c = tf.concat([y, z], axis=-1)                                 # 9x9x24
        u = tf.image.resize(c, [18, 18], method="nearest")            # ResizeNearestNeighbor
        u = tf.nn.conv2d(u, self.k2, 1, "SAME")
        t = tf.nn.conv2d_transpose(c, self.kt, [tf.shape(c)[0], 18, 18, 8], 2, "SAME") + self.bt
        s = tf.nn.sigmoid(t) * 2.0 + tf.tanh(u)
        s = tf.maximum(s, 0.0) + tf.minimum(u, 0.5)
        g = tf.reduce_mean(s, axis=[1, 2])                             # Mean over H, W -> (N, 8)
        return {"logits": tf.matmul(g, self.fc) + self.fcb}


def test_tf_module_saved_model(tmp_path):
    folder = str(tmp_path / "module")
    module = _Module()
    tf.saved_model.save(module, folder, signatures=module.__call__.get_concrete_function())
    assert detect_format(folder) == ("savedmodel", folder)
    bundle = str(tmp_path / "module.npz")
    manifest = export(folder, bundle, batch=3)
    ops = set(n["op"] for n in manifest["nodes"])
    for expected in ("rescale", "pad2d", "conv2d", "batch_norm", "depthwise_conv2d", "avg_pool2d", "concat",
                     "upsample2d", "conv2d_transpose", "add", "global_pool2d", "dense", "activation"):
        assert expected in ops, (expected, sorted(ops))
    assert [e["name"] for e in manifest["inputs"]] == ["pixels"]
    assert [e["name"] for e in manifest["outputs"]] == ["logits"]
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


class _MoreOps(tf.Module):
    """The remaining raw ops: gates and merges between two data tensors, strided / dilated convolutions,
    reductions, reshapes, divisions and negations by constants, bilinear resizing."""

    def __init__(self):
        super(_MoreOps, self).__init__()
        rng = np.random.default_rng(5)

        def var(*shape, scale=0.3):
            return tf.Variable(rng.normal(0.0, scale, shape).astype(np.float32))
        self.k1, self.k2, self.k3 = var(3, 3, 4, 8), var(3, 3, 8, 8), var(1, 1, 8, 4)
        self.b2 = var(8, scale=0.2)
        self.fc = var(10, 4 * 4 * 4)          # used with transpose_b
        self.fc2 = var(10 + 8, 6)

    @tf.function(input_signature=[tf.TensorSpec([None, 12, 12, 4], tf.float32, name="x")])
    def __call__(self, x):
        a = tf.nn.conv2d(x, self.k1, 2, "SAME")                        # stride 2, asymmetric SAME -> 6x6
        a = tf.nn.elu(a)
        d = tf.nn.conv2d(a, self.k2, 1, "SAME", dilations=2)           # dilated
        d = tf.nn.bias_add(tf.nn.relu(d), self.b2)                      # BiasAdd not after a conv
        gate = tf.sigmoid(tf.reduce_mean(d, axis=[1, 2], keepdims=True))
        e = d * gate                                                    # squeeze-and-excitation gate
        e = tf.maximum(0.2 * e, e) - tf.nn.max_pool2d(a, 3, 1, "SAME")  # leaky maximum, subtract
        e = tf.add_n([e, -a, (2.0 - a) / 4.0])
        e = tf.raw_ops.AddN(inputs=[e])                                 # a sum of one tensor: identity
        m = tf.reduce_max(e, axis=[1, 2], keepdims=True)                # (N, 1, 1, 8)
        v = tf.squeeze(m, axis=[1, 2])                                  # (N, 8)
        u = tf.image.resize(e, [12, 12], method="bilinear")             # ResizeBilinear, half-pixel
        u = tf.nn.max_pool2d(tf.nn.conv2d(u, self.k3, 1, "VALID"), 3, 3, "VALID")   # 4x4x4
        u = tf.transpose(u, [0, 2, 1, 3])                              # Transpose -> permute
        f = tf.reshape(u, [-1, 4 * 4 * 4])
        f = tf.matmul(f, self.fc, transpose_b=True)                     # (N, 10)
        r = tf.squeeze(tf.reshape(f, [-1, 1, 1, 10]), axis=[1, 2])
        h = tf.concat([tf.nn.relu(r), tf.tanh(v)], axis=1)              # (N, 18)
        return {"scores": tf.nn.softmax(tf.matmul(h, self.fc2))}


def test_tf_module_saved_model_more_ops(tmp_path):
    folder = str(tmp_path / "more")
    module = _MoreOps()
    tf.saved_model.save(module, folder, signatures=module.__call__.get_concrete_function())
    bundle = str(tmp_path / "more.npz")
    manifest = export(folder, bundle, batch=3)
    ops = set(n["op"] for n in manifest["nodes"])
    for expected in ("multiply", "maximum", "subtract", "upsample2d", "flatten", "global_pool2d", "concat",
                     "permute"):
        assert expected in ops, (expected, sorted(ops))
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def _keras_model(k):
    layers = k.layers
    inp = k.Input((20, 20, 3), name="image")
    x = layers.Conv2D(8, 3, activation="relu", name="c1")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.UpSampling2D(2, name="up")(x)            # Keras 3: ExpandDims + Tile + Reshape per axis
    x = layers.Cropping2D(((1, 1), (2, 0)), name="crop")(x)      # StridedSlice
    x = layers.Activation("softplus", name="soft")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(16, activation="relu", name="fc")(x)
    out = layers.Dense(5, activation="softmax", name="probs")(x)
    return randomize(k.Model(inp, out, name="exported"))


@pytest.mark.parametrize("writer", ["keras3_model_export", "tf_keras_save"])
def test_keras_saved_model(tmp_path, writer):
    """Keras 3 `model.export()` writes batch norm as x * a + b (one rescale); Keras 2 (tf_keras)
    `model.save(folder)` writes FusedBatchNormV3."""
    folder = str(tmp_path / "exported")
    if writer == "keras3_model_export":
        import keras
        _keras_model(keras).export(folder, verbose=False)
    else:
        import tf_keras
        _keras_model(tf_keras).save(folder, save_format="tf")
    bundle = str(tmp_path / "exported.npz")
    manifest = export(folder, bundle)
    ops = [n["op"] for n in manifest["nodes"]]
    assert ops.count("conv2d") == 1 and "flatten" in ops and ops.count("dense") == 2
    assert "crop2d" in ops and "upsample2d" in ops
    assert ("rescale" if writer == "keras3_model_export" else "batch_norm") in ops
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def test_unsupported_ops_are_reported_together(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 8, 8, 4], name="x")
        r = tf.nn.relu(x)
        a = tf.math.erf(r, name="erf_a")
        b = tf.math.erf(x * 2.0, name="erf_b")
        # ops after an unsupported one are not reported again
        tf.identity(a + b + tf.sin(r) + tf.cumsum(r, axis=1), name="y")
    pb = str(tmp_path / "odd.pb")
    with open(pb, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
    bundle = str(tmp_path / "odd.npz")
    with pytest.raises(UnsupportedError) as info:
        export(pb, bundle)
    text = str(info.value)
    assert "4 unsupported layer(s) of 3 type(s)" in text, text
    assert "Erf x2 (first: erf_a)" in text and "Sin x1" in text and "Cumsum x1" in text, text
    assert "Conv2D" in text     # the supported TF ops are listed
    assert not os.path.exists(bundle) and os.listdir(str(tmp_path)) == ["odd.pb"]
    assert info.value.exit_code == 4


def test_cond_on_a_training_flag_is_folded(tmp_path):
    """A tf.cond on an is_training flag keeps its inference branch (data-dependent control flow is refused:
    tests/e2e/test_legacy.py)."""
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 4, 4, 2], name="x")
        training = v1.placeholder_with_default(True, [], name="is_training")
        tf.nn.relu(tf.cond(training, lambda: x * 2.0, lambda: x + 1.0), name="y")
    pb = str(tmp_path / "cond.pb")
    with open(pb, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
    manifest = export(pb, str(tmp_path / "cond.npz"))
    assert [(n["op"], n["attrs"].get("offset")) for n in manifest["nodes"]] == [("rescale", [1.0]),
                                                                               ("activation", None)]


def _manifest(bundle):
    from shared.bundle import read_bundle
    return read_bundle(bundle, arrays=False).manifest
