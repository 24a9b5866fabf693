"""The one place pycaffe runs: in a forked child, so a Caffe fatal CHECK (which aborts the whole
process) becomes a clear error instead of killing the user's process.

The child loads the generated prototxt, fills net.params from the plan, saves the weights, then
loads prototxt + saved weights afresh (verifying the files actually written), runs the reference
inputs and writes the requested blobs to an .npz the parent reads back (allow_pickle=False).
"""
import faulthandler
import os
import signal
import sys
import traceback

import numpy as np

from shared.errors import ConversionError

HDF5_THRESHOLD_BYTES = 1900 << 20   # protobuf caps a message at 2 GB: larger nets use Caffe's HDF5 weights


def _child(plan, prototxt_path, weights_path, inputs, wanted, result_path, error_path):
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
    error_path = os.path.join(workdir, "caffe-error.txt")
    log_path = os.path.join(workdir, "caffe-log.txt")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            faulthandler.disable()  # an abort is expected here: Caffe's own log says why
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 2)
            _child(plan, prototxt_path, weights_path, inputs, wanted, result_path, error_path)
        except BaseException as exc:
            code = 1
            with open(error_path, "w") as f:
                f.write("%s: %s\n" % (type(exc).__name__, exc))
                traceback.print_exc(file=f)
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        raise ConversionError("Caffe aborted (signal %d) while loading or running the generated net: %s"
                              % (sig, _check_line(log_path)))
    if os.WEXITSTATUS(status) != 0:
        message = "unknown failure"
        if os.path.exists(error_path):
            with open(error_path) as f:
                message = f.readline().strip()
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
