"""The OpenCV --verify-with runtime (import_caffe/runtimes/opencv.py) on its own: it outputs a layer's first
top (not a Slice's second one: OpenCV does not keep it, a later layer reuses its buffer), a Convolution under
its top's name, and an in-place chain's blob as its last writer left it; a net OpenCV cannot build is a
RuntimeFailure saying why. Runs under the Caffe environment's Python (make test-unit-caffe)."""
import os

import numpy as np
import pytest

caffe = pytest.importorskip("caffe")

from import_caffe.runtimes import RuntimeFailure, opencv  # noqa: E402

NET = '''
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 4 dim: 3 dim: 3 } } }
layer { name: "s" type: "Slice" bottom: "x" top: "a" top: "b" slice_param { axis: 1 slice_point: 1 } }
layer { name: "c" type: "Convolution" bottom: "b" top: "conv" convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "r" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "p" type: "Power" bottom: "a" top: "y" power_param { scale: 2 } }
'''


def _files(tmp_path, text):
    proto = os.path.join(str(tmp_path), "net.prototxt")
    with open(proto, "w") as f:
        f.write(text)
    net = caffe.Net(proto, caffe.TEST)
    net.params["c"][0].data[...] = np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1) - 2.5
    weights = os.path.join(str(tmp_path), "net.caffemodel")
    net.save(weights)
    return proto, weights, net


def test_every_top_and_in_place_blob_comes_back_as_caffe_computes_it(tmp_path):
    proto, weights, net = _files(tmp_path, NET)
    x = np.random.RandomState(0).standard_normal((2, 4, 3, 3)).astype(np.float32)
    net.blobs["x"].data[...] = x
    net.forward()
    got = opencv.run(proto, weights, {"x": x}, ["y", "a", "b", "conv", "nosuch"])
    assert sorted(got) == ["a", "conv", "y"]
    for blob in got:
        np.testing.assert_allclose(got[blob], net.blobs[blob].data, rtol=1e-5, atol=1e-6, err_msg=blob)
    assert (got["conv"] >= 0).all() and (got["conv"] > 0).any()       # after the in-place ReLU


def test_a_net_opencv_cannot_build_is_a_runtime_failure_saying_why(tmp_path):
    proto, weights, _ = _files(tmp_path, NET + 'layer { name: "t" type: "Threshold" bottom: "y" top: "z" }')
    with pytest.raises(RuntimeFailure, match='Can.t create layer "t" of type "Threshold"'):
        opencv.run(proto, weights, {"x": np.zeros((2, 4, 3, 3), np.float32)}, ["z"])
