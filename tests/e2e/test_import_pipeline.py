"""Schema-valid bundles that used to end in an internal error (status 1) in the import pipeline, through the
import command in the real Caffe environment, for the generated net and for --prototxt:

* without reference inputs or outputs the conversion cannot be verified: refused as malformed (status 5),
  in one line, nothing written;
* a model name of 250 characters, or of 256 non-ASCII ones, converts (the files' stem is shortened to fit
  a file name), and so does a --prototxt whose file name is that long;
* a node whose weights are also a reference array converts (the reference data is taken before the planner
  lets go of the weights)."""
import copy
import os
import re
import shutil

import keras
import numpy as np
import pytest

from conftest import assert_parity, import_bundle, randomize
from shared.bundle import read_bundle, write_bundle
from shared.errors import BundleError

NET = """name: "dense"
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 } } }
layer { name: "d" type: "InnerProduct" bottom: "x" top: "d" inner_product_param { num_output: 4 } }
"""


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    """A bundle of one Dense layer (4 -> 4) with 4 reference inputs: its kernel has the reference input's shape."""
    from export_tf.exporter import export
    folder = tmp_path_factory.mktemp("dense")
    inp = keras.Input((4,), name="x")
    model = randomize(keras.Model(inp, keras.layers.Dense(4, name="d")(inp), name="dense"))
    model.save(str(folder / "dense.keras"))
    path = str(folder / "dense.npz")
    export(str(folder / "dense.keras"), path, batch=4)
    return path


def rewrite(bundle_path, path, change):
    """change(manifest, arrays) edits a copy of the bundle, written anew to path (checksums recomputed)."""
    bundle = read_bundle(bundle_path)
    manifest = copy.deepcopy(bundle.manifest)
    del manifest["arrays"]
    arrays = dict((k, np.array(v)) for k, v in bundle.arrays.items())
    change(manifest, arrays)
    write_bundle(path, manifest, arrays)
    return path


def drop_reference(part):
    def change(manifest, arrays):
        for key in manifest["reference"][part].values():
            arrays.pop(key)
        manifest["reference"][part] = {}
    return change


@pytest.mark.parametrize("part", ["inputs", "outputs"])
@pytest.mark.parametrize("prototxt", [False, True], ids=["generated", "prototxt"])
def test_a_bundle_without_reference_data_is_refused(tmp_path, dense, part, prototxt):
    (tmp_path / "in").mkdir()
    bundle = rewrite(dense, str(tmp_path / "in" / "noref.npz"), drop_reference(part))
    args = []
    if prototxt:
        (tmp_path / "in" / "net.prototxt").write_text(NET)
        args = ["--prototxt", str(tmp_path / "in" / "net.prototxt")]
    out = str(tmp_path / "out")
    result = import_bundle(bundle, out, *args)
    assert result.returncode == 5, result.describe()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("import_caffe: error: %s: manifest field 'reference.%s': " % (bundle, part)), lines
    assert "cannot be verified" in lines[0] and len(lines[0]) < 300, lines[0]
    assert os.listdir(out) == []


@pytest.mark.parametrize("name", ["m" * 250, "\u00e9" * 256], ids=["ascii_250", "non_ascii_256"])
def test_a_long_model_name_converts(tmp_path, dense, name):
    def rename(manifest, arrays):
        manifest["model_name"] = name
    bundle = rewrite(dense, str(tmp_path / "long.npz"), rename)
    result = import_bundle(bundle, str(tmp_path / "out"))
    report = assert_parity(result)
    assert report["model"] == name
    stem = report["files"]["prototxt"][:-len(".prototxt")]
    assert re.match(r"^[m_]{224}-[0-9a-f]{16}\Z", stem), stem
    assert report["files"]["weights"] == stem + ".caffemodel"
    assert sorted(os.listdir(result.out)) == sorted([stem + ".caffemodel", stem + ".prototxt", "report.html",
                                                     "report.json"])


def test_a_prototxt_with_a_long_file_name_is_filled(tmp_path, dense):
    bundle = str(tmp_path / "dense.npz")
    shutil.copyfile(dense, bundle)
    net = tmp_path / ("n" * 250 + ".txt")          # beside the bundle: the folder the Caffe side sees
    net.write_text(NET)
    result = import_bundle(bundle, str(tmp_path / "out"), "--prototxt", str(net))
    report = assert_parity(result)
    assert report["manual"]["matched"] == [{"tf_layer": "d", "caffe_layers": ["d"]}]
    assert all(len(n.encode("utf-8")) <= 255 for n in os.listdir(result.out))
    assert open(os.path.join(result.out, report["files"]["prototxt"])).read() == NET


def test_weights_that_are_also_a_reference_array_are_malformed(tmp_path, dense):
    """The kernel is the reference input array itself (TF's outputs recomputed for it): the net would be
    compared against its own weights. The schema refuses it, so the writer does (the importer's status 5 for
    such a file, written by hand, is tested with the hostile bundles: kernel-is-reference-*)."""
    def share(manifest, arrays):
        ref = manifest["reference"]
        node = manifest["nodes"][0]
        x_key, y_key = ref["inputs"]["x"], ref["outputs"]["d"]
        arrays.pop(node["arrays"]["kernel"])
        node["arrays"]["kernel"] = x_key
        kernel, bias = arrays[x_key], arrays[node["arrays"]["bias"]]
        arrays[y_key] = (kernel.astype(np.float64) @ kernel + bias).astype(np.float32)
    with pytest.raises(BundleError, match=r"'nodes\[0\].arrays.kernel'.*also reference data"):
        rewrite(dense, str(tmp_path / "shared.npz"), share)
    assert not os.path.exists(str(tmp_path / "shared.npz"))
