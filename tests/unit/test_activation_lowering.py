"""Activation and merge lowerings as plans (no Caffe needed; both Pythons): every function lowers for
both targets, a target without Clip/Swish never gets them, layers form a chain ending in the requested
top, refusals say why; the named targets and their detection."""
import pytest

from shared import opspec
from import_caffe.handlers import activation, merge
from import_caffe.layout import IMAGE, SEQUENCE, Layout
from import_caffe.plan import Names, TensorRef
from import_caffe.registry import TARGETS, Target, Unsupported
from shared.errors import BundleError

ATTRS = {
    "relu": [{}, {"negative_slope": 0.1}, {"max_value": 6.0}, {"max_value": 3.0, "negative_slope": 0.2},
             {"threshold": 1.5}, {"threshold": 1.0, "max_value": 4.0, "negative_slope": 0.1}],
    "relu6": [{}], "clip": [{"min": -1.0, "max": 1.0}], "sigmoid": [{}], "tanh": [{}], "softplus": [{}],
    "exponential": [{}], "softmax": [{"axis": -1}, {"axis": 1}, {"axis": [1, 2]}], "elu": [{"alpha": 0.5}],
    "selu": [{"alpha": 1.67, "scale": 1.05}], "celu": [{"alpha": 1.0}, {"alpha": 2.0}], "softsign": [{}],
    "silu": [{}], "hard_sigmoid": [{"slope": 0.2, "offset": 0.5}], "hard_silu": [{"slope": 1 / 6.0, "offset": 0.5}],
    "gelu": [{"approximate": False}, {"approximate": True}], "mish": [{}], "log_sigmoid": [{}],
    "tanh_shrink": [{}], "hard_shrink": [{"threshold": 0.5}], "soft_shrink": [{"threshold": 0.5}],
    "sparse_plus": [{}], "squareplus": [{"b": 4.0}],
}
CASES = [(fn, a) for fn in sorted(ATTRS) for a in ATTRS[fn]]
IMAGE_REF = TensorRef("x", [4, 5, 3], Layout(IMAGE))


def test_every_function_has_cases():
    assert sorted(ATTRS) == sorted(activation.FUNCTIONS)


@pytest.mark.parametrize("target_name", sorted(TARGETS))
@pytest.mark.parametrize("fn,extra", CASES, ids=["%s-%d" % (fn, i) for fn in sorted(ATTRS) for i in range(len(ATTRS[fn]))])
def test_lowering_is_a_chain_for_each_target(fn, extra, target_name):
    target = Target.named(target_name)
    attrs_ = opspec.complete("activation", dict(extra, function=fn))
    layers = activation.lower_activation(attrs_, "x", "y", "act", target, IMAGE_REF)
    blobs = {"x"}
    for layer in layers:
        assert all(b in blobs for b in layer.bottoms), (layer, blobs)
        blobs.update(layer.tops)
    assert layers[-1].tops == ["y"] and layers[-1].name == "act"
    assert len(set(l.name for l in layers)) == len(layers)
    types = set(l.type for l in layers)
    if not target.has_clip:
        assert "Clip" not in types
    if not target.has_swish:
        assert "Swish" not in types


def test_gelu_erf_is_the_only_approximation():
    for fn, extra in CASES:
        node = {"op": "activation", "attrs": opspec.complete("activation", dict(extra, function=fn))}
        expected = fn == "gelu" and not extra["approximate"]
        assert bool(activation.approximations(node)) == expected, (fn, extra)
    fused = {"op": "dense", "attrs": {"activation": {"function": "gelu", "approximate": False}}}
    assert activation.approximations(fused) == [activation.GELU_ERF]


def test_softmax_over_non_contiguous_caffe_axes_is_refused():
    with pytest.raises(Unsupported, match="not contiguous"):
        activation.lower_activation({"function": "softmax", "axis": [2, 3]}, "x", "y", "s", Target(), IMAGE_REF)


def test_every_lowered_function_is_declared_in_the_op_spec():
    assert sorted(activation.FUNCTIONS) == sorted(opspec.activation.FUNCTIONS)


def test_softmax_over_a_sequence_skips_its_unit_height():
    ref = TensorRef("x", [6, 4], Layout(SEQUENCE))
    layers = activation.lower_activation({"function": "softmax", "axis": [1, 2]}, "x", "y", "s", Target(), ref)
    assert [l.type for l in layers] == ["Reshape", "Softmax", "Reshape"]
    assert layers[0].params["reshape_param"] == {"shape": {"dim": [-1]}, "axis": 1, "num_axes": 3}
    assert layers[2].params["reshape_param"]["shape"]["dim"] == [4, 1, 6]


def test_unknown_function_is_refused_with_the_supported_list():
    with pytest.raises(Unsupported, match="supported: .*gelu"):
        activation.lower_activation({"function": "sparsemax"}, "x", "y", "s", Target())


def test_activation_attributes_are_checked():
    node = {"name": "a", "op": "activation", "source_type": "Activation",
            "attrs": {"function": "gelu", "approximate": "yes"}}
    with pytest.raises(BundleError, match="approximate"):
        opspec.check_node(node, [IMAGE_REF.shape], None, {}, "test")
    node["attrs"] = {"function": "softmax", "axis": [1, 1]}
    with pytest.raises(BundleError, match="distinct"):
        opspec.check_node(node, [IMAGE_REF.shape], None, {}, "test")


def test_named_and_detected_targets():
    old = Target.named("caffe-1.0")
    assert (old.has_clip, old.has_swish, old.source) == (False, False, "requested")
    assert old.missing_in(["ReLU"]) == []
    debian = Target.named("caffe-1.0-debian")
    assert debian.missing_in(["ReLU", "Clip"]) == ["Swish"]
    assert Target.from_layer_types(list(TARGETS["caffe-1.0-debian"])).name == "caffe-1.0-debian"
    assert Target.from_layer_types(list(TARGETS["caffe-1.0"])).name == "caffe-1.0"
    clip_only = Target.from_layer_types(["ReLU", "Clip"])
    assert (clip_only.has_clip, clip_only.has_swish, clip_only.name) == (True, False, "caffe-1.0+Clip")
    with pytest.raises(ValueError, match="known: auto, caffe-1.0, caffe-1.0-debian"):
        Target.named("caffe-2")


def _merge_node(op, count):
    return {"name": "m", "op": op, "source_type": op.title(), "attrs": {}, "inputs": ["a%d" % i for i in range(count)],
            "outputs": ["m/out"]}


def test_minimum_is_negated_max():
    ins = [TensorRef("a", [2, 3, 4], Layout(IMAGE)), TensorRef("b", [2, 3, 4], Layout(IMAGE))]
    node = _merge_node("minimum", 2)
    low = merge.minimum(node, ins, {}, Names(node), Target())
    assert [l.type for l in low.layers] == ["Power", "Power", "Eltwise", "Power"]
    assert low.layers[-1].tops == ["m/out"]


def test_gate_uses_scale_and_other_broadcasts_tile():
    full = TensorRef("a", [2, 3, 4], Layout(IMAGE))
    node = _merge_node("multiply", 2)
    low = merge.multiply(node, [TensorRef("g", [1, 1, 4], Layout(IMAGE)), full], {}, Names(node), Target())
    assert [l.type for l in low.layers] == ["Flatten", "Scale"] and low.layers[1].bottoms == ["a", "m/gate"]
    low = merge.multiply(node, [full, TensorRef("c", [2, 3, 1], Layout(IMAGE))], {}, Names(node), Target())
    assert [l.type for l in low.layers] == ["Tile", "Eltwise"]
    assert low.layers[0].params["tile_param"] == {"axis": 1, "tiles": 4}


def test_shapes_that_do_not_broadcast_are_refused():
    node = _merge_node("add", 2)
    ins = [TensorRef("a", [2, 3, 4], Layout(IMAGE)), TensorRef("b", [2, 3, 2], Layout(IMAGE))]
    with pytest.raises(Unsupported, match="do not broadcast"):
        merge.add(node, ins, {}, Names(node), Target())


def test_a_runtime_target_without_a_layer_uses_its_composition():
    opencv = Target.named("opencv")
    assert opencv.runtime and opencv.has_swish and not opencv.has_clip
    plain = opencv.without(["Swish"])
    assert plain.runtime and plain.name == "opencv" and not plain.has_swish and not plain.has_clip
    layers = activation.lower_activation({"function": "silu"}, "x", "y", "s", plain, IMAGE_REF)
    assert "Swish" not in [l.type for l in layers] and all(plain.refusal(l) is None for l in layers)
