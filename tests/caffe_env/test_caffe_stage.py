"""The Caffe stage with real pycaffe (these tests run only where caffe imports: the Caffe environment,
`make test-unit-caffe`; elsewhere they are skipped).

* A net Caffe rejects with a fatal CHECK (which aborts the whole process) becomes a ConversionError
  carrying Caffe's "Check failed" line, and the calling process lives on.
* Layer and blob names with quotes, backslashes, braces, '#', non-ASCII text and 200 characters go
  through netbuild's protobuf text format and come back from Caffe exactly.
"""
import os

import numpy as np
import pytest

caffe = pytest.importorskip("caffe")

from import_caffe import caffe_stage, netbuild  # noqa: E402
from import_caffe.plan import CaffeLayer  # noqa: E402
from import_caffe.planner import NetPlan  # noqa: E402
from shared.errors import ConversionError  # noqa: E402


def make_plan(name, layers):
    return NetPlan(name, layers, {}, {}, {}, [], [])


def input_layer(name, chw):
    return CaffeLayer(name, "Input", [], [name], {"input_param": {"shape": {"dim": [1] + list(chw)}}})


def conv_layer(name, bottom, top, cin, cout, kernel, weight=None, pad=0):
    rng = np.random.RandomState(0)
    if weight is None:
        weight = rng.standard_normal((cout, cin, kernel, kernel)).astype(np.float32)
    return CaffeLayer(name, "Convolution", [bottom], [top],
                      {"convolution_param": {"num_output": cout, "kernel_size": [kernel], "pad": [pad],
                                             "bias_term": True}},
                      [weight, np.zeros(cout, dtype=np.float32)])


def run_plan(tmp_path, plan, inputs, wanted):
    """Write the plan's prototxt with netbuild and run it through caffe_stage (in its forked child)."""
    workdir = str(tmp_path)
    proto = os.path.join(workdir, "net.prototxt")
    with open(proto, "w") as f:
        f.write(netbuild.prototxt(plan))
    return caffe_stage.run(plan, proto, os.path.join(workdir, "net.caffemodel"), inputs, wanted, workdir)


def kernel_larger_than_its_input():
    """A 5x5 Convolution on a 3x3 input without padding: Caffe's output size is negative."""
    return make_plan("too_big_kernel", [input_layer("x", (2, 3, 3)), conv_layer("conv", "x", "y", 2, 4, 5)]), \
        {"x": np.zeros((1, 2, 3, 3), np.float32)}, ["y"]


def concat_of_mismatched_maps():
    """Concat along channels of a 4x4 and a 3x3 map."""
    layers = [input_layer("a", (2, 4, 4)), input_layer("b", (2, 3, 3)),
              CaffeLayer("cat", "Concat", ["a", "b"], ["y"], {"concat_param": {"axis": 1}})]
    return make_plan("bad_concat", layers), \
        {"a": np.zeros((1, 2, 4, 4), np.float32), "b": np.zeros((1, 2, 3, 3), np.float32)}, ["y"]


@pytest.mark.parametrize("build", [kernel_larger_than_its_input, concat_of_mismatched_maps],
                         ids=["kernel-larger-than-input", "concat-mismatched-maps"])
def test_a_fatal_caffe_check_becomes_a_conversion_error(tmp_path, build):
    plan, inputs, wanted = build()
    pid = os.getpid()
    with pytest.raises(ConversionError) as info:
        run_plan(tmp_path, plan, inputs, wanted)
    message = str(info.value)
    assert "Check failed" in message, message
    assert "Caffe aborted" in message and "\n" not in message, message
    assert os.getpid() == pid
    # and this process can still run Caffe: a valid net right after
    good = make_plan("good", [input_layer("x", (2, 3, 3)), conv_layer("conv", "x", "y", 2, 4, 3)])
    out = run_plan(tmp_path, good, {"x": np.ones((1, 2, 3, 3), np.float32)}, ["y"])
    assert out["y"].shape == (1, 4, 1, 1)


NASTY_NAMES = [
    'say "hi"',
    "back\\slash\\",
    "{braces} [and] <angles>",
    "# not a comment",
    "quote's \\\" mix",
    u"\u00fcn\u00efc\u00f6d\u00e9 \u540d\u524d \u2713",
    "layer: colon, / slash",
    "n" * 200,
    "end brace }",
]


def test_names_survive_the_text_format_and_caffe(tmp_path):
    """Every blob and layer name exactly as given, in net.blobs, net.params and the layer list; the
    values prove the layers are wired by those names."""
    names = NASTY_NAMES
    blob_in, blob_mid, blob_out = names[0], names[1], names[2]
    layer_scale, layer_conv = names[3], names[4]
    extra = names[5:]
    weight = np.arange(12, dtype=np.float32).reshape(4, 3, 1, 1) / 10.0
    layers = [
        input_layer(blob_in, (3, 2, 2)),
        CaffeLayer(layer_scale, "Power", [blob_in], [blob_mid], {"power_param": {"power": 1.0, "scale": 2.0,
                                                                                "shift": 0.0}}),
        conv_layer(layer_conv, blob_mid, blob_out, 3, 4, 1, weight=weight),
    ]
    previous = blob_out
    for name in extra:    # a chain of identities, one per remaining name (layer = blob)
        layers.append(CaffeLayer(name, "Power", [previous], [name], {"power_param": {"power": 1.0}}))
        previous = name
    plan = make_plan(u'net "name" \u2713 {#}', layers)
    text = netbuild.prototxt(plan)
    assert '\\"hi\\"' in text and "back\\\\slash\\\\" in text     # escaped by protobuf, not by hand
    x = np.random.RandomState(1).standard_normal((2, 3, 2, 2)).astype(np.float32)
    wanted = [blob_mid, blob_out] + extra
    out = run_plan(tmp_path, plan, {blob_in: x}, wanted)
    assert sorted(out) == sorted(wanted)
    np.testing.assert_allclose(out[blob_mid], 2 * x, rtol=1e-6)
    expected = np.einsum("oc,nchw->nohw", weight[:, :, 0, 0], 2 * x)
    np.testing.assert_allclose(out[blob_out], expected, rtol=1e-5, atol=1e-6)
    for name in extra:
        np.testing.assert_array_equal(out[name], out[blob_out])

    # the saved files, loaded here, carry the exact names (the stage proved they load: no abort risk)
    proto = os.path.join(str(tmp_path), "net.prototxt")
    net = caffe.Net(proto, caffe.TEST, weights=os.path.join(str(tmp_path), "net.caffemodel"))
    assert list(net.blobs.keys()) == [blob_in, blob_mid, blob_out] + extra
    assert list(net._layer_names) == [blob_in, layer_scale, layer_conv] + extra
    assert list(net.params.keys()) == [layer_conv]
    np.testing.assert_array_equal(net.params[layer_conv][0].data, weight)
    assert max(len(n) for n in net.blobs.keys()) == 200
