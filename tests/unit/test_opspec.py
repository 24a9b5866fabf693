"""The op spec (shared/opspec), without Caffe, under both Pythons: every op has one spec and one importer
handler; a random valid node of every op passes its spec and plans, with the output shape the spec
derives; deleting any attribute of any op's node, or breaking an arity or an array shape, is a
malformed-bundle error naming the node and the field."""
import random

import numpy as np
import pytest

from import_caffe.planner import plan_net
from import_caffe.registry import Target, all_handlers
from shared import opspec
from shared.errors import BundleError, Tf2CaffeError
from shared.opspec import SpecError
from shared.opspec.activation import FUNCTIONS

SAMPLES = 6


def same_pads(size, kernel, stride, dilation=1):
    """TF's SAME padding of one axis: (before, after), the extra cell after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return [total // 2, total - total // 2]


def window(rng, spatial, dilated):
    """Window attributes for `spatial` input sizes (one or two axes), SAME or VALID."""
    dims = len(spatial)
    kernel = [rng.randint(1, min(4, s)) for s in spatial]
    strides = [rng.randint(1, 3) for _ in spatial]
    dilation = [1] * dims
    if dilated and strides == [1] * dims and rng.random() < 0.5:
        dilation = [rng.randint(1, 2) for _ in spatial]
    padding = rng.choice(["same", "valid"])
    pads = []
    for axis in range(dims):
        pads += same_pads(spatial[axis], kernel[axis], strides[axis], dilation[axis]) if padding == "same" else [0, 0]
    attrs = {"kernel_size": kernel, "strides": strides, "padding": padding, "pads": pads}
    if dilated:
        attrs["dilation"] = dilation
    return attrs


def activation(rng):
    fn = rng.choice(sorted(FUNCTIONS) + [None, None])
    if fn is None:
        return None
    return dict({"function": fn}, **{"hard_sigmoid": {"slope": 0.2, "offset": 0.5}, "clip": {"min": -1.0, "max": 2.0}}
                .get(fn, {}))


def image(rng):
    return [rng.randint(2, 7), rng.randint(2, 7), rng.randint(1, 5)]


def conv2d(rng):
    h, w, c = image(rng)
    groups = rng.choice([g for g in (1, 2, 3) if c % g == 0])
    filters = groups * rng.randint(1, 3)
    attrs = dict(window(rng, (h, w), True), filters=filters, groups=groups, use_bias=rng.random() < 0.5,
                 activation=activation(rng))
    arrays = {"kernel": attrs["kernel_size"] + [c // groups, filters]}
    if attrs["use_bias"]:
        arrays["bias"] = [filters]
    return [[h, w, c]], attrs, arrays


def depthwise_conv2d(rng):
    h, w, c = image(rng)
    mult = rng.randint(1, 2)
    attrs = dict(window(rng, (h, w), True), depth_multiplier=mult, use_bias=True, activation=activation(rng))
    return [[h, w, c]], attrs, {"kernel": attrs["kernel_size"] + [c, mult], "bias": [c * mult]}


def separable_conv2d(rng):
    h, w, c = image(rng)
    mult, filters = rng.randint(1, 2), rng.randint(1, 4)
    attrs = dict(window(rng, (h, w), True), depth_multiplier=mult, filters=filters, use_bias=False,
                 activation=activation(rng))
    return [[h, w, c]], attrs, {"depthwise_kernel": attrs["kernel_size"] + [c, mult],
                                "pointwise_kernel": [1, 1, c * mult, filters]}


def conv2d_transpose(rng):
    h, w, c = image(rng)
    kernel, stride, filters = [rng.randint(1, 4), rng.randint(1, 4)], [rng.randint(1, 3)] * 2, rng.randint(1, 3)
    padding = rng.choice(["same", "valid"])
    offset, size = [], []
    for axis, n in enumerate((h, w)):
        k, s = kernel[axis], stride[axis]
        out = n * s if padding == "same" else (n - 1) * s + k + max(k, s) - k
        size.append(out)
        offset.append(max((n - 1) * s + k - out, 0) // 2 if padding == "same" else 0)
    attrs = {"kernel_size": kernel, "strides": stride, "dilation": [1, 1], "padding": padding, "offset": offset,
             "output_size": size, "filters": filters, "use_bias": True, "activation": None}
    return [[h, w, c]], attrs, {"kernel": kernel + [filters, c], "bias": [filters]}


def pool2d(rng):
    h, w, c = image(rng)
    return [[h, w, c]], window(rng, (h, w), False), {}


def global_pool(rng, rank):
    shape = image(rng) if rank == 3 else [rng.randint(2, 9), rng.randint(1, 5)]
    return [shape], {"mode": rng.choice(["avg", "max"]), "keepdims": rng.random() < 0.5}, {}


def dense(rng):
    shape = rng.choice([[rng.randint(1, 9)], [rng.randint(2, 6), rng.randint(1, 5)], image(rng)])
    units = rng.randint(1, 6)
    return [shape], {"units": units, "use_bias": True, "activation": activation(rng)}, \
        {"kernel": [shape[-1], units], "bias": [units]}


def any_tensor(rng):
    return rng.choice([[rng.randint(1, 9)], [rng.randint(2, 6), rng.randint(1, 5)], image(rng)])


def elementwise_activation(rng):
    act = activation(rng) or {"function": "relu"}
    if act["function"] == "softmax":
        act["axis"] = -1
    return [any_tensor(rng)], act, {}


def prelu(rng):
    shape = any_tensor(rng)
    return [shape], {}, {"alpha": [1] * (len(shape) - 1) + [shape[-1]]}


def merge(count):
    def build(rng):
        shape = any_tensor(rng)
        n = count or rng.randint(2, 3)
        return [list(shape) for _ in range(n)], {}, {}
    return build


def concat(rng):
    shape = any_tensor(rng)
    axis = rng.randint(1, len(shape))
    ins = []
    for _ in range(rng.randint(1, 3)):
        other = list(shape)
        other[axis - 1] = rng.randint(1, 4)
        ins.append(other)
    return ins, {"axis": axis}, {}


def per_channel(*roles, **attrs):
    def build(rng):
        shape = any_tensor(rng) if roles[0] != "mean" else [rng.randint(1, 9)]
        out = dict(attrs)
        return [shape], out, dict((role, [shape[-1]]) for role in roles)
    return build


def sequence(rng):
    return [rng.randint(3, 9), rng.randint(1, 4)]


def conv1d(rng):
    length, c = sequence(rng)
    attrs = window(rng, (length,), True)
    attrs.update(filters=rng.randint(1, 4), groups=1, use_bias=True, activation=activation(rng))
    return [[length, c]], attrs, {"kernel": attrs["kernel_size"] + [c, attrs["filters"]], "bias": [attrs["filters"]]}


def depthwise_conv1d(rng):
    length, c = sequence(rng)
    attrs = dict(window(rng, (length,), True), depth_multiplier=2, use_bias=False, activation=None)
    return [[length, c]], attrs, {"kernel": attrs["kernel_size"] + [c, 2]}


def separable_conv1d(rng):
    length, c = sequence(rng)
    attrs = dict(window(rng, (length,), True), depth_multiplier=1, use_bias=True, activation=activation(rng))
    return [[length, c]], attrs, {"depthwise_kernel": attrs["kernel_size"] + [c, 1], "pointwise_kernel": [1, c, 3],
                                  "bias": [3]}


def pool1d(rng):
    length, c = sequence(rng)
    return [[length, c]], window(rng, (length,), False), {}


def embedding(rng):
    vocab, dim = rng.randint(2, 9), rng.randint(1, 5)
    return [[rng.randint(1, 6)]], {"input_dim": vocab, "output_dim": dim, "mask_zero": False}, \
        {"embeddings": [vocab, dim]}


def reshape(rng):
    shape = image(rng)
    target = rng.choice([[shape[0] * shape[1], shape[2]], [shape[0] * shape[1] * shape[2]], [shape[1], shape[0], shape[2]]])
    return [shape], {"target_shape": target}, {}


def permute(rng):
    shape = rng.choice([image(rng), sequence(rng)])
    dims = list(range(1, len(shape) + 1))
    rng.shuffle(dims)
    return [shape], {"dims": dims}, {}


def crop2d(rng):
    h, w, c = image(rng)
    return [[h, w, c]], {"crops": [rng.randint(0, (h - 1) // 2), rng.randint(0, (h - 1) // 2),
                                   rng.randint(0, (w - 1) // 2), rng.randint(0, (w - 1) // 2)]}, {}


def one(shape_fn, attrs_fn=lambda rng: {}, arrays_fn=lambda rng, shape: {}):
    def build(rng):
        shape = shape_fn(rng)
        return [shape], attrs_fn(rng), arrays_fn(rng, shape)
    return build


def recurrent(op):
    """A random recurrent node: forward or bidirectional, every output setting but return_state (one
    output here), with or without its initial states as inputs (h, and c for an LSTM, per direction)."""
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[op]

    def build(rng):
        length, c = sequence(rng)
        units = rng.randint(1, 4)
        attrs = {"units": units, "use_bias": rng.random() < 0.7, "return_sequences": rng.random() < 0.5,
                 "go_backwards": rng.random() < 0.3, "cell_activation": rng.choice([{"function": "tanh"}, None]),
                 "direction": rng.choice(["forward", "bidirectional"]),
                 "merge_mode": rng.choice(["concat", "sum", "mul", "ave"])}
        if op != "simple_rnn":
            attrs["recurrent_activation"] = rng.choice([{"function": "sigmoid"},
                                                        {"function": "hard_sigmoid", "slope": 0.2, "offset": 0.5}])
        if op == "gru":
            attrs["reset_after"] = rng.random() < 0.5
        bias = [2, gates * units] if op == "gru" and attrs["reset_after"] else [gates * units]
        arrays = {}
        for prefix in ("", "backward_") if attrs["direction"] == "bidirectional" else ("",):
            arrays[prefix + "kernel"] = [c, gates * units]
            arrays[prefix + "recurrent_kernel"] = [units, gates * units]
            if attrs["use_bias"]:
                arrays[prefix + "bias"] = bias
        states = (2 if op == "lstm" else 1) * (2 if attrs["direction"] == "bidirectional" else 1)
        return [[length, c]] + [[units]] * (states if rng.random() < 0.4 else 0), attrs, arrays
    return build


def dot(rng):
    """Two vectors or sequences contracting any axis of each."""
    k = rng.randint(1, 4)
    shapes, axes = [], []
    for _ in range(2):
        axis = rng.choice([1, 1, 2]) if rng.random() < 0.7 else None
        other = rng.randint(1, 5)
        shapes.append([k] if axis is None else ([k, other] if axis == 1 else [other, k]))
        axes.append(axis or 1)
    return shapes, {"axes": axes, "normalize": rng.random() < 0.5}, {}


def attention_inputs(rng, key_width, value_width):
    """query[, value[, key]] shapes: one input is self-attention, two share value and key."""
    lq, lk = rng.randint(1, 6), rng.randint(1, 6)
    count = rng.randint(1, 3)
    if count == 1:
        return [[lq, key_width]], key_width, lq
    if count == 2:
        return [[lq, key_width], [lk, key_width]], key_width, lk
    return [[lq, key_width], [lk, value_width], [lk, key_width]], value_width, lk


def attention(rng):
    d = rng.randint(1, 4)
    ins, _, _ = attention_inputs(rng, d, rng.randint(1, 4))
    score = rng.choice(["dot", "concat", "additive"])
    attrs = {"score": score, "use_scale": rng.random() < 0.5, "causal": rng.random() < 0.5}
    arrays = {}
    if attrs["use_scale"]:
        arrays["scale"] = [d if score == "additive" else 1]
    if score == "concat":
        arrays["concat_score_weight"] = [1]
    return ins, attrs, arrays


def multi_head_attention(rng):
    heads, kd, vd, out = rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 4)
    ins, _, _ = attention_inputs(rng, rng.randint(1, 4), rng.randint(1, 4))
    attrs = {"num_heads": heads, "key_dim": kd, "value_dim": vd, "output_dim": out, "use_bias": rng.random() < 0.5,
             "gated": rng.random() < 0.3, "causal": rng.random() < 0.5,
             "sliding_window": rng.randint(1, 3) if len(ins) == 1 and rng.random() < 0.5 else 0}
    widths = {"query": ins[0][1], "value": ins[min(1, len(ins) - 1)][1], "key": ins[-1][1]}
    arrays = {}
    for role, dim in (("query", kd), ("key", kd), ("value", vd)) + ((("gate", vd),) if attrs["gated"] else ()):
        arrays[role + "_kernel"] = [widths.get(role, ins[0][1]), heads, dim]
        if attrs["use_bias"]:
            arrays[role + "_bias"] = [heads, dim]
    arrays["output_kernel"] = [heads, vd, out]
    if attrs["use_bias"]:
        arrays["output_bias"] = [out]
    return ins, attrs, arrays


GENERATORS = {
    "conv2d": conv2d, "depthwise_conv2d": depthwise_conv2d, "separable_conv2d": separable_conv2d,
    "conv2d_transpose": conv2d_transpose, "max_pool2d": pool2d, "avg_pool2d": pool2d,
    "global_pool2d": lambda rng: global_pool(rng, 3), "global_pool1d": lambda rng: global_pool(rng, 2),
    "dense": dense, "activation": elementwise_activation, "prelu": prelu,
    "add": merge(0), "multiply": merge(0), "average": merge(0), "maximum": merge(0), "minimum": merge(0),
    "subtract": merge(2), "concat": concat,
    "batch_norm": per_channel("moving_mean", "moving_variance", "gamma", "beta", epsilon=1e-3, center=True, scale=True),
    "layer_norm": per_channel("gamma", "beta", epsilon=1e-3, center=True, scale=True),
    "normalize": per_channel("mean", "variance", epsilon=1e-7, invert=False),
    "lrn": one(image, lambda rng: {"depth_radius": rng.randint(0, 4), "bias": 1.0, "alpha": 1e-4, "beta": 0.75}),
    "identity": one(any_tensor), "flatten": one(image),
    "rescale": one(image, lambda rng: {"scale": [0.5], "offset": [rng.random()]}),
    "weighted_sum": lambda rng: ([[4, 4, 2], [4, 4, 2]], {"coefficients": [1.0, 0.2]}, {}),
    "channel_scale": one(image, arrays_fn=lambda rng, shape: {"scale": [shape[-1]]}),
    "conv1d": conv1d, "depthwise_conv1d": depthwise_conv1d, "separable_conv1d": separable_conv1d,
    "max_pool1d": pool1d, "avg_pool1d": pool1d, "embedding": embedding,
    "pad1d": one(sequence, lambda rng: {"pads": [rng.randint(0, 3), rng.randint(0, 3)]}),
    "crop1d": one(lambda rng: [9, 2], lambda rng: {"cropping": [rng.randint(0, 3), rng.randint(0, 3)]}),
    "repeat_vector": one(lambda rng: [rng.randint(1, 6)], lambda rng: {"n": rng.randint(1, 5)}),
    "upsample1d": one(sequence, lambda rng: {"size": rng.randint(1, 4)}),
    "reshape": reshape, "permute": permute,
    "pad2d": one(image, lambda rng: {"pads": [rng.randint(0, 2) for _ in range(4)]}),
    "upsample2d": one(image, lambda rng: {"size": [rng.randint(1, 3), rng.randint(1, 3)],
                                          "interpolation": rng.choice(["nearest", "bilinear"])}),
    "crop2d": crop2d,
    "lstm": recurrent("lstm"), "gru": recurrent("gru"), "simple_rnn": recurrent("simple_rnn"),
    "dot": dot, "attention": attention, "multi_head_attention": multi_head_attention,
}
BUILTIN = sorted(opspec.builtin_specs())


def test_every_op_has_one_spec_and_one_importer_handler():
    assert sorted(all_handlers()) == BUILTIN
    assert sorted(GENERATORS) == BUILTIN


def test_a_second_different_declaration_of_an_op_raises():
    with pytest.raises(Tf2CaffeError, match="declared twice"):
        opspec.declare("conv2d", "conv", inputs=2)


def example(op, seed):
    """(node, {tensor: shape}, {array key: array}) of a random valid node of `op`."""
    ins, attrs, array_shapes = GENERATORS[op](random.Random("%s-%d" % (op, seed)))
    node = {"name": op, "op": op, "source_type": op, "inputs": ["in%d" % i for i in range(len(ins))],
            "outputs": [op + "/out"], "attrs": opspec.complete(op, attrs),
            "arrays": dict((role, "%s/%s" % (op, role)) for role in array_shapes)}
    out = opspec.check_node(node, ins, None, array_shapes, "test")[0]
    rng = np.random.RandomState(seed)
    arrays = dict(("%s/%s" % (op, role), np.abs(rng.standard_normal(shape)).astype(np.float32) + 0.5)
                  for role, shape in array_shapes.items())
    tensors = dict(("in%d" % i, shape) for i, shape in enumerate(ins))
    tensors[op + "/out"] = out
    return node, tensors, arrays


@pytest.mark.parametrize("seed", range(SAMPLES))
@pytest.mark.parametrize("op", BUILTIN)
def test_a_random_valid_node_passes_its_spec_and_plans(op, seed):
    node, tensors, arrays = example(op, seed)
    manifest = {"model_name": "m", "nodes": [node],
                "inputs": [{"name": t, "tensor": t, "shape": tensors[t], "dtype": "float32"} for t in node["inputs"]],
                "outputs": [{"name": "y", "tensor": node["outputs"][0], "shape": tensors[node["outputs"][0]],
                             "dtype": "float32"}],
                "tensors": dict((t, {"shape": s, "dtype": "float32"}) for t, s in tensors.items())}
    opspec.check_node(node, [tensors[t] for t in node["inputs"]], [tensors[node["outputs"][0]]],
                      dict((r, arrays[k].shape) for r, k in node["arrays"].items()), "test")
    net = plan_net(manifest, lambda n: dict((r, arrays[k]) for r, k in n["arrays"].items()), Target(), "test")
    assert net.refs[node["outputs"][0]].shape == tensors[node["outputs"][0]]


ATTRIBUTES = [(op, key) for op in BUILTIN for key in sorted(opspec.complete(op, example(op, 0)[0]["attrs"]))]


@pytest.mark.parametrize("op,key", ATTRIBUTES, ids=["%s.%s" % case for case in ATTRIBUTES])
def test_deleting_an_attribute_is_malformed_naming_node_and_field(op, key):
    node, tensors, arrays = example(op, 0)
    del node["attrs"][key]
    with pytest.raises(BundleError) as info:
        opspec.check_node(node, [tensors[t] for t in node["inputs"]], [tensors[node["outputs"][0]]],
                          dict((r, arrays[k].shape) for r, k in node["arrays"].items()), "nodes[0]")
    message = str(info.value)
    assert "'nodes[0].attrs.%s'" % key in message and "node %r" % op in message, message


@pytest.mark.parametrize("op", BUILTIN)
def test_a_wrong_arity_is_malformed(op):
    node, tensors, arrays = example(op, 0)
    least, most = opspec.spec_for(op).inputs
    ins = [tensors[t] for t in node["inputs"]]
    wrong = ins[:least - 1] if least > 1 or most is not None else []
    if len(wrong) == len(ins):
        wrong = ins + [ins[0]]
    with pytest.raises(BundleError, match=r"nodes\[0\].inputs"):
        opspec.check_node(node, wrong, None, dict((r, arrays[k].shape) for r, k in node["arrays"].items()), "nodes[0]")


@pytest.mark.parametrize("op", ["lstm", "gru", "simple_rnn"])
def test_a_recurrent_node_missing_an_initial_state_or_given_a_misshapen_one_is_malformed(op):
    from shared.opspec.recurrent import state_inputs
    node, tensors, arrays = example(op, 0)
    shapes = dict((r, arrays[k].shape) for r, k in node["arrays"].items())
    sequence, units = tensors[node["inputs"][0]], node["attrs"]["units"]
    count = state_inputs(op, node["attrs"])
    partial = count - 1 if count > 1 else count + 1      # some states, not all (or one too many)
    for ins, field in (([sequence] + [[units]] * partial, r"nodes\[0\].inputs'"),
                       ([sequence] + [[units + 1]] * count, r"nodes\[0\].inputs\[1\]'")):
        with pytest.raises(BundleError, match=field):
            opspec.check_node(node, ins, None, shapes, "nodes[0]")


ARRAYS = [(op, role) for op in BUILTIN for role in sorted(example(op, 0)[0]["arrays"])]


@pytest.mark.parametrize("op,role", ARRAYS, ids=["%s.%s" % case for case in ARRAYS])
def test_an_array_of_the_wrong_shape_or_missing_is_malformed(op, role):
    node, tensors, arrays = example(op, 0)
    shapes = dict((r, arrays[k].shape) for r, k in node["arrays"].items())
    ins = [tensors[t] for t in node["inputs"]]
    for bad in (tuple(d + 1 for d in shapes[role]), shapes[role] + (1,)):
        with pytest.raises(BundleError, match=r"nodes\[0\].arrays.%s" % role):
            opspec.check_node(node, ins, None, dict(shapes, **{role: bad}), "nodes[0]")
    del shapes[role]
    with pytest.raises(BundleError, match=r"nodes\[0\].arrays.%s" % role):
        opspec.check_node(node, ins, None, shapes, "nodes[0]")


def test_a_declared_output_shape_the_op_cannot_produce_is_malformed():
    node, tensors, arrays = example("conv2d", 0)
    out = list(tensors[node["outputs"][0]])
    out[-1] += 1
    with pytest.raises(BundleError, match=r"nodes\[0\].outputs\[0\].*declared shape"):
        opspec.check_node(node, [tensors["in0"]], [out], dict((r, arrays[k].shape) for r, k in node["arrays"].items()),
                          "nodes[0]")


@pytest.mark.parametrize("op,attrs,why", [
    ("conv2d", {"kernel_size": [3, 3]}, "required"),
    ("activation", {"function": "relu", "slope": 1.0}, "no attribute slope"),
    ("activation", {"function": "hard_sigmoid"}, "slope"),
    ("dense", {"units": 3, "activation": {"function": "relu", "alpha": 1.0}}, "alpha"),
    ("nonexistent", {}, "not declared"),
])
def test_the_exporters_constructor_refuses_incomplete_or_unknown_attributes(op, attrs, why):
    with pytest.raises(SpecError, match=why):
        opspec.complete(op, attrs)


def test_the_constructor_writes_every_default():
    assert opspec.complete("dense", {"units": 3}) == {"units": 3, "use_bias": True, "activation": None}
    assert opspec.complete("activation", {"function": "elu"}) == {"function": "elu", "alpha": 1.0}
    relu = opspec.complete("dense", {"units": 3, "activation": {"function": "relu"}})["activation"]
    assert relu == {"function": "relu", "negative_slope": 0.0, "max_value": None, "threshold": 0.0}


def test_attention_declares_what_its_lowering_holds_and_refuses_oversized_products():
    """Products of activations hold every term (K x A x B per sample): the op spec says how many values a
    node's lowering holds beyond its declared tensors, and a product over the importer's limit is refused
    as unsupported, at planning, before Caffe allocates anything."""
    from import_caffe.handlers.attention_ops import MAX_TERMS
    from shared.errors import UnsupportedError
    node = {"name": "d", "op": "dot", "source_type": "Dot", "inputs": ["a", "b"], "outputs": ["d"],
            "attrs": opspec.complete("dot", {"axes": [2, 2]}), "arrays": {}}
    assert opspec.held(node, [[64, 16], [64, 16]]) >= 3 * 16 * 64 * 64
    assert opspec.held({"op": "dense", "attrs": {}}, [[64, 16]]) == 0
    shape = [4096, 64]
    manifest = {"model_name": "m", "nodes": [node],
                "inputs": [{"name": t, "tensor": t, "shape": shape, "dtype": "float32"} for t in ("a", "b")],
                "outputs": [{"name": "d", "tensor": "d", "shape": [4096, 4096], "dtype": "float32"}],
                "tensors": {"a": {"shape": shape, "dtype": "float32"}, "b": {"shape": shape, "dtype": "float32"},
                            "d": {"shape": [4096, 4096], "dtype": "float32"}}}
    assert 64 * 4096 * 4096 > MAX_TERMS
    with pytest.raises(UnsupportedError, match="product of 1073741824 terms per sample"):
        plan_net(manifest, lambda n: {}, Target(), "test")
