"""Acceptance of --target mnn --verify-with mnn (issue 16): the keras.applications nets (weights=None,
randomised, small inputs: the models of test_opencv_target.py) and the digits demo convert for MNN, pass
the Caffe parity check, and the import itself converts the written files with MNN's own converter and runs
them in MNN (isolated: import_caffe/runtimes/mnn.py): every blob MNN outputs agrees with Caffe's and the
outputs with TF's within 1e-4 relative (report.json's runtimes section), and MNN's converted net has exactly
the model's outputs (no discarded crop slice or other helper blob). A model using a layer MNN cannot run is
refused for the target by name (status 4)."""
import json
import os
import subprocess

import keras
import pytest

from conftest import CAFFE_RUN, ROOT, assert_parity, import_bundle, randomize
from test_opencv_target import APPLICATIONS, _export

MNN_REL = 1e-4
_NET_OUTPUTS = """
import json, sys
import numpy as np
from caffe.proto import caffe_pb2
from google.protobuf import text_format
from import_caffe.runtimes import mnn
param = caffe_pb2.NetParameter()
text_format.Merge(open(sys.argv[1]).read(), param)
feed = dict((l.top[0], np.zeros(list(l.input_param.shape[0].dim), np.float32)) for l in param.layer if l.type == "Input")
print(json.dumps(mnn.convert_and_run(sys.argv[1], sys.argv[2], feed, [])[1]["net_outputs"]))
"""


def _mnn_net_outputs(result):
    """The network outputs of MNN's conversion of the written net."""
    files = result.report["files"]
    proto, weights = (os.path.join(result.out, files[k]) for k in ("prototxt", "weights"))
    proc = subprocess.run([CAFFE_RUN, "--bind", result.out, "python3", "-c", _NET_OUTPUTS, proto, weights], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(model, tmp_path, name):
    bundle = _export(model, tmp_path)
    result = import_bundle(bundle, os.path.join(str(tmp_path), "caffe"), "--target", "mnn", "--verify-with", "mnn")
    report = assert_parity(result)
    assert report["target"] == "mnn"
    types = set(l.split('"')[1] for l in open(os.path.join(result.out, report["files"]["prototxt"]))
                if l.strip().startswith("type:"))
    assert not types & {"Clip", "Swish", "Silence", "Log", "Tile", "Embed"}, types
    got = report["runtimes"][0]
    print("%s: MNN vs Caffe: %d blobs, worst %.2e; MNN vs TF outputs %s" % (
        name, got["blobs_compared"], got["worst"]["max_rel"],
        ", ".join("%.2e" % o["vs_tf_rel"] for o in got["outputs"])))
    assert got["name"] == "mnn" and got["status"] == "ok", got
    assert got["blobs_compared"] > 0 and got["worst"]["max_rel"] <= MNN_REL, got
    assert got["outputs"] and all(o["vs_tf_rel"] <= MNN_REL and o["vs_caffe_rel"] <= MNN_REL
                                  for o in got["outputs"]), got
    assert len(_mnn_net_outputs(result)) == len(got["outputs"]), got      # no dangling helper blob


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_application_in_mnn(name, tmp_path):
    _check(randomize(APPLICATIONS[name]()), tmp_path, name)


def test_digits_demo_in_mnn(tmp_path):
    from export_tf.demo import train
    train(str(tmp_path), epochs=2)
    _check(keras.models.load_model(os.path.join(str(tmp_path), "digits_cnn.keras")), tmp_path, "digits demo")


def test_layer_mnn_cannot_run_is_refused_by_name(tmp_path):
    inp = keras.Input((6,), name="ids")
    out = keras.layers.Embedding(10, 4, name="embed")(inp)
    model = keras.Model(inp, keras.layers.Flatten()(out))
    from export_tf.exporter import export
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    bundle = os.path.join(str(tmp_path), "bundle.npz")
    export(path, bundle)
    result = import_bundle(bundle, os.path.join(str(tmp_path), "caffe"), "--verify-with", "mnn")
    assert result.returncode == 4, result.describe()
    assert "Embed" in result.stderr and "not in target mnn" in result.stderr, result.stderr
