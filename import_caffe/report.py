"""The parity report: report.json content and the table printed for the user."""
from collections import OrderedDict


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
        lines.append("output %s %s: max abs %s, max rel %s (tolerance %.0e)%s -> %s" % (
            r["layer"], "x".join(str(d) for d in r["shape"]), _fmt(r["max_abs"]), _fmt(r["max_rel"]),
            r["tolerance"], extra, r["status"]))
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
