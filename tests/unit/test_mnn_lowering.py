"""The MNN target without MNN or Caffe (both Pythons): its refusals (registry.MNN_EXCLUDED, MNN_PARAMS),
the exact substitutions runtime_lowering makes where MNN refuses a layer as Caffe writes it, checked by a
numpy simulation of the Caffe layers involved, and how runtimes/mnn.py names blobs in MNN's net.
MNN itself: tests/caffe_env/test_mnn_layers.py and tests/e2e/test_runtime_targets.py."""
import numpy as np
import pytest

from import_caffe.layout import IMAGE, Layout
from import_caffe.plan import CaffeLayer, TensorRef
from import_caffe.registry import Target
from import_caffe.runtime_lowering import adapt
from import_caffe.runtimes import mnn

MNN = Target.named("mnn")
RNG = np.random.default_rng(0)
C, H, W = 3, 4, 5


def _image(blob):
    return TensorRef(blob, [H, W, C], Layout(IMAGE))


def _simulate(layers, blobs):
    """Run the few Caffe layers the substitutions write (N, C, H, W float64)."""
    for l in layers:
        x = [blobs[b] for b in l.bottoms]
        if l.type == "Reshape":
            dims = l.params["reshape_param"]["shape"]["dim"]
            y = x[0].reshape([x[0].shape[i] if d == 0 else d for i, d in enumerate(dims)])
        elif l.type == "Deconvolution":        # depthwise, stride 1, no pad, over a 1x1 map
            y = x[0] * l.blobs[0][:, 0][None]
        elif l.type == "Eltwise":
            op = l.params["eltwise_param"]["operation"]
            y = np.prod(x, axis=0) if op == "PROD" else np.sum(x, axis=0)
        elif l.type == "Scale":
            p = l.params["scale_param"]
            assert p["axis"] == 1 and p["num_axes"] == 1
            y = x[0] * l.blobs[0].reshape([1, -1] + [1] * (x[0].ndim - 2))
            if p.get("bias_term"):
                y = y + l.blobs[1].reshape([1, -1] + [1] * (x[0].ndim - 2))
        elif l.type == "Power":
            y = x[0] * l.params["power_param"]["scale"]
        else:
            raise AssertionError(l.type)
        blobs[l.tops[0]] = y
    return blobs


@pytest.mark.parametrize("kind", ["Scale", "Bias"])
def test_per_channel_gate_becomes_an_all_ones_deconvolution(kind):
    gate = CaffeLayer("mul", kind, ["x", "g"], ["y"], {kind.lower() + "_param": {"axis": 0}})
    assert MNN.refusal(gate)
    layers = adapt([gate], [_image("x")], MNN)
    assert [l.type for l in layers] == ["Reshape", "Deconvolution", "Eltwise"]
    assert not any(MNN.refusal(l) for l in layers)
    x, g = RNG.normal(size=(2, C, H, W)), RNG.normal(size=(2, C))
    y = _simulate(layers, {"x": x, "g": g})["y"]
    want = x * g[:, :, None, None] if kind == "Scale" else x + g[:, :, None, None]
    assert np.array_equal(y, want)


def test_scale_over_height_and_width_runs_on_channels_between_reshapes():
    factor = RNG.uniform(1, 2, (H, W)).astype(np.float32)
    layers = [CaffeLayer("pool", "Pooling", ["x"], ["p"], {"pooling_param": {"pool": "AVE"}}),
              CaffeLayer("div", "Scale", ["p"], ["y"], {"scale_param": {"axis": 2, "num_axes": 2, "bias_term": False}},
                         [factor])]
    assert MNN.refusal(layers[1])
    out = adapt(layers, [_image("x")], MNN)
    assert [l.type for l in out] == ["Pooling", "Reshape", "Scale", "Reshape"]
    assert not any(MNN.refusal(l) for l in out)
    p = RNG.normal(size=(2, C, H, W))
    assert np.array_equal(_simulate(out[1:], {"p": p})["y"], p * factor)


def test_eltwise_coefficients_become_power_layers():
    layer = CaffeLayer("sub", "Eltwise", ["a", "b"], ["y"], {"eltwise_param": {"operation": "SUM", "coeff": [1.0, -1.0]}})
    assert "coeff" in MNN.refusal(layer)
    out = adapt([layer], [_image("a"), _image("b")], MNN)
    assert [l.type for l in out] == ["Power", "Eltwise"] and not any(MNN.refusal(l) for l in out)
    a, b = RNG.normal(size=(2, C, H, W)), RNG.normal(size=(2, C, H, W))
    assert np.array_equal(_simulate(out, {"a": a, "b": b})["y"], a - b)


def test_other_targets_keep_the_layers():
    gate = CaffeLayer("mul", "Scale", ["x", "g"], ["y"], {"scale_param": {"axis": 0}})
    assert [l.type for l in adapt([gate], [_image("x")], Target.named("opencv"))] == ["Scale"]
    assert [l.type for l in adapt([gate], [_image("x")], Target.named("caffe-1.0"))] == ["Scale"]


def test_a_gate_of_unknown_shape_stays_and_is_refused():
    gate = CaffeLayer("mul", "Scale", ["x", "g"], ["y"], {"scale_param": {"axis": 0}})
    out = adapt([gate], [TensorRef("x", [7], Layout("vector"))], MNN)
    assert [l.type for l in out] == ["Scale"] and "not in target mnn" in MNN.refusal(out[0])


@pytest.mark.parametrize("kind", ["Embed", "Log", "Clip", "Swish", "Tile", "LSTM", "Silence"])
def test_layers_mnn_cannot_run_are_refused_by_name(kind):
    assert "Caffe layer %s (l) is not in target mnn" % kind in MNN.refusal(CaffeLayer("l", kind, ["x"], ["y"]))
    assert not MNN.has_clip and not MNN.has_swish       # ReLU6, hard_sigmoid, swish: the exact compositions


def test_blob_names_in_mnn():
    layers = [("x", "Input", [], ["x"]), ("conv", "Convolution", ["x"], ["conv/preact"]),
              ("relu", "ReLU", ["conv/preact"], ["conv"]), ("drop", "Dropout", ["conv"], ["d"]),
              ("pw", "Power", ["d"], ["pw/out"]), ("sl", "Slice", ["pw/out"], ["a", "b"])]
    names = mnn.candidates(layers, ["conv/preact", "conv", "d", "pw/out", "a"])
    assert "conv/preact" not in names            # MNN fuses the ReLU: its tensor may hold the ReLU's values
    assert names["conv"] == ["conv", "relu"]
    assert names["d"] == ["d", "drop", "conv", "relu"]      # MNN drops the Dropout
    assert names["pw/out"] == ["pw/out", "pw"]
    assert names["a"] == ["a"]                    # a layer of two tops names neither


def test_net_outputs_from_the_converters_list():
    text = "Start to Optimize the MNN Net...\ninputTensors : [ x, ]\noutputTensors: [ y, d, ]\nConverted Success!\n"
    assert mnn.net_outputs(text) == ["y", "d"]
    assert mnn.net_outputs("nothing") is None


def test_mnn_runs_only_without_network(monkeypatch, tmp_path):
    monkeypatch.setattr(mnn, "_interfaces", lambda: ["lo"])
    assert mnn.isolation() == []                  # no network here already (docker run --network none)
    monkeypatch.setattr(mnn, "_interfaces", lambda: ["eth0", "lo"])
    monkeypatch.setattr(mnn, "_NO_NETWORK", (["false"],))
    assert mnn.isolation() is None
    monkeypatch.setattr(mnn, "MNN_DIR", str(tmp_path))
    assert "make setup installs it" in mnn.unavailable()
    (tmp_path / (".pin-mnn==%s" % mnn.MNN_VERSION)).write_text("")
    assert "MNN runs only without network" in mnn.unavailable()
