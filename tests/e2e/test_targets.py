"""Caffe targets end to end: one bundle imported for the Caffe here (auto: Debian's package has Clip and
Swish; the Caffe built from source, `CAFFE=source`, has neither) and for BVLC Caffe 1.0
(`--target caffe-1.0`: neither), whose exact compositions run in either Caffe. Both must reach parity,
and the prototxt must use exactly the layers its target has."""
import os

import keras
from keras import layers

from conftest import ROOT, assert_parity, caffe_layer_types, import_bundle, randomize


def _caffe_here():
    """The target auto must detect: the root filesystem docker/caffe-run enters is Debian's package, or
    Caffe built from source (docker/build-caffe-source records itself there)."""
    rootfs = os.environ.get("TF2CAFFE_ROOTFS") or os.path.join(ROOT, ".caffe-root")
    if os.path.exists(os.path.join(rootfs, ".tf2caffe-caffe-source")):
        return "caffe-1.0", "no Clip, no Swish"
    return "caffe-1.0-debian", "Clip, Swish"


def _model():
    """Everything that clips or uses swish: as layers, as Activation names, fused into Conv2D / Dense."""
    inp = keras.Input((5, 6, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    x = layers.Rescaling(4.0, name="spread")(x)
    vec = keras.Input((6,), name="features")
    init = keras.initializers.RandomNormal(stddev=1.5, seed=2)
    outs = [
        layers.ReLU(max_value=6.0, name="relu_max6")(x),
        layers.ReLU(max_value=2.5, negative_slope=0.1, name="relu_max_slope")(x),
        layers.ReLU(threshold=1.0, max_value=4.0, name="relu_threshold_max")(x),
        layers.Activation("relu6", name="relu6")(x),
        layers.Activation("hard_sigmoid", name="hard_sigmoid")(x),
        layers.Activation("hard_silu", name="hard_silu")(x),
        layers.Activation("hard_tanh", name="hard_tanh")(x),
        layers.Activation("silu", name="silu")(x),
        layers.Activation("sparse_plus", name="sparse_plus")(x),
        layers.Conv2D(4, 3, padding="same", activation="relu6", kernel_initializer=init, name="conv_relu6")(inp),
        layers.Dense(5, activation="silu", kernel_initializer=init, name="dense_silu")(vec),
        layers.Dense(5, activation="hard_silu", kernel_initializer=init, name="dense_hard_silu")(vec),
    ]
    return keras.Model([inp, vec], outs)


def test_auto_and_caffe_1_0_targets(tmp_path):
    from export_tf.exporter import export
    model = randomize(_model())
    model_path = os.path.join(str(tmp_path), "model.keras")
    model.save(model_path)
    bundle = os.path.join(str(tmp_path), "bundle.npz")
    export(model_path, bundle, batch=2, seed=0)

    auto = import_bundle(bundle, os.path.join(str(tmp_path), "auto"))
    report = assert_parity(auto)
    target, layers_here = _caffe_here()
    assert report["target"] == target and report["target_detail"]["source"] == "detected"
    assert "target: %s (detected; %s)" % (target, layers_here) in auto.stdout
    types = set(caffe_layer_types(auto))
    if target == "caffe-1.0-debian":
        assert {"Clip", "Swish"} <= types, types
    else:
        assert not {"Clip", "Swish"} & types, types

    old = import_bundle(bundle, os.path.join(str(tmp_path), "old"), "--target", "caffe-1.0")
    report = assert_parity(old)
    assert report["target"] == "caffe-1.0" and report["target_detail"]["source"] == "requested"
    assert "target: caffe-1.0 (requested; no Clip, no Swish)" in old.stdout
    types = set(caffe_layer_types(old))
    assert not {"Clip", "Swish"} & types, types
    assert {"Eltwise", "Power", "ReLU", "Sigmoid", "Threshold"} <= types, types
    assert report["notes"]["relu6"].startswith("clipped exactly"), report["notes"]
    assert report["notes"]["silu"].startswith("silu as Sigmoid + Eltwise PROD"), report["notes"]

    bad = import_bundle(bundle, os.path.join(str(tmp_path), "bad"), "--target", "caffe-0.9")
    assert bad.returncode == 2, bad.describe()
    assert "unknown target 'caffe-0.9' (known: auto, caffe-1.0, caffe-1.0-debian, mnn, opencv; runtimes' targets join with +, e.g. mnn+opencv)" in bad.stderr
    assert not os.path.exists(os.path.join(str(tmp_path), "bad", "report.json"))
