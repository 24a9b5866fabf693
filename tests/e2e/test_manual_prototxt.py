"""--prototxt: fill a hand-written Caffe net (other layer names, a map, in-place layers, BatchNorm + Scale,
Flatten then InnerProduct) with a bundle's weights, verified layer by layer; and a net that does not fit is
refused with every problem listed, on both sides, before anything is written."""
import json
import os
import subprocess

import keras
import pytest

from conftest import CAFFE_RUN, ROOT, Result, randomize


def import_bundle(bundle, out, *args, **kwargs):
    """`make import` as a user runs it, with the net and the map in a folder of their own (make's own
    exit status is 2 for any failure: `exit_status=True` runs the same command without make)."""
    if kwargs.get("exit_status"):
        os.makedirs(out, exist_ok=True)
        binds = [os.path.dirname(bundle), out, os.path.dirname(args[1])]   # args[1]: the prototxt
        cmd = [CAFFE_RUN] + sum([["--bind", d] for d in binds], []) + \
            ["python3", "-m", "import_caffe", bundle, "-o", out, "-q"] + list(args)
    else:
        cmd = ["make", "-s", "-C", ROOT, "import", "BUNDLE=%s" % bundle, "OUT=%s" % out,
               "IMPORT_ARGS=%s" % " ".join(list(args) + ["-q"])]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=600)
    return Result(proc, bundle, out)

NET = """name: "handwritten"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "bn1" batch_norm_param { eps: 0.001 } }
layer { name: "scale1" type: "Scale" bottom: "bn1" top: "bn1" scale_param { bias_term: true } }
layer { name: "pool1" type: "Pooling" bottom: "bn1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "flat1" type: "Flatten" bottom: "pool1" top: "flat1" }
layer { name: "fc1" type: "InnerProduct" bottom: "flat1" top: "fc1" inner_product_param { num_output: %d } }
%s"""
# the TF layer names differ from the Caffe ones; bn_a's Scale is found right after bn1, pool_a by its map entry
MAP = {"image": "data", "conv_a": "conv1", "bn_a": "bn1", "pool_a": "pool1", "flat": "flat1", "logits": "fc1"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from export_tf.exporter import export
    tmp_path = tmp_path_factory.mktemp("bundle")
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(inp)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.MaxPooling2D(2, name="pool_a")(x)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(5, name="logits")(x)
    model = randomize(keras.Model(inp, out, name="cnn"))
    model.save(str(tmp_path / "cnn.keras"))
    bundle = str(tmp_path / "cnn.npz")
    export(str(tmp_path / "cnn.keras"), bundle, batch=3, seed=1)
    return bundle


def _write(tmp_path, name, text):
    path = str(tmp_path / name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_handwritten_net_is_filled_and_verified(tmp_path, bundle):
    net = _write(tmp_path, "net.prototxt", NET % (5, ""))
    mapping = _write(tmp_path, "map.json", json.dumps(MAP))
    out = str(tmp_path / "out")
    result = import_bundle(bundle, out, "--prototxt", net, "--map", mapping)
    assert result.returncode == 0, result.describe()
    report = result.report
    assert report["summary"]["status"] == "ok", result.describe()
    matched = dict((m["tf_layer"], m["caffe_layers"]) for m in report["manual"]["matched"])
    assert matched == {"conv_a": ["conv1"], "bn_a": ["bn1", "scale1"], "logits": ["fc1"]}
    rows = dict((r["layer"], r) for r in report["layers"])
    # every TF layer is located in the net and matches, the dense one behind the flatten included
    for name in ("conv_a", "bn_a", "pool_a", "flat", "logits"):
        assert rows[name]["status"] == "ok" and rows[name]["max_rel"] <= 1e-4, (name, rows[name])
    assert rows["conv_a"]["blob"] == "conv1" and rows["bn_a"]["blob"] == "bn1" and rows["flat"]["blob"] == "flat1"
    assert rows["conv_a"]["caffe_layers"] == ["conv1", "relu1"] and rows["pool_a"]["caffe_layers"] == ["pool1"]
    assert rows["logits"]["argmax_agree"] == rows["logits"]["argmax_total"] == 3
    # the output folder holds your net, unchanged, and its weights
    assert open(os.path.join(out, "net.prototxt")).read() == NET % (5, "")
    assert os.path.getsize(os.path.join(out, "net.caffemodel")) > 0
    html_text = open(os.path.join(out, "report.html")).read()
    assert "Your prototxt: what matched" in html_text and "<td>bn_a</td><td>bn1, scale1</td>" in html_text
    assert "conv_a -> conv1" in result.stdout and "bn_a -> bn1, scale1" in result.stdout
    # the same settings spelled differently are not reported as differences
    assert report["manual"]["param_differences"] == [], report["manual"]["param_differences"]


def test_a_net_that_does_not_fit_lists_both_sides(tmp_path, bundle):
    # fc1 has 7 outputs instead of 5, and an extra layer with weights nothing provides
    extra = 'layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2" inner_product_param { num_output: 2 } }\n'
    net = _write(tmp_path, "net.prototxt", NET % (7, extra))
    mapping = dict(MAP)
    mapping["conv_a"] = "conv_one"      # no such layer
    mapping["pool_a"] = "pool_one"      # nor this one (a TF layer without weights)
    out = str(tmp_path / "out")
    result = import_bundle(bundle, out, "--prototxt", net, "--map", _write(tmp_path, "map.json", json.dumps(mapping)),
                           exit_status=True)
    assert result.returncode == 7, result.describe()
    err = result.stderr
    assert "map: TF layer 'conv_a' -> 'conv_one': your prototxt has no layer 'conv_one'" in err
    assert "map: TF layer 'pool_a' -> 'pool_one': your prototxt has no layer 'pool_one'" in err
    assert "TF layer 'conv_a' (Conv2D): no layer of yours takes its Convolution weights 4x3x3x3" in err
    assert "TF layer 'logits' (Dense) -> your layer 'fc1' (InnerProduct): your parameter shapes are 7x36, 7" in err
    assert "TF's weights in Caffe layout are 5x36, 5" in err
    assert "your layer 'conv1' (Convolution, parameters 4x3x3x3, 4) gets no weights" in err
    assert "your layer 'fc2' (InnerProduct, parameters 2x7, 2) gets no weights" in err
    assert "TF side, layers with weights" in err and "your side, layers with parameters" in err
    assert sorted(os.listdir(out)) == []     # nothing written


def test_a_setting_that_differs_fails_parity_and_is_named(tmp_path, bundle):
    # Caffe's default BatchNorm eps (1e-5) instead of Keras' 1e-3: the shapes fit, the numbers do not
    net = _write(tmp_path, "net.prototxt", (NET % (5, "")).replace(" batch_norm_param { eps: 0.001 }", ""))
    out = str(tmp_path / "out")
    result = import_bundle(bundle, out, "--prototxt", net, "--map", _write(tmp_path, "map.json", json.dumps(MAP)),
                           exit_status=True)
    assert result.returncode == 3, result.describe()
    assert "first diverging layer bn_a" in result.stderr
    assert "bn1.batch_norm_param.eps: TF's layer gives 0.001" in result.stderr
    assert result.report["summary"]["first_divergence"] == "bn_a"
    assert sorted(os.listdir(out)) == ["report.html", "report.json"]    # no weights for a net that fails
