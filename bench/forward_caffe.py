"""Caffe's forward time of one batch (Caffe environment): the converted net on the inputs of INPUTS.npy
(TF's (N, L, C), given as the sequence layout (N, C, 1, L)), after warm-up, median of at least RUNS
forward passes taking SECONDS in all; compares its output with TF's (TF_OUT.npy, same layout change) and
prints its figures as one JSON line: the layers of the prototxt (Input layers aside) and of the net Caffe
runs (with the Split layers it adds where a blob feeds several layers).
python3 bench/forward_caffe.py NET.prototxt WEIGHTS INPUTS.npy TF_OUT.npy RUNS SECONDS"""
import json
import os
import sys
import time

os.environ.setdefault("GLOG_minloglevel", "2")

import caffe  # noqa: E402
import numpy as np  # noqa: E402
from caffe.proto import caffe_pb2  # noqa: E402
from google.protobuf import text_format  # noqa: E402


def prototxt_layers(proto):
    param = caffe_pb2.NetParameter()
    with open(proto) as f:
        text_format.Merge(f.read(), param)
    return sum(1 for layer in param.layer if layer.type != "Input")


def main(proto, weights, inputs, tf_out, runs, seconds):
    caffe.set_mode_cpu()
    net = caffe.Net(proto, weights, caffe.TEST)
    x = np.load(inputs)
    name = net.inputs[0]
    net.blobs[name].reshape(*((x.shape[0], x.shape[2], 1, x.shape[1])))
    net.reshape()
    net.blobs[name].data[...] = x.transpose(0, 2, 1)[:, :, None, :]
    for _ in range(2):
        net.forward()
    times = []
    while len(times) < runs or sum(times) < seconds:
        start = time.perf_counter()
        out = net.forward()
        times.append(time.perf_counter() - start)
    caffe_y = np.asarray(out[net.outputs[0]])
    tf_y = np.load(tf_out)
    if tf_y.ndim == 3:                      # a sequence (N, L, U): Caffe's (N, U, 1, L)
        tf_y = tf_y.transpose(0, 2, 1)[:, :, None, :]
    diff = float(np.max(np.abs(caffe_y.reshape(tf_y.shape) - tf_y)) / max(float(np.max(np.abs(tf_y))), 1e-30))
    print(json.dumps({"median_s": float(np.median(times)), "min_s": min(times), "runs": len(times),
                      "layers": prototxt_layers(proto), "net_layers": len(net.layers) - len(net.inputs),
                      "max_rel_vs_tf": diff}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
