"""TF-Slim and tflearn models from the checkpoints the libraries' own save functions write (issue 13):
TF-Slim's vgg_16, alexnet_v2, resnet_v1_50, resnet_v2_50 and inception_v1..v3 (built with is_training=False,
and resnet_v1_50 with is_training a placeholder too), and the seed question's tflearn VGG-19 at 112x112
(DNN.save) through `make export` / `make import`. Random initialisation, no pretrained weights; the nets
are built in a child process (tests/e2e/legacy_models.py). The parity bar is the usual one: every
tensor's own error within 1e-4 of its range, the logits' argmax agreeing."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, Result, assert_parity, import_bundle
from export_tf.exporter import export
from export_tf.graphdef.names import parse_outputs

HERE = os.path.dirname(os.path.abspath(__file__))
MAKEFILE = os.path.join(ROOT, "Makefile")
# an absolute module path for the commands run in the model's folder (a relative PYTHONPATH=. would
# find the folder's caffe/ output as a `caffe` package)
ENV = dict(os.environ, PYTHONPATH=ROOT)


def _require(module, package):
    if importlib.util.find_spec(module) is None:
        pytest.skip("%s is not installed: `make setup` installs it into .venv from "
                    "docker/tf-requirements-dev.txt (pip install %s)" % (package, package))


def checkpoints(folder, *names):
    """{name: (prefix, outputs)} of the checkpoints legacy_models.py writes, in one child process."""
    proc = subprocess.run([sys.executable, os.path.join(HERE, "legacy_models.py"), folder] + list(names),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=900,
                          env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = dict((line.split()[0], tuple(line.split()[1:3])) for line in proc.stdout.splitlines()
                 if line.split() and line.split()[0] in names)
    assert sorted(found) == sorted(names), proc.stdout
    return found


def _figures(report):
    rows = [r for r in report["layers"] if r["status"] != "not compared" and r["own_rel"] is not None]
    return (len(rows), max(r["own_rel"] for r in rows),
            max(o["max_rel"] for o in report["outputs"]))


SLIM_NETS = ["vgg_16", "alexnet_v2", "resnet_v1_50", "resnet_v2_50", "inception_v1", "inception_v2", "inception_v3",
             "resnet_v1_50+placeholder"]


@pytest.fixture(scope="module")
def slim_checkpoints(tmp_path_factory):
    _require("tf_slim", "tf-slim")
    return checkpoints(str(tmp_path_factory.mktemp("slim")), *SLIM_NETS)


@pytest.mark.parametrize("name", SLIM_NETS)
def test_tf_slim_net_from_its_checkpoint(name, slim_checkpoints, tmp_path):
    prefix, outputs = slim_checkpoints[name]
    bundle = str(tmp_path / "net.npz")
    messages = []
    manifest = export(prefix, bundle, outputs=parse_outputs(outputs), log=messages.append)
    if name.endswith("+placeholder"):
        assert any(m.startswith("Placeholder is_training = false") for m in messages), messages
        assert any(m.startswith("resolved ") for m in messages), messages
    ops = set(n["op"] for n in manifest["nodes"])
    assert "conv2d" in ops
    if name.startswith(("resnet", "inception")):
        assert "batch_norm" in ops, sorted(ops)
    report = assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))
    compared, own, outputs_rel = _figures(report)
    print("%s: %d tensors, own error <= %.1e, outputs drift <= %.1e" % (name, compared, own, outputs_rel))


@pytest.fixture(scope="module")
def tflearn_vgg19(tmp_path_factory):
    """The seed question's model: tflearn's VGG-19 at 112x112 saved with DNN.save, exported with
    `make export ... EXPORT_ARGS="--outputs FullyConnected_2/Softmax"`."""
    _require("tflearn", "tflearn")
    folder = str(tmp_path_factory.mktemp("tflearn"))
    found = checkpoints(folder, "tflearn_vgg19", "tflearn_lrn_bn")
    prefix, output = found["tflearn_vgg19"]
    assert output == "FullyConnected_2/Softmax"
    bundle = os.path.join(folder, "vgg19.npz")
    proc = subprocess.run(["make", "-s", "-f", MAKEFILE, "export", "MODEL=" + prefix + ".meta", "BUNDLE=" + bundle,
                           "EXPORT_ARGS=--outputs FullyConnected_2/Softmax -q"], cwd=folder,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=900, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder, bundle, found["tflearn_lrn_bn"]


def test_tflearn_vgg19_from_dnn_save(tflearn_vgg19):
    folder, bundle, _ = tflearn_vgg19
    out = os.path.join(folder, "caffe")
    proc = subprocess.run(["make", "-s", "-f", MAKEFILE, "import", "BUNDLE=" + bundle, "OUT=" + out,
                           "IMPORT_ARGS=-q"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=900, env=ENV)
    report = assert_parity(Result(proc, bundle, out))
    types = [r["type"] for r in report["layers"]]
    assert types.count("Conv2D") == 16 and types.count("MatMul") == 3 and types.count("MaxPool") == 5
    assert not [t for t in types if t in ("Switch", "Merge", "RandomUniform")]     # tflearn's dropout is gone
    compared, own, outputs_rel = _figures(report)
    print("tflearn VGG-19@112: %d tensors, own error <= %.1e, outputs drift <= %.1e" % (compared, own, outputs_rel))


def test_tflearn_vgg19_into_the_seeds_handwritten_prototxt(tflearn_vgg19):
    """The seed's workflow: `tf2caffe inspect` lists the layers with weights, the user maps them onto the
    hand-written net of the seed's style (deprecated input: / input_shape header, conv1..conv16 with
    in-place ReLUs, fc1..fc3, prob1: tests/e2e/seed/), and --prototxt --map fills and verifies it."""
    folder, bundle, _ = tflearn_vgg19
    seed = os.path.join(HERE, "seed")
    proc = subprocess.run([os.path.join(ROOT, "tf2caffe.sh"), "inspect", bundle], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120, env=ENV)
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")]
    mapping = json.load(open(os.path.join(seed, "vgg19_112_map.json")))
    assert listed == [k for k in mapping if k.endswith(("/Conv2D", "/MatMul"))]
    out = os.path.join(folder, "seed")
    proc = subprocess.run(["make", "-s", "-f", MAKEFILE, "import", "BUNDLE=" + bundle, "OUT=" + out,
                           "IMPORT_ARGS=--prototxt %s --map %s -q" % (os.path.join(seed, "vgg19_112.prototxt"),
                                                                      os.path.join(seed, "vgg19_112_map.json"))],
                          cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=900, env=ENV)
    report = assert_parity(Result(proc, bundle, out))
    matched = dict((m["tf_layer"], m["caffe_layers"]) for m in report["manual"]["matched"])
    assert matched == dict((k, [v]) for k, v in mapping.items() if k.endswith(("/Conv2D", "/MatMul")))
    compared = [r for r in report["layers"] if r["status"] == "ok"]
    # every ReLU (on its in-place blob), pooling, the logits and the softmax
    assert len(compared) == 25, [r["layer"] for r in compared]
    assert open(os.path.join(out, "vgg19_112.prototxt")).read() == open(os.path.join(seed, "vgg19_112.prototxt")).read()


def test_tflearn_lrn_and_batch_norm(tflearn_vgg19, tmp_path):
    """tflearn's local_response_normalization (Caffe's LRN) and batch_normalization (a tf.cond on its
    is_training variable, like its dropout), from DNN.save."""
    prefix, output = tflearn_vgg19[2]
    bundle = str(tmp_path / "lrn_bn.npz")
    messages = []
    manifest = export(prefix, bundle, outputs=parse_outputs(output), log=messages.append)
    assert any("is_training = false" in m for m in messages), messages
    ops = [n["op"] for n in manifest["nodes"]]
    assert ops.count("lrn") == 2, ops
    report = assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))
    compared, own, outputs_rel = _figures(report)
    print("tflearn LRN + batch norm: %d tensors, own error <= %.1e, outputs drift <= %.1e" % (compared, own, outputs_rel))
