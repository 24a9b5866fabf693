"""Declared work a bundle may ask of the importer, checked against what it carries (issue 18): the
node count beyond a floor needs arrays to back it, and an array is weights or reference data, never both."""
import copy

import pytest

from shared import opspec, schema
from shared.errors import BundleError

from test_schema import array_spec, tensor_spec, valid_manifest


def relu_chain(manifest, count):
    """`count` relu nodes after the valid manifest's output, the last one the model's output."""
    prev = manifest["outputs"][0]["tensor"]
    shape = manifest["tensors"][prev]["shape"]
    for i in range(count):
        t = "chain%d" % i
        manifest["nodes"].append({"name": "chain%d" % i, "op": "activation", "source_type": "ReLU", "inputs": [prev],
                                  "outputs": [t], "attrs": opspec.complete("activation", {"function": "relu"}),
                                  "arrays": {}})
        manifest["tensors"][t] = tensor_spec(shape)
        prev = t
    manifest["outputs"][0]["tensor"] = prev
    manifest["reference"]["outputs"] = {prev: "reference/y"}
    return manifest


def test_nodes_up_to_the_floor_need_no_arrays():
    schema.validate_manifest(relu_chain(valid_manifest(), schema.NODES_FLOOR - 2))


def test_nodes_beyond_the_floor_need_arrays_to_back_them():
    manifest = relu_chain(valid_manifest(), 20000)
    with pytest.raises(BundleError, match=r"'nodes'.*20002 nodes is over the limit"):
        schema.validate_manifest(manifest)
    manifest["arrays"]["weights"] = array_spec([20002 * schema.ARRAY_BYTES_PER_NODE // 4])
    schema.validate_manifest(manifest)


def test_never_more_than_max_nodes():
    manifest = valid_manifest()
    manifest["arrays"]["weights"] = array_spec([1 << 30])
    schema.validate_manifest(relu_chain(copy.deepcopy(manifest), 1000))
    with pytest.raises(BundleError, match="over the limit"):
        schema.validate_manifest(relu_chain(manifest, schema.MAX_NODES))


def dense_manifest():
    """x (4,) -> dense (kernel (4, 4)) -> y (4,) at batch 4: the kernel has the shape of the reference arrays."""
    manifest = valid_manifest()
    manifest.update(
        inputs=[{"name": "x", "tensor": "x", "shape": [4], "dtype": "float32"}],
        outputs=[{"name": "y", "tensor": "y", "shape": [4], "dtype": "float32"}],
        tensors={"x": tensor_spec([4]), "y": tensor_spec([4])},
        nodes=[{"name": "fc", "op": "dense", "source_type": "Dense", "inputs": ["x"], "outputs": ["y"],
                "attrs": opspec.complete("dense", {"units": 4, "use_bias": False}), "arrays": {"kernel": "w"}}],
        arrays={"w": array_spec([4, 4]), "reference/x": array_spec([4, 4]), "reference/y": array_spec([4, 4])},
        reference={"batch": 4, "inputs": {"x": "reference/x"}, "outputs": {"y": "reference/y"}, "activations": {}})
    return manifest


def test_the_dense_manifest_is_valid():
    schema.validate_manifest(dense_manifest())


@pytest.mark.parametrize("key", ["reference/x", "reference/y"])
def test_a_node_whose_weights_are_reference_data_is_malformed(key):
    manifest = dense_manifest()
    manifest["nodes"][0]["arrays"]["kernel"] = key
    del manifest["arrays"]["w"]
    with pytest.raises(BundleError, match=r"'nodes\[0\].arrays.kernel'.*also reference data"):
        schema.validate_manifest(manifest)


def test_what_a_lowering_holds_beyond_its_tensors_counts_as_declared_work():
    """A dot of two (L, C) sequences over C holds L x L x C products per sample before summing them: a
    long sequence declares little in tensors but would make Caffe allocate that."""
    manifest = valid_manifest()
    length, channels = 2048, 32
    manifest.update(
        inputs=[{"name": "a", "tensor": "a", "shape": [length, channels], "dtype": "float32"},
                {"name": "b", "tensor": "b", "shape": [length, channels], "dtype": "float32"}],
        outputs=[{"name": "y", "tensor": "y", "shape": [length, length], "dtype": "float32"}],
        tensors={"a": tensor_spec([length, channels]), "b": tensor_spec([length, channels]),
                 "y": tensor_spec([length, length])},
        nodes=[{"name": "dot", "op": "dot", "source_type": "Dot", "inputs": ["a", "b"], "outputs": ["y"],
                "attrs": opspec.complete("dot", {"axes": [2, 2]}), "arrays": {}}],
        arrays={"reference/a": array_spec([1, length, channels]), "reference/b": array_spec([1, length, channels]),
                "reference/y": array_spec([1, length, length])},
        reference={"batch": 1, "inputs": {"a": "reference/a", "b": "reference/b"}, "outputs": {"y": "reference/y"},
                   "activations": {}})
    assert opspec.held(manifest["nodes"][0], [[length, channels]] * 2) >= length * length * channels
    with pytest.raises(BundleError, match="reference.batch.*activations"):
        schema.validate_manifest(manifest)
