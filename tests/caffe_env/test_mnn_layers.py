"""The MNN target's layer table (import_caffe/registry.py: RUNTIME_TARGETS["mnn"], MNN_EXCLUDED, MNN_PARAMS)
tested against MNN itself: every Caffe layer type the converter emits (layer_cases.py, shared with OpenCV's
test, plus the settings whose outcome in MNN depends on them), in a small net, runs in Caffe and, converted
by MNN's own converter, in MNN's session (import_caffe/runtimes/mnn.py, isolated). A layer the target holds,
with its settings, converts and agrees (1e-5 relative); a layer it refuses (Target.refusal, by type or by a
setting) fails to convert, crashes or disagrees, as its reason says. Runs under the Caffe environment's
Python (make test-unit-caffe); needs MNN (make setup)."""
import pytest

caffe = pytest.importorskip("caffe")
from google.protobuf import json_format, text_format   # noqa: E402

from caffe.proto import caffe_pb2   # noqa: E402
from import_caffe.plan import CaffeLayer   # noqa: E402
from import_caffe.registry import CAFFE_1_0_LAYERS, MNN_EXCLUDED, RUNTIME_TARGETS, Target   # noqa: E402
from import_caffe.runtimes import RuntimeFailure, mnn   # noqa: E402
from layer_cases import CASES, TYPE_OF, agrees, caffe_case   # noqa: E402

CAFFE_TYPES = set(caffe.layer_type_list())
TARGET = Target.named("mnn")
X2 = [("x", (2, 3, 4, 5)), ("z", (2, 3, 4, 5))]
# MNN-only cases: settings the shared cases do not reach, and layers in context. MNN removes a Dropout (its
# top becomes its bottom), so the shared Dropout case, a net of nothing else, has no input left to feed.
MNN_CASES = {
    "Dropout": ([("x", (2, 3, 4, 5))], 'layer { name: "a" type: "ReLU" bottom: "x" top: "a" } '
                'layer { name: "l" type: "Dropout" bottom: "a" top: "y" }'),
    "EltwiseSumPlain": (X2, 'layer { name: "l" type: "Eltwise" bottom: "x" bottom: "z" top: "y" '
                        'eltwise_param { operation: SUM } }'),
    "EltwiseSum3": ([("x", (2, 3, 4, 5))], 'layer { name: "a" type: "ReLU" bottom: "x" top: "a" } '
                    'layer { name: "b" type: "Sigmoid" bottom: "x" top: "b" } layer { name: "c" type: "TanH" '
                    'bottom: "x" top: "c" } layer { name: "l" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" '
                    'top: "y" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 coeff: 2 } }'),
    "ScaleGate": ([("x", (2, 3, 4, 5))], 'layer { name: "p" type: "Pooling" bottom: "x" top: "p" pooling_param '
                  '{ pool: AVE global_pooling: true } } layer { name: "f" type: "Flatten" bottom: "p" top: "g" } '
                  'layer { name: "l" type: "Scale" bottom: "x" bottom: "g" top: "y" scale_param { axis: 0 } }'),
    "BiasGate": ([("x", (2, 3, 4, 5))], 'layer { name: "p" type: "Pooling" bottom: "x" top: "p" pooling_param '
                 '{ pool: AVE global_pooling: true } } layer { name: "f" type: "Flatten" bottom: "p" top: "g" } '
                 'layer { name: "l" type: "Bias" bottom: "x" bottom: "g" top: "y" bias_param { axis: 0 } }'),
}
MNN_TYPE_OF = {"EltwiseSumPlain": "Eltwise", "EltwiseSum3": "Eltwise", "ScaleGate": "Scale", "BiasGate": "Bias"}
ALL = dict(CASES, **MNN_CASES)


def _layer(kind, tmp):
    """The case's (last) layer of type `kind` as the CaffeLayer the planner would hold (type, bottoms, tops,
    settings)."""
    param = caffe_pb2.NetParameter()
    with open("%s/n.prototxt" % tmp) as f:
        text_format.Merge(f.read(), param)
    layer = [l for l in param.layer if l.type == kind][-1]
    fields = json_format.MessageToDict(layer, preserving_proto_field_name=True)
    params = dict((k, v) for k, v in fields.items() if k.endswith("_param"))
    return CaffeLayer(layer.name, layer.type, list(layer.bottom), list(layer.top), params)


def _run(case, kind, tmp):
    """(Caffe's value, MNN's value or the text of its failure, MNN's network outputs, the case's layer)."""
    saved = CASES.get(case)
    CASES[case] = ALL[case]
    try:
        proto, weights, feed, top, _, ref = caffe_case(case, tmp)
    finally:
        if saved is None:
            del CASES[case]
        else:
            CASES[case] = saved
    layer = _layer(kind, tmp)
    try:
        got, report = mnn.convert_and_run(proto, weights, feed, [top])
    except RuntimeFailure as exc:
        return ref, str(exc), [], layer
    return ref, got.get(top, "MNN did not output %s" % top), report["net_outputs"], layer


def test_every_emitted_layer_type_has_a_case():
    types = set(MNN_TYPE_OF.get(c, TYPE_OF.get(c, c)) for c in ALL)
    assert (CAFFE_1_0_LAYERS | {"Clip", "Swish"}) - {"Input"} <= types


def test_mnn_is_installed():
    assert mnn.unavailable() is None       # make setup installs it: a missing MNN fails here rather than skip


@pytest.mark.parametrize("case", sorted(ALL))
def test_layer_in_mnn(case, tmp_path):
    kind = MNN_TYPE_OF.get(case, TYPE_OF.get(case, case))
    if kind not in CAFFE_TYPES:
        pytest.skip("the Caffe here has no %s layer" % kind)
    ref, got, net_outputs, layer = _run(case, kind, str(tmp_path))
    if kind == "Silence":
        assert kind in MNN_EXCLUDED and TARGET.refusal(layer)
        # the slice is right, but MNN lists the silenced blob among the network's outputs
        assert agrees(ref, got) and "d1" in net_outputs, net_outputs
        return
    why = TARGET.refusal(layer)
    if kind in MNN_EXCLUDED:
        assert kind not in RUNTIME_TARGETS["mnn"] and why
    if why:
        assert not agrees(ref, got), "%s now converts and agrees in MNN: relax the MNN table (%s)" % (case, why)
        return
    assert kind in RUNTIME_TARGETS["mnn"]
    assert agrees(ref, got), "%s: MNN %s" % (case, got if isinstance(got, str) else "disagrees")


def _files(top):
    import os
    out = {}
    for folder, _, files in os.walk(top):
        for name in files:
            st = os.stat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), top)] = (st.st_size, st.st_mtime)
    return out


def test_mnn_runs_isolated_and_installs_nothing(tmp_path):
    """Converting and running a net in MNN leaves MNN's directory as it was (nothing installed, nothing
    compiled), happens in a process that has no network (loopback only), no pip on PATH and no telemetry
    module loaded; and even MNN's own mnnconvert wrapper, imported in that isolation, finds no telemetry
    client (make setup deletes it) instead of pip-installing one."""
    import os
    import subprocess
    assert not os.path.exists(os.path.join(mnn.MNN_DIR, mnn.TELEMETRY))
    before = _files(mnn.MNN_DIR)
    proto, weights, feed, top, _, ref = caffe_case("Convolution", str(tmp_path))
    got, report = mnn.convert_and_run(proto, weights, feed, [top])
    assert agrees(ref, got[top])
    assert report["isolation"] == {"interfaces": ["lo"], "pip": None, "telemetry_modules": []}, report
    code = ("import sys; sys.path.insert(0, %r); import MNN.tools.mnnconvert as m; "
            "print(m.mnn_logger, sorted(k for k in sys.modules if k.startswith('aliyun')))" % mnn.MNN_DIR)
    proc = subprocess.run(mnn.isolation() + ["/usr/bin/env", "-i", "PATH=/nonexistent"] + mnn.CHILD_ENV
                          + mnn.CHILD_PYTHON + ["-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 0 and "None []" in proc.stdout.splitlines(), proc.stdout + proc.stderr
    assert _files(mnn.MNN_DIR) == before


def test_mnn_writes_nothing_into_the_working_folder(tmp_path, monkeypatch):
    """MNN's converter keeps a large net's weights in `.__convert_external_data.bin` in its working folder
    while it converts: the child works in its own temporary folder, so two imports in one folder cannot meet
    there and a read-only working folder does not matter. Watched while a 64 MB InnerProduct converts."""
    import os
    import threading
    import numpy as np
    proto = tmp_path / "big.prototxt"
    proto.write_text('input: "x" input_shape { dim: 1 dim: 4096 } layer { name: "l" type: "InnerProduct" '
                     'bottom: "x" top: "y" inner_product_param { num_output: 4096 } }')
    net = caffe.Net(str(proto), caffe.TEST)
    net.params["l"][0].data[...] = np.random.RandomState(0).randn(4096, 4096) * 0.01
    net.save(str(tmp_path / "big.caffemodel"))
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.update(os.listdir(str(here)))
            done.wait(0.005)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        got = mnn.run(str(proto), str(tmp_path / "big.caffemodel"), {"x": np.ones((1, 4096), np.float32)}, ["y"])
    finally:
        done.set()
        watcher.join()
    assert got["y"].shape == (1, 4096)
    assert seen == set(), seen
