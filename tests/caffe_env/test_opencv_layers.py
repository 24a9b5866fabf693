"""The OpenCV target's layer table (import_caffe/registry.py: RUNTIME_TARGETS["opencv"], OPENCV_EXCLUDED,
OPENCV_PARAMS) tested against OpenCV itself: every Caffe layer type the converter emits, in a small net
with the settings the handlers write, runs in Caffe and in cv2.dnn.readNetFromCaffe. A type in the table
loads and agrees (1e-5 relative); an excluded type or setting fails to load or disagrees, as its reason
says. Runs under the Caffe environment's Python (make test-unit-caffe)."""
import pytest

caffe = pytest.importorskip("caffe")
from import_caffe.runtimes.opencv import load_cv2    # noqa: E402
from import_caffe.registry import (CAFFE_1_0_LAYERS, OPENCV_EXCLUDED, OPENCV_PARAMS,   # noqa: E402
                                   RUNTIME_TARGETS, Target)
from import_caffe.plan import CaffeLayer   # noqa: E402
from layer_cases import CASES, TYPE_OF, agrees, caffe_case   # noqa: E402

cv2 = load_cv2()     # make setup installs it: a missing OpenCV fails here rather than skip
# The layer types the Caffe here registers: Caffe built from source (make setup CAFFE=source) has no Clip or
# Swish, and would abort the whole run on a net that names one.
CAFFE_TYPES = set(caffe.layer_type_list())
# the cases whose setting is excluded: LRN k: 2, Log shift: 1, MVN normalize_variance (its default)
EXCLUDED_SETTING = {"LRN": "k", "Log": "shift", "MVN": "normalize_variance"}


def _run(case, tmp):
    """(Caffe's value, OpenCV's value or the text of its error, OpenCV's unconnected outputs)."""
    proto, weights, feed, top, layer, ref = caffe_case(case, tmp)
    try:
        cv = cv2.dnn.readNetFromCaffe(proto, weights)
        for n, v in feed.items():
            cv.setInput(v, n)
        names = cv.getLayerNames()
        # OpenCV names a layer after its top where the two differ in some cases (Convolution)
        got = cv.forward(layer if layer in names else top)
        return ref, got, list(cv.getUnconnectedOutLayersNames())
    except cv2.error as exc:
        return ref, " ".join(str(exc).split()), []


_agrees = agrees


def test_every_emitted_layer_type_has_a_case():
    types = set(TYPE_OF.get(c, c) for c in CASES)
    assert (CAFFE_1_0_LAYERS | {"Clip", "Swish"}) - {"Input"} <= types


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_in_opencv(case, tmp_path):
    kind = TYPE_OF.get(case, case)
    if kind not in CAFFE_TYPES:
        pytest.skip("the Caffe here has no %s layer" % kind)
    ref, got, unconnected = _run(case, str(tmp_path))
    layer = CaffeLayer("l", kind, ["x"], ["y"])
    if kind in OPENCV_EXCLUDED:
        assert kind not in RUNTIME_TARGETS["opencv"]
        assert Target.named("opencv").refusal(layer)
        if kind == "Silence":
            # the slice is right, but OpenCV lists the Silence layer among the network's outputs
            assert _agrees(ref, got) and "s" in unconnected
        else:
            assert not _agrees(ref, got), "%s now loads and agrees in OpenCV: take it out of OPENCV_EXCLUDED" % kind
        return
    assert kind in RUNTIME_TARGETS["opencv"]
    settings = {"MVNnv": {"mvn_param": {"normalize_variance": False}}, "LogPlain": {"log_param": {}},
                "LRN1": {"lrn_param": {"k": 1.0}}, "LRNw": {"lrn_param": {}}}
    assert kind in OPENCV_PARAMS or not Target.named("opencv").refusal(layer)
    if case in settings:
        assert not Target.named("opencv").refusal(CaffeLayer("l", kind, ["x"], ["y"], settings[case]))
    if kind in OPENCV_PARAMS and case in EXCLUDED_SETTING:
        assert Target.named("opencv").refusal(CaffeLayer("l", kind, ["x"], ["y"], {OPENCV_PARAMS[kind][0]: (
            {"k": 2.0} if kind == "LRN" else {"shift": 1.0} if kind == "Log" else {})}))
        assert not _agrees(ref, got), "%s with its %s setting now agrees: relax OPENCV_PARAMS" % (case, EXCLUDED_SETTING[kind])
        return
    assert _agrees(ref, got), "%s: OpenCV %s" % (case, got if isinstance(got, str) else "disagrees")


def test_opencv_depthwise_3x3_on_a_1x1_map_is_wrong(tmp_path):
    """Why runtime_lowering shrinks a convolution over a 1x1 map to its one tap: OpenCV 4.11 gets the
    3x3 pad-1 depthwise case wrong (if this starts to agree, the workaround may go)."""
    CASES["DW1x1"] = ([("x", (2, 8, 1, 1))], 'layer { name: "l" type: "Convolution" bottom: "x" top: "y" '
                      'convolution_param { num_output: 8 group: 8 kernel_h: 3 kernel_w: 3 pad_h: 1 pad_w: 1 bias_term: false } }')
    try:
        ref, got, _ = _run("DW1x1", str(tmp_path))
    finally:
        del CASES["DW1x1"]
    assert not _agrees(ref, got)
