"""--verify-with's judging on its own (no Caffe, no runtime): runtime_check.judge compares a runtime's blobs
with Caffe's and its outputs with TF's, one rule for every runtime; the requested runtimes are checked up
front (unknown or not installed: status 2); --target auto takes their target; a failed runtime turns the
verdict, the footer and report.html to FAILED naming it. The import end to end: tests/e2e/test_verify_with.py."""
import html

import numpy as np
import pytest

from import_caffe import report_html, runtime_check, runtimes, tolerances
from import_caffe.layout import IMAGE, VECTOR, Layout
from import_caffe.plan import TensorRef
from shared.errors import UsageError

RNG = np.random.RandomState(0)
CONV = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)      # Caffe layout
LOGITS = RNG.standard_normal((2, 5)).astype(np.float32)


def output(tolerance=1e-4):
    return runtime_check.Output("fc", "y", LOGITS.copy(), TensorRef("fc", [5], Layout(VECTOR)), tolerance)


def caffe_blobs():
    return [("fc", LOGITS), ("conv", CONV)]


def test_a_runtime_that_agrees_passes_with_its_worst_blob():
    got = {"fc": LOGITS.copy(), "conv": CONV + 1e-6 * np.abs(CONV).max()}
    s = runtime_check.judge(got, caffe_blobs(), [output()])
    assert s["status"] == "ok" and s["blobs_compared"] == 2 and s["failing"] == [], s
    assert s["worst"]["blob"] == "conv" and 0.9e-6 < s["worst"]["max_rel"] < 1.1e-6
    assert s["outputs"][0]["vs_tf_rel"] == 0.0 and s["outputs"][0]["argmax_agree"] == 2


def test_a_blob_off_by_more_than_the_tolerance_fails_and_is_named():
    got = {"fc": LOGITS.copy(), "conv": CONV + 2e-4 * np.abs(CONV).max()}
    s = runtime_check.judge(got, caffe_blobs(), [output()])
    assert s["status"] == "failed" and s["failing_count"] == 1 and s["failing"][0]["blob"] == "conv", s
    assert s["tolerance"] == tolerances.RUNTIME.rel == 1e-4
    assert runtime_check.disagreement(s) == ("blob 'conv' differs from Caffe's: 2.00e-04 of its range, over the "
                                             "1e-04 tolerance (1 blob(s) disagree)")


def test_blobs_the_runtime_does_not_give_are_not_compared_but_an_output_must_be_there():
    s = runtime_check.judge({"conv": CONV.copy()}, caffe_blobs(), [output()])
    assert s["blobs_compared"] == 1 and s["status"] == "failed"
    assert runtime_check.disagreement(s) == "output 'y' differs from TF's: the runtime did not output it"


def test_an_output_in_another_shape_holding_the_same_values_is_accepted():
    s = runtime_check.judge({"fc": LOGITS.reshape(2, 5, 1, 1)}, caffe_blobs(), [output()])
    assert s["status"] == "ok" and s["outputs"][0]["vs_tf_rel"] == 0.0, s


@pytest.mark.parametrize("value, says", [
    (np.full((2, 3, 4, 4), np.nan, np.float32), "NaN or Inf"),
    (np.zeros((2, 3, 4), np.float32), "shape (2, 3, 4) vs Caffe's (2, 3, 4, 4)"),
], ids=["nan", "other_size"])
def test_nan_or_another_size_fails_saying_which(value, says):
    s = runtime_check.judge({"fc": LOGITS.copy(), "conv": value}, caffe_blobs(), [output()])
    assert s["failing"][0]["error"] == says and runtime_check.disagreement(s).endswith(says + " (1 blob(s) disagree)")


def test_an_output_is_held_to_its_caffe_drift_tolerance_against_tf():
    assert tolerances.runtime_output_tolerance(None) == 1e-4
    assert tolerances.runtime_output_tolerance(3e-4) == 3e-4 and tolerances.runtime_output_tolerance(1e-5) == 1e-4
    off = LOGITS + 2e-4 * np.abs(LOGITS).max()
    s = runtime_check.judge({"fc": off}, [("fc", off)], [output(tolerance=3e-4)])
    assert s["status"] == "ok" and 1.9e-4 < s["outputs"][0]["vs_tf_rel"] < 2.1e-4, s
    s = runtime_check.judge({"fc": off}, [("fc", off)], [output()])
    assert s["status"] == "failed" and runtime_check.disagreement(s).startswith("output 'y' differs from TF's: 2.0")


def test_an_image_output_is_compared_in_tf_layout():
    nhwc = np.transpose(CONV, (0, 2, 3, 1)).copy()
    out = runtime_check.Output("conv", "c", nhwc, TensorRef("conv", [4, 4, 3], Layout(IMAGE)), 1e-4)
    assert runtime_check.judge({"conv": CONV.copy()}, [("conv", CONV)], [out])["status"] == "ok"


# ----------------------------------------------------------------------------------------- the request

class Fake(object):
    def __init__(self, name, target="opencv", missing=None):
        self.NAME, self.TARGET, self.missing = name, target, missing

    def unavailable(self):
        return self.missing

    def describe(self):
        return "Fake %s 1.0" % self.NAME


@pytest.fixture
def registered(monkeypatch):
    fakes = {"a": Fake("a"), "b": Fake("b", target="mnn"), "gone": Fake("gone", missing="not here; make setup")}
    monkeypatch.setattr(runtime_check, "RUNTIMES", fakes)
    return fakes


def test_the_requested_runtimes_in_order_once_each(registered):
    assert runtime_check.requested(None) == []
    assert [r.NAME for r in runtime_check.requested("b, a,b")] == ["b", "a"]


@pytest.mark.parametrize("text, says", [
    ("nosuch", "--verify-with: no runtime 'nosuch' (known: a, b, gone)"),
    ("a,gone", "--verify-with gone: not here; make setup"),
    (",", "--verify-with: give a runtime (a, b, gone)"),
], ids=["unknown", "not_installed", "empty"])
def test_a_runtime_that_cannot_run_is_refused_with_status_2(registered, text, says):
    with pytest.raises(UsageError) as err:
        runtime_check.requested(text)
    assert str(err.value) == says and err.value.exit_code == 2


def test_target_auto_takes_the_runtimes_target_and_an_explicit_one_is_kept(registered):
    a, b = registered["a"], registered["b"]
    assert runtime_check.target_for("auto", [a]) == "opencv"
    assert runtime_check.target_for("auto", []) == "auto"
    assert runtime_check.target_for("caffe-1.0", [a]) == "caffe-1.0"
    # runtimes of different targets: one net all of them hold, the targets joined
    assert runtime_check.target_for("auto", [a, b]) == "mnn+opencv"
    assert runtime_check.target_for("auto", [b, a, b]) == "mnn+opencv"


def test_a_joined_target_refuses_what_any_of_its_runtimes_refuses():
    from import_caffe.plan import CaffeLayer
    from import_caffe.registry import RUNTIME_TARGETS, Target
    both = Target.named("opencv+mnn")
    assert both.runtime and both.parts == ["opencv", "mnn"] and not both.has_clip and not both.has_swish
    assert Target.named("mnn+opencv").parts == ["mnn", "opencv"]
    tile = CaffeLayer("t", "Tile", ["x"], ["y"], {})
    gate = CaffeLayer("g", "Scale", ["x", "s"], ["y"], {"scale_param": {"axis": 0}})
    bias = CaffeLayer("b", "Bias", ["x"], ["y"], {})
    lrn = CaffeLayer("n", "LRN", ["x"], ["y"], {"lrn_param": {"k": 2.0}})
    assert "not in target opencv+mnn (for opencv)" in both.refusal(bias)          # OpenCV has no Bias
    assert "not in target opencv+mnn (for mnn)" in both.refusal(gate)            # MNN's Scale over axis 0
    assert both.refusal(tile) and both.refusal(lrn)
    assert Target.named("mnn").refusal(bias) is None and Target.named("opencv").refusal(gate) is None
    assert both.refusal(CaffeLayer("c", "Convolution", ["x"], ["y"], {})) is None
    for name in ("opencv+opencv", "opencv+caffe-1.0", "opencv+", "mnn+nosuch"):
        with pytest.raises(ValueError, match="unknown target"):
            Target.named(name)
    assert set(RUNTIME_TARGETS) == {"opencv", "mnn"}


def test_the_registry_holds_opencv_by_its_name():
    assert runtimes.RUNTIMES["opencv"].NAME == "opencv" and runtimes.RUNTIMES["opencv"].TARGET == "opencv"
    for name, module in runtimes.RUNTIMES.items():
        assert module.NAME == name and callable(module.run) and callable(module.unavailable)


# ----------------------------------------------------------------------------------------- the report

def _report(section):
    return {"model": "m", "summary": {"status": "ok", "first_divergence": None, "outputs_max_rel": 0.0,
                                      "layers_compared": 1},
            "batch": 2, "source": {"path": "p", "format": "keras"}, "target": "opencv",
            "producer": {"name": "p", "version": "1", "tensorflow": "2", "keras": "3"},
            "layers": [], "outputs": [], "notes": {}, "inputs": [], "files": {},
            "tolerances": tolerances.table(), "runtimes": [section]}


def _section(status="ok", **extra):
    s = {"name": "a", "runtime": "Fake a 1.0", "target": "opencv", "net_target": "opencv", "status": status,
         "blobs_compared": 7, "tolerance": 1e-4, "worst": {"blob": "conv<1>", "max_rel": 2e-6}, "failing": [],
         "failing_count": 0, "outputs": [{"output": "y", "blob": "fc", "vs_caffe_rel": 1e-7, "vs_tf_rel": 3e-7,
                                          "vs_tf_tolerance": 1e-4, "status": "ok"}]}
    s.update(extra)
    return s


def test_a_runtime_that_agrees_is_one_footer_line_and_a_report_html_row():
    report = _report(_section())
    assert runtime_check.footer_lines(report) == [
        "runtime a (Fake a 1.0): 7 blobs compared with Caffe's, worst conv<1> 2.00e-06 (tolerance 1e-04); "
        "output y vs TF 3.00e-07 (tolerance 1.0e-04) -> OK"]
    assert runtime_check.overall(report) == "ok" and runtime_check.verified_in(report) == "; then run in a (ok)"
    text = report_html.render(report)
    assert "parity: OK" in text and "Other runtimes (--verify-with)" in text
    assert html.escape("conv<1>") in text and "conv<1>" not in text


def test_a_failed_runtime_turns_the_verdict_to_failed_naming_it():
    report = _report(_section("failed", error="cannot load the net"))
    del report["runtimes"][0]["blobs_compared"]
    assert runtime_check.overall(report) == "failed" and runtime_check.first_failure(report)["name"] == "a"
    assert runtime_check.footer_lines(report) == ["runtime a (Fake a 1.0): FAILED: cannot load the net"]
    text = report_html.render(report)
    assert "parity: FAILED" in text and "cannot load the net" in text


def test_a_runtime_not_run_because_caffe_failed_says_why():
    sections = runtime_check.not_run([Fake("a")], "caffe-1.0", "the Caffe parity check failed first")
    assert sections[0]["status"] == "not run" and "generated for target caffe-1.0, not opencv" in sections[0]["note"]
    report = _report(sections[0])
    assert runtime_check.footer_lines(report) == [
        "runtime a (Fake a 1.0; net target caffe-1.0): not run: the Caffe parity check failed first"]
