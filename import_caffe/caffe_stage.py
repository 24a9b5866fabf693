"""The one place pycaffe runs: in a forked child, so a Caffe fatal CHECK (which aborts the whole
process) becomes a clear error instead of killing the user's process.

The child loads the generated prototxt, fills net.params from the plan, saves the weights, then
loads prototxt + saved weights afresh (verifying the files actually written), runs the reference
inputs and writes the requested blobs to an .npz the parent reads back (allow_pickle=False).
"""
import os

import numpy as np

from shared import forked
from shared.errors import ConversionError

HDF5_THRESHOLD_BYTES = 1900 << 20   # protobuf caps a message at 2 GB: larger nets use Caffe's HDF5 weights


def _child(plan, prototxt_path, weights_path, inputs, wanted, result_path):
    import caffe
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt_path, caffe.TEST)
    for layer in plan.layers:
        if not layer.blobs:
            continue
        params = net.params[layer.name]
        if len(params) != len(layer.blobs):
            raise ValueError("Caffe layer %r has %d parameter blobs, the plan has %d"
                             % (layer.name, len(params), len(layer.blobs)))
        for i, blob in enumerate(layer.blobs):
            if tuple(params[i].data.shape) != tuple(blob.shape):
                raise ValueError("Caffe layer %r blob %d has shape %r, the converted array has %r"
                                 % (layer.name, i, tuple(params[i].data.shape), tuple(blob.shape)))
            params[i].data[...] = blob
    if weights_path.endswith(".h5"):
        net.save_hdf5(weights_path)
    else:
        net.save(weights_path)
    del net
    net = caffe.Net(prototxt_path, caffe.TEST, weights=weights_path)
    results = {}
    if inputs:
        for name, value in inputs.items():
            net.blobs[name].reshape(*value.shape)
        net.reshape()
        for name, value in inputs.items():
            net.blobs[name].data[...] = value
        net.forward()
        for i, blob in enumerate(wanted):
            results["b%d" % i] = np.array(net.blobs[blob].data, dtype=np.float32, copy=True)
    np.savez(result_path, **results)


def run(plan, prototxt_path, weights_path, inputs, wanted, workdir):
    """Fill and save the net, run `inputs` (name -> NCHW array); return {blob: array} for `wanted`."""
    result_path = os.path.join(workdir, "caffe-blobs.npz")
    log_path = os.path.join(workdir, "caffe-log.txt")
    result = forked.run_forked(lambda: _child(plan, prototxt_path, weights_path, inputs, wanted, result_path),
                               stderr_path=log_path)   # Caffe's own log says why it aborted
    if result.signal is not None:
        raise ConversionError("Caffe aborted (signal %d) while loading or running the generated net: %s"
                              % (result.signal, _check_line(log_path)))
    if result.exit_code != 0:
        message = "unknown failure"
        if result.error_type:
            message = "%s: %s" % (result.error_type, (result.message.splitlines() or [""])[0].strip())
        raise ConversionError("the Caffe stage failed: %s" % message)
    with np.load(result_path, allow_pickle=False) as data:
        return dict((blob, data["b%d" % i]) for i, blob in enumerate(wanted) if inputs)


def _check_line(log_path):
    try:
        with open(log_path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return "no Caffe log"
    for line in lines:
        if "Check failed" in line or "F0" in line[:3]:
            return line.strip()
    return lines[-1].strip() if lines else "no Caffe log"
