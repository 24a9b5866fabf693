"""The verdict of each compared tensor: its lowering's own error where it could be measured, its
end-to-end drift otherwise (the rules and their reasons: tolerances.py).

compare.rows gives each tensor's end-to-end difference (the whole net run on the reference inputs);
own_run.measure gives each node's own error (its Caffe layers run on TF's values of its inputs). judge()
merges them into each row:

  own_abs, own_rel, own_tolerance   the lowering's own error and its tolerance (None: not measured)
  max_abs, max_rel                  the end-to-end drift (as before: Caffe's net against TF's model)
  depth, gain, drift_tolerance      layers above it, the measured amplification of its inputs' drift,
                                    and the drift that round-off explains (tolerances.drift_tolerance)
  drift_status                      ok, or above (the drift exceeds drift_tolerance)
  judged                            "own error" or "end to end": which of the two decides `status`
  tolerance                         the tolerance that decided it

A row judged on its own error fails only on that error: the drift it inherited is shown beside it (an
output's argmax disagreement too). A NaN, an Inf or a wrong shape in the end-to-end run fails in any case.
"""
from . import tolerances, verify

OWN, END_TO_END = "own error", "end to end"
ABOVE = "above"


def depths(manifest):
    """tensor -> the number of nodes on the longest path from a model input to it (inputs: 0)."""
    depth = dict((e["tensor"], 0) for e in manifest["inputs"])
    for node in manifest["nodes"]:
        d = 1 + max([depth.get(t, 0) for t in node["inputs"]] or [0])
        for t in node["outputs"]:
            depth[t] = d
    return depth


def judge(manifest, rows, own, own_reasons):
    """Set every row's verdict (in place; returns rows). own: {(node, tensor or "preact"): metrics} from
    own_run.measure; own_reasons: {node name: why its own error was not measured}."""
    depth = depths(manifest)
    drift_rel = dict((e["tensor"], 0.0) for e in manifest["inputs"])      # fed exactly
    drift_tol = dict((e["tensor"], tolerances.drift_base(0)) for e in manifest["inputs"])
    inputs_of = dict((n["name"], n["inputs"]) for n in manifest["nodes"])
    for row in rows:
        node_inputs = inputs_of.get(row["layer"], [])
        key = (row["layer"], "preact" if row.get("before_activation") else row["tensor"])
        mine = own.get(key)
        row["depth"] = depth.get(row["tensor"], 1 + max([depth.get(t, 0) for t in node_inputs] or [0]))
        in_drift = max([drift_rel.get(t, 0.0) for t in node_inputs] or [0.0])
        row["gain"] = _gain(mine, row, in_drift)
        tol = tolerances.drift_tolerance(row["depth"], row["gain"],
                                         [drift_tol.get(t, tolerances.drift_base(0)) for t in node_inputs])
        row["drift_tolerance"] = tol if row["status"] != verify.NOT_COMPARED else None
        if not key[1] == "preact":
            drift_tol[row["tensor"]] = tol
            if row.get("max_rel") is not None:
                drift_rel[row["tensor"]] = row["max_rel"]
        _verdict(row, mine, own_reasons.get(row["layer"]))
    return rows


def _gain(mine, row, in_drift):
    """How much the layer amplified the drift of its inputs (relative to each tensor's largest value):
    its inherited error over its inputs' largest drift. None where either is unknown or the inputs did
    not drift."""
    if not mine or mine.get("inherited_abs") is None or not row.get("scale") or not in_drift:
        return None
    return (mine["inherited_abs"] / row["scale"]) / in_drift


def _verdict(row, mine, why_not):
    e2e_failed = row.get("status") == verify.FAILED
    if row.get("max_abs") is not None:
        limit = max(row["drift_tolerance"] * row["scale"], tolerances.ABS_FLOOR if row["scale"] == 0 else 0.0)
        row["drift_status"] = verify.OK if row["max_abs"] <= limit else ABOVE
    if row.get("argmax_total") and row["argmax_agree"] != row["argmax_total"]:
        row["drift_status"] = ABOVE
    if mine is not None:
        row.update(own_abs=mine.get("max_abs"), own_rel=mine.get("max_rel"), own_tolerance=mine["tolerance"],
                   own_status=mine["status"], judged=OWN, tolerance=mine["tolerance"])
        row["status"] = mine["status"]
        if mine.get("error"):
            row["error"] = "own run: " + mine["error"]
    elif row["status"] != verify.NOT_COMPARED:
        row.update(own_abs=None, own_rel=None, own_tolerance=None, own_status=None, judged=END_TO_END,
                   tolerance=row["drift_tolerance"])
        if not e2e_failed:
            row["status"] = verify.OK if row.get("drift_status") == verify.OK else verify.INACCURATE
        if why_not:
            row["own_note"] = why_not
    if e2e_failed:
        row["status"] = verify.FAILED


def summarize(rows, output_rows):
    """The verdict: ok when every compared row is; the first row that is not names the layer."""
    worst = [r for r in rows if r["status"] in (verify.INACCURATE, verify.FAILED)]
    status = verify.OK if not worst and all(r["status"] == verify.OK for r in output_rows) else \
        (verify.FAILED if any(r["status"] == verify.FAILED for r in worst) else verify.INACCURATE)
    compared = [r for r in rows if r["status"] != verify.NOT_COMPARED]
    own_rows = [r for r in compared if r.get("judged") == OWN]
    drifting = [r for r in compared if r.get("drift_status") == ABOVE]
    first = worst[0] if worst else None
    return {
        "status": status,
        "first_divergence": first["layer"] if first else None,
        "first_divergence_judged": first.get("judged") if first else None,
        "outputs_max_rel": max([r["max_rel"] or 0.0 for r in output_rows] or [0.0]),
        "layers_compared": len(compared),
        "judged_on_own_error": len(own_rows),
        "judged_end_to_end": len(compared) - len(own_rows),
        "own_max_rel": max([r["own_rel"] or 0.0 for r in own_rows] or [0.0]) if own_rows else None,
        "drift_above_tolerance": len(drifting),
        "first_drift_above_tolerance": drifting[0]["layer"] if drifting else None,
    }
