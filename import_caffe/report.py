"""The parity report, for both kinds of net (generated, or yours with --prototxt): the report.json content
(build), its publishing with the model files (publish), and the table printed for the user."""
import json
import os
from collections import OrderedDict

from shared.errors import ParityError

from . import __version__, compare, layout, report_html, tolerances, verify

# how a user feeds each kind of input: TF (N,H,W,C) -> NCHW, TF (N,L,C) -> (N,C,1,L), TF (N,C) -> NC
_LAYOUT_NAMES = {layout.IMAGE: "NCHW", layout.SEQUENCE: "NC1L (TF's (N, L, C) as (N, C, 1, L))"}


def input_layout_name(ref_layout):
    """How a user feeds an input of this layout to the Caffe net (shown in the reports)."""
    return _LAYOUT_NAMES.get(ref_layout.kind, "NC")


def _input_entry(entry, ref, net, value):
    out = {"name": net.input_blob(entry["name"])}
    if net.maps_inputs:
        out["tf_name"] = entry["name"]
    out.update({"caffe_shape": ["N"] + layout.caffe_shape(ref.shape, ref.layout), "tf_shape": ["N"] + list(ref.shape),
                "layout": input_layout_name(ref.layout)})
    if value is not None and value.size:
        out["reference_range"] = {"min": float(value.min()), "mean": float(value.mean()), "max": float(value.max())}
    return out


def build(bundle_path, manifest, target, plan, net, rows, accuracy, inputs):
    """The report.json content. rows: compare.rows; inputs: Caffe input blob -> the reference values fed."""
    output_rows = [r for r in rows if r["output"]]
    report = {
        "tool": "tf2caffe.import_caffe %s" % __version__, "bundle": os.path.abspath(bundle_path),
        "model": manifest["model_name"], "source": manifest["source"], "producer": manifest["producer"],
        "target": target.name, "batch": manifest["reference"]["batch"],
        "summary": verify.summarize(rows, output_rows),
        "target_detail": {"name": target.name, "source": target.source, "optional_layers": target.layers()},
        "approximations": compare.approximations(manifest, rows),
        "inputs": [_input_entry(e, plan.refs[e["tensor"]], net, inputs.get(net.input_blob(e["name"])))
                   for e in manifest["inputs"]],
        "outputs": output_rows, "layers": rows, "notes": plan.notes,
        "tolerances": {"default": {"rel": tolerances.DEFAULT.rel, "reason": tolerances.DEFAULT.reason}},
        "accuracy": accuracy,
        "files": dict(net.files),
    }
    report.update(net.report_fields())
    return report


def publish(report, staging, out_dir, net):
    """Write report.json and report.html into the staging folder, then give the files their final names
    in out_dir: the model files only when parity holds, the report in any case and last (it vouches for
    the files next to it, so a run killed between these renames never leaves a new report beside old
    files). Returns the report, or raises ParityError (with the report) when parity fails."""
    summary = report["summary"]
    ok = summary["status"] == verify.OK
    models = [report["files"]["prototxt"], report["files"]["weights"]] if ok else []
    if not ok:
        report["files"] = {}
    with open(os.path.join(staging, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    report_html.write(report, os.path.join(staging, "report.html"))
    for name in models + ["report.html", "report.json"]:
        os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
    if not ok:
        raise ParityError("parity check failed for %s: first diverging layer %s%s; see %s"
                          % (net.subject, summary["first_divergence"], net.parity_hint(),
                             os.path.join(out_dir, "report.json")), report)
    return report


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


def table(report, max_rows=None):
    rows = report["layers"]
    header = ("TF layer", "type", "Caffe layers", "shape", "max abs", "max rel", "status")
    lines = []
    body = [(r["layer"], r["type"], _caffe_names(r["caffe_layers"], r["layer"]), "x".join(str(d) for d in r["shape"]),
             _fmt(r["max_abs"]), _fmt(r["max_rel"]), r["status"]) for r in rows]
    if max_rows is not None and len(body) > max_rows:
        keep = [b for b in body if b[-1] != "ok"][:max_rows]
        body = keep if keep else body[-max_rows:]
        lines.append("(showing %d of %d compared tensors; report.json has them all)" % (len(body), len(rows)))
    widths = [min(max(len(str(x[i])) for x in [header] + body), 40) for i in range(len(header))]
    for row in [header] + body:
        lines.append("  ".join(str(v)[:40].ljust(widths[i]) for i, v in enumerate(row)).rstrip())
    return "\n".join(lines)


def footer(report):
    s = report["summary"]
    lines = []
    for r in report["outputs"]:
        extra = ""
        if "argmax_agree" in r:
            extra = ", argmax agrees on %d/%d" % (r["argmax_agree"], r["argmax_total"])
        tolerance = r.get("tolerance")     # a row that was not compared has none
        lines.append("output %s %s: max abs %s, max rel %s (tolerance %s)%s -> %s" % (
            r["layer"], "x".join(str(d) for d in r["shape"]), _fmt(r["max_abs"]), _fmt(r["max_rel"]),
            "-" if tolerance is None else "%.0e" % tolerance, extra, r["status"]))
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
    if s["first_divergence"]:
        lines.append("first layer that diverges: %s" % s["first_divergence"])
    lines.append("parity: %s (%d tensors compared on %d reference input(s))"
                 % (s["status"].upper(), s["layers_compared"], report["batch"]))
    return "\n".join(lines)


def manual(info):
    """--prototxt: which of your layers took which TF layer's weights, and settings that differ."""
    lines = ["your prototxt: TF layer -> your layers"]
    lines += ["  %s -> %s" % (m["tf_layer"], ", ".join(m["caffe_layers"])) for m in info["matched"]]
    lines += ["setting differs from TF's: %s" % d for d in info.get("param_differences", [])]
    return "\n".join(lines)
