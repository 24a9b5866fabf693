"""TF1-era models as their own code saved them (issue 13): checkpoints read from the graph and the
variables only (no Saver, collections ignored), and training-mode control flow resolved statically
(training flags set to inference, tf.cond v1 folded, tf.cond v2 inlined; data-dependent control flow
refused by name with its reason)."""
import contextlib
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_parity, caffe_layer_types, import_bundle
from export_tf.exporter import export
from shared.errors import ModelLoadError, UnsupportedError, UsageError

v1 = tf.compat.v1


def _ops(manifest):
    return [n["op"] for n in manifest["nodes"]]


def _save(graph, folder, name, var_list=None, write_meta=True):
    with v1.Session(graph=graph) as sess:
        sess.run(v1.global_variables_initializer())
        saver = v1.train.Saver(var_list=var_list)
        return saver.save(sess, os.path.join(folder, name), write_meta_graph=write_meta)


@contextlib.contextmanager
def _control_flow_v1():
    """tf.cond as TF1 wrote it (Switch / Merge) while the graph is built; TF 2 writes If ops."""
    from tensorflow.python.ops import control_flow_util
    before = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        yield
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = before


def _cond_bn_graph(flag, use_resource=False):
    """A TF1 net with a tf.cond batch norm (batch statistics when training, moving averages otherwise) and
    a tf.cond dropout (Switch / Merge), both on the training flag `flag(...)`, trained by an optimizer, and
    a collection naming an op that does not exist (as tflearn's meta graphs do)."""
    graph = tf.Graph()
    with graph.as_default(), _control_flow_v1():
        v1.set_random_seed(1)
        x = v1.placeholder(tf.float32, [None, 8, 8, 3], name="images")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        training = flag()
        init = v1.random_normal_initializer(0.0, 0.4, seed=2)
        with v1.variable_scope("conv", use_resource=use_resource):
            w = v1.get_variable("weights", [3, 3, 3, 6], initializer=init)
            h = tf.nn.conv2d(x, w, 1, "SAME")
        with v1.variable_scope("bn", use_resource=use_resource):
            gamma = v1.get_variable("gamma", [6], initializer=v1.random_uniform_initializer(0.5, 1.5, seed=3))
            beta = v1.get_variable("beta", [6], initializer=v1.random_normal_initializer(0.0, 0.3, seed=4))
            mean = v1.get_variable("moving_mean", [6], trainable=False,
                                   initializer=v1.random_normal_initializer(0.0, 0.5, seed=5))
            var = v1.get_variable("moving_variance", [6], trainable=False,
                                  initializer=v1.random_uniform_initializer(0.5, 2.0, seed=6))

            m, v = tf.cond(training, lambda: tf.nn.moments(h, [0, 1, 2]),
                           lambda: (tf.identity(mean), tf.identity(var)))
            h = tf.nn.relu(tf.nn.batch_normalization(h, m, v, beta, gamma, 1e-3))
        h = tf.cond(training, lambda: tf.nn.dropout(h, rate=0.5), lambda: h)
        with v1.variable_scope("fc", use_resource=use_resource):
            fc = v1.get_variable("weights", [8 * 8 * 6, 5], initializer=v1.random_normal_initializer(0, 0.1, seed=7))
            logits = tf.matmul(tf.reshape(h, [-1, 8 * 8 * 6]), fc)
        tf.nn.softmax(logits, name="prob")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        v1.train.MomentumOptimizer(0.01, 0.9).minimize(loss, name="Momentum_step")
        v1.add_to_collection("trainops", "Momentum")        # a name import_meta_graph cannot resolve
    return graph


FLAGS = {
    "placeholder": lambda: v1.placeholder(tf.bool, [], name="is_training"),
    "placeholder_with_default_true": lambda: v1.placeholder_with_default(True, [], name="is_training"),
    "variable": lambda: v1.get_variable("is_training", [], tf.bool, initializer=v1.constant_initializer(True),
                                        trainable=False),
    "keras_learning_phase": lambda: v1.placeholder(tf.bool, [], name="keras_learning_phase"),
    # Keras 1's learning phase was a uint8 placeholder, cast to bool for the switch
    "keras1_learning_phase_uint8": lambda: tf.cast(v1.placeholder(tf.uint8, [], name="keras_learning_phase"),
                                                   tf.bool),
}


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_cond_batch_norm_and_dropout_on_a_training_flag(flag, tmp_path):
    graph = _cond_bn_graph(FLAGS[flag])
    prefix = _save(graph, str(tmp_path / "ckpt"), "model.ckpt")
    with pytest.raises(Exception):          # what import_meta_graph does with such a collection
        v1.train.import_meta_graph(prefix + ".meta")
    messages = []
    bundle = str(tmp_path / "model.npz")
    manifest = export(prefix, bundle, outputs=["prob:0"], log=messages.append)
    assert any(re.search(r"(is_training|keras_learning_phase) = (false|0) ", m) for m in messages), messages
    assert "batch_norm" in _ops(manifest) or "rescale" in _ops(manifest), _ops(manifest)
    if flag == "placeholder":
        assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def test_resource_variables_and_saver_names(tmp_path):
    """VarHandleOp variables read through ReadVariableOp, saved under names of the Saver's own choosing."""
    graph = _cond_bn_graph(FLAGS["placeholder"], use_resource=True)
    with graph.as_default():
        renamed = dict(("renamed/" + v.op.name, v) for v in v1.global_variables())
    prefix = _save(graph, str(tmp_path / "ckpt"), "model.ckpt", var_list=renamed)
    reader = tf.train.load_checkpoint(prefix)
    assert all(k.startswith("renamed/") for k in reader.get_variable_to_shape_map())
    bundle = str(tmp_path / "model.npz")
    export(prefix, bundle, outputs=["prob:0"])
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def test_missing_variable_is_named(tmp_path):
    graph = _cond_bn_graph(FLAGS["placeholder"])
    with graph.as_default():
        partial = [v for v in v1.global_variables() if v.op.name != "fc/weights"]
    prefix = _save(graph, str(tmp_path / "ckpt"), "model.ckpt", var_list=partial)
    with pytest.raises(ModelLoadError, match="fc/weights"):
        export(prefix, str(tmp_path / "model.npz"), outputs=["prob:0"])


def _dropout_keep_prob_graph():
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        keep = v1.placeholder(tf.float32, [], name="keep_prob")
        w = v1.get_variable("w", [6, 4], initializer=v1.random_normal_initializer(0.0, 0.5, seed=1))
        v1.identity(v1.nn.dropout(tf.matmul(x, w), keep_prob=keep), name="y")
    return graph


def test_set_fixes_a_placeholder(tmp_path):
    prefix = _save(_dropout_keep_prob_graph(), str(tmp_path / "ckpt"), "model.ckpt")
    with pytest.raises(UsageError, match="--set"):
        export(prefix, str(tmp_path / "refused.npz"), outputs=["y:0"])
    with pytest.raises(UsageError, match="no placeholder or variable 'keep'"):
        export(prefix, str(tmp_path / "refused.npz"), outputs=["y:0"], settings={"keep": 1.0})
    bundle = str(tmp_path / "model.npz")
    export(prefix, bundle, outputs=["y:0"], settings={"keep_prob": 1.0})
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def _write_pb(graph_def, path):
    with open(path, "wb") as f:
        f.write(graph_def.SerializeToString())
    return path


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_data_dependent_cond_is_refused_with_its_reason(version, tmp_path):
    graph = tf.Graph()
    with graph.as_default(), (_control_flow_v1() if version == "v1" else contextlib.nullcontext()):
        x = v1.placeholder(tf.float32, [None, 4, 4, 2], name="x")
        tf.nn.relu(tf.cond(tf.reduce_mean(x) > 0.0, lambda: x * 2.0, lambda: x + 1.0), name="y")
    pb = _write_pb(graph.as_graph_def(), str(tmp_path / "cond.pb"))
    with pytest.raises(UnsupportedError) as info:
        export(pb, str(tmp_path / "cond.npz"))
    text = str(info.value)
    assert ("Switch" if version == "v1" else "StatelessIf") in text, text
    assert "its predicate Greater depends on the model input x" in text, text
    assert os.listdir(str(tmp_path)) == ["cond.pb"]


def test_set_true_keeps_the_training_branch_and_refuses_it(tmp_path):
    graph = _cond_bn_graph(FLAGS["placeholder"])
    prefix = _save(graph, str(tmp_path / "ckpt"), "model.ckpt")
    with pytest.raises(UnsupportedError) as info:
        export(prefix, str(tmp_path / "model.npz"), outputs=["prob:0"], settings={"is_training": True})
    assert "RandomUniform" in str(info.value) or "moments" in str(info.value), str(info.value)


class _CondV2(tf.Module):
    """A tf.function whose batch norm and dropout are tf.cond v2 (If ops) on a `training` argument."""

    def __init__(self):
        super(_CondV2, self).__init__()
        rng = np.random.default_rng(4)
        self.k = tf.Variable(rng.normal(0, 0.4, (3, 3, 3, 6)).astype(np.float32))
        self.mean = tf.Variable(rng.normal(0, 0.5, 6).astype(np.float32))
        self.var = tf.Variable(rng.uniform(0.5, 2.0, 6).astype(np.float32))
        self.fc = tf.Variable(rng.normal(0, 0.1, (6, 5)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="x"),
                                  tf.TensorSpec([], tf.bool, name="training")])
    def __call__(self, x, training):
        h = tf.nn.conv2d(x, self.k, 1, "SAME")
        m, v = tf.cond(training, lambda: tf.nn.moments(h, [0, 1, 2]), lambda: (self.mean, self.var))
        h = tf.nn.relu(tf.nn.batch_normalization(h, m, v, None, None, 1e-3))
        h = tf.cond(training, lambda: tf.nn.dropout(h, rate=0.5), lambda: tf.identity(h))
        return {"logits": tf.matmul(tf.reduce_mean(h, axis=[1, 2]), self.fc)}


def test_tf_function_cond_v2_on_a_training_flag(tmp_path):
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    module = _CondV2()
    concrete = module.__call__.get_concrete_function()
    folder = str(tmp_path / "saved")
    tf.saved_model.save(module, folder, signatures=concrete)
    bundle = str(tmp_path / "saved.npz")
    manifest = export(folder, bundle)
    assert [e["name"] for e in manifest["inputs"]] == ["x"]
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))
    # the same function frozen with its If ops kept (function branches): inlined
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False).graph.as_graph_def()
    assert sum(n.op in ("If", "StatelessIf") for n in frozen.node) == 2
    pb = _write_pb(frozen, str(tmp_path / "cond_v2.pb"))
    bundle = str(tmp_path / "cond_v2.npz")
    messages = []
    manifest = export(pb, bundle, outputs=["Identity:0"], log=messages.append)
    assert any("resolved 2 control-flow" in m for m in messages), messages
    assert [e["name"] for e in manifest["inputs"]] == ["x"]
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe_v2")))


def test_lrn(tmp_path):
    """tf.nn.local_response_normalization (AlexNet's, GoogLeNet's) is Caffe's LRN across channels: local_size
    2r + 1 and alpha times it (Caffe divides alpha by the window)."""
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 6, 6, 7], name="x")
        h = tf.nn.local_response_normalization(tf.nn.relu(x) * 3.0, depth_radius=2, bias=2.0, alpha=1e-1,
                                               beta=0.75, name="lrn")
        tf.identity(tf.nn.local_response_normalization(h - 1.0, depth_radius=5, name="lrn_default"), name="y")
    pb = _write_pb(graph.as_graph_def(), str(tmp_path / "lrn.pb"))
    bundle = str(tmp_path / "lrn.npz")
    manifest = export(pb, bundle)
    assert [n["attrs"] for n in manifest["nodes"] if n["op"] == "lrn"][0] == {
        "depth_radius": 2, "bias": 2.0, "alpha": pytest.approx(0.1), "beta": 0.75}
    result = import_bundle(bundle, str(tmp_path / "caffe"))
    assert_parity(result)
    assert caffe_layer_types(result).count("LRN") == 2


def test_checkpoint_weights_stay_out_of_the_graph(tmp_path):
    """A checkpoint's large variables are fed to the reference run as arrays, never serialised into the
    GraphDef (which holds a constant as a copy and cannot exceed protobuf's 2 GB): make bench's big_ckpt
    (2.4 GB of weights) exports within 3.1 GB."""
    from export_tf.graphdef.load import load_graph
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 512], name="x")
        w = v1.get_variable("w", [512, 512], initializer=v1.random_normal_initializer(0.0, 0.05, seed=1),
                            use_resource=False)
        b = v1.get_variable("b", [512], initializer=v1.random_normal_initializer(0.0, 0.2, seed=2))
        tf.identity(tf.nn.relu(tf.matmul(x, w) + b), name="y")
    prefix = _save(graph, str(tmp_path / "ckpt"), "model.ckpt")
    loaded = load_graph("checkpoint", prefix, outputs=["y:0"])
    assert sorted(loaded.constants) == ["w:0"] and loaded.constants["w:0"].shape == (512, 512)
    assert loaded.graph_def.ByteSize() < 20000           # the 1 MB kernel is not in it; the small bias is
    bundle = str(tmp_path / "model.npz")
    export(prefix, bundle, outputs=["y:0"])
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))
