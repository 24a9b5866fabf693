"""Acceptance of --target opencv (issue 16): the keras.applications nets (weights=None, randomised, small
inputs) and the digits demo convert for OpenCV's dnn, pass the Caffe parity check, load in
cv2.dnn.readNetFromCaffe and agree with Caffe within 1e-4 relative on every layer OpenCV outputs by name
and on the outputs, with no helper blob among OpenCV's network outputs. A model using a layer OpenCV
cannot run is refused for the target by name (status 4)."""
import json
import os
import subprocess

import keras
import pytest

from conftest import CAFFE_RUN, ROOT, assert_parity, import_bundle, randomize

OPENCV_REL = 1e-4
APPLICATIONS = {
    "VGG16": lambda: keras.applications.VGG16(input_shape=(32, 32, 3), weights=None),
    "ResNet50": lambda: keras.applications.ResNet50(input_shape=(32, 32, 3), weights=None),
    "MobileNetV2": lambda: keras.applications.MobileNetV2(input_shape=(32, 32, 3), weights=None),
    "InceptionV3": lambda: keras.applications.InceptionV3(input_shape=(75, 75, 3), weights=None),
    "DenseNet121": lambda: keras.applications.DenseNet121(input_shape=(32, 32, 3), weights=None),
    "MobileNetV3Small": lambda: keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), weights=None),
    "EfficientNetB0": lambda: keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None),
}


def _export(model, tmp_path):
    from export_tf.exporter import export
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    bundle = os.path.join(str(tmp_path), "bundle.npz")
    export(path, bundle, batch=2, seed=0, activations=True)
    return bundle


def _opencv(result):
    files = result.report["files"]
    proto, weights = (os.path.join(result.out, files[k]) for k in ("prototxt", "weights"))
    proc = subprocess.run([CAFFE_RUN, "--bind", os.path.dirname(result.bundle), "--bind", result.out, "env",
                           "GLOG_minloglevel=2", "python3", "-m", "import_caffe.opencv_check", proto, weights,
                           result.bundle], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(model, tmp_path, name):
    bundle = _export(model, tmp_path)
    result = import_bundle(bundle, os.path.join(str(tmp_path), "caffe"), "--target", "opencv")
    report = assert_parity(result)
    assert report["target"] == "opencv"
    types = set(l.split('"')[1] for l in open(os.path.join(result.out, report["files"]["prototxt"]))
                if l.strip().startswith("type:"))
    assert not types & {"Clip", "Silence", "Bias", "Tile", "Threshold", "Reduction"}, types
    got = _opencv(result)
    print("%s: OpenCV vs Caffe: %d layers, max rel %.2e; outputs %s; OpenCV vs TF outputs %s" % (
        name, got["layers"], got["max_rel"], ", ".join("%.2e" % v for v in got["outputs"].values()),
        ", ".join("%.2e" % v for v in got["tf_outputs"].values())))
    assert got["layers"] > 0 and got["max_rel"] <= OPENCV_REL
    assert all(v is not None and v <= OPENCV_REL for v in got["outputs"].values()), got
    assert got["tf_outputs"] and all(v <= OPENCV_REL for v in got["tf_outputs"].values()), got
    assert len(got["unconnected"]) == len(got["net_outputs"]), got      # no dangling helper blob


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_application_in_opencv(name, tmp_path):
    _check(randomize(APPLICATIONS[name]()), tmp_path, name)


def test_digits_demo_in_opencv(tmp_path):
    from export_tf.demo import train
    train(str(tmp_path), epochs=2)
    _check(keras.models.load_model(os.path.join(str(tmp_path), "digits_cnn.keras")), tmp_path, "digits demo")


def test_layer_opencv_cannot_run_is_refused_by_name(tmp_path):
    inp = keras.Input((6,), name="ids")
    out = keras.layers.Embedding(10, 4, name="embed")(inp)
    model = keras.Model(inp, keras.layers.Flatten()(out))
    from export_tf.exporter import export
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    bundle = os.path.join(str(tmp_path), "bundle.npz")
    export(path, bundle)      # ids drawn in [0, input_dim): the input reaches an Embedding
    result = import_bundle(bundle, os.path.join(str(tmp_path), "caffe"), "--target", "opencv")
    assert result.returncode == 4, result.describe()
    assert "Embed" in result.stderr and "not in target opencv" in result.stderr, result.stderr
