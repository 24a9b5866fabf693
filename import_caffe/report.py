"""The parity report, for both kinds of net (generated, or yours with --prototxt): the report.json content
(build), its publishing with the model files (publish), and the table printed for the user."""
import json
import os
from collections import OrderedDict

from shared.errors import ParityError
from shared.messages import clip, where

from . import __version__, compare, judge, layout, report_html, runtime_check, staging, tolerances, verify

# how a user feeds each kind of input: TF (N,H,W,C) -> NCHW, TF (N,L,C) -> (N,C,1,L), TF (N,C) -> NC
_LAYOUT_NAMES = {layout.IMAGE: "NCHW", layout.SEQUENCE: "NC1L (TF's (N, L, C) as (N, C, 1, L))"}


def input_layout_name(ref_layout):
    """How a user feeds an input of this layout to the Caffe net (shown in the reports)."""
    return _LAYOUT_NAMES.get(ref_layout.kind, "NC")


def _input_entry(entry, ref, net, value, domain):
    out = {"name": net.input_blob(entry["name"])}
    if net.maps_inputs:
        out["tf_name"] = entry["name"]
    out.update({"caffe_shape": ["N"] + layout.caffe_shape(ref.shape, ref.layout), "tf_shape": ["N"] + list(ref.shape),
                "layout": input_layout_name(ref.layout)})
    if value is not None and value.size:
        out["reference_range"] = {"min": float(value.min()), "mean": float(value.mean()), "max": float(value.max())}
    if domain is not None:
        out["domain"] = dict(domain)
    return out


def reference_inputs(manifest):
    """How the reference inputs were made, as the bundle records it (bundles before this record: unknown)."""
    ref = manifest["reference"]
    made = ref.get("inputs_made")
    out = {"made": made or "not recorded in the bundle"}
    if made == "generated" and ref.get("seed") is not None:
        out["seed"] = ref["seed"]
    return out


def _own_note(rows):
    """Why some rows are judged end to end, in one phrase (None if every compared row has its own error)."""
    reasons = [r.get("own_note") for r in rows if r.get("judged") == judge.END_TO_END and r.get("own_note")]
    return reasons[0] if reasons else None


def build(bundle_path, manifest, target, plan, net, rows, accuracy, inputs):
    """The report.json content. rows: compare.rows; inputs: Caffe input blob -> the reference values fed."""
    output_rows = [r for r in rows if r["output"]]
    report = {
        "tool": "tf2caffe.import_caffe %s" % __version__, "bundle": os.path.abspath(bundle_path),
        "model": manifest["model_name"], "source": manifest["source"], "producer": manifest["producer"],
        "target": target.name, "batch": manifest["reference"]["batch"],
        "summary": judge.summarize(rows, output_rows),
        "target_detail": {"name": target.name, "source": target.source, "optional_layers": target.layers()},
        "approximations": compare.approximations(manifest, rows),
        "inputs": [_input_entry(e, plan.refs[e["tensor"]], net, inputs.get(net.input_blob(e["name"])),
                                (manifest["reference"].get("input_domains") or {}).get(e["tensor"]))
                   for e in manifest["inputs"]],
        "reference_inputs": reference_inputs(manifest),
        "outputs": output_rows, "layers": rows, "notes": plan.notes,
        "tolerances": tolerances.table(),
        "accuracy": accuracy,
        "files": dict(net.files),
    }
    report["summary"]["end_to_end_because"] = _own_note(rows)
    report.update(net.report_fields())
    return report


def publish(report, staging_dir, out_dir, net, keep_on_failure=False):
    """Write report.json and report.html into the staging folder, then give the files their final names
    in out_dir: the model files only when parity holds (with keep_on_failure, under names that say they
    failed verification: staging.failed_name), the report in any case and last (it vouches for the files
    next to it, so a run killed between these renames never leaves a new report beside old files).
    Returns the report, or raises ParityError (with the report) when parity fails."""
    summary = report["summary"]
    ok = summary["status"] == verify.OK and runtime_check.all_ok(report)      # --verify-with's runtimes too
    names = [report["files"]["prototxt"], report["files"]["weights"]]
    published = dict((n, n) for n in names) if ok else {}
    if not ok:
        published = dict((n, staging.failed_name(n)) for n in names) if keep_on_failure else {}
        report["files"] = dict((k, published[v]) for k, v in report["files"].items() if v in published)
        report["files_failed_verification"] = bool(published)
    with open(os.path.join(staging_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    report_html.write(report, os.path.join(staging_dir, "report.html"))
    for name in list(published) + ["report.html", "report.json"]:
        os.replace(os.path.join(staging_dir, name), os.path.join(out_dir, published.get(name, name)))
    if ok:      # a verified conversion replaces what an earlier failed one kept under its names
        for name in names:
            try:
                os.remove(os.path.join(out_dir, staging.failed_name(name)))
            except OSError:
                pass
    if not ok:
        raise ParityError(_failure_message(report, net, out_dir, [published[n] for n in names if n in published]),
                          report)
    return report


def _whose(op):
    from shared.opspec import spec_for
    spec = spec_for(op) if op else None
    if spec is not None and spec.family == "plugin":
        return "op %s is a plugin's: fix the plugin's lowering" % clip(op, 60)
    return "please report it with the bundle"


def _failure_message(report, net, out_dir, kept):
    """Two lines: which layer failed and why, then what was written and where the report is."""
    summary = report["summary"]
    runtime = runtime_check.first_failure(report) if summary["status"] == verify.OK else None
    first = next((r for r in report["layers"] if r["layer"] == summary["first_divergence"]
                  and r["status"] not in (verify.OK, verify.NOT_COMPARED)), None)
    subject = clip(net.subject, 80)
    if runtime is not None:
        subject = "--verify-with %s (%s)" % (runtime["name"], runtime["runtime"])
        what = "%s; Caffe's own check passed" % runtime_check.disagreement(runtime)
    elif first is not None and first.get("judged") == judge.OWN and first.get("own_status") != verify.OK:
        error = ("%s of its range, over the %.0e tolerance," % (_fmt(first["own_rel"]), first["own_tolerance"])
                 if first.get("own_rel") is not None else "(%s)" % first.get("error", "no value"))
        what = ("layer %s fails on its own error: %s with its Caffe layers run on TF's values of its inputs; its "
                "lowering is wrong (%s)%s" % (clip(first["layer"], 80), error, _whose(first.get("op")),
                                              net.parity_hint()))
    else:
        why = (first or {}).get("error") if (first or {}).get("judged") == judge.OWN else \
            summary.get("end_to_end_because") or "its own error was not measured"
        what = ("first diverging layer %s (end to end: %s)%s"
                % (clip(str(summary["first_divergence"]), 80), clip(str(why), 120), net.parity_hint()))
    if kept:
        then = "the model files are kept as %s (they failed verification)" % ", ".join(
            where(os.path.join(out_dir, k)) for k in kept)
    else:
        then = "no model files were written (--keep-on-failure writes them, named as having failed verification)"
    return "parity check failed for %s: %s\nparity check failed: %s; see %s" % (
        subject, what, then, where(os.path.join(out_dir, "report.json")))


def _fmt(value):
    if value is None:
        return "-"
    return "%.2e" % value


def _caffe_names(names, main=None):
    if not names:
        return "(reused)"
    if main in names:
        names = [main] + [n for n in names if n != main]
    if len(names) == 1:
        return names[0]
    return "%s +%d" % (names[0], len(names) - 1)


def _status(row):
    """The row's status, and `drift` where the end-to-end drift of a row judged on its own error is above
    its tolerance (shown, not failing)."""
    if row.get("judged") == judge.OWN and row.get("drift_status") == judge.ABOVE:
        return "%s, drift" % row["status"]
    return row["status"]


def table(report, max_rows=None):
    """own rel: the lowering's own error (its layers on TF's values of its inputs); drift rel and drift tol:
    the end-to-end difference and its tolerance; a row judged end to end has no own error ("-")."""
    rows = report["layers"]
    header = ("TF layer", "type", "Caffe layers", "shape", "own rel", "drift rel", "drift tol", "status")
    lines = []
    body = [(r["layer"], r["type"], _caffe_names(r["caffe_layers"], r["layer"]), "x".join(str(d) for d in r["shape"]),
             _fmt(r.get("own_rel")), _fmt(r["max_rel"]), _fmt(r.get("drift_tolerance")), _status(r)) for r in rows]
    if max_rows is not None and len(body) > max_rows:
        keep = [b for b in body if b[-1] != "ok"][:max_rows]
        body = keep if keep else body[-max_rows:]
        lines.append("(showing %d of %d compared tensors; report.json has them all)" % (len(body), len(rows)))
    widths = [min(max(len(str(x[i])) for x in [header] + body), 40) for i in range(len(header))]
    for row in [header] + body:
        lines.append("  ".join(str(v)[:40].ljust(widths[i]) for i, v in enumerate(row)).rstrip())
    return "\n".join(lines)


def _input_line(entry):
    domain = entry.get("domain")
    if not domain:
        return None
    kind = domain["kind"]
    if kind == "ids":
        what = "ids: valid range [%d, %d)" % (domain["low"], domain["high"])
    elif kind == "pixels":
        what = "pixel values %g..%g" % (domain["low"], domain["high"])
    else:
        what = "any real values"
    return "input %s: %s (%s)" % (entry.get("tf_name", entry["name"]), what, domain["reason"])


def footer(report):
    s = report["summary"]
    lines = []
    for r in report["outputs"]:
        extra = ""
        if "argmax_agree" in r:
            extra = ", argmax agrees on %d/%d" % (r["argmax_agree"], r["argmax_total"])
        own = ("own error rel %s (tolerance %.0e); " % (_fmt(r.get("own_rel")), r["own_tolerance"])
               if r.get("judged") == judge.OWN else "")
        tolerance = r.get("drift_tolerance")     # a row that was not compared has none
        lines.append("output %s %s: %sdrift max abs %s, max rel %s (tolerance %s)%s -> %s" % (
            r["layer"], "x".join(str(d) for d in r["shape"]), own, _fmt(r["max_abs"]), _fmt(r["max_rel"]),
            "-" if tolerance is None else "%.1e" % tolerance, extra, _status(r)))
    for acc in report.get("accuracy") or []:
        lines.append("accuracy on %d labelled inputs (%s): TF %.2f%%, Caffe %.2f%%; predictions agree on %d/%d"
                     % (acc["inputs"], acc["output"], 100 * acc["tf_accuracy"], 100 * acc["caffe_accuracy"],
                        acc["agree"], acc["inputs"]))
    by_note = OrderedDict()          # one line per composition, not one per layer
    for name, note in report["notes"].items():
        by_note.setdefault(note, []).append(name)
    for note, names in by_note.items():
        who = names[0] if len(names) == 1 else "%s and %d more" % (names[0], len(names) - 1)
        lines.append("note: %s: %s" % (who, note))
    if report.get("target"):
        detail = report.get("target_detail") or {}
        lines.append("target: %s%s" % (report["target"], " (%s; %s)" % (
            detail["source"], ", ".join(detail["optional_layers"]) or "no Clip, no Swish") if detail else ""))
    approx = report.get("approximations") or []
    for a in approx:
        lines.append("approximation: %s (%s): %s; measured vs TF: max abs %s, max rel %s (its input's max abs: %s)"
                     % (a["layer"], a["type"], a["method"], _fmt(a["max_abs"]), _fmt(a["max_rel"]),
                        _fmt(a.get("input_max_abs"))))
    if "approximations" in report and not approx:
        lines.append("approximations: none (every lowering is exact up to float32 round-off)")
    made = report.get("reference_inputs")
    if made:
        lines.append("reference inputs: %s%s" % (made["made"], " (seed %d)" % made["seed"] if "seed" in made else ""))
    lines += [line for line in (_input_line(e) for e in report.get("inputs", [])) if line]
    lines += _judged_lines(s)
    lines += runtime_check.footer_lines(report)
    lines.append("parity: %s (%d tensors compared on %d reference input(s)%s)"
                 % (runtime_check.overall(report).upper(), s["layers_compared"], report["batch"],
                    runtime_check.verified_in(report)))
    return "\n".join(lines)


def _judged_lines(s):
    lines = []
    if "judged_on_own_error" in s:
        text = "judged: %d tensor(s) on their lowering's own error" % s["judged_on_own_error"]
        if s.get("own_max_rel") is not None:
            text += " (largest %s relative)" % _fmt(s["own_max_rel"])
        if s.get("judged_end_to_end"):
            text += ", %d end to end%s" % (s["judged_end_to_end"], " (%s)" % s["end_to_end_because"]
                                           if s.get("end_to_end_because") else "")
        lines.append(text)
    if s.get("drift_above_tolerance"):
        lines.append("drift above its tolerance (shown, not failing where the layer's own error passes): %d "
                     "tensor(s), first %s" % (s["drift_above_tolerance"], s["first_drift_above_tolerance"]))
    if s["first_divergence"]:
        how = s.get("first_divergence_judged")
        lines.append("first layer that diverges: %s%s" % (s["first_divergence"], {
            judge.OWN: " (its own error fails: its lowering is wrong)",
            judge.END_TO_END: " (judged end to end)"}.get(how, "")))
    return lines


def manual(info):
    """--prototxt: which of your layers took which TF layer's weights, and settings that differ."""
    lines = ["your prototxt: TF layer -> your layers"]
    lines += ["  %s -> %s" % (m["tf_layer"], ", ".join(m["caffe_layers"])) for m in info["matched"]]
    lines += ["setting differs from TF's: %s" % d for d in info.get("param_differences", [])]
    return "\n".join(lines)
