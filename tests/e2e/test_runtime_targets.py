"""Acceptance of the runtimes' targets (issue 16): the keras.applications nets (weights=None, randomised,
small inputs) and the digits demo, each exported once, convert with `--target RUNTIME --verify-with RUNTIME`
for OpenCV's dnn and for MNN, pass the Caffe parity check, and the import itself runs the written files in
that runtime (OpenCV: cv2.dnn.readNetFromCaffe; MNN: its own converter, isolated, import_caffe/runtimes/):
every blob the runtime outputs agrees with Caffe's and the outputs with TF's within 1e-4 relative
(report.json's runtimes section), with no helper blob among the runtime's network outputs. `--verify-with
opencv,mnn` generates one net for both (target mnn+opencv) and both check it. A model using a layer a target
cannot express is refused for that target by name (status 4)."""
import os
import subprocess

import keras
import pytest

from conftest import CAFFE_RUN, ROOT, assert_parity, import_bundle, randomize

RUNTIME_REL = 1e-4
APPLICATIONS = {
    "VGG16": lambda: keras.applications.VGG16(input_shape=(32, 32, 3), weights=None),
    "ResNet50": lambda: keras.applications.ResNet50(input_shape=(32, 32, 3), weights=None),
    "MobileNetV2": lambda: keras.applications.MobileNetV2(input_shape=(32, 32, 3), weights=None),
    "InceptionV3": lambda: keras.applications.InceptionV3(input_shape=(75, 75, 3), weights=None),
    "DenseNet121": lambda: keras.applications.DenseNet121(input_shape=(32, 32, 3), weights=None),
    "MobileNetV3Small": lambda: keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), weights=None),
    "EfficientNetB0": lambda: keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None),
}
MODELS = sorted(APPLICATIONS) + ["digits demo"]

# The runtime's network outputs (the blobs nothing reads) of the written net, printed one a line
_OPENCV_OUTPUTS = """
import sys
from import_caffe.runtimes.opencv import load_cv2
net = load_cv2().dnn.readNetFromCaffe(sys.argv[1], sys.argv[2])
print("\\n".join(net.getUnconnectedOutLayersNames()))
"""
_MNN_OUTPUTS = """
import sys
import numpy as np
from caffe.proto import caffe_pb2
from google.protobuf import text_format
from import_caffe.runtimes import mnn
param = caffe_pb2.NetParameter()
text_format.Merge(open(sys.argv[1]).read(), param)
feed = dict((l.top[0], np.zeros(list(l.input_param.shape[0].dim), np.float32)) for l in param.layer if l.type == "Input")
print("\\n".join(mnn.convert_and_run(sys.argv[1], sys.argv[2], feed, [])[1]["net_outputs"]))
"""
# runtime -> (the Caffe layer types its target must not emit, the script listing its network outputs)
RUNTIMES = {
    "opencv": ({"Clip", "Silence", "Bias", "Tile", "Threshold", "Reduction"}, _OPENCV_OUTPUTS),
    "mnn": ({"Clip", "Swish", "Silence", "Log", "Tile", "Embed"}, _MNN_OUTPUTS),
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Each model exported once, on first use, for every runtime's test."""
    made = {}

    def bundle(name):
        if name not in made:
            folder = str(tmp_path_factory.mktemp(name.replace(" ", "_")))
            if name == "digits demo":
                from export_tf.demo import train
                train(folder, epochs=2)
                model = keras.models.load_model(os.path.join(folder, "digits_cnn.keras"))
            else:
                model = randomize(APPLICATIONS[name]())
            made[name] = _export(model, folder)
        return made[name]
    return bundle


def _export(model, folder):
    from export_tf.exporter import export
    path = os.path.join(folder, "model.keras")
    model.save(path)
    bundle = os.path.join(folder, "bundle.npz")
    export(path, bundle, batch=2, seed=0, activations=True)
    return bundle


def _net_outputs(result, runtime):
    files = result.report["files"]
    proto, weights = (os.path.join(result.out, files[k]) for k in ("prototxt", "weights"))
    proc = subprocess.run([CAFFE_RUN, "--bind", result.out, "python3", "-c", RUNTIMES[runtime][1], proto, weights],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


def _check(bundle, out, name, runtimes, target):
    result = import_bundle(bundle, out, "--target", target, "--verify-with", ",".join(runtimes))
    report = assert_parity(result)
    assert report["target"] == target
    types = set(l.split('"')[1] for l in open(os.path.join(result.out, report["files"]["prototxt"]))
                if l.strip().startswith("type:"))
    assert [s["name"] for s in report["runtimes"]] == runtimes, report["runtimes"]
    for runtime, got in zip(runtimes, report["runtimes"]):
        print("%s: %s vs Caffe: %d blobs, worst %.2e; %s vs TF outputs %s" % (
            name, runtime, got["blobs_compared"], got["worst"]["max_rel"], runtime,
            ", ".join("%.2e" % o["vs_tf_rel"] for o in got["outputs"])))
        assert not types & RUNTIMES[runtime][0], types
        assert got["status"] == "ok" and "note" not in got, got
        assert got["blobs_compared"] > 0 and got["worst"]["max_rel"] <= RUNTIME_REL, got
        assert got["outputs"] and all(o["vs_tf_rel"] <= RUNTIME_REL and o["vs_caffe_rel"] <= RUNTIME_REL
                                      for o in got["outputs"]), got
        assert len(_net_outputs(result, runtime)) == len(got["outputs"]), got      # no dangling helper blob


@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
@pytest.mark.parametrize("name", MODELS)
def test_model_in_runtime(bundles, name, runtime, tmp_path):
    _check(bundles(name), str(tmp_path), name, [runtime], runtime)


@pytest.mark.parametrize("name", ["EfficientNetB0", "digits demo"])
def test_one_net_for_both_runtimes(bundles, name, tmp_path):
    """EfficientNetB0 holds what each runtime lowers differently (Swish, per-channel gates, crops, Bias)."""
    _check(bundles(name), str(tmp_path), name, ["opencv", "mnn"], "mnn+opencv")


def test_auto_target_for_both_runtimes_is_the_joined_one(bundles, tmp_path):
    result = import_bundle(bundles("digits demo"), str(tmp_path), "--verify-with", "mnn,opencv")
    assert assert_parity(result)["target"] == "mnn+opencv"


@pytest.mark.parametrize("runtime", sorted(RUNTIMES) + ["mnn+opencv"])
def test_layer_a_target_cannot_express_is_refused_by_name(runtime, tmp_path):
    inp = keras.Input((6,), name="ids")
    out = keras.layers.Embedding(10, 4, name="embed")(inp)
    model = keras.Model(inp, keras.layers.Flatten()(out))
    bundle = _export(model, str(tmp_path))      # ids drawn in [0, input_dim): the input reaches an Embedding
    result = import_bundle(bundle, os.path.join(str(tmp_path), "caffe"), "--target", runtime)
    assert result.returncode == 4, result.describe()
    assert "Embed" in result.stderr and "not in target %s" % runtime in result.stderr, result.stderr
    assert not os.listdir(os.path.join(str(tmp_path), "caffe"))


def test_only_the_models_tensors_are_compared(tmp_path):
    """A SAME max pooling of window 1 and stride 2 is Caffe's Pooling (one row and column more: a window
    wholly outside the input, -FLT_MAX in Caffe) then a crop: OpenCV and MNN fill that discarded row otherwise,
    and the model's tensors still agree. The runtimes are judged on the blobs of the model's tensors, the ones
    Caffe's check compares, not on a lowering's inner blobs (TF-Slim's ResNet v1 shortcuts are such poolings)."""
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 1, name="conv")(inp)
    x = keras.layers.MaxPooling2D(1, strides=2, padding="same", name="subsample")(x)
    model = randomize(keras.Model(inp, keras.layers.Flatten(name="flat")(x)))
    result = import_bundle(_export(model, str(tmp_path)), str(tmp_path / "caffe"), "--verify-with", "opencv,mnn")
    report = assert_parity(result)
    tensors = set(r["blob"] for r in report["layers"])
    for got in report["runtimes"]:
        assert got["status"] == "ok" and 0 < got["blobs_compared"] <= len(tensors), got
        assert got["worst"]["blob"] in tensors, got
