"""The verdict of each compared tensor (judge.py) and its tolerances (tolerances.py): a layer fails on its
own error, its drift is shown beside it against a tolerance that grows with depth and measured gain, and
without its own error a tensor is judged end to end. No Caffe, both Pythons."""
import numpy as np
import pytest

from import_caffe import judge, tolerances, verify


def chain(n):
    """A manifest of n single-input nodes x -> l1 -> ... -> ln."""
    nodes = [{"name": "l%d" % i, "op": "activation", "inputs": ["x" if i == 1 else "l%d" % (i - 1)],
              "outputs": ["l%d" % i]} for i in range(1, n + 1)]
    return {"inputs": [{"tensor": "x"}], "nodes": nodes}


def row(name, drift, scale=1.0, status=verify.OK):
    return {"layer": name, "tensor": name, "type": "T", "status": status, "max_abs": drift * scale,
            "max_rel": drift, "scale": scale, "output": False}


def own(abs_error, inherited=0.0, scale=1.0):
    """own_run.measure's metrics of one tensor whose own error is abs_error."""
    tf = np.array([scale, 0.0], np.float64)
    metrics = verify.compare(tf, tf + np.array([0.0, abs_error]), tolerances.OWN)
    metrics["inherited_abs"] = inherited
    return metrics


def test_depth_is_the_longest_path_from_an_input():
    manifest = {"inputs": [{"tensor": "x"}], "nodes": [
        {"name": "a", "inputs": ["x"], "outputs": ["a"]}, {"name": "b", "inputs": ["a"], "outputs": ["b"]},
        {"name": "c", "inputs": ["x", "b"], "outputs": ["c", "c:1"]}]}
    assert judge.depths(manifest) == {"x": 0, "a": 1, "b": 2, "c": 3, "c:1": 3}


def test_a_layer_fails_on_its_own_error_not_on_the_drift_it_inherited():
    rows = [row("l1", 1e-6), row("l2", 5e-4), row("l3", 5e-4)]
    result = {("l1", "l1"): own(1e-6), ("l2", "l2"): own(1e-7, 5e-4), ("l3", "l3"): own(3e-4, 5e-4)}
    judge.judge(chain(3), rows, result, {})
    assert [r["status"] for r in rows] == [verify.OK, verify.OK, verify.INACCURATE]
    assert all(r["judged"] == judge.OWN for r in rows)
    assert rows[1]["own_rel"] == pytest.approx(1e-7) and rows[1]["max_rel"] == 5e-4     # both columns
    summary = judge.summarize(rows, [])
    assert summary["first_divergence"] == "l3" and summary["first_divergence_judged"] == judge.OWN


def test_the_drift_tolerance_grows_with_depth_and_with_the_measured_gain():
    base = tolerances.drift_base
    assert base(1) == tolerances.DRIFT_FLOOR and base(1000) == pytest.approx(1000 * tolerances.ROUNDOFF_PER_LAYER)
    rows = [row("l%d" % i, 1e-6) for i in range(1, 4)]
    # l2 amplifies the drift it receives 30-fold (a squashing gate): inherited 3e-5 from an input drift of 1e-6
    result = {("l1", "l1"): own(0.0), ("l2", "l2"): own(0.0, 3e-5), ("l3", "l3"): own(0.0, 1e-6)}
    judge.judge(chain(3), rows, result, {})
    assert rows[1]["gain"] == pytest.approx(30.0)
    assert rows[1]["drift_tolerance"] == pytest.approx(30 * tolerances.DRIFT_FLOOR)
    assert rows[2]["drift_tolerance"] == pytest.approx(rows[1]["drift_tolerance"])   # carried on, gain 1


def test_drift_above_its_tolerance_is_shown_not_failing_when_the_own_error_passes():
    rows = [row("l1", 0.5)]
    judge.judge(chain(1), rows, {("l1", "l1"): own(1e-7)}, {})
    assert rows[0]["status"] == verify.OK and rows[0]["drift_status"] == judge.ABOVE
    assert judge.summarize(rows, rows)["drift_above_tolerance"] == 1


def test_without_its_own_error_a_tensor_is_judged_end_to_end():
    deep = 300
    rows = [row("l%d" % i, 0.0) for i in range(1, deep + 1)]
    rows[-1].update(max_rel=2e-4, max_abs=2e-4)          # over the old flat 1e-4, within 300 layers' round-off
    reasons = dict(("l%d" % i, "no values") for i in range(1, deep + 1))
    judge.judge(chain(deep), rows, {}, reasons)
    last = rows[-1]
    assert last["judged"] == judge.END_TO_END and last["status"] == verify.OK and last["own_note"] == "no values"
    assert last["drift_tolerance"] == pytest.approx(deep * tolerances.ROUNDOFF_PER_LAYER)
    last.update(max_rel=1e-3, max_abs=1e-3, status=verify.OK)
    judge.judge(chain(deep), rows, {}, reasons)
    assert last["status"] == verify.INACCURATE
    assert judge.summarize(rows, [last])["first_divergence_judged"] == judge.END_TO_END


def test_nan_in_the_end_to_end_run_fails_whatever_the_own_error():
    rows = [row("l1", 0.0, status=verify.FAILED)]
    rows[0].update(max_abs=None, max_rel=None, error="Caffe produced NaN or Inf")
    judge.judge(chain(1), rows, {("l1", "l1"): own(0.0)}, {})
    assert rows[0]["status"] == verify.FAILED


def test_a_not_compared_tensor_stays_so():
    rows = [{"layer": "l1", "tensor": "l1", "type": "T", "status": verify.NOT_COMPARED, "max_abs": None,
             "max_rel": None, "output": True}]
    judge.judge(chain(1), rows, {}, {})
    assert rows[0]["status"] == verify.NOT_COMPARED and rows[0]["drift_tolerance"] is None
    assert judge.summarize(rows, rows)["status"] == verify.INACCURATE       # an output must be compared
