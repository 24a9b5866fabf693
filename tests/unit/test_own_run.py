"""Each TF node's Caffe layers run alone on TF's values of its inputs (own_run.py), without Caffe: which
blobs a node's run is fed, which layers it runs, which blobs it reads, and why a node cannot be run alone;
then the runs themselves on a stand-in for Caffe that computes each layer in numpy. Both Pythons."""
import numpy as np
import pytest

from import_caffe import own_run, tolerances, verify
from import_caffe.layout import FLAT_CHW, VECTOR, Layout
from import_caffe.plan import CaffeLayer, TensorRef
from import_caffe.planner import NetPlan, plan_net
from shared import opspec

RNG = np.random.RandomState(7)


def _node(name, op, inputs, attrs, arrays=()):
    node = {"name": name, "op": op, "source_type": op, "inputs": inputs, "outputs": [name],
            "attrs": attrs, "arrays": dict((role, "%s/%s" % (name, role)) for role in arrays)}
    opspec.fill_defaults(node)
    return node


def manifest_and_arrays():
    """image (4, 4, 2) -> conv (relu6: its value before the activation is stored) -> flat (32,) ->
    dense (3,) and, from flat and conv's global pool, a concat (34,) -> out (2,)."""
    arrays = {"conv/kernel": RNG.standard_normal((3, 3, 2, 2)).astype(np.float32),
              "conv/bias": RNG.standard_normal(2).astype(np.float32),
              "dense/kernel": RNG.standard_normal((32, 3)).astype(np.float32),
              "out/kernel": RNG.standard_normal((34, 2)).astype(np.float32)}
    nodes = [
        _node("conv", "conv2d", ["image"], {"kernel_size": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1],
                                             "padding": "same", "filters": 2, "activation": {"function": "relu6"}},
              ["kernel", "bias"]),
        _node("flat", "flatten", ["conv"], {}),
        _node("dense", "dense", ["flat"], {"units": 3, "use_bias": False}, ["kernel"]),
        _node("gap", "global_pool2d", ["conv"], {"mode": "avg"}),
        _node("cat", "concat", ["flat", "gap"], {"axis": 1}),
        _node("out", "dense", ["cat"], {"units": 2, "use_bias": False}, ["kernel"]),
    ]
    shapes = {"image": [4, 4, 2], "conv": [4, 4, 2], "flat": [32], "dense": [3], "gap": [2], "cat": [34], "out": [2]}
    manifest = {"model_name": "m", "nodes": nodes,
                "inputs": [{"name": "image", "tensor": "image", "shape": [4, 4, 2], "dtype": "float32"}],
                "outputs": [{"name": "out", "tensor": "out", "shape": [2], "dtype": "float32"}],
                "tensors": dict((t, {"shape": s, "dtype": "float32"}) for t, s in shapes.items())}
    return manifest, arrays


def planned():
    manifest, arrays = manifest_and_arrays()
    plan = plan_net(manifest, lambda node: dict((r, arrays[k]) for r, k in node["arrays"].items()))
    return manifest, plan


def steps_of(tf_has=lambda t: True):
    manifest, plan = planned()
    return dict((s.node["name"], s) for s in own_run.steps(
        manifest, plan, tf_has, lambda node: node["name"] + "/preact" if node["name"] == "conv" else None)), plan


def test_each_node_runs_its_own_consecutive_layers():
    steps, plan = steps_of()
    names = [layer.name for layer in plan.layers]
    for name, step in steps.items():
        group = plan.node_layers[name]
        assert step.why_not is None
        assert (step.first, step.last) == (group[0], group[-1])
        assert names[names.index(step.first):names.index(step.last) + 1] == group


def test_a_node_is_fed_tf_values_in_the_layout_its_layers_read():
    steps, plan = steps_of()
    assert [(b, t) for b, t, _ in steps["conv"].feeds] == [("image", "image")]
    assert steps["conv"].preact == "conv/preact"
    assert [(b, t) for b, t, _ in steps["dense"].feeds] == [("flat", "flat")]
    assert steps["dense"].feeds[0][2].kind == FLAT_CHW       # the Dense reads the flattened blob as it is
    # the concat restores HWC order of flat first: its run starts at that restore, fed the flattened blob
    cat = steps["cat"]
    assert cat.first.startswith("flat/hwc_order") and ("flat", "flat") in [(b, t) for b, t, _ in cat.feeds]
    assert [t for t, _ in steps["out"].outputs] == ["out"]


def test_without_tf_values_of_its_inputs_a_node_is_judged_end_to_end():
    steps, _ = steps_of(lambda t: t in ("image", "out"))       # a bundle written with --no-activations
    assert steps["conv"].why_not is None and steps["conv"].outputs == []    # run, but nothing to compare
    assert steps["out"].why_not == own_run.NO_INPUT_VALUES % "cat"


def test_a_layer_writing_in_place_into_a_blob_it_reads_is_not_run_alone():
    ref = TensorRef("x", [3], Layout(VECTOR))
    layers = [CaffeLayer("x", "Input", [], ["x"]), CaffeLayer("r", "ReLU", ["x"], ["x"])]
    plan = NetPlan("m", layers, {"x": ref, "r": ref}, {"r": ["r"]}, {}, [], [], produced={"r": ref},
                   held={"x": ("x", ref)})
    node = {"name": "r", "op": "activation", "inputs": ["x"], "outputs": ["r"]}
    [step] = own_run.steps({"nodes": [node]}, plan, lambda t: True, lambda n: None)
    assert "in place" in step.why_not


class NumpyNet(object):
    """Stands in for the Caffe net: blobs in a dict, and each node's layers computed by one numpy
    function (`compute`: node name -> function of the blobs), possibly wrong."""

    def __init__(self, plan, compute):
        self.blobs, self.plan, self.compute, self.runs = {}, plan, compute, []

    def set(self, blob, value):
        self.blobs[blob] = np.array(value)

    def get(self, blob):
        return self.blobs[blob]

    def run(self, first, last):
        node = next(n for n, layers in self.plan.node_layers.items() if layers and layers[0] == first)
        self.runs.append((first, last))
        self.compute[node](self.blobs)


def test_measure_finds_the_lowering_that_is_wrong_and_what_each_layer_inherited():
    """Two nodes a -> b, each y = 2x: b's lowering computes 2x + 1 (wrong); a's end-to-end output carries
    a drift it did not make (as if the layers above had drifted) and b inherits it."""
    manifest, plan = planned()
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    tf = {"x": x, "a": 2 * x, "b": 4 * x}
    step_a, step_b = own_run.Step({"name": "a", "op": "scale", "inputs": ["x"], "outputs": ["a"]}), \
        own_run.Step({"name": "b", "op": "scale", "inputs": ["a"], "outputs": ["b"]})
    for step, src, dst in ((step_a, "x", "a"), (step_b, "a", "b")):
        step.first = step.last = dst
        step.feeds = [(src, src, Layout(VECTOR))]
        step.outputs = [(dst, TensorRef(dst, [3], Layout(VECTOR)))]
    plan.node_layers = {"a": ["a"], "b": ["b"]}

    def a(blobs):
        blobs["a"] = 2 * blobs["x"]

    def b(blobs):
        blobs["b"] = 2 * blobs["a"] + 1
    net = NumpyNet(plan, {"a": a, "b": b})
    net.blobs.update(x=x, a=2 * x + 0.5, b=2 * (2 * x + 0.5) + 1)       # the end-to-end run's values
    own = own_run.measure([step_a, step_b], net, tf.__getitem__, {}, tolerances.for_op)
    assert own[("a", "a")]["status"] == verify.OK and own[("a", "a")]["max_abs"] == 0.0
    assert own[("a", "a")]["inherited_abs"] == pytest.approx(0.5)
    assert own[("b", "b")]["status"] == verify.INACCURATE and own[("b", "b")]["max_abs"] == pytest.approx(1.0)
    assert own[("b", "b")]["inherited_abs"] == pytest.approx(1.0)      # 2 x the drift of its input
    assert net.runs == [("a", "a"), ("b", "b")]
