"""shared.schema.validate_manifest: a valid manifest passes; every malformed one fails with a
BundleError whose message names the offending field."""
import copy
import re
import time
import tracemalloc

import pytest

from shared import opspec, schema
from shared.errors import BundleError
from shared.messages import clip

SHA = "0123456789abcdef" * 4


def array_spec(shape):
    return {"shape": list(shape), "dtype": "float32", "sha256": SHA}


def tensor_spec(shape):
    return {"shape": list(shape), "dtype": "float32"}


def valid_manifest():
    """input_1 (4, 4, 3) -> conv (kernel, bias) -> conv/out (4, 4, 2) -> relu -> relu/out = output y,
    with reference inputs, outputs and one activation for a batch of 2."""
    return {
        "format": "tf2caffe-bundle",
        "format_version": 2,
        "producer": {"name": "tf2caffe", "version": "1.0", "tensorflow": "2.16.1", "keras": "3.3.3"},
        "source": {"path": "model.keras", "sha256": SHA, "format": "keras"},
        "model_name": "tiny",
        "inputs": [{"name": "x", "tensor": "input_1", "shape": [4, 4, 3], "dtype": "float32"}],
        "outputs": [{"name": "y", "tensor": "relu/out", "shape": [4, 4, 2], "dtype": "float32"}],
        "tensors": {
            "input_1": tensor_spec([4, 4, 3]),
            "conv/out": tensor_spec([4, 4, 2]),
            "relu/out": tensor_spec([4, 4, 2]),
        },
        "nodes": [
            {"name": "conv", "op": "conv2d", "source_type": "Conv2D", "inputs": ["input_1"],
             "outputs": ["conv/out"], "attrs": opspec.complete("conv2d", {
                 "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "pads": [1, 1, 1, 1], "filters": 2}),
             "arrays": {"kernel": "conv/kernel", "bias": "conv/bias"}},
            {"name": "relu", "op": "activation", "source_type": "ReLU", "inputs": ["conv/out"],
             "outputs": ["relu/out"], "attrs": opspec.complete("activation", {"function": "relu"}), "arrays": {}},
        ],
        "arrays": {
            "conv/kernel": array_spec([3, 3, 3, 2]),
            "conv/bias": array_spec([2]),
            "reference/x": array_spec([2, 4, 4, 3]),
            "reference/y": array_spec([2, 4, 4, 2]),
            "reference/conv": array_spec([2, 4, 4, 2]),
        },
        "reference": {
            "batch": 2,
            "inputs": {"input_1": "reference/x"},
            "outputs": {"relu/out": "reference/y"},
            "activations": {"conv/out": "reference/conv"},
        },
    }


# ----------------------------------------------------------------------------- mutation helpers

def _parent(manifest, path):
    obj = manifest
    for key in path[:-1]:
        obj = obj[key]
    return obj


def setting(path, value):
    def mutate(manifest):
        _parent(manifest, path)[path[-1]] = copy.deepcopy(value)
    return mutate


def deleting(path):
    def mutate(manifest):
        del _parent(manifest, path)[path[-1]]
    return mutate


def renaming_array(old, new):
    def mutate(manifest):
        manifest["arrays"][new] = manifest["arrays"].pop(old)
        for node in manifest["nodes"]:
            for role, key in node["arrays"].items():
                if key == old:
                    node["arrays"][role] = new
    return mutate


def adding_tensor(name, shape):
    return setting(("tensors", name), tensor_spec(shape))


def both(*mutations):
    def mutate(manifest):
        for m in mutations:
            m(manifest)
    return mutate


def mutated(mutation):
    manifest = valid_manifest()
    mutation(manifest)
    return manifest


def assert_refused(manifest, field):
    """validate_manifest raises BundleError naming field (as "manifest field '<field>'", the field's
    path escaped and bounded as every quoted value is: it may hold a hostile name)."""
    with pytest.raises(BundleError) as info:
        schema.validate_manifest(manifest)
    message = str(info.value)
    assert "'%s'" % clip(field) in message, "expected the message to name %r: %s" % (field, message)
    assert message.isprintable(), message
    return message


def case(id, mutation, field, detail=None):
    return pytest.param(mutation, field, detail, id=id)


# ----------------------------------------------------------------------------- valid manifests

def test_valid_manifest_passes_and_is_returned_unchanged():
    manifest = valid_manifest()
    assert schema.validate_manifest(manifest) is manifest
    assert manifest == valid_manifest()


@pytest.mark.parametrize("mutation", [
    pytest.param(setting(("model_name",), "m" * schema.MAX_NAME_LENGTH), id="name-of-maximal-length"),
    pytest.param(setting(("model_name",), "r\u00e9seau \u7f51\u7edc"), id="unicode-name"),
    pytest.param(setting(("reference",), {"batch": 1, "inputs": {}, "outputs": {}, "activations": {}}),
                 id="no-reference-arrays"),
    pytest.param(setting(("arrays", "extra"), array_spec([1] * schema.MAX_RANK)), id="maximal-rank"),
    pytest.param(setting(("arrays", "scalar"), array_spec([])), id="scalar-array"),
    pytest.param(setting(("arrays", "a.b:c+d-e_f/G9"), array_spec([1])), id="array-key-punctuation"),
    pytest.param(setting(("nodes", 1), {"name": "relu", "op": "add", "source_type": "Add", "inputs": ["conv/out"] * 3,
                                        "outputs": ["relu/out"], "attrs": {}, "arrays": {}}), id="tensor-read-twice"),
], )
def test_valid_variants_pass(mutation):
    schema.validate_manifest(mutated(mutation))


# ----------------------------------------------------------------------------- refused manifests

MISSING = [
    case("missing-format", deleting(("format",)), "format"),
    case("missing-format_version", deleting(("format_version",)), "format_version"),
    case("missing-producer", deleting(("producer",)), "producer", "missing"),
    case("missing-producer.keras", deleting(("producer", "keras")), "producer.keras", "missing"),
    case("missing-source.sha256", deleting(("source", "sha256")), "source.sha256", "missing"),
    case("missing-model_name", deleting(("model_name",)), "model_name", "missing"),
    case("missing-inputs", deleting(("inputs",)), "inputs", "missing"),
    case("missing-outputs", deleting(("outputs",)), "outputs", "missing"),
    case("missing-tensors", deleting(("tensors",)), "tensors", "missing"),
    case("missing-nodes", deleting(("nodes",)), "nodes", "missing"),
    case("missing-arrays", deleting(("arrays",)), "arrays", "missing"),
    case("missing-reference", deleting(("reference",)), "reference", "missing"),
    case("missing-inputs[0].tensor", deleting(("inputs", 0, "tensor")), "inputs[0].tensor", "missing"),
    case("missing-outputs[0].dtype", deleting(("outputs", 0, "dtype")), "outputs[0].dtype", "missing"),
    case("missing-tensors-shape", deleting(("tensors", "conv/out", "shape")), "tensors[conv/out].shape", "missing"),
    case("missing-node-op", deleting(("nodes", 0, "op")), "nodes[0].op", "missing"),
    case("missing-node-source_type", deleting(("nodes", 1, "source_type")), "nodes[1].source_type", "missing"),
    case("missing-node-inputs", deleting(("nodes", 1, "inputs")), "nodes[1].inputs", "missing"),
    case("missing-node-attrs", deleting(("nodes", 0, "attrs")), "nodes[0].attrs", "missing"),
    case("missing-node-arrays", deleting(("nodes", 0, "arrays")), "nodes[0].arrays", "missing"),
    case("missing-array-sha256", deleting(("arrays", "conv/bias", "sha256")), "arrays[conv/bias].sha256", "missing"),
    case("missing-reference.batch", deleting(("reference", "batch")), "reference.batch", "missing"),
    case("missing-reference.activations", deleting(("reference", "activations")), "reference.activations",
         "missing"),
]

NULL = [
    case("null-format_version", setting(("format_version",), None), "format_version", "None"),
    case("null-producer", setting(("producer",), None), "producer", "found null"),
    case("null-producer.name", setting(("producer", "name"), None), "producer.name", "found null"),
    case("null-model_name", setting(("model_name",), None), "model_name", "found null"),
    case("null-nodes", setting(("nodes",), None), "nodes", "found null"),
    case("null-node", setting(("nodes", 0), None), "nodes[0]", "found null"),
    case("null-node-inputs", setting(("nodes", 1, "inputs"), None), "nodes[1].inputs", "found null"),
    case("null-node-input", setting(("nodes", 1, "inputs"), [None]), "nodes[1].inputs[0]", "found null"),
    case("null-array-spec", setting(("arrays", "conv/bias"), None), "arrays[conv/bias]", "found null"),
    case("null-dimension", setting(("tensors", "conv/out", "shape"), [4, None, 2]), "tensors[conv/out].shape[1]"),
    case("null-reference-array", setting(("reference", "inputs", "input_1"), None), "reference.inputs[input_1]"),
]

WRONG_TYPE = [
    case("format_version-string", setting(("format_version",), "1"), "format_version"),
    case("format_version-bool", setting(("format_version",), True), "format_version", "found bool"),
    case("format_version-float", setting(("format_version",), 1.0), "format_version", "found float"),
    case("format-other", setting(("format",), "tf2caffe-bundle-v2"), "format"),
    case("model_name-number", setting(("model_name",), 7), "model_name", "found int"),
    case("producer-list", setting(("producer",), ["tf2caffe"]), "producer", "found list"),
    case("source.path-number", setting(("source", "path"), 3), "source.path", "found int"),
    case("nodes-object", setting(("nodes",), {"conv": {}}), "nodes", "found dict"),
    case("tensors-list", setting(("tensors",), []), "tensors", "found list"),
    case("node-string", setting(("nodes", 0), "conv"), "nodes[0]", "found str"),
    case("node-attrs-list", setting(("nodes", 0, "attrs"), []), "nodes[0].attrs", "found list"),
    case("node-arrays-list", setting(("nodes", 0, "arrays"), ["conv/kernel"]), "nodes[0].arrays", "found list"),
    case("node-input-number", setting(("nodes", 1, "inputs"), [3]), "nodes[1].inputs[0]", "found int"),
    case("input-shape-string", setting(("inputs", 0, "shape"), "4,4,3"), "inputs[0].shape", "found str"),
    case("dimension-float", setting(("tensors", "conv/out", "shape"), [4.0, 4, 2]), "tensors[conv/out].shape[0]"),
    case("dimension-bool", setting(("tensors", "conv/out", "shape"), [True, 4, 2]), "tensors[conv/out].shape[0]"),
    case("dimension-zero", setting(("arrays", "conv/bias", "shape"), [0]), "arrays[conv/bias].shape[0]"),
    case("dimension-negative", setting(("arrays", "conv/bias", "shape"), [-2]), "arrays[conv/bias].shape[0]"),
    case("dimension-string", setting(("arrays", "conv/bias", "shape"), ["2"]), "arrays[conv/bias].shape[0]"),
    case("rank-too-high", setting(("arrays", "conv/bias", "shape"), [1] * (schema.MAX_RANK + 1)),
         "arrays[conv/bias].shape", "rank 9"),
    case("array-dtype-float64", setting(("arrays", "conv/bias", "dtype"), "float64"), "arrays[conv/bias].dtype"),
    case("array-dtype-object", setting(("arrays", "conv/bias", "dtype"), "object"), "arrays[conv/bias].dtype"),
    case("tensor-dtype-int32", setting(("tensors", "conv/out", "dtype"), "int32"), "tensors[conv/out].dtype"),
    case("input-dtype-float16", setting(("inputs", 0, "dtype"), "float16"), "inputs[0].dtype"),
    case("batch-string", setting(("reference", "batch"), "2"), "reference.batch", "found str"),
    case("batch-bool", setting(("reference", "batch"), True), "reference.batch", "found bool"),
    case("batch-zero", setting(("reference", "batch"), 0), "reference.batch", "positive"),
    case("reference-inputs-list", setting(("reference", "inputs"), ["reference/x"]), "reference.inputs",
         "found list"),
    case("node-array-key-number", setting(("nodes", 0, "arrays", "kernel"), 5), "nodes[0].arrays.kernel"),
]

UNKNOWN_VERSION = [
    case("format_version-3", setting(("format_version",), 3), "format_version", "found 3"),
    case("format_version-0", setting(("format_version",), 0), "format_version", "found 0"),
    case("format_version-999", setting(("format_version",), 999), "format_version", "found 999"),
]

GRAPH = [
    case("dangling-node-input", setting(("nodes", 1, "inputs"), ["nowhere"]), "nodes[1].inputs[0]", "dangling"),
    case("cycle-input-produced-later", setting(("nodes", 0, "inputs"), ["relu/out"]), "nodes[0].inputs[0]",
         "cycle"),
    case("cycle-node-reads-its-own-output", setting(("nodes", 1, "inputs"), ["relu/out"]), "nodes[1].inputs[0]",
         "cycle"),
    case("duplicate-tensor-output", setting(("nodes", 1, "outputs"), ["conv/out"]), "nodes[1].outputs[0]",
         "produced twice"),
    case("node-overwrites-the-input", setting(("nodes", 0, "outputs"), ["input_1"]), "nodes[0].outputs[0]",
         "produced twice"),
    case("node-outputs-a-tensor-twice", both(adding_tensor("extra", [1]),
                                             setting(("nodes", 1, "outputs"), ["relu/out", "relu/out"])),
         "nodes[1].outputs[1]", "produced twice"),
    case("node-output-undeclared", setting(("nodes", 1, "outputs"), ["ghost"]), "nodes[1].outputs[0]",
         "not declared"),
    case("node-without-outputs", setting(("nodes", 1, "outputs"), []), "nodes[1].outputs"),
    case("duplicate-node-name", setting(("nodes", 1, "name"), "conv"), "nodes[1].name", "duplicate"),
    case("input-tensor-undeclared", setting(("inputs", 0, "tensor"), "ghost"), "inputs[0].tensor", "not declared"),
    case("input-shape-differs-from-tensor", setting(("inputs", 0, "shape"), [4, 4, 1]), "inputs[0].shape"),
    case("output-shape-differs-from-tensor", setting(("outputs", 0, "shape"), [2, 4, 4]), "outputs[0].shape"),
    case("no-inputs", setting(("inputs",), []), "inputs", "at least one"),
    case("no-outputs", setting(("outputs",), []), "outputs", "at least one"),
    case("duplicate-output-name", setting(("outputs",), [
        {"name": "y", "tensor": "relu/out", "shape": [4, 4, 2], "dtype": "float32"},
        {"name": "y", "tensor": "conv/out", "shape": [4, 4, 2], "dtype": "float32"}]), "outputs[1].name",
        "duplicate"),
    case("output-produced-by-no-node", both(adding_tensor("orphan", [4, 4, 2]),
                                            setting(("outputs", 0, "tensor"), "orphan")),
         "outputs[0].tensor", "produced by no node"),
    case("too-many-nodes", setting(("nodes",), [{}] * (schema.MAX_NODES + 1)), "nodes", "limit"),
]

ARRAY_KEYS = [
    case("node-array-undeclared", setting(("nodes", 0, "arrays", "kernel"), "conv/kernel2"),
         "nodes[0].arrays.kernel", "not declared"),
    case("reference-input-array-undeclared", setting(("reference", "inputs", "input_1"), "reference/z"),
         "reference.inputs[input_1]", "not declared"),
    case("reference-activation-array-undeclared", setting(("reference", "activations", "conv/out"), "nope"),
         "reference.activations[conv/out]", "not declared"),
    case("reference-tensor-undeclared", setting(("reference", "activations"), {"ghost": "reference/conv"}),
         "reference.activations[ghost]", "not declared"),
    case("reference-missing-an-output", setting(("reference", "outputs"), {"conv/out": "reference/conv"}),
         "reference.outputs", "no reference array"),
    case("array-key-with-space", renaming_array("conv/bias", "conv bias"), "arrays[conv bias]", "may hold only"),
    case("array-key-leading-slash", renaming_array("conv/bias", "/conv/bias"), "arrays[/conv/bias]"),
    case("array-key-empty-segment", renaming_array("conv/bias", "conv//bias"), "arrays[conv//bias]"),
    case("array-key-trailing-newline", renaming_array("conv/bias", "conv/bias\n"), "arrays[conv/bias\n]"),
    case("array-key-empty", renaming_array("conv/bias", ""), "arrays[]"),
]

SHA256 = [
    case("sha256-uppercase", setting(("arrays", "conv/kernel", "sha256"), SHA.upper()), "arrays[conv/kernel].sha256"),
    case("sha256-63-digits", setting(("arrays", "conv/kernel", "sha256"), SHA[:-1]), "arrays[conv/kernel].sha256"),
    case("sha256-65-digits", setting(("arrays", "conv/kernel", "sha256"), SHA + "0"), "arrays[conv/kernel].sha256"),
    case("sha256-not-hex", setting(("arrays", "conv/kernel", "sha256"), "g" * 64), "arrays[conv/kernel].sha256"),
    case("sha256-empty", setting(("arrays", "conv/kernel", "sha256"), ""), "arrays[conv/kernel].sha256"),
    case("sha256-trailing-newline", setting(("arrays", "conv/kernel", "sha256"), SHA + "\n"),
         "arrays[conv/kernel].sha256"),
    case("sha256-number", setting(("arrays", "conv/kernel", "sha256"), 12345), "arrays[conv/kernel].sha256",
         "found int"),
]

NAMES = [
    case("model_name-nul", setting(("model_name",), "tiny\x00"), "model_name", "control characters"),
    case("model_name-escape", setting(("model_name",), "\x1b[31mred"), "model_name", "control characters"),
    case("model_name-empty", setting(("model_name",), ""), "model_name", "1 to 256"),
    case("model_name-over-long", setting(("model_name",), "m" * (schema.MAX_NAME_LENGTH + 1)), "model_name",
         "found 257"),
    case("node-name-newline", setting(("nodes", 0, "name"), "conv\nrm -rf"), "nodes[0].name", "control characters"),
    case("node-name-over-long", setting(("nodes", 1, "name"), "n" * 10000), "nodes[1].name", "found 10000"),
    case("node-op-delete-char", setting(("nodes", 0, "op"), "conv\x7f"), "nodes[0].op", "control characters"),
    case("input-name-tab", setting(("inputs", 0, "name"), "x\ty"), "inputs[0].name", "control characters"),
    case("output-name-over-long", setting(("outputs", 0, "name"), "y" * 300), "outputs[0].name"),
    case("tensor-name-carriage-return", adding_tensor("bad\rname", [1]), "tensors[bad\rname]", "control characters"),
    case("tensor-name-over-long", adding_tensor("t" * 257, [1]), "tensors[%s]" % ("t" * 257), "found 257"),
    case("node-array-role-control", setting(("nodes", 0, "arrays"), {"ker\x01nel": "conv/kernel"}),
         "nodes[0].arrays", "control characters"),
]

REFERENCE_SHAPES = [
    case("reference-input-wrong-channels", setting(("arrays", "reference/x", "shape"), [2, 4, 4, 4]),
         "reference.inputs[input_1]", "expected [2, 4, 4, 3]"),
    case("reference-output-wrong-batch", setting(("arrays", "reference/y", "shape"), [3, 4, 4, 2]),
         "reference.outputs[relu/out]", "expected [2, 4, 4, 2]"),
    case("reference-activation-without-batch", setting(("arrays", "reference/conv", "shape"), [4, 4, 2]),
         "reference.activations[conv/out]", "expected [2, 4, 4, 2]"),
    case("reference-batch-differs-from-arrays", setting(("reference", "batch"), 1), "reference.inputs[input_1]",
         "expected [1, 4, 4, 3]"),
    case("reference-points-at-a-weight", setting(("reference", "activations", "conv/out"), "conv/kernel"),
         "reference.activations[conv/out]", "has shape [3, 3, 3, 2]"),
]


UNKNOWN_FIELDS = [
    case("top-level-junk", setting(("junk",), list(range(10))), "junk", "unknown field"),
    case("producer-extra", setting(("producer", "comment"), "hi"), "producer.comment", "unknown field"),
    case("node-extra", setting(("nodes", 0, "note"), "x"), "nodes[0].note", "unknown field"),
    case("tensor-extra", setting(("tensors", "conv/out", "layout"), "NHWC"), "tensors[conv/out].layout", "unknown field"),
    case("array-extra", setting(("arrays", "conv/bias", "offset"), 0), "arrays[conv/bias].offset", "unknown field"),
    case("entry-extra", setting(("inputs", 0, "range"), [0, 1]), "inputs[0].range", "unknown field"),
    case("reference-extra", setting(("reference", "labels"), 1), "reference.labels", "unknown field"),
]

# What a terminal or report would show: forged lines, escape codes, reordering, floods.
SHOWN_TEXT = [
    case("source_type-newline", setting(("nodes", 0, "source_type"), "Conv2D\nimport_caffe: all good, exit 0"),
         "nodes[0].source_type", "non-printable"),
    case("source_type-escape", setting(("nodes", 0, "source_type"), "\x1b[2K\x1b[1Aok"), "nodes[0].source_type",
         "non-printable"),
    case("source_type-flood", setting(("nodes", 0, "source_type"), "C" * 200000), "nodes[0].source_type",
         "1 to 256 characters"),
    case("producer-c1-csi", setting(("producer", "name"), "tf2caffe\x9b31m"), "producer.name", "non-printable"),
    case("source-path-bidi", setting(("source", "path"), "model\u202eskeras.exe"), "source.path", "non-printable"),
    case("source-format-line-separator", setting(("source", "format"), "keras\u2028ok"), "source.format",
         "non-printable"),
    case("source-sha256-not-hex", setting(("source", "sha256"), "z" * 64), "source.sha256", "hex"),
]

WORK = [
    case("reference-batch-amplified", setting(("reference", "batch"), 10 ** 6), "reference.batch", "activations"),
]


@pytest.mark.parametrize("mutation, field, detail", MISSING + NULL + WRONG_TYPE + UNKNOWN_VERSION + GRAPH
                         + ARRAY_KEYS + SHA256 + NAMES + REFERENCE_SHAPES + UNKNOWN_FIELDS + SHOWN_TEXT + WORK)
def test_refused(mutation, field, detail):
    message = assert_refused(mutated(mutation), field)
    if detail is not None:
        assert detail in message


@pytest.mark.parametrize("manifest", [
    pytest.param(None, id="null"),
    pytest.param([], id="list"),
    pytest.param("tf2caffe-bundle", id="string"),
    pytest.param(1, id="number"),
])
def test_refuses_a_manifest_that_is_not_an_object(manifest):
    with pytest.raises(BundleError, match="manifest: expected a JSON object"):
        schema.validate_manifest(manifest)


def test_unknown_format_version_message_says_what_to_do():
    message = assert_refused(mutated(setting(("format_version",), 3)), "format_version")
    assert "reads versions 1 and 2" in message


def test_a_version_1_manifest_is_read_with_the_spec_defaults():
    """Version 1 could leave attributes with a default out; they are filled in, then checked."""
    manifest = valid_manifest()
    manifest["format_version"] = 1
    conv, relu = manifest["nodes"]
    for key in ("dilation", "use_bias", "activation", "groups"):
        del conv["attrs"][key]
    relu["attrs"] = {"function": "relu"}
    schema.validate_manifest(manifest)
    assert conv["attrs"]["dilation"] == [1, 1] and conv["attrs"]["groups"] == 1
    assert relu["attrs"] == opspec.complete("activation", {"function": "relu"})


def test_a_version_1_manifest_still_needs_the_attributes_without_defaults():
    manifest = valid_manifest()
    manifest["format_version"] = 1
    del manifest["nodes"][0]["attrs"]["pads"]
    assert "missing" in assert_refused(manifest, "nodes[0].attrs.pads")


# ----------------------------------------------------------------------------- gigantic shapes

GIGANTIC = [
    case("array-2^40-cubed", setting(("arrays", "conv/kernel", "shape"), [2 ** 40] * 3), "arrays[conv/kernel].shape",
         "too large"),
    case("array-one-huge-dimension", setting(("arrays", "conv/bias", "shape"), [10 ** 100]),
         "arrays[conv/bias].shape", "too large"),
    case("array-just-over-the-limit", setting(("arrays", "conv/bias", "shape"), [schema.MAX_ARRAY_ELEMENTS + 1]),
         "arrays[conv/bias].shape", "too large"),
    case("array-rank-a-million", setting(("arrays", "conv/bias", "shape"), [1] * 10 ** 6), "arrays[conv/bias].shape",
         "rank"),
    case("tensor-huge", setting(("tensors", "conv/out", "shape"), [2 ** 31, 2 ** 31, 2 ** 31]),
         "tensors[conv/out].shape", "too large"),
    case("input-huge", setting(("inputs", 0, "shape"), [10 ** 30, 4, 3]), "inputs[0].shape", "too large"),
    case("arrays-total-over-1TiB", setting(("arrays",), dict(
        ("big/%d" % i, array_spec([schema.MAX_ARRAY_ELEMENTS])) for i in range(17))), "arrays", "limit"),
]


@pytest.mark.parametrize("mutation, field, detail", GIGANTIC)
def test_gigantic_declared_shapes_fail_fast_without_allocating(mutation, field, detail):
    manifest = mutated(mutation)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = assert_refused(manifest, field)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert detail in message
    assert elapsed < 1.0
    assert peak < (1 << 20), "validation allocated %d bytes" % peak


def test_largest_allowed_array_passes():
    schema.validate_manifest(mutated(setting(("arrays", "extra"), array_spec([schema.MAX_ARRAY_ELEMENTS]))))


# ----------------------------------------------------------------------------- helpers

@pytest.mark.parametrize("value", [
    pytest.param("conv1/kernel", id="nested"),
    pytest.param("a", id="one-character"),
    pytest.param("A-z_0.9:+", id="punctuation"),
])
def test_check_array_key_accepts(value):
    assert schema.check_array_key(value, "key") == value


@pytest.mark.parametrize("value", [
    pytest.param("a b", id="space"),
    pytest.param("a/", id="trailing-slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("a/b\n", id="trailing-newline"),
    pytest.param("\u00e9", id="non-ascii"),
    pytest.param(None, id="null"),
])
def test_check_array_key_refuses(value):
    with pytest.raises(BundleError, match=re.escape("manifest field 'key'")):
        schema.check_array_key(value, "key")


@pytest.mark.parametrize("shape, expected", [
    pytest.param([], 1, id="scalar"),
    pytest.param([3], 3, id="vector"),
    pytest.param([2, 3, 4], 24, id="rank3"),
])
def test_element_count(shape, expected):
    assert schema.element_count(shape) == expected


def test_check_shape_can_require_a_non_empty_shape():
    with pytest.raises(BundleError, match="rank 0"):
        schema.check_shape([], "shape", allow_empty=False)


def test_declared_work_is_bounded_by_the_arrays_carried():
    """A tensor of 2^26 floats at batch 2 (512 MiB) is over the floor for a bundle of a few kB of arrays;
    the same declaration is allowed once the bundle carries arrays that justify it."""
    manifest = valid_manifest()
    manifest["tensors"]["extra"] = tensor_spec([1 << 26])
    assert "activations" in assert_refused(manifest, "reference.batch")
    manifest["arrays"]["weights"] = array_spec([1 << 21])          # 8 MiB x 64 = 512 MiB
    schema.validate_manifest(manifest)
