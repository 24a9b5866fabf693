"""The import pipeline's stages that need no Caffe: the output files' stem (any legal model name fits in a
file name), the reference data a conversion is verified with (a bundle without it is refused as malformed,
in one line), the comparison rows and the printed footer for a tensor that could not be compared."""
import re

import numpy as np
import pytest

from import_caffe import compare, judge, report, verify
from import_caffe.layout import VECTOR, Layout
from import_caffe.pipeline import NetSource, References
from import_caffe.plan import TensorRef
from import_caffe.staging import MAX_STEM, file_stem
from shared.errors import BundleError


# ----------------------------------------------------------------------------------------- file stems

@pytest.mark.parametrize("name, stem", [
    ("tiny", "tiny"),
    ("my model/v2", "my_model_v2"),
    ("../../etc/passwd", "_.._etc_passwd"),
    ("...", "model"),
    ("", "model"),
    ("a" * MAX_STEM, "a" * MAX_STEM),
], ids=["plain", "spaces_and_slash", "traversal", "only_dots", "empty", "longest_kept_whole"])
def test_file_stem_of_ordinary_names(name, stem):
    assert file_stem(name) == stem


@pytest.mark.parametrize("name", ["m" * 250, "\u00e9" * 256, "\u6a21\u578b" * 128, "x" * 10000],
                         ids=["ascii_250", "accented_256", "cjk_256", "ascii_10000"])
def test_a_long_name_gets_a_stem_every_output_file_name_can_hold(name):
    stem = file_stem(name)
    for suffix in (".prototxt", ".caffemodel", ".caffemodel.h5"):
        assert len((stem + suffix).encode("utf-8")) <= 255
    assert re.match(r"^[A-Za-z0-9_.-]+-[0-9a-f]{16}\Z", stem), stem
    assert file_stem(name) == stem                  # the same name, the same files


def test_long_names_that_share_their_beginning_get_different_stems():
    a, b = "v" * 300 + "a", "v" * 300 + "b"
    assert file_stem(a) != file_stem(b)


def test_a_shortened_stem_is_said_in_the_log():
    said = []
    file_stem("n" * 300, said.append)
    assert len(said) == 1 and "300 characters" in said[0]
    file_stem("short", said.append)
    assert len(said) == 1


# ----------------------------------------------------------------------------------------- reference data

class FakeBundle(object):
    def __init__(self, inputs=True, outputs=True, activations=False, input_name="x"):
        self.arrays = {"w/d/kernel": np.ones((4, 3), "f4"), "ref/in/x": np.zeros((2, 4), "f4"),
                       "ref/out/y": np.zeros((2, 3), "f4")}
        self.manifest = {
            "inputs": [{"name": input_name, "tensor": "x", "shape": [4]}],
            "outputs": [{"name": "y", "tensor": "y", "shape": [3]}],
            "nodes": [{"name": "d", "op": "dense", "source_type": "Dense", "inputs": ["x"], "outputs": ["y"],
                       "arrays": {"kernel": "w/d/kernel"}}],
            "tensors": {"x": {"shape": [4]}, "y": {"shape": [3]}},
            "reference": {"batch": 2, "inputs": {"x": "ref/in/x"} if inputs else {},
                          "outputs": {"y": "ref/out/y"} if outputs else {},
                          "activations": {"y": "ref/out/y"} if activations else {}}}

    def reference(self, part):
        return dict((t, self.arrays[k]) for t, k in self.manifest["reference"][part].items())


def test_reference_data_is_kept_when_planning_lets_go_of_the_arrays():
    bundle = FakeBundle()
    refs = References(bundle, "b.npz")
    bundle.arrays.clear()                   # what take_node_arrays does to each array once lowered
    assert refs.batch == 2 and refs.inputs["x"].shape == (2, 4) and refs.values["y"].shape == (2, 3)


@pytest.mark.parametrize("kwargs, field", [
    ({"inputs": False}, "reference.inputs"),
    ({"outputs": False}, "reference.outputs"),
    ({"inputs": False, "input_name": "evil\n\x1b[2Jimport_caffe: all good " + "z" * 300}, "reference.inputs"),
], ids=["no_reference_inputs", "no_reference_outputs", "hostile_input_name"])
def test_a_bundle_without_reference_data_is_refused_as_malformed(kwargs, field):
    for path in ("in/model.npz", "/" + "long folder/" * 30 + "model.npz"):
        with pytest.raises(BundleError) as info:
            References(FakeBundle(**kwargs), path)
        message = "import_caffe: error: %s" % info.value         # as the command prints it
        assert info.value.exit_code == 5
        assert re.match(r"import_caffe: error: (in|\.\.\..*)/model\.npz: manifest field '%s': " % field, message)
        assert "cannot be verified" in message
        assert "\n" not in message and "\x1b" not in message and len(message) < 300, (len(message), message)


def test_outputs_covered_by_the_activations_are_verifiable():
    refs = References(FakeBundle(outputs=False, activations=True), "b.npz")
    assert list(refs.values) == ["y"]


# ----------------------------------------------------------------------------------------- comparison

class FakePlan(object):
    refs = {"x": TensorRef("x", [4], Layout(VECTOR)), "y": TensorRef("y", [3], Layout(VECTOR))}
    notes = {}


class FakeNet(NetSource):
    def __init__(self, located):
        self.located = located

    def locate(self, tensor):
        return self.located.get(tensor, (None, "not located in your net"))

    def caffe_layers(self, node):
        return [node["name"]]


def _rows(located, ref_values, blobs):
    return compare.rows(FakeBundle().manifest, FakePlan(), FakeNet(located), ref_values, {}, blobs)


def test_a_located_tensor_is_compared():
    value = np.arange(6, dtype="f4").reshape(2, 3)
    [row] = _rows({"y": ("y", None)}, {"y": value}, {"y": value.copy()})
    assert row["status"] == verify.OK and row["blob"] == "y" and row["max_abs"] == 0.0 and row["output"]


@pytest.mark.parametrize("located, ref_values, note", [
    ({}, {"y": np.zeros((2, 3), "f4")}, "not located in your net"),
    ({"y": ("y", None)}, {}, compare.NO_REFERENCE),
], ids=["not_located", "no_tf_value"])
def test_a_tensor_that_cannot_be_compared_says_why(located, ref_values, note):
    [row] = _rows(located, ref_values, {"y": np.zeros((2, 3), "f4")})
    assert row["status"] == verify.NOT_COMPARED and row["note"] == note and row["max_abs"] is None


def test_the_footer_of_an_output_that_was_not_compared():
    rows = _rows({}, {}, {})
    judge.judge(FakeBundle().manifest, rows, {}, {})
    summary = judge.summarize(rows, rows)
    text = report.footer({"summary": summary, "outputs": rows, "notes": {}, "batch": 2, "target": None})
    assert "(tolerance -)" in text and "-> not compared" in text
