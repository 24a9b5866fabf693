"""The one place pycaffe runs: in a forked child, so a Caffe fatal CHECK (which aborts the whole
process) becomes a clear error instead of killing the user's process.

The weights are written from the plan's arrays by netbuild (in Caffe's binary or HDF5 format) while
the child builds the net from the generated prototxt; the child then loads those files afresh, exactly
as a user's Caffe will (Caffe checks every layer's blob count and shapes as it loads them), and runs the
reference inputs. It writes the requested blobs to an .npz the parent reads back (allow_pickle=False),
or, given an `examine` function, hands the blobs to it and returns only its JSON result: a parity check
then compares every layer where Caffe's blobs are, instead of copying them all to the parent first.

pycaffe itself is imported in the calling process (load_pycaffe), once: the child inherits it.
"""
import importlib.util
import json
import os
import re
import sys
import types

import numpy as np

from shared import forked, progress
from shared.errors import BundleError, ConversionError
from shared.messages import shown

from . import netbuild

# Caffe reads a binary NetParameter of at most 2 GB (protobuf's limit): larger weights go to Caffe's
# HDF5 format. TF2CAFFE_HDF5_THRESHOLD (bytes) lowers the switch, so a small model can take that path.
HDF5_THRESHOLD_BYTES = 1900 << 20


def hdf5_threshold():
    text = os.environ.get("TF2CAFFE_HDF5_THRESHOLD")
    if text:
        try:
            return int(text)
        except ValueError:
            pass
    return HDF5_THRESHOLD_BYTES


def write_weights(plan, weights_path, release=False):
    """Write plan's weights to weights_path: Caffe's HDF5 format for a .h5 name, else binary protobuf.
    release=True empties each layer's blob list as soon as it is written."""
    with progress.phase("writing the weights", netbuild.weight_bytes(plan), "B") as p:
        try:
            if weights_path.endswith(".h5"):
                netbuild.write_caffemodel_h5(plan, weights_path, p, release)
            else:
                netbuild.write_caffemodel(plan, weights_path, p, release)
        except OSError as exc:
            raise ConversionError("could not write the weights %s (%s)" % (weights_path, exc.strerror or exc))


def load_pycaffe():
    """Import pycaffe into this process (once; a forked Caffe stage inherits it). Importing it runs no
    Caffe net, so nothing here can hit a fatal CHECK.

    caffe/__init__.py imports caffe.io, whose image helpers import scikit-image, SciPy and matplotlib
    at the top: about 0.8 s, for functions tf2caffe never calls. caffe.io is therefore registered
    first as a module that loads the real one on its first use (by anything in this process)."""
    if "caffe" not in sys.modules:
        _defer_caffe_io()
    import caffe
    return caffe


class _DeferredModule(types.ModuleType):
    """Stands in sys.modules for a module whose import is deferred: the first attribute it lacks
    (any function or constant of the real module) executes the real module and is looked up there."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        spec = self.__dict__["_deferred_spec"]
        real = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = real
        try:
            spec.loader.exec_module(real)
        except BaseException:
            sys.modules[spec.name] = self
            raise
        parent = sys.modules.get(spec.name.rpartition(".")[0])
        if parent is not None:
            setattr(parent, spec.name.rpartition(".")[2], real)
        self.__dict__.update(real.__dict__)
        return getattr(real, name)


def _defer_caffe_io():
    try:
        package = importlib.util.find_spec("caffe")      # finds the package without running it
        if package is None or not package.submodule_search_locations:
            return
        path = os.path.join(list(package.submodule_search_locations)[0], "io.py")
        spec = importlib.util.spec_from_file_location("caffe.io", path)
        if spec is None or not os.path.isfile(path):
            return
    except (ImportError, ValueError, OSError):
        return
    module = _DeferredModule("caffe.io")
    module.__dict__.update(__spec__=spec, __file__=path, __loader__=spec.loader, _deferred_spec=spec)
    sys.modules["caffe.io"] = module


def layer_types():
    """The layer types the Caffe here registers."""
    return list(load_pycaffe().layer_type_list())


class Runner(object):
    """The loaded net, for an `examine` function (which receives it beside the blobs): run(first, last)
    runs the layers first..last (names) as they are, set(blob, NCHW array) and get(blob) write and read
    a blob. Every run stops before each Embed layer to check that the values it is about to read are ids
    in [0, input_dim): Caffe's Embed does no range check and would read outside its table (and a bundle's
    reference values, which a run may feed into any blob, are untrusted)."""

    def __init__(self, net):
        self.net = net
        names = list(net._layer_names)
        self.index = dict((name, i) for i, name in enumerate(names))
        self.guards = {}
        for i, (name, layer) in enumerate(zip(names, net.layers)):
            if layer.type == "Embed":
                self.guards[i] = (name, net.bottom_names[name][0], net.params[name][0].data.shape[0])

    def forward(self):
        self._run(0, len(self.net.layers) - 1)

    def run(self, first, last):
        self._run(self.index[first], self.index[last])

    def set(self, blob, value):
        data = self.net.blobs[blob].data
        data[...] = value.reshape(data.shape)       # a VECTOR may live in an (N, C, 1, 1) blob

    def get(self, blob):
        return self.net.blobs[blob].data

    def _run(self, start, end):
        for at in sorted(i for i in self.guards if start <= i <= end):
            if at > start:
                self.net._forward(start, at - 1)
            self._check_ids(*self.guards[at])
            start = at
        self.net._forward(start, end)

    def _check_ids(self, layer, blob, input_dim):
        values = self.net.blobs[blob].data
        if values.size and not (float(values.min()) >= 0 and float(values.max()) < input_dim):
            raise BundleError("the values reaching Caffe's Embed layer %s are not ids in [0, %d) (found %.6g to %.6g): "
                              "Caffe's Embed does no range check and would read outside its table; the reference "
                              "inputs do not fit the model: re-export (export_tf draws valid ids for an input that "
                              "feeds an Embedding) or give --reference-inputs with valid ids"
                              % (shown(layer, 60), input_dim, float(values.min()), float(values.max())))


def feed(net, inputs):
    """Give a pycaffe net the arrays of `inputs` ({input blob: array}), reshaping it to their shapes."""
    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
    net.reshape()
    for name, value in inputs.items():
        net.blobs[name].data[...] = value


def _child(prototxt_path, weights_path, inputs, wanted, result_path, examine, go):
    caffe = load_pycaffe()
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt_path, caffe.TEST)      # built while the parent writes the weights
    if os.read(go, 1) != b"1":                      # the parent gave up: nothing to load
        return
    with progress.phase("loading the weights in Caffe"):
        net.copy_from(weights_path)                 # Caffe checks every blob's count and shape here
    blobs = {}
    runner = Runner(net)
    if inputs:
        with progress.phase("running the reference inputs in Caffe"):
            feed(net, inputs)
            runner.forward()
        blobs = dict((blob, net.blobs[blob].data) for blob in wanted)
    if examine is not None:
        with open(result_path, "w") as f:
            json.dump(examine(blobs, runner), f)
    else:
        np.savez(result_path, **dict(("b%d" % i, blobs[blob]) for i, blob in enumerate(wanted) if blob in blobs))


def run(plan, prototxt_path, weights_path, inputs, wanted, workdir, release_blobs=False, examine=None):
    """Write the plan's weights, load prototxt + weights in Caffe, run `inputs` (name -> NCHW array);
    return {blob: array} for `wanted`, or, given examine, examine({blob: array}, Runner) as computed in
    the Caffe child (it must return a JSON value). release_blobs=True empties the plan's blob lists once
    written, so the Caffe child does not run beside a second copy of the weights."""
    load_pycaffe()
    result_path = os.path.join(workdir, "caffe-blobs.npz" if examine is None else "caffe-result.json")
    log_path = os.path.join(workdir, "caffe-log.txt")
    go_read, go_write = os.pipe()       # one byte once the weights are written

    def child():
        os.close(go_write)
        _child(prototxt_path, weights_path, inputs, wanted, result_path, examine, go_read)
    stage = forked.start_forked(child, stderr_path=log_path)   # Caffe's own log says why it aborted
    os.close(go_read)
    try:
        write_weights(plan, weights_path, release=release_blobs)
        try:
            os.write(go_write, b"1")
        except OSError:         # the child has ended already (Caffe refused the net): its result says why
            pass
    except BaseException:
        stage.kill()
        raise
    finally:
        os.close(go_write)
    result = stage.wait()
    if result.signal is not None:
        raise ConversionError("Caffe aborted (signal %d) while loading or running the generated net: %s"
                              % (result.signal, _check_line(log_path)))
    if result.exit_code != 0 and result.error_type == "BundleError":     # the bundle's values do not fit
        raise BundleError((result.message.splitlines() or [""])[0].strip())
    if result.exit_code != 0:
        message = "unknown failure"
        if result.error_type:
            message = "%s: %s" % (result.error_type, (result.message.splitlines() or [""])[0].strip())
        raise ConversionError("the Caffe stage failed: %s" % message)
    if examine is not None:
        with open(result_path) as f:
            return json.load(f)
    with np.load(result_path, allow_pickle=False) as data:
        return dict((blob, data["b%d" % i]) for i, blob in enumerate(wanted) if inputs)


def _describe_child(prototxt_path, out_path):
    caffe = load_pycaffe()
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt_path, caffe.TEST)
    layers = []
    for name, layer in zip(net._layer_names, net.layers):
        params = [list(b.data.shape) for b in net.params[name]] if name in net.params else []
        layers.append({"name": name, "type": layer.type, "bottoms": list(net.bottom_names[name]),
                       "tops": list(net.top_names[name]), "params": params})
    data = {"layers": layers, "blobs": dict((k, list(v.data.shape)) for k, v in net.blobs.items()),
            "inputs": list(net.inputs)}
    with open(out_path, "w") as f:
        json.dump(data, f)


def describe(prototxt_path, workdir, what=None):
    """Build the net of a prototxt in Caffe (TEST phase), in a forked child (a Caffe CHECK failure aborts
    a process), and describe it: {"layers": [{name, type, bottoms, tops, params: [shape]}] in order,
    "blobs": {name: shape}, "inputs": [blob]}. `what` names the net in the error message (default: the prototxt's path)."""
    load_pycaffe()
    out_path = os.path.join(workdir, "user-net.json")
    log_path = os.path.join(workdir, "user-net-log.txt")
    result = forked.run_forked(lambda: _describe_child(prototxt_path, out_path), stderr_path=log_path)
    if not result.ok:
        why = _check_line(log_path) if result.signal is not None else "%s: %s" % (result.error_type, result.message)
        raise ConversionError("Caffe cannot build %s: %s" % (what or prototxt_path, why))
    with open(out_path) as f:
        return json.load(f)


def _check_line(log_path):
    try:
        with open(log_path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return "no Caffe log"
    for line in lines:      # glog's fatal line: "F<mmdd> <time> <thread> <file:line>] <message>"
        if "Check failed" in line or _FATAL.match(line):
            return line.strip()
    return lines[-1].strip() if lines else "no Caffe log"


_FATAL = re.compile(r"F(\d{4})?\d{4} ")       # glog 0.6 and later (Debian trixie) write F<yyyymmdd>
