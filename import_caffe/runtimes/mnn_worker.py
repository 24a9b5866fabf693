"""The child process of runtimes/mnn.py: converts a Caffe net with MNN's own converter and runs it with
MNN's session API. Started only by mnn.py, isolated: `python3 -I -B` (no PYTHONPATH, no user site, no
bytecode), no network, no pip on PATH, the MNN install directory first on sys.path. It imports only the two compiled
modules it needs (_tools: the converter, _mnncengine through MNN: the engine) and never MNN.tools, whose
mnnconvert wrapper imports a telemetry client (MNN/tools/utils/log.py, which `make setup` deletes).

    python3 -I -B mnn_worker.py MNN_DIR WORKDIR

WORKDIR holds request.json ({"prototxt", "caffemodel", "want": {blob: [MNN tensor names to try]}}) and
inputs.npz; the worker writes model.mnn and outputs.npz ({blob: float32 NCHW}) there, and prints one JSON
line: {"ok": true, "found": {blob: tensor}, "isolation": {...}} or {"ok": false, "error": "..."}. No pickle
anywhere."""
import json
import os
import sys

# Interpreter::HintMode::WINOGRAD_MEMORY_LEVEL; 0 makes MNN's CPU backend compute 3x3 stride-1 convolutions
# directly instead of with Winograd's transforms, whose float32 round-off reaches 2.8e-4 of a tensor's range
# on InceptionV3 (MNN's arithmetic, not the converted net's).
_WINOGRAD_MEMORY_LEVEL = 3


def _fail(message):
    sys.stdout.write("\n" + json.dumps({"ok": False, "error": message}) + "\n")
    sys.stdout.flush()
    sys.exit(3)


def _convert(req, model):
    import _tools
    ok = _tools.mnnconvert(["mnnconvert", "-f", "CAFFE", "--modelFile", req["caffemodel"], "--prototxt",
                            req["prototxt"], "--MNNModel", model, "--bizCode", "tf2caffe"])
    if not ok or not os.path.isfile(model):
        _fail("MNN's converter (mnnconvert -f CAFFE) could not convert the net")


def _run(model, inputs, want):
    import numpy as np
    import MNN
    names = set(MNN.expr.load_as_dict(model))
    found = {}
    for blob, candidates in want.items():
        hits = [c for c in candidates if c in names]
        if hits:
            found[blob] = hits[0]
    interp = MNN.Interpreter(model)
    interp.setSessionHint(_WINOGRAD_MEMORY_LEVEL, 0)      # direct convolutions (see _WINOGRAD_MEMORY_LEVEL)
    session = interp.createSession({"backend": "CPU", "precision": "high", "numThread": 1,
                                    "saveTensors": tuple(sorted(set(found.values())))})
    tensors = {}
    for name, value in inputs.items():
        tensors[name] = interp.getSessionInput(session, name)
        if tensors[name] is None:
            _fail("MNN's net has no input %s" % name)
        interp.resizeTensor(tensors[name], tuple(value.shape))
    interp.resizeSession(session)
    for name, value in inputs.items():
        host = MNN.Tensor(tuple(value.shape), MNN.Halide_Type_Float, np.ascontiguousarray(value, np.float32),
                          MNN.Tensor_DimensionType_Caffe)
        tensors[name].copyFrom(host)
    if interp.runSession(session) != 0:
        _fail("MNN's session failed to run the net")
    out = {}
    for blob, name in sorted(found.items()):
        tensor = interp.getSessionOutput(session, name)
        if tensor is None:
            continue
        shape = tuple(tensor.getShape())
        host = MNN.Tensor(shape, MNN.Halide_Type_Float, np.zeros(shape, np.float32), MNN.Tensor_DimensionType_Caffe)
        tensor.copyToHostTensor(host)
        out[blob] = np.array(host.getNumpyData(), dtype=np.float32).reshape(shape)
    return out, found


def _isolation():
    """What this process could reach, for the report: its network interfaces (a new namespace: lo only), a
    pip on PATH (none) and any telemetry module loaded (none)."""
    import shutil
    import socket
    return {"interfaces": sorted(name for _, name in socket.if_nameindex()),
            "pip": shutil.which("pip") or shutil.which("pip3"),
            "telemetry_modules": sorted(m for m in sys.modules
                                        if m.split(".")[0] == "aliyun" or m.startswith("MNN.tools"))}


def main(argv):
    mnn_dir, work = argv[1], argv[2]
    sys.path.insert(0, mnn_dir)
    import numpy as np
    with open(os.path.join(work, "request.json")) as f:
        req = json.load(f)
    with np.load(os.path.join(work, "inputs.npz"), allow_pickle=False) as data:
        inputs = dict((k, data[k]) for k in data.files)
    model = os.path.join(work, "model.mnn")
    _convert(req, model)
    out, found = _run(model, inputs, req["want"])
    np.savez(os.path.join(work, "outputs.npz"), **out)
    sys.stdout.write("\n" + json.dumps({"ok": True, "found": dict((b, n) for b, n in found.items() if b in out),
                                        "isolation": _isolation()}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
