"""The sequence, normalisation and Permute ops read untrusted attributes: a well-formed node plans, each
malformed field is refused with a BundleError naming it (before any handler runs), and shapes come out as TF
declares them. Runs under both Pythons, without Caffe."""
import copy

import numpy as np
import pytest

from import_caffe.planner import plan_net
from import_caffe.registry import Target
from shared import opspec
from shared.errors import BundleError

RNG = np.random.RandomState(5)


def _node(name, op, inputs, attrs, arrays=None):
    return {"name": name, "op": op, "source_type": op, "inputs": inputs, "outputs": [name],
            "attrs": attrs, "arrays": dict((role, "%s/%s" % (name, role)) for role in (arrays or {}))}


def manifest_and_arrays():
    """tokens (6,) -> embed (6, 4) -> conv (3, 5) -> pool (3, 5) -> ln -> permute (5, 3) -> norm -> gap (3,)."""
    arrays = {
        "embed/embeddings": RNG.standard_normal((10, 4)).astype(np.float32),
        "conv/kernel": RNG.standard_normal((3, 4, 5)).astype(np.float32),
        "conv/bias": RNG.standard_normal(5).astype(np.float32),
        "ln/gamma": np.ones(5, np.float32), "ln/beta": np.zeros(5, np.float32),
        "norm/mean": np.zeros(3, np.float32), "norm/variance": np.ones(3, np.float32),
    }
    window = {"kernel_size": [3], "strides": [2], "pads": [1, 1], "padding": "same"}
    nodes = [
        _node("embed", "embedding", ["tokens"], {"input_dim": 10, "output_dim": 4, "mask_zero": False},
              ["embeddings"]),
        _node("conv", "conv1d", ["embed"], dict(window, dilation=[1], groups=1, filters=5, activation={"function": "relu"}),
              ["kernel", "bias"]),
        _node("pool", "avg_pool1d", ["conv"], {"kernel_size": [2], "strides": [1], "pads": [0, 1], "padding": "same"}),
        _node("ln", "layer_norm", ["pool"], {"epsilon": 1e-3}, ["gamma", "beta"]),
        _node("permute", "permute", ["ln"], {"dims": [2, 1]}),
        _node("norm", "normalize", ["permute"], {"epsilon": 1e-7, "invert": False}, ["mean", "variance"]),
        _node("gap", "global_pool1d", ["norm"], {"mode": "max", "keepdims": False}),
    ]
    shapes = {"tokens": [6], "embed": [6, 4], "conv": [3, 5], "pool": [3, 5], "ln": [3, 5], "permute": [5, 3],
              "norm": [5, 3], "gap": [3]}
    manifest = {"model_name": "seq", "nodes": nodes,
                "inputs": [{"name": "tokens", "tensor": "tokens", "shape": [6], "dtype": "float32"}],
                "outputs": [{"name": "gap", "tensor": "gap", "shape": [3], "dtype": "float32"}],
                "tensors": dict((t, {"shape": s, "dtype": "float32"}) for t, s in shapes.items())}
    return manifest, arrays


def plan(manifest, arrays):
    """What the importer does with a bundle's manifest: each node checked against its op's spec (read as
    version 1, defaults filled in), then planned."""
    tensors = manifest["tensors"]
    for node in manifest["nodes"]:
        opspec.fill_defaults(node)
        opspec.check_node(node, [tensors[t]["shape"] for t in node["inputs"]],
                          [tensors[t]["shape"] for t in node["outputs"]],
                          dict((role, arrays[key].shape) for role, key in node["arrays"].items()), "test")

    def arrays_of(node):
        return dict((role, arrays[key]) for role, key in node["arrays"].items())
    return plan_net(manifest, arrays_of, Target(), where="test")


def test_the_well_formed_net_plans_with_tf_shapes():
    manifest, arrays = manifest_and_arrays()
    net = plan(manifest, arrays)
    for tensor, spec in manifest["tensors"].items():
        assert net.refs[tensor].shape == spec["shape"], tensor
    types = [layer.type for layer in net.layers]
    assert "Embed" in types and "Tile" in types and types.count("Concat") >= 2   # embed and permute transposes


MALFORMED = {
    "conv1d-kernel-size-list-of-two": ("conv", "kernel_size", [3, 3], "attrs.kernel_size"),
    "conv1d-negative-pad": ("conv", "pads", [-1, 1], "attrs.pads"),
    "conv1d-pad-a-whole-window": ("conv", "pads", [3, 0], "attrs.pads"),
    "conv1d-groups-zero": ("conv", "groups", 0, "attrs.groups"),
    "conv1d-window-longer-than-input": ("conv", "kernel_size", [9], "attrs.kernel_size"),
    "pool1d-strides-string": ("pool", "strides", "2", "attrs.strides"),
    "embedding-wrong-vocabulary": ("embed", "input_dim", 11, "arrays.embeddings"),
    "embedding-zero-dim": ("embed", "output_dim", 0, "attrs.output_dim"),
    "layer-norm-negative-epsilon": ("ln", "epsilon", -1.0, "attrs.epsilon"),
    "permute-not-a-permutation": ("permute", "dims", [1, 1], "attrs.dims"),
    "permute-batch-axis": ("permute", "dims", [0, 1], "attrs.dims"),
    "normalize-invert-not-bool": ("norm", "invert", 1, "attrs.invert"),
    "global-pool-mode": ("gap", "mode", "median", "attrs.mode"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED), ids=sorted(MALFORMED))
def test_malformed_attributes_are_refused_naming_the_field(case):
    name, key, value, field = MALFORMED[case]
    manifest, arrays = manifest_and_arrays()
    manifest = copy.deepcopy(manifest)
    node = [n for n in manifest["nodes"] if n["name"] == name][0]
    node["attrs"][key] = value
    with pytest.raises(BundleError) as info:
        plan(manifest, arrays)
    assert field in str(info.value) and repr(name) in str(info.value)


def test_negative_normalization_variance_is_refused():
    manifest, arrays = manifest_and_arrays()
    arrays["norm/variance"] = -np.ones(3, np.float32)
    with pytest.raises(BundleError, match="arrays.variance"):
        plan(manifest, arrays)


def test_groups_not_dividing_the_channels_are_malformed():
    manifest, arrays = manifest_and_arrays()
    manifest["nodes"][1]["attrs"]["groups"] = 3
    with pytest.raises(BundleError, match="attrs.groups.*not both divisible by groups 3"):
        plan(manifest, arrays)
