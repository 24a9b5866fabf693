"""MNN (Alibaba's embedded inference engine, the `mnn` wheel) as a --verify-with runtime: see
runtimes/__init__.py for the contract. MNN's own converter (mnnconvert -f CAFFE) turns the written files
into a .mnn model, which MNN's session API runs on the inputs at their batch size (the session's inputs are
resized to it: no per-sample loop).

Isolation: the `mnn` package may only ever run isolated. Importing its `MNN.tools` wrapper imports a
telemetry client that pip-installs aliyun-log-python-sdk into the interpreter by itself and posts usage logs
(MNN/tools/utils/log.py). So: `make setup` installs the pinned wheel (checked against its sha256) into
its own directory MNN_DIR of the Caffe root filesystem, outside every Python path, and deletes that module;
the converter and the engine run in a child process (runtimes/mnn_worker.py) that calls the compiled
converter directly (never MNN.tools), under `python3 -I -B` with an empty environment and no pip on PATH,
inside a new network namespace that has no network (`unshare -n`, or `-rn` unprivileged), or as it is where
this process has no network already (`docker run --network none`). Otherwise MNN is unavailable: it never
runs with a network.

MNN names a converted tensor after its Caffe top, or after its layer where one Caffe layer became several
MNN ops (Power, Exp): a blob is asked for under both names. Tensors MNN's optimiser fused away (a
Convolution's or InnerProduct's top when a ReLU follows) are not asked for."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from ..netbuild import prototxt_layers
from ..registry import MNN_VERSION

NAME = "mnn"
TARGET = "mnn"
MNN_DIR = "/opt/tf2caffe-mnn"
TELEMETRY = os.path.join("MNN", "tools", "utils", "log.py")   # deleted at install; never imported
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnn_worker.py")
_NO_NETWORK = (["unshare", "-n", "--"], ["unshare", "-r", "-n", "--"])
_TIMEOUT = 1800
# The child's Python flags (-I: no PYTHON* variables, no user site, no script folder on the path; -B: no bytecode
# written into MNN_DIR) and its whole environment besides PATH and HOME: MNN's compiled modules ask for an
# executable stack, which glibc 2.41 (trixie: CAFFE=source) refuses unless this tunable allows it (older glibc
# ignores it).
CHILD_PYTHON = [sys.executable, "-I", "-B"]
CHILD_ENV = ["LANG=C.UTF-8", "GLIBC_TUNABLES=glibc.rtld.execstack=2"]
_FUSING = ("Convolution", "Deconvolution", "InnerProduct")    # MNN's converter fuses a ReLU reading them into them


def describe():
    return "MNN %s" % MNN_VERSION


def _installed():
    return os.path.isfile(os.path.join(MNN_DIR, ".pin-mnn==%s" % MNN_VERSION))


def isolation():
    """The command prefix that runs a child without network: none where this process has no network already
    (loopback only: `docker run --network none`), else the first of _NO_NETWORK that works; or None."""
    if _interfaces() == ["lo"]:
        return []
    for prefix in _NO_NETWORK:
        try:
            proc = subprocess.run(prefix + ["true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0:
            return prefix
    return None


def _interfaces():
    import socket
    try:
        return sorted(name for _, name in socket.if_nameindex())
    except OSError:
        return None


def unavailable():
    if not _installed():
        return ("MNN (mnn %s) is not installed in the Caffe environment; make setup installs it into %s"
                % (MNN_VERSION, MNN_DIR))
    if os.path.exists(os.path.join(MNN_DIR, TELEMETRY)):
        return "MNN's telemetry module %s is present in %s; reinstall with make setup" % (TELEMETRY, MNN_DIR)
    if isolation() is None:
        return ("MNN runs only without network: this process has one and cannot make a network namespace "
                "(unshare -n, -rn); run without network (docker run --network none) or as root")
    return None


def candidates(layers, want):
    """{blob: [MNN tensor names to try]}: the blob's own name, then its last writer's name when the blob is
    that layer's only top (and no blob is named so); through a Dropout (which MNN drops), its bottom's names.
    Not the top of a Convolution / Deconvolution / InnerProduct that only ReLUs read: MNN fuses the ReLU into
    the layer, and its tensor then holds the ReLU's values under whichever of the two names it kept.
    """
    writer, readers = {}, {}
    for layer in layers:
        for bottom in layer[2]:
            readers.setdefault(bottom, []).append(layer[1])
        for top in layer[3]:
            writer[top] = layer
    out = {}
    for blob in want:
        if blob in writer and writer[blob][1] in _FUSING and readers.get(blob) and set(readers[blob]) == {"ReLU"}:
            continue      # MNN fuses the ReLU into it: a tensor of this name may hold the ReLU's output
        names, seen = [], set()
        while blob not in seen:
            seen.add(blob)
            names.append(blob)
            if blob not in writer:
                break
            name, kind, bottoms, tops = writer[blob]
            if len(tops) == 1 and name not in writer:      # a layer name that is no blob's name
                names.append(name)
            if kind != "Dropout" or not bottoms:
                break
            blob = bottoms[0]
        out[names[0]] = names
    return out


def _last_line(text):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip() and "device supports" not in l]
    return lines[-1][:300] if lines else "no output"


def run(prototxt, caffemodel, inputs, want):
    return convert_and_run(prototxt, caffemodel, inputs, want)[0]


def convert_and_run(prototxt, caffemodel, inputs, want):
    """run()'s values, and what the child reported: {"found": {blob: MNN tensor}, "net_outputs": [the network
    outputs MNN's converter lists], "isolation": {"interfaces", "pip", "telemetry_modules"} as the child saw them}."""
    from . import RuntimeFailure
    reason = unavailable()
    if reason:
        raise RuntimeFailure(reason)
    work = tempfile.mkdtemp(prefix="tf2caffe-mnn-")
    try:
        with open(os.path.join(work, "request.json"), "w") as f:
            json.dump({"prototxt": os.path.abspath(prototxt), "caffemodel": os.path.abspath(caffemodel),
                       "want": candidates(prototxt_layers(prototxt), want)}, f)
        np.savez(os.path.join(work, "inputs.npz"), **dict((k, np.asarray(v, np.float32)) for k, v in inputs.items()))
        empty = os.path.join(work, "empty-path")
        os.mkdir(empty)
        cmd = (isolation() + ["/usr/bin/env", "-i", "PATH=" + empty, "HOME=" + work] + CHILD_ENV
               + CHILD_PYTHON + [_WORKER, MNN_DIR, work])
        try:
            # cwd: MNN's converter writes .__convert_external_data.bin into its working folder
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                  timeout=_TIMEOUT, cwd=work)
        except subprocess.TimeoutExpired:
            raise RuntimeFailure("MNN did not finish within %d s" % _TIMEOUT)
        report = _report(proc.stdout)
        if report is None:
            raise RuntimeFailure("MNN's child process ended with status %d: %s"
                                 % (proc.returncode, _last_line(proc.stdout)))
        if not report["ok"]:
            raise RuntimeFailure(report["error"])
        report["net_outputs"] = net_outputs(proc.stdout)
        with np.load(os.path.join(work, "outputs.npz"), allow_pickle=False) as data:
            return dict((k, np.array(data[k], dtype=np.float32)) for k in data.files), report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def net_outputs(stdout):
    """The network outputs MNN's converter lists ("outputTensors: [ a, b, ]"), or None."""
    for line in stdout.splitlines():
        if line.strip().startswith("outputTensors:") and "[" in line:
            inner = line.split("[", 1)[1].rsplit("]", 1)[0]
            return [name.strip() for name in inner.split(",") if name.strip()]
    return None


def _report(stdout):
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None
