"""Activations end to end. Each model applies many activations side by side to one spread-out tensor
(every branch is an output, and the report names each layer, so a failure points at its activation):
by name (Activation), as layer classes (ReLU, LeakyReLU, ELU, PReLU, Softmax), fused into Conv2D and
Dense, on images (channel axis = Caffe axis 1) and on vectors. Inputs are scaled so values straddle
every threshold (0, +-3 for hard_sigmoid, 6 for relu6, the ReLU thresholds) and reach +-40 for
softplus, whose Caffe form (BNLL) must not overflow."""
import os

import keras
import numpy as np
import pytest
from keras import layers

from conftest import assert_parity, import_bundle

NAMED = ["relu", "relu6", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus", "softsign", "silu",
         "swish", "hard_sigmoid", "hard_silu", "hard_swish", "gelu", "exponential", "leaky_relu", "mish",
         "hard_tanh", "log_sigmoid", "tanh_shrink", "celu", "sparse_sigmoid", "hard_shrink", "soft_shrink",
         "sparse_plus", "squareplus"]
CLASSES = 5


@keras.saving.register_keras_serializable(package="keras_hub", name="gelu_approximate")
def gelu_approximate(x):
    """What KerasHub registers (GPT-2 and others use it): the tanh form of gelu, lowered exactly."""
    return keras.activations.gelu(x, approximate=True)


def _layer_classes(prefix):
    return [
        layers.ReLU(name=prefix + "relu_layer"),
        layers.ReLU(max_value=6.0, name=prefix + "relu_max6"),
        layers.ReLU(negative_slope=0.1, name=prefix + "relu_slope"),
        layers.ReLU(max_value=3.0, negative_slope=0.2, name=prefix + "relu_max3_slope"),
        layers.ReLU(threshold=1.5, name=prefix + "relu_threshold"),
        layers.ReLU(threshold=0.5, negative_slope=0.2, name=prefix + "relu_threshold_slope"),
        layers.ReLU(threshold=1.0, max_value=4.0, negative_slope=0.1, name=prefix + "relu_threshold_max_slope"),
        layers.LeakyReLU(name=prefix + "leaky_default"),
        layers.LeakyReLU(negative_slope=0.05, name=prefix + "leaky"),
        layers.ELU(name=prefix + "elu_layer"),
        layers.ELU(alpha=0.5, name=prefix + "elu_alpha"),
        layers.Softmax(name=prefix + "softmax_layer"),
    ]


def _branches(x, prefix):
    outs = [layers.Activation(n, name=prefix + n)(x) for n in NAMED]
    outs.append(layers.Activation(gelu_approximate, name=prefix + "gelu_tanh")(x))
    outs += [layer(x) for layer in _layer_classes(prefix)]
    wide = layers.Rescaling(10.0, name=prefix + "wider")(x)     # +-40 and beyond
    outs += [layers.Activation(n, name=prefix + "wide_" + n)(wide) for n in ("softplus", "gelu", "silu", "softsign")]
    return outs


def test_every_activation_on_images_and_vectors(check):
    image = keras.Input((6, 7, 3), name="image")
    x = layers.Conv2D(CLASSES, 3, padding="same", name="conv")(image)
    x = layers.Rescaling(4.0, name="spread")(x)
    vector = keras.Input((10,), name="features")
    v = layers.Dense(CLASSES, name="dense")(vector)
    v = layers.Rescaling(4.0, name="v_spread")(v)
    report = check(keras.Model([image, vector], _branches(x, "") + _branches(v, "v_")))
    gelu = [a for a in report["approximations"] if a["layer"] in ("gelu", "wide_gelu", "v_gelu", "v_wide_gelu")]
    assert len(gelu) == 4 and len(report["approximations"]) == 4, report["approximations"]
    assert all(a["max_rel"] < 1e-6 for a in gelu), gelu       # the erf approximation, measured


# Fused activations after which the layer's values before the activation are stored and compared too:
# those that saturate, normalise or squash (export_tf.reference.needs_preactivation); after the others
# the activation's own output, compared anyway, shows the layer's errors.
COMPARED_BEFORE = ["relu6", "sigmoid", "tanh", "softmax", "softsign", "hard_sigmoid", "exponential", "hard_tanh",
                   "sparse_sigmoid"]


def test_fused_activations(check):
    """Every named activation as Conv2D's and Dense's `activation=`; the kernels are large so the
    pre-activations spread over +-10. The layers before a saturating or normalising activation are
    compared on their own (logits before a softmax), the others through their activation's output."""
    image = keras.Input((5, 5, 3), name="image")
    vector = keras.Input((8,), name="features")
    init = keras.initializers.RandomNormal(stddev=1.0, seed=1)
    outs = []
    for n in NAMED:
        outs.append(layers.Conv2D(4, 3, padding="same", activation=n, kernel_initializer=init, name="conv_" + n)(image))
        outs.append(layers.Dense(4, activation=n, kernel_initializer=init, name="dense_" + n)(vector))
    outs.append(layers.Dense(4, activation=gelu_approximate, kernel_initializer=init, name="dense_gelu_tanh")(vector))
    report = check(keras.Model([image, vector], outs))
    assert sorted(a["layer"] for a in report["approximations"]) == ["conv_gelu", "dense_gelu"]
    before = [r["layer"] for r in report["layers"] if r["type"].endswith("(before activation)")]
    assert sorted(before) == sorted(p + n for n in COMPARED_BEFORE for p in ("conv_", "dense_"))


def test_prelu_shared_axes(check):
    """Per channel (shared over H, W: Caffe PReLU), one slope (channel_shared), and slopes that vary
    over H, W or both (ReLU + Scale + Eltwise)."""
    image = keras.Input((4, 5, 3), name="image")
    x = layers.Conv2D(3, 3, padding="same", name="conv")(image)
    x = layers.Rescaling(3.0, name="spread")(x)
    vector = keras.Input((6,), name="features")
    prelus = [
        layers.PReLU(shared_axes=[1, 2], name="per_channel")(x),
        layers.PReLU(shared_axes=[1, 2, 3], name="shared")(x),
        layers.PReLU(name="per_element")(x),
        layers.PReLU(shared_axes=[1], name="over_height")(x),
        layers.PReLU(shared_axes=[3], name="over_channels")(x),
        layers.PReLU(name="vector_per_unit")(vector),
        layers.PReLU(shared_axes=[1], name="vector_shared")(vector),
    ]
    sequence = keras.Input((6, 3), name="sequence")
    prelus += [layers.PReLU(shared_axes=[1], name="sequence_per_channel")(sequence),
               layers.PReLU(name="sequence_per_element")(sequence)]
    model = keras.Model([image, vector, sequence], prelus)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, layers.PReLU):
            layer.alpha.assign(rng.uniform(-0.5, 1.5, tuple(layer.alpha.shape)).astype("float32"))
    check(model)


def test_softmax_axes(check):
    """Softmax over H, W, channels, and over (H, W) and (H, C) together (Reshape + Softmax + Reshape),
    on pre-softmax values wide enough that a wrong axis shows; over a sequence's steps, channels, both."""
    image = keras.Input((4, 5, 3), name="image")
    x = layers.Conv2D(3, 3, padding="same", name="conv")(image)
    x = layers.Rescaling(3.0, name="spread")(x)
    outs = [layers.Softmax(axis=axis, name=name)(x) for axis, name in
            [(1, "over_h"), (2, "over_w"), (-1, "over_c"), (3, "over_c3"), (-3, "over_h_neg"), ((1, 2), "over_hw"),
             ((1, 3), "over_hc"), ((1, 2, 3), "over_all")]]
    sequence = keras.Input((6, 4), name="sequence")
    s = layers.Rescaling(3.0, name="sequence_spread")(sequence)
    outs += [layers.Softmax(axis=axis, name=name)(s) for axis, name in
             [(1, "over_steps"), (-1, "over_features"), ((1, 2), "over_sequence")]]
    check(keras.Model([image, sequence], outs))


def test_activation_on_input(check):
    """Applied straight to the network input blob, then consumed by another layer."""
    inp = keras.Input((5, 5, CLASSES), name="image")
    outs = []
    for act in (layers.Activation("relu", name="relu"), layers.Activation("softmax", name="softmax"),
                layers.ReLU(max_value=3.0, negative_slope=0.2, name="relu_max_slope"),
                layers.Activation("gelu", name="gelu")):
        outs.append(layers.Conv2D(3, 1, name="conv_" + act.name)(act(inp)))
    report = check(keras.Model(inp, outs))
    (gelu,) = report["approximations"]
    assert gelu["layer"] == "gelu" and gelu["input_max_abs"] == 0.0, gelu
    assert gelu["max_abs"] < 1e-6, gelu          # the erf approximation alone, on exact inputs


def test_activation_chain(check):
    """Several activations in a row: each Caffe layer must read the previous one's top."""
    inp = keras.Input((4, 4, CLASSES), name="image")
    x = layers.LeakyReLU(negative_slope=0.2, name="leaky")(inp)
    x = layers.ReLU(max_value=1.0, name="clip")(x)
    x = layers.Activation("hard_silu", name="hard_silu")(x)
    x = layers.Activation("tanh", name="tanh")(x)
    out = layers.Softmax(name="probs")(x)
    check(keras.Model(inp, out))


def test_keras2_activations(tmp_path, monkeypatch):
    """A model Keras 2 (tf_keras) loads: its hard_sigmoid is clip(0.2 x + 0.5, 0, 1), not Keras 3's
    relu6(x + 3) / 6, and it has ThresholdedReLU; values straddle +-2.5 and the threshold."""
    tf_keras = pytest.importorskip("tf_keras")
    from export_tf.exporter import export
    L = tf_keras.layers
    inp = tf_keras.Input((4, 4, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    x = L.Rescaling(4.0, name="spread")(x)
    outs = [L.Activation("hard_sigmoid", name="hard_sigmoid")(x), L.ThresholdedReLU(theta=0.7, name="thresholded")(x),
            L.Activation("swish", name="swish")(x), L.Activation("gelu", name="gelu")(x), L.ELU(alpha=0.6, name="elu")(x),
            L.Conv2D(3, 1, activation="hard_sigmoid", name="conv_hard_sigmoid")(x)]     # fused, Keras 2 formula
    path = os.path.join(str(tmp_path), "legacy.h5")
    tf_keras.Model(inp, outs).save(path)

    def refuse(*args, **kwargs):
        raise ValueError("Keras 3 cannot read this file")
    monkeypatch.setattr(keras.models, "load_model", refuse)
    bundle = os.path.join(str(tmp_path), "legacy.npz")
    manifest = export(path, bundle)
    assert manifest["source"]["format"] == "h5-keras2"
    hard = [n for n in manifest["nodes"] if n["name"] == "hard_sigmoid"][0]
    assert hard["attrs"]["slope"] == 0.2
    assert_parity(import_bundle(bundle, os.path.join(str(tmp_path), "caffe")))
