"""netbuild writes the weights straight from the plan's arrays, in Caffe's two formats; stock Caffe must
read them as its own writers' output (these tests run only where caffe imports: `make test-unit-caffe`).

* .caffemodel: parses into the same NetParameter as Caffe's net.save() of the loaded net (except the
  lr_mult param specs Caffe's BatchNorm adds to itself at setup), and every loaded blob equals the plan's.
* .caffemodel.h5: layer names holding '/' are renamed for that format, every loaded blob equals the plan's
  and net.save_hdf5() of the loaded net writes the same datasets.
"""
import os

import numpy as np
import pytest

caffe = pytest.importorskip("caffe")
h5py = pytest.importorskip("h5py")

from caffe.proto import caffe_pb2  # noqa: E402

from import_caffe import caffe_stage, netbuild  # noqa: E402
from import_caffe.plan import CaffeLayer  # noqa: E402
from import_caffe.planner import NetPlan  # noqa: E402


def sample_plan():
    rng = np.random.RandomState(1)
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    layers = [
        CaffeLayer("x", "Input", [], ["x"], {"input_param": {"shape": {"dim": [1, 3, 6, 6]}}}),
        CaffeLayer("conv", "Convolution", ["x"], ["conv"],
                   {"convolution_param": {"num_output": 4, "kernel_size": [3], "bias_term": True}},
                   [f(4, 3, 3, 3), f(4)]),
        CaffeLayer("bn", "BatchNorm", ["conv"], ["bn/normalized"],
                   {"batch_norm_param": {"use_global_stats": True, "eps": 1e-3}},
                   [f(4), np.abs(f(4)) + 0.5, np.ones(1, np.float32)]),
        CaffeLayer("bn/scale", "Scale", ["bn/normalized"], ["bn"], {"scale_param": {"bias_term": True}},
                   [f(4), f(4)]),
        CaffeLayer("fc", "InnerProduct", ["bn"], ["fc"], {"inner_product_param": {"num_output": 5}},
                   [f(5, 64), f(5)]),
        CaffeLayer("fc/softmax", "Softmax", ["fc"], ["y"]),
    ]
    return NetPlan("sample", layers, {}, {"conv": ["conv"], "bn": ["bn", "bn/scale"], "fc": ["fc", "fc/softmax"]},
                   {}, [], [])


def write_and_load(tmp_path, plan, name):
    proto = str(tmp_path / "net.prototxt")
    weights = str(tmp_path / name)
    if name.endswith(".h5"):
        netbuild.hdf5_names(plan)
    with open(proto, "w") as f:
        f.write(netbuild.prototxt(plan))
    caffe_stage.write_weights(plan, weights)
    return proto, weights, caffe.Net(proto, caffe.TEST, weights=weights)


def assert_loaded(net, plan):
    for layer in plan.layers:
        if layer.blobs:
            got = net.params[layer.name]
            assert len(got) == len(layer.blobs), layer.name
            for blob, expected in zip(got, layer.blobs):
                np.testing.assert_array_equal(blob.data, expected, err_msg=layer.name)


def test_caffemodel_is_what_caffe_itself_writes(tmp_path):
    plan = sample_plan()
    proto, weights, net = write_and_load(tmp_path, plan, "net.caffemodel")
    assert_loaded(net, plan)
    resaved = str(tmp_path / "resaved.caffemodel")
    net.save(resaved)
    ours, theirs = caffe_pb2.NetParameter(), caffe_pb2.NetParameter()
    ours.ParseFromString(open(weights, "rb").read())
    theirs.ParseFromString(open(resaved, "rb").read())
    for layer in theirs.layer:
        if layer.type == "BatchNorm":
            del layer.param[:]        # Caffe's BatchNorm sets lr_mult 0 on its own blobs at setup
    assert ours == theirs


def test_caffemodel_h5_is_what_caffe_itself_writes(tmp_path):
    plan = sample_plan()
    proto, weights, net = write_and_load(tmp_path, plan, "net.caffemodel.h5")
    assert [l.name for l in plan.layers] == ["x", "conv", "bn", "bn.scale", "fc", "fc.softmax"]
    assert plan.node_layers["bn"] == ["bn", "bn.scale"]
    assert_loaded(net, plan)
    resaved = str(tmp_path / "resaved.h5")
    net.save_hdf5(resaved)
    with h5py.File(weights, "r") as ours, h5py.File(resaved, "r") as theirs:
        assert sorted(ours["data"]) == sorted(theirs["data"])
        for layer in theirs["data"]:
            assert sorted(ours["data"][layer]) == sorted(theirs["data"][layer]), layer
            for i in theirs["data"][layer]:
                np.testing.assert_array_equal(ours["data"][layer][i][()], theirs["data"][layer][i][()])


def test_a_blob_of_the_wrong_shape_is_refused_by_caffe(tmp_path):
    plan = sample_plan()
    plan.layers[1].blobs[0] = np.zeros((4, 3, 2, 2), np.float32)   # the prototxt says 3x3
    proto = str(tmp_path / "net.prototxt")
    with open(proto, "w") as f:
        f.write(netbuild.prototxt(plan))
    from shared.errors import ConversionError
    with pytest.raises(ConversionError) as info:
        caffe_stage.run(plan, proto, str(tmp_path / "net.caffemodel"), {}, [], str(tmp_path))
    assert "layer 'conv'; shape mismatch" in str(info.value), str(info.value)


@pytest.mark.parametrize("name", ["net.caffemodel", "net.caffemodel.h5"])
def test_rearranged_blobs_are_written_block_by_block(tmp_path, monkeypatch, name):
    """Large kernels stay TF-layout views (layout.Rearranged) until the writer copies them a few rows at a
    time: Caffe must load exactly the transposed kernels, whatever the block size."""
    from import_caffe import layout
    monkeypatch.setattr(layout, "LAZY_BYTES", 0)
    monkeypatch.setattr(layout.Rearranged, "BLOCK_BYTES", 3 * 27 * 4)    # 3 rows of the conv kernel a block
    rng = np.random.RandomState(2)
    conv_tf = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)          # (kh, kw, in, out)
    fc_tf = rng.standard_normal((64, 5)).astype(np.float32)                  # (4*4*4 HWC, out) after flatten
    plan = sample_plan()
    conv, fc = plan.layers[1], plan.layers[4]
    conv.blobs[0] = layout.conv_kernel(conv_tf)
    fc.blobs[0] = layout.dense_kernel_after_flatten(fc_tf, (4, 4, 4))
    assert isinstance(conv.blobs[0], layout.Rearranged) and isinstance(fc.blobs[0], layout.Rearranged)
    expected_conv = np.transpose(conv_tf, (3, 2, 0, 1))
    expected_fc = fc_tf.reshape(4, 4, 4, 5).transpose(3, 2, 0, 1).reshape(5, 64)
    _, _, net = write_and_load(tmp_path, plan, name)
    np.testing.assert_array_equal(net.params[conv.name][0].data, expected_conv)
    np.testing.assert_array_equal(net.params[fc.name][0].data, expected_fc)
    assert_loaded(net, plan)
