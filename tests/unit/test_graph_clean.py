"""clean.py on hand-made graphs (plain objects shaped like GraphDef nodes; no TensorFlow): pruning to the
outputs, identities as aliases, DATA vs folded STATIC tensors, and default inputs and outputs."""
import pytest

from export_tf.graphdef.clean import clean, default_outputs
from export_tf.graphdef.names import InputSpec
from shared.errors import UsageError


class Node(object):
    def __init__(self, name, op, *inputs):
        self.name, self.op, self.input, self.attr = name, op, list(inputs), {}


class GraphDef(object):
    def __init__(self, *nodes):
        self.node = list(nodes)


def training_graph():
    """images -> conv -> bias -> relu -> flatten (shape from Shape/StridedSlice/Pack) -> matmul -> prob,
    plus a loss on labels, an optimizer step and a saver."""
    return GraphDef(
        Node("images", "Placeholder"), Node("labels", "Placeholder"),
        Node("w", "Const"), Node("w/read", "Identity", "w"), Node("b", "Const"),
        Node("conv", "Conv2D", "images", "w/read"), Node("bias", "BiasAdd", "conv", "b"),
        Node("relu", "Relu", "bias"), Node("relu/id", "Identity", "relu"),
        Node("shape", "Shape", "relu/id"), Node("slice", "StridedSlice", "shape"), Node("dims", "Pack", "slice"),
        Node("flat", "Reshape", "relu/id", "dims"), Node("fc", "Const"), Node("logits", "MatMul", "flat", "fc"),
        Node("prob", "Softmax", "logits"), Node("loss", "SparseSoftmaxCrossEntropyWithLogits", "logits", "labels"),
        Node("train", "NoOp", "^loss"), Node("save/SaveV2", "SaveV2", "w"))


def test_pruned_to_the_outputs_with_identities_as_aliases():
    graph = clean(training_graph(), [InputSpec("images:0")], ["prob:0"], "g")
    assert graph.order == ["conv", "bias", "relu", "relu/id", "flat", "logits", "prob"]
    assert "loss" not in graph.nodes and "labels" not in graph.nodes and "train" not in graph.nodes
    assert graph.resolve("relu/id:0") == "relu:0"
    assert graph.consumers["relu:0"] == [("flat", 0)]   # the Shape op reads the shape, not the values
    assert graph.is_data("flat:0") and not graph.is_data("dims:0") and not graph.is_data("w/read:0")
    assert graph.static_inputs() == ["w/read:0", "b:0", "dims:0", "fc:0"]


def test_default_inputs_are_the_placeholders_the_outputs_need():
    graph = clean(training_graph(), None, ["prob:0"], "g")
    assert [s.tensor for s in graph.inputs] == ["images:0"]


def test_default_outputs_are_the_sinks():
    assert default_outputs(training_graph()) == ["prob:0", "loss:0"]
    frozen = GraphDef(Node("x", "Placeholder"), Node("k", "Const"), Node("junk", "Identity", "k"),
                      Node("y", "Relu", "x"))
    graph = clean(frozen, None, None, "g")
    assert graph.outputs == ["y:0"]      # a sink that does not depend on the inputs is no output


def test_an_unfed_placeholder_is_a_usage_error():
    with pytest.raises(UsageError, match="labels"):
        clean(training_graph(), [InputSpec("images:0")], ["loss:0"], "g")


def test_an_output_that_ignores_the_inputs_is_a_usage_error():
    with pytest.raises(UsageError, match="does not depend"):
        clean(training_graph(), [InputSpec("images:0")], ["w/read:0"], "g")


def test_cutting_the_graph_at_an_inner_tensor():
    graph = clean(training_graph(), [InputSpec("relu:0")], ["prob:0"], "g")
    assert graph.order == ["relu/id", "flat", "logits", "prob"] and "conv" not in graph.nodes
