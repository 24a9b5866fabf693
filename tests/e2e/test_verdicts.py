"""Issue 17, verdicts users can trust, end to end in the real Caffe environment:

* every layer is judged on its own error (its Caffe layers run on TF's values of its inputs), its drift
  shown beside it: EfficientNetV2B0, which the flat end-to-end rule refused, converts; the own error of
  every exact lowering of the acceptance models is float32 round-off (reported by test_own_errors);
* a deliberately wrong lowering (a test-only plugin: a kernel transposed wrongly, BatchNorm without its
  epsilon) is still refused, naming that layer as the first own-error failure, on VGG16, MobileNetV2 and
  EfficientNetB0; --keep-on-failure keeps its files under names that say they failed;
* reference inputs fit the model: float Inputs that feed Embeddings get valid ids (plain make export /
  make import), a Rescaling front end or a graph's x / 255 gets 0..255, and ids outside an Embed's table
  never reach Caffe; without per-layer activations the report says it judged end to end."""
import json
import os
import subprocess

import keras
import numpy as np
import pytest
from keras import layers

from conftest import ROOT, assert_parity, convert, import_bundle, randomize
from shared.bundle import read_bundle

PLUGIN = os.path.join(ROOT, "tests", "e2e", "plugins", "wrong_lowering_plugin.py")
FLAT_RULE = 1e-4        # the rule before: every tensor's end-to-end difference within 1e-4 of its range
ROUND_OFF = 1e-6        # the own error of an exact lowering (issue 17), beyond TF's own float32 round-off


def application(name, size, seed=1):
    keras.utils.set_random_seed(seed)
    return randomize(getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3)), seed)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The acceptance models, each converted once: name -> Result."""
    done = {}

    def get(name):
        if name not in done:
            folder = tmp_path_factory.mktemp(name)
            if name == "EfficientNetV2B0":
                # the refusal at 224x224 (the smallest size that reproduces it with a margin: 192
                # refuses by 1.45x, 160 only with other weights and by 5%), on the standard-normal
                # reference inputs the exporter drew before it knew the Rescaling front end
                model, kwargs = application(name, 224, seed=12), {"reference_inputs": {
                    0: np.random.default_rng(0).standard_normal((2, 224, 224, 3)).astype(np.float32)}}
            else:
                model, kwargs = application(name, 32), {}
            done[name] = convert(model, folder, **kwargs)
        return done[name]
    return get


def test_a_correct_conversion_the_flat_rule_refused_now_converts(converted):
    result = converted("EfficientNetV2B0")
    report = assert_parity(result)
    rows = [r for r in report["layers"] if r["status"] != "not compared"]
    worst = max(rows, key=lambda r: r["max_rel"])
    print("EfficientNetV2B0 224x224: worst drift %.2e at %s (tolerance %.2e, depth %d, gain %.3g), its own error "
          "%.2e; outputs drift %.2e, argmax %d/%d" % (
              worst["max_rel"], worst["layer"], worst["drift_tolerance"], worst["depth"], worst["gain"] or 1,
              worst["own_rel"], report["summary"]["outputs_max_rel"], report["outputs"][0]["argmax_agree"],
              report["outputs"][0]["argmax_total"]))
    assert worst["max_rel"] > FLAT_RULE and worst["layer"] == "block6h_se_expand"     # the flat rule refused it
    assert all(r["judged"] == "own error" for r in rows) and report["summary"]["first_divergence"] is None
    assert worst["max_rel"] <= worst["drift_tolerance"]       # explained by depth and the gate's measured gain


# ----------------------------------------------------------------------------------------- own errors

def _exact(node, bundle, values):
    """TF's layer computed exactly (float64) from TF's values of its inputs, for a convolution or a Dense
    with its fused activation; None for other ops."""
    if node["op"] not in ("conv2d", "dense") or node["attrs"].get("groups", 1) != 1:
        return None
    x = values[node["inputs"][0]].astype(np.float64)
    kernel = bundle.arrays[node["arrays"]["kernel"]].astype(np.float64)
    if node["op"] == "dense":
        y = x @ kernel
    else:
        top, bottom, left, right = node["attrs"]["pads"]
        (sh, sw), (kh, kw) = node["attrs"]["strides"], kernel.shape[:2]
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
        y = np.einsum("nhwcij,ijco->nhwo", windows, kernel)
    if "bias" in node["arrays"]:
        y = y + bundle.arrays[node["arrays"]["bias"]].astype(np.float64)
    function = (node["attrs"].get("activation") or {}).get("function")
    if function in ("silu", "swish"):
        y = y / (1 + np.exp(-y))
    elif function == "sigmoid":
        y = 1 / (1 + np.exp(-y))
    elif function == "relu":
        y = np.maximum(y, 0)
    elif function == "softmax":
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
    elif function is not None:
        return None
    return y


@pytest.mark.parametrize("name", ["VGG16", "MobileNetV2", "EfficientNetB0", "EfficientNetV2B0"])
def test_own_errors(converted, name):
    """Every exact lowering's own error is within ROUND_OFF of TF's value, beyond the round-off of TF's value
    itself: where the own error exceeds ROUND_OFF (dot products of 1,000 to 4,600 terms, a softmax of them),
    TF's float32 value is that far from the exact one too (computed here in float64)."""
    result = converted(name)
    report = assert_parity(result)
    bundle = read_bundle(result.bundle)
    values = {}
    for part in ("inputs", "outputs", "activations"):
        values.update(bundle.reference(part))
    nodes = dict((n["name"], n) for n in bundle.manifest["nodes"])
    rows = [r for r in report["layers"] if r.get("judged") == "own error" and not r.get("before_activation")]
    over = []
    for row in rows:
        if row["own_rel"] > ROUND_OFF:
            exact = _exact(nodes[row["layer"]], bundle, values)
            assert exact is not None, "%s (%s): own error %.2e" % (row["layer"], row["type"], row["own_rel"])
            tf_error = float(np.abs(values[row["tensor"]] - exact).max()) / row["scale"]
            over.append((row["layer"], row["own_rel"], tf_error))
            assert row["own_rel"] <= ROUND_OFF + tf_error, over[-1]
    print("%s: %d layers, own error max %.2e (median %.2e); over %.0e: %d, each explained by TF's own round-off: %s"
          % (name, len(rows), max(r["own_rel"] for r in rows), float(np.median([r["own_rel"] for r in rows])),
             ROUND_OFF, len(over), ", ".join("%s %.2e (TF vs exact %.2e)" % o for o in over[:4])))
    if name in ("EfficientNetB0", "EfficientNetV2B0"):
        assert report["inputs"][0]["domain"]["kind"] == "pixels"          # a Rescaling(1/255) front end


# ----------------------------------------------------------------------------------------- wrong lowerings

def _with_wrong_layer(model, layer_name, wrong_class):
    from export_tf.plugins import activate, custom_objects
    activate([PLUGIN])
    cls = custom_objects()[wrong_class]
    clone = keras.models.clone_model(model, clone_function=lambda layer: (
        cls if layer.name == layer_name else type(layer)).from_config(layer.get_config()))
    clone.set_weights(model.get_weights())
    return clone


WRONG = [
    ("VGG16", "block3_conv2", "WrongKernelConv2D"),
    ("MobileNetV2", "block_6_depthwise", "WrongKernelDepthwiseConv2D"),
    ("MobileNetV2", "block_6_depthwise_BN", "NoEpsilonBatchNormalization"),
    ("EfficientNetB0", "block4a_dwconv", "WrongKernelDepthwiseConv2D"),
    ("EfficientNetB0", "block4a_bn", "NoEpsilonBatchNormalization"),
]


@pytest.mark.parametrize("app, layer, wrong", WRONG, ids=["%s-%s" % (a, w) for a, _, w in WRONG])
def test_a_wrong_lowering_is_refused_naming_its_layer(tmp_path, app, layer, wrong):
    from export_tf.exporter import export
    model = _with_wrong_layer(application(app, 32), layer, wrong)
    model.save(str(tmp_path / "model.keras"))
    bundle = str(tmp_path / "bundle.npz")
    export(str(tmp_path / "model.keras"), bundle, plugins=[PLUGIN])
    keep = wrong == "NoEpsilonBatchNormalization" and app == "MobileNetV2"
    out = str(tmp_path / "caffe")
    result = import_bundle(bundle, out, "--plugin", PLUGIN, *(["--keep-on-failure"] if keep else []))
    assert result.returncode == 3, result.describe()
    summary = result.report["summary"]
    assert (summary["first_divergence"], summary["first_divergence_judged"]) == (layer, "own error")
    failing = [r for r in result.report["layers"] if r["status"] != "ok"]
    assert set(r["layer"] for r in failing) == set([layer]), result.describe()    # the layers after it pass
    row = failing[-1]
    print("%s with %s at %s: own error %.2e (tolerance %.0e); drift at the outputs %.2e" % (
        app, wrong, layer, row["own_rel"], row["own_tolerance"], summary["outputs_max_rel"]))
    assert "layer %s fails on its own error" % layer in result.stderr and "fix the plugin" in result.stderr
    files = sorted(os.listdir(out))
    if keep:
        stem = result.report["files"]["prototxt"][:-len(".failed-verification.prototxt")]
        assert files == sorted([stem + ".failed-verification.caffemodel", stem + ".failed-verification.prototxt",
                                "report.html", "report.json"])
        assert result.report["files_failed_verification"] is True and "failed verification" in result.stderr
    else:
        assert files == ["report.html", "report.json"]
        assert "--keep-on-failure" in result.stderr


# ----------------------------------------------------------------------------------------- reference inputs

def text_cnn():
    """A two-input character CNN: char ids and char-type ids, each a float Input (Keras' default dtype)."""
    chars = keras.Input((21,), name="chars")
    types = keras.Input((21,), name="char_types")
    a = layers.Embedding(70, 16, name="char_embedding")(chars)
    b = layers.Embedding(5, 4, name="type_embedding")(layers.Reshape((21,), name="same_ids")(types))
    x = layers.Concatenate(name="features")([a, b])
    x = layers.Conv1D(32, 3, activation="relu", name="conv")(x)
    x = layers.GlobalMaxPooling1D(name="pool")(x)
    return randomize(keras.Model([chars, types], layers.Dense(3, activation="softmax", name="probs")(x),
                                 name="text_cnn"))


def make(target, cwd, **variables):
    env = dict((k, v) for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"))
    env.update(TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(["make", "-s", "-f", os.path.join(ROOT, "Makefile"), target] +
                          ["%s=%s" % kv for kv in sorted(variables.items())], cwd=str(cwd), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)


def test_float_inputs_that_feed_embeddings_convert_with_plain_make(tmp_path):
    text_cnn().save(str(tmp_path / "text_cnn.keras"))
    proc = make("export", tmp_path, MODEL="text_cnn.keras", BUNDLE="text_cnn.npz")
    assert proc.returncode == 0, proc.stderr
    proc = make("import", tmp_path, BUNDLE="text_cnn.npz", OUT="caffe")
    assert proc.returncode == 0, proc.stderr
    report = json.load(open(str(tmp_path / "caffe" / "report.json")))
    assert report["summary"]["status"] == "ok" and report["reference_inputs"] == {"made": "generated", "seed": 0}
    domains = dict((e["name"], e["domain"]) for e in report["inputs"])
    assert (domains["chars"]["low"], domains["chars"]["high"]) == (0, 70)
    assert (domains["char_types"]["low"], domains["char_types"]["high"]) == (0, 5)
    assert "Embedding 'type_embedding'" in domains["char_types"]["reason"]
    ranges = dict((e["name"], e["reference_range"]) for e in report["inputs"])
    assert ranges["chars"]["min"] >= 0 and ranges["chars"]["max"] <= 69 and ranges["char_types"]["max"] <= 4
    assert "input chars: ids: valid range [0, 70)" in proc.stdout
    html = open(str(tmp_path / "caffe" / "report.html")).read()
    assert "Caffe&#x27;s Embed does no range check" in html


def test_ids_outside_the_table_never_reach_caffe(tmp_path):
    """A bundle whose reference ids lie outside an Embed's table (a wrong or hostile one) is refused as
    malformed before Caffe's Embed reads them (it does no range check): status 5, nothing written."""
    import copy
    from export_tf.exporter import export
    from shared.bundle import write_bundle
    text_cnn().save(str(tmp_path / "m.keras"))
    export(str(tmp_path / "m.keras"), str(tmp_path / "good.npz"))
    bundle = read_bundle(str(tmp_path / "good.npz"))
    manifest = copy.deepcopy(bundle.manifest)
    del manifest["arrays"]
    arrays = dict((k, np.array(v)) for k, v in bundle.arrays.items())
    arrays[manifest["reference"]["inputs"]["chars"]][0, 3] = 5000.0
    write_bundle(str(tmp_path / "bad.npz"), manifest, arrays)
    out = str(tmp_path / "out")
    result = import_bundle(str(tmp_path / "bad.npz"), out)
    assert result.returncode == 5, result.describe()
    assert "Embed layer 'char_embedding'" in result.stderr and "no range check" in result.stderr
    assert os.listdir(out) == []


def _divides_by_255(folder):
    import tensorflow as tf

    class Module(tf.Module):
        def __init__(self):
            super(Module, self).__init__()
            rng = np.random.default_rng(4)
            self.k = tf.Variable(rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32))
            self.fc = tf.Variable(rng.normal(0, 0.3, (4, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="image")])
        def __call__(self, x):
            x = tf.nn.relu(tf.nn.conv2d(x / 255.0, self.k, 1, "SAME"))
            return {"logits": tf.matmul(tf.reduce_mean(x, axis=[1, 2]), self.fc)}
    module = Module()
    tf.saved_model.save(module, folder, signatures=module.__call__.get_concrete_function())
    return "RealDiv"


def _keras_rescaling(folder):
    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, activation="relu", name="conv")(layers.Rescaling(1 / 127.5, offset=-1.0)(inp))
    randomize(keras.Model(inp, layers.GlobalAveragePooling2D(name="gap")(x))).export(folder, verbose=False)
    return "Mul rescaling"


@pytest.mark.parametrize("saved_model", [_divides_by_255, _keras_rescaling], ids=["tf_module_x_over_255",
                                                                                "keras_export_rescaling"])
def test_a_graph_whose_front_end_expects_0_to_255_gets_pixel_values(tmp_path, saved_model):
    from export_tf.exporter import export
    folder = str(tmp_path / "saved")
    what = saved_model(folder)
    manifest = export(folder, str(tmp_path / "g.npz"))
    [domain] = manifest["reference"]["input_domains"].values()
    assert (domain["kind"], domain["low"], domain["high"]) == ("pixels", 0, 255) and what in domain["reason"]
    report = assert_parity(import_bundle(str(tmp_path / "g.npz"), str(tmp_path / "caffe")))
    assert report["inputs"][0]["reference_range"]["max"] > 200


def test_without_activations_the_report_says_it_judged_end_to_end(tmp_path):
    inp = keras.Input((6, 6, 3), name="image")
    x = layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    out = layers.Dense(3, name="logits")(layers.Flatten(name="flat")(x))
    result = convert(randomize(keras.Model(inp, out)), tmp_path, activations=False)
    report = assert_parity(result)
    summary = report["summary"]
    assert summary["judged_end_to_end"] >= 1 and "--no-activations" in summary["end_to_end_because"]
    assert "end to end (TF's values of its input" in result.stdout
