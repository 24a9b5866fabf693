"""report.json -> report.html: one self-contained page (no scripts, no external files) with the parity
table, a plot of the difference per layer in network order (inline SVG drawn here: the Caffe environment
needs no plotting library), the approximations used and the input the Caffe net expects.

Every name comes from an untrusted bundle: everything shown goes through `_e` (html.escape)."""
import html
import math

from . import runtime_check

STATUS_COLOURS = {"ok": "#1a7f37", "inaccurate": "#b35900", "failed": "#cf222e", "not compared": "#6e7781"}
_FLOOR_EXP = -10    # the plot's lowest decade: differences of exactly 0 are drawn there


def _e(value):
    return html.escape(str(value), quote=True)


def _num(value):
    return "-" if value is None else "%.2e" % value


def _shape(shape):
    return " &times; ".join(_e(d) for d in shape)


def _status_class(status):
    return "s-" + str(status).replace(" ", "-")


def _status(row):
    if row.get("judged") == "own error" and row.get("drift_status") == "above":
        return "%s (drift above its tolerance)" % row["status"]
    return row["status"]


def _table(report):
    out = ['<table class="layers"><thead><tr><th>#</th><th>TF layer</th><th>type</th><th>Caffe layers</th>'
           '<th>shape (TF, no batch)</th><th>own error (max rel)</th><th>own tolerance</th>'
           '<th>drift (max rel)</th><th>drift tolerance</th><th>judged on</th><th>status</th>'
           '<th>note</th></tr></thead><tbody>']
    for i, row in enumerate(report["layers"]):
        note = row.get("note") or row.get("error") or ""
        if row.get("own_note"):
            note = (note + ". " if note else "") + "own error not measured: " + row["own_note"]
        if "argmax_agree" in row:
            note = ("argmax agrees on %d/%d. " % (row["argmax_agree"], row["argmax_total"])) + note
        out.append('<tr class="%s"><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
                   '<td>%s</td><td>%s</td><td>%s</td><td class="status">%s</td><td>%s</td></tr>'
                   % (_status_class(row["status"]), i + 1, _e(row["layer"]) + (" (output)" if row.get("output") else ""),
                      _e(row["type"]), "<br>".join(_e(n) for n in row.get("caffe_layers") or []) or "(reused)",
                      _shape(row["shape"]), _num(row.get("own_rel")), _num(row.get("own_tolerance")),
                      _num(row.get("max_rel")), _num(row.get("drift_tolerance")), _e(row.get("judged") or "-"),
                      _e(_status(row)), _e(note)))
    out.append("</tbody></table>")
    return "\n".join(out)


def _plot(report, width=900, height=260):
    """Per compared tensor, in network order, log scale: its own error (dots, coloured by status) and its
    end-to-end drift (grey line), the own tolerance (dashed red) and each tensor's drift tolerance
    (dotted grey line)."""
    rows = report["layers"]
    if not rows:
        return "<p>No tensors.</p>"
    left, right, top, bottom = 60, 10, 10, 30
    w, h = width - left - right, height - top - bottom
    own = [r.get("own_rel") if r.get("judged") == "own error" else r.get("max_rel") for r in rows]
    drift = [r.get("max_rel") for r in rows]
    finite = [v for v in own + drift + [r.get("drift_tolerance") for r in rows] if v]
    hi_exp = max(0, int(math.ceil(math.log10(max(finite))))) if finite else 0
    lo_exp = min(_FLOOR_EXP, int(math.floor(math.log10(min(finite))))) if finite else _FLOOR_EXP

    def y_of(value):
        exp = _FLOOR_EXP if not value else max(lo_exp, math.log10(value))
        return top + h * (hi_exp - exp) / float(hi_exp - lo_exp)

    def x_of(i):
        return left + (w * (i + 0.5) / len(rows))

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" '
             'aria-label="own error and drift per layer">' % (width, height, width, height),
             '<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" stroke="#d0d7de"/>' % (left, top, w, h)]
    for exp in range(lo_exp, hi_exp + 1, 2):
        y = y_of(10.0 ** exp)
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eaeef2"/>' % (left, left + w, y, y))
        parts.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end" dominant-baseline="middle">1e%d</text>'
                     % (left - 4, y, exp))
    tols = sorted(set(r["own_tolerance"] for r in rows if r.get("own_tolerance")))
    for tol in tols:
        y = y_of(tol)
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#cf222e" stroke-dasharray="6 4">'
                     '<title>own-error tolerance %s</title></line>' % (left, left + w, y, y, _num(tol)))
    compared = [i for i, r in enumerate(rows) if r["status"] != "not compared"]
    for values, style, what in (([r.get("drift_tolerance") for r in rows], 'stroke="#8c959f" stroke-dasharray="2 3"',
                                 "drift tolerance"), (drift, 'stroke="#8c959f"', "drift")):
        line = ["%.1f,%.1f" % (x_of(i), y_of(values[i])) for i in compared if values[i] is not None]
        if len(line) > 1:
            parts.append('<polyline fill="none" %s stroke-width="1" points="%s"><title>%s</title></polyline>'
                         % (style, " ".join(line), what))
    for i in compared:
        row, value = rows[i], own[i]
        parts.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%d. %s (%s): %s %s, drift %s, %s</title>'
                     '</circle>' % (x_of(i), y_of(value), STATUS_COLOURS.get(row["status"], "#000"), i + 1,
                                    _e(row["layer"]), _e(row["type"]),
                                    "own error" if row.get("judged") == "own error" else "drift (judged end to end)",
                                    _num(value), _num(row.get("max_rel")), _e(_status(row))))
    parts.append('<text x="%d" y="%d" font-size="11" text-anchor="middle">layers in network order (1 to %d): dots, '
                 'own error; line, end-to-end drift; a difference of exactly 0 is drawn at 1e%d</text>'
                 % (left + w // 2, height - 8, len(rows), lo_exp))
    parts.append("</svg>")
    return "\n".join(parts)


def _approximations(report):
    """report["approximations"]: [{layer, type, method, max_abs, max_rel, input_max_abs}] (other keys shown
    as they come)."""
    if "approximations" not in report:
        return "<p>This report does not record approximations.</p>"
    items = report["approximations"]
    if not items:
        return "<p>None: every layer is lowered exactly (up to float32 round-off).</p>"
    if isinstance(items, dict):
        items = [dict(layer=k, **(v if isinstance(v, dict) else {"note": v})) for k, v in items.items()]
    out = ["<table><thead><tr><th>TF layer</th><th>type</th><th>approximation</th><th>max abs vs TF</th>"
           "<th>max rel vs TF</th><th>error already in its input (max abs)</th><th>more</th></tr></thead><tbody>"]
    known = ("layer", "type", "method", "max_abs", "max_rel", "input_max_abs")
    for item in items:
        if not isinstance(item, dict):
            item = {"method": item}
        more = "; ".join("%s: %s" % (_e(k), _e(_num(v) if isinstance(v, float) else v))
                         for k, v in item.items() if k not in known)
        out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
            _e(item.get("layer", "-")), _e(item.get("type", "-")), _e(item.get("method", "-")),
            _num(item.get("max_abs")), _num(item.get("max_rel")), _num(item.get("input_max_abs")), more))
    out.append("</tbody></table>")
    return "\n".join(out)


def _domain(entry):
    domain = entry.get("domain")
    if not domain:
        return "-"
    if domain.get("kind") == "ids":
        text = "ids in [%s, %s): Caffe's Embed does no range check, feed only these" % (domain.get("low"),
                                                                                     domain.get("high"))
    elif domain.get("kind") == "pixels":
        text = "pixel values %s..%s" % (domain.get("low"), domain.get("high"))
    else:
        text = "any real values"
    return "%s (%s)" % (text, domain.get("reason", ""))


def _inputs(report):
    made = report.get("reference_inputs") or {}
    out = []
    if made:
        out.append("<p>Reference inputs: %s%s.</p>" % (_e(made.get("made")), " (seed %s)" % _e(made["seed"])
                                                         if "seed" in made else ""))
    out.append("<table><thead><tr><th>input blob</th><th>Caffe shape</th><th>TF shape</th><th>layout</th>"
               "<th>reference values (min / mean / max)</th><th>values the model expects</th></tr></thead><tbody>")
    for entry in report.get("inputs", []):
        rng = entry.get("reference_range")
        rng_text = ("%.4g / %.4g / %.4g" % (rng["min"], rng["mean"], rng["max"])) if rng else "-"
        out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                   % (_e(entry["name"]), _shape(entry["caffe_shape"]), _shape(entry["tf_shape"]),
                      _e(entry["layout"]), _e(rng_text), _e(_domain(entry))))
    out.append("</tbody></table>")
    out.append("<p>Feed Caffe the same values you fed TensorFlow, only transposed: an image input is NCHW "
               "(<code>x.transpose(0, 3, 1, 2)</code> of TF's NHWC), a sequence input is (N, C, 1, L) "
               "(<code>x.transpose(0, 2, 1)[:, :, None, :]</code> of TF's (N, L, C)). The converter adds no preprocessing: no "
               "mean subtraction, no scaling, and the channel order is the TF model's own (no RGB/BGR swap). "
               "If the model was trained on preprocessed images, apply that same preprocessing before Caffe. "
               "The range above is that of the reference inputs the parity was measured on.</p>")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#1f2328}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
tr.s-ok td.status{background:#dafbe1}
tr.s-inaccurate td, tr.s-inaccurate td.status{background:#fff1e5}
tr.s-failed td, tr.s-failed td.status{background:#ffebe9}
tr.s-not-compared td{color:#6e7781}
.verdict{font-size:1.2em;font-weight:bold}
code{background:#f6f8fa;padding:0 3px}"""


def render(report):
    s = report["summary"]
    head = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            "<title>tf2caffe parity report: %s</title>" % _e(report["model"]), "<style>%s</style>" % _CSS,
            "</head><body>", "<h1>tf2caffe parity report: %s</h1>" % _e(report["model"])]
    status = runtime_check.overall(report)
    verdict = '<p class="verdict" style="color:%s">parity: %s</p>' % (STATUS_COLOURS.get(status, "#000"),
                                                                       _e(status.upper()))
    facts = ["%d tensors compared on %d reference input(s); largest relative difference on an output: %s"
             % (s["layers_compared"], report["batch"], _num(s.get("outputs_max_rel")))]
    if s.get("judged_on_own_error") is not None:
        facts.append("%d tensor(s) judged on their lowering's own error (largest %s), %d end to end%s" % (
            s["judged_on_own_error"], _num(s.get("own_max_rel")), s.get("judged_end_to_end", 0),
            " (%s)" % s["end_to_end_because"] if s.get("end_to_end_because") else ""))
    if s.get("drift_above_tolerance"):
        facts.append("drift above its tolerance on %d tensor(s), first %s (shown, not failing where the layer's own "
                     "error passes)" % (s["drift_above_tolerance"], s.get("first_drift_above_tolerance")))
    if s.get("first_divergence"):
        facts.append("first layer that diverges: %s%s" % (s["first_divergence"], {
            "own error": " (its own error fails: its lowering is wrong)",
            "end to end": " (judged end to end)"}.get(s.get("first_divergence_judged"), "")))
    facts.append("source: %s (%s); exported by %s %s with TensorFlow %s, Keras %s; Caffe target %s" % (
        report["source"].get("path"), report["source"].get("format"), report["producer"].get("name"),
        report["producer"].get("version"), report["producer"].get("tensorflow"), report["producer"].get("keras"),
        report.get("target")))
    files = report.get("files") or {}
    if files:
        facts.append("files: " + ", ".join(str(v) for v in files.values()) +
                     (" (kept with --keep-on-failure: they FAILED verification)"
                      if report.get("files_failed_verification") else ""))
    for acc in report.get("accuracy") or []:
        facts.append("accuracy on %d labelled inputs (%s): TF %.2f%%, Caffe %.2f%%; predictions agree on %d/%d"
                     % (acc["inputs"], acc["output"], 100 * acc["tf_accuracy"], 100 * acc["caffe_accuracy"],
                        acc["agree"], acc["inputs"]))
    manual = report.get("manual")
    body = [verdict, "<ul>%s</ul>" % "".join("<li>%s</li>" % _e(f) for f in facts)]
    if manual:
        body += ["<h2>Your prototxt: what matched</h2>", _manual(manual)]
    body += ["<h2>Difference per layer</h2>", _plot(report),
             "<h2>Per-layer parity</h2>", _table(report),
             "<h2>Approximations</h2>", _approximations(report)]
    if report.get("runtimes"):
        body += ["<h2>Other runtimes (--verify-with)</h2>", _runtimes(report)]
    notes = report.get("notes") or {}
    if notes:
        body += ["<h2>Compositions</h2>", "<ul>%s</ul>" % "".join(
            "<li>%s: %s</li>" % (_e(k), _e(v)) for k, v in notes.items())]
    body += ["<h2>What the Caffe net expects</h2>", _inputs(report)]
    body.append(_tolerances(report))
    return "\n".join(head + body + ["</body></html>", ""])


def _runtimes(report):
    """One row per runtime: what it is, how many blobs it output, the worst against Caffe, each output
    against TF, its verdict."""
    out = ['<table><thead><tr><th>runtime</th><th>version</th><th>net target</th><th>blobs compared with Caffe</th>'
           '<th>worst blob (max rel)</th><th>outputs vs TF (max rel, tolerance)</th><th>status</th><th>note</th>'
           '</tr></thead><tbody>']
    for r in report["runtimes"]:
        worst = r.get("worst") or {}
        outputs = "<br>".join("%s: %s (%s)" % (_e(o["output"]), _num(o.get("vs_tf_rel")), _num(o["vs_tf_tolerance"]))
                              for o in r.get("outputs") or [])
        note = runtime_check.disagreement(r) if r["status"] == "failed" else (r.get("error") or r.get("note") or "")
        out.append('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s %s</td><td>%s</td>'
                   '<td class="status">%s</td><td>%s</td></tr>'
                   % (_status_class(r["status"]), _e(r["name"]), _e(r["runtime"]), _e(r["net_target"]),
                      _e(r.get("blobs_compared", "-")), _e(worst.get("blob", "")), _num(worst.get("max_rel")),
                      outputs or "-", _e(r["status"]), _e(note)))
    out.append("</tbody></table>")
    tol = (report.get("tolerances") or {}).get("runtime")
    if tol:
        out.append("<p>Each blob a runtime outputs is compared with Caffe&#x27;s blob of that name, within %s "
                   "relative (%s); its outputs with TF&#x27;s within the tolerance Caffe&#x27;s outputs were held "
                   "to, at least %s.</p>" % (_num(tol["rel"]), _e(tol["reason"]), _num(tol["rel"])))
    return "\n".join(out)


def _tolerances(report):
    tols = report.get("tolerances") or {}
    own, drift = tols.get("own") or tols.get("default"), tols.get("drift")
    out = []
    if own:
        out.append("<p>A layer passes when its own error &mdash; its Caffe layers run on TF&#x27;s values of its "
                   "inputs, max |Caffe &minus; TF| &le; %s &times; max |TF| &mdash; is within tolerance (%s).</p>"
                   % (_num(own["rel"]), _e(own["reason"])))
    if drift:
        out.append("<p>Drift, the whole net run on the reference inputs against TF&#x27;s model, is shown beside "
                   "it with its tolerance %s; it decides only where a layer&#x27;s own error cannot be measured "
                   "(a bundle without per-layer activations).</p>" % _e(drift["reason"]))
    return "\n".join(out)


def _manual(manual):
    out = ["<table><thead><tr><th>TF layer</th><th>your Caffe layer</th><th>result</th></tr></thead><tbody>"]
    for m in manual.get("matched", []):
        out.append("<tr class=\"s-ok\"><td>%s</td><td>%s</td><td class=\"status\">filled</td></tr>"
                   % (_e(m["tf_layer"]), _e(", ".join(m["caffe_layers"]))))
    out.append("</tbody></table>")
    if manual.get("layers_without_weights"):
        out.append("<p>Your layers without weights: %s</p>" % _e(", ".join(manual["layers_without_weights"])))
    differences = manual.get("param_differences") or []
    if differences:
        out.append("<p>Settings of your layers that differ from the generated ones:</p><ul>%s</ul>"
                   % "".join("<li>%s</li>" % _e(d) for d in differences))
    else:
        out.append("<p>Settings of your layers that differ from the generated ones: none.</p>")
    return "\n".join(out)


def write(report, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(report))
