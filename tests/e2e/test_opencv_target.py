"""Acceptance of --target opencv --verify-with opencv (issue 16): the keras.applications nets (weights=None,
randomised, small inputs) and the digits demo convert for OpenCV's dnn, pass the Caffe parity check, and
the import itself runs the written files in cv2.dnn.readNetFromCaffe: every blob OpenCV outputs by name
agrees with Caffe's and the outputs with TF's within 1e-4 relative (report.json's runtimes section), with
no helper blob among OpenCV's network outputs. A model using a layer OpenCV cannot run is refused for the
target by name (status 4)."""
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


def _unconnected(result):
    """OpenCV's network outputs (layers whose output nothing reads) of the written net."""
    files = result.report["files"]
    proto, weights = (os.path.join(result.out, files[k]) for k in ("prototxt", "weights"))
    code = ("import sys; from import_caffe.runtimes.opencv import load_cv2; "
            "net = load_cv2().dnn.readNetFromCaffe(sys.argv[1], sys.argv[2]); "
            "print('\\n'.join(net.getUnconnectedOutLayersNames()))")
    proc = subprocess.run([CAFFE_RUN, "--bind", result.out, "python3", "-c", code, proto, weights], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


def _check(model, tmp_path, name):
    bundle = _export(model, tmp_path)
    result = import_bundle(bundle, os.path.join(str(tmp_path), "caffe"), "--target", "opencv",
                           "--verify-with", "opencv")
    report = assert_parity(result)
    assert report["target"] == "opencv"
    types = set(l.split('"')[1] for l in open(os.path.join(result.out, report["files"]["prototxt"]))
                if l.strip().startswith("type:"))
    assert not types & {"Clip", "Silence", "Bias", "Tile", "Threshold", "Reduction"}, types
    got = report["runtimes"][0]
    print("%s: OpenCV vs Caffe: %d blobs, worst %.2e; OpenCV vs TF outputs %s" % (
        name, got["blobs_compared"], got["worst"]["max_rel"],
        ", ".join("%.2e" % o["vs_tf_rel"] for o in got["outputs"])))
    assert got["name"] == "opencv" and got["status"] == "ok", got
    assert got["blobs_compared"] > 0 and got["worst"]["max_rel"] <= OPENCV_REL, got
    assert got["outputs"] and all(o["vs_tf_rel"] <= OPENCV_REL and o["vs_caffe_rel"] <= OPENCV_REL
                                  for o in got["outputs"]), got
    assert len(_unconnected(result)) == len(got["outputs"]), got      # no dangling helper blob


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
