"""--verify-with RUNTIME[,RUNTIME]: the written net run in other runtimes, and judged here (the one place:
runtimes only run, see runtimes/__init__.py for their contract).

After the Caffe parity check passes, each requested runtime runs the staged .prototxt + .caffemodel on the
reference inputs in a forked child (a runtime that crashes ends only the child), which also runs Caffe on
those files: every blob of a model tensor the runtime outputs is compared with Caffe's (tolerances.RUNTIME),
and the net's outputs with TF's reference values (tolerances.runtime_output_tolerance), relative to the
reference's largest magnitude as everywhere in the report (verify.compare). Each runtime gets a section
(`runtimes` in report.json); one that disagrees or cannot run the net fails the import with status 3
(report.publish), and one that is not installed is refused before converting (status 2).
"""
import json
import os
import time

from shared import forked
from shared.errors import UsageError
from shared.messages import clip, shown

from . import caffe_stage, tolerances, verify
from .layout import activation_view_in_tf
from .registry import runtime_parts, runtime_target_name
from .runtimes import RUNTIMES, RuntimeFailure

NOT_RUN = "not run"
_FAILING_SHOWN = 5


def requested(text):
    """The runtime modules `--verify-with` names (comma-separated, in order); UsageError (status 2) for an
    unknown name or a runtime that is not installed here, before anything is converted."""
    names = []
    for name in (text or "").split(","):
        if name.strip() and name.strip() not in names:
            names.append(name.strip())
    if text is not None and not names:
        raise UsageError("--verify-with: give a runtime (%s)" % ", ".join(sorted(RUNTIMES)))
    runtimes = []
    for name in names:
        if name not in RUNTIMES:
            raise UsageError("--verify-with: no runtime %s (known: %s)"
                             % (shown(name, 40), ", ".join(sorted(RUNTIMES))))
        why = RUNTIMES[name].unavailable()
        if why:
            raise UsageError("--verify-with %s: %s" % (name, why))
        runtimes.append(RUNTIMES[name])
    return runtimes


def target_for(requested_target, runtimes):
    """The --target to generate for: with `auto`, the one the requested runtimes need (their TARGET; for
    runtimes of different targets, the target joining them, e.g. mnn+opencv: one net that every one of them
    holds); an explicit target is kept (a runtime then runs the net as generated for it, which the report says)."""
    if requested_target not in (None, "auto") or not runtimes:
        return requested_target
    return runtime_target_name(r.TARGET for r in runtimes)


class Output(object):
    """A net output to judge: its Caffe blob, its TF name, TF's value (TF layout), its plan ref (layout and
    TF shape) and the tolerance of the runtime's value against TF's."""

    def __init__(self, blob, name, tf_value, ref, tolerance):
        self.blob, self.name, self.tf_value, self.ref, self.tolerance = blob, name, tf_value, ref, tolerance


def _compare(reference, value, tolerance, against):
    """verify.compare of a runtime's value (any shape holding the reference's values in its order)."""
    if value is not None and value.size == reference.size:
        value = value.reshape(reference.shape)
    row = verify.compare(reference, value, tolerances.Tolerance(tolerance, ""))
    if row.get("error"):
        row["error"] = ("NaN or Inf" if value is not None and value.shape == reference.shape else
                        "shape %r vs %s's %r" % (None if value is None else tuple(value.shape), against,
                                                   tuple(reference.shape)))
    return row


def judge(got, caffe_blobs, outputs):
    """The verdict of one runtime. got: {blob: its value}; caffe_blobs: [(blob, Caffe's value)] in net
    order; outputs: [Output]. Returns the section's measured fields (JSON)."""
    compared, failing = [], []
    for blob, value in caffe_blobs:
        if blob in got:
            row = _compare(value, got[blob], tolerances.RUNTIME.rel, "Caffe")
            compared.append((blob, row))
            if row["status"] != verify.OK:
                failing.append(dict(blob=blob, max_rel=row["max_rel"], error=row.get("error")))
    vs_caffe = dict(compared)
    out_rows = []
    for o in outputs:
        value = got.get(o.blob)
        row = {"output": o.name, "blob": o.blob, "vs_caffe_rel": vs_caffe.get(o.blob, {}).get("max_rel"),
               "vs_tf_tolerance": o.tolerance}
        if value is None:
            row.update(vs_tf_rel=None, status=verify.FAILED, error="the runtime did not output it")
        else:
            tf_row = _compare(o.tf_value, _view_in_tf(value, o.ref), o.tolerance, "TF")
            row.update(vs_tf_rel=tf_row["max_rel"], status=tf_row["status"])
            for key in ("argmax_agree", "argmax_total", "error"):
                if key in tf_row:
                    row[key] = tf_row[key]
        out_rows.append(row)
    rels = [(b, r["max_rel"]) for b, r in compared if r["max_rel"] is not None]
    worst = max(rels, key=lambda br: br[1]) if rels else None
    ok = not failing and all(r["status"] == verify.OK for r in out_rows)
    return {"status": verify.OK if ok else verify.FAILED, "blobs_compared": len(compared),
            "tolerance": tolerances.RUNTIME.rel, "worst": {"blob": worst[0], "max_rel": worst[1]} if worst else None,
            "failing": failing[:_FAILING_SHOWN], "failing_count": len(failing), "outputs": out_rows}


def _view_in_tf(value, ref):
    try:
        return activation_view_in_tf(value, ref.layout, ref.shape)
    except (ValueError, IndexError):      # another size: _compare reports the shape
        return value


def _child(runtime, prototxt, weights, inputs, outputs, tensors, result_path):
    caffe = caffe_stage.load_pycaffe()
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, weights, caffe.TEST)
    caffe_stage.feed(net, inputs)
    net.forward()
    first = [o.blob for o in outputs]
    want = first + [b for b in net.blobs if b in tensors and b not in inputs and b not in first]
    started = time.time()
    try:
        got = runtime.run(prototxt, weights, dict((k, v.copy()) for k, v in inputs.items()), list(want))
    except RuntimeFailure as exc:
        section = {"status": verify.FAILED, "error": str(exc)}
    else:
        section = judge(got, [(b, net.blobs[b].data) for b in want], outputs)
    section.update(seconds=round(time.time() - started, 2), blobs_offered=len(want))
    with open(result_path, "w") as f:
        json.dump(section, f)


def _section(runtime, net_target):
    section = {"name": runtime.NAME, "runtime": runtime.describe(), "target": runtime.TARGET,
               "net_target": net_target}
    if runtime.TARGET not in runtime_parts(net_target or ""):
        section["note"] = ("the net was generated for target %s, not %s: the runtime ran it as it is"
                           % (net_target, runtime.TARGET))
    return section


def check(runtimes, net_target, prototxt, weights, inputs, outputs, tensors, workdir, log):
    """One section per runtime: the written files run in it and judged (see the module docstring). tensors:
    the blobs holding the model's tensors (the ones Caffe's check compared), the only blobs compared: a
    lowering's inner blobs may hold values its next layer discards (a pooling's extra row, cropped away), which
    a runtime need not compute as Caffe does."""
    sections = []
    for runtime in runtimes:
        section = _section(runtime, net_target)
        log("running the net in %s (--verify-with %s)" % (section["runtime"], runtime.NAME))
        result_path = os.path.join(workdir, "runtime-%s.json" % runtime.NAME)
        log_path = os.path.join(workdir, "runtime-%s-log.txt" % runtime.NAME)
        result = forked.run_forked(lambda: _child(runtime, prototxt, weights, inputs, outputs, set(tensors), result_path),
                                   stderr_path=log_path)
        if result.ok:
            with open(result_path) as f:
                section.update(json.load(f))
        else:
            how = ("crashed (signal %d)" % result.signal if result.signal is not None else
                   "%s: %s" % (result.error_type, (result.message.splitlines() or [""])[0].strip()))
            section.update(status=verify.FAILED, error="the run %s" % how)
        sections.append(section)
    return sections


def not_run(runtimes, net_target, why):
    """The sections of runtimes that were not run (the Caffe parity check failed first)."""
    sections = []
    for runtime in runtimes:
        section = _section(runtime, net_target)
        section.update(status=NOT_RUN, error=why)
        sections.append(section)
    return sections


def all_ok(report):
    return all(s["status"] == verify.OK for s in report.get("runtimes") or [])


def first_failure(report):
    """The first section whose runtime disagreed or failed, or None."""
    return next((s for s in report.get("runtimes") or [] if s["status"] == verify.FAILED), None)


def _rel(value):
    return "-" if value is None else "%.2e" % value


def disagreement(section):
    """What a failed section found, in one phrase (the parity failure's message)."""
    if section.get("error"):
        return section["error"]
    if section.get("failing"):
        first = section["failing"][0]
        what = first.get("error") or "%s of its range, over the %.0e tolerance" % (_rel(first["max_rel"]),
                                                                                 section["tolerance"])
        return "blob %s differs from Caffe's: %s (%d blob(s) disagree)" % (
            shown(first["blob"], 80), what, section["failing_count"])
    bad = next(o for o in section["outputs"] if o["status"] != verify.OK)
    what = bad.get("error") or "%s of its range, over the %.1e tolerance" % (_rel(bad["vs_tf_rel"]),
                                                                           bad["vs_tf_tolerance"])
    if "argmax_agree" in bad and bad["argmax_agree"] < bad["argmax_total"]:
        what += ", argmax agrees on %d/%d" % (bad["argmax_agree"], bad["argmax_total"])
    return "output %s differs from TF's: %s" % (shown(bad["output"], 80), what)


def footer_lines(report):
    """One line per runtime for the printed footer."""
    lines = []
    for s in report.get("runtimes") or []:
        head = "runtime %s (%s%s)" % (s["name"], s["runtime"], "; net target %s" % s["net_target"]
                                      if s["net_target"] != s["target"] else "")
        if s["status"] == NOT_RUN:
            lines.append("%s: not run: %s" % (head, s["error"]))
            continue
        if "blobs_compared" not in s:
            lines.append("%s: FAILED: %s" % (head, s["error"]))
            continue
        worst = s["worst"] or {}
        text = "%s: %d blobs compared with Caffe's, worst %s %s (tolerance %.0e)" % (
            head, s["blobs_compared"], clip(str(worst.get("blob", "-")), 40), _rel(worst.get("max_rel")),
            s["tolerance"])
        for o in s["outputs"]:
            text += "; output %s vs TF %s (tolerance %.1e)" % (clip(o["output"], 40), _rel(o["vs_tf_rel"]),
                                                              o["vs_tf_tolerance"])
        text += " -> %s" % s["status"].upper()
        if s["status"] != verify.OK:
            text += ": %s" % disagreement(s)
        lines.append(text)
    return lines


def overall(report):
    """The import's verdict: Caffe's parity status, failed when a requested runtime failed."""
    status = report["summary"]["status"]
    return verify.FAILED if status == verify.OK and not all_ok(report) else status


def verified_in(report):
    """"; then run in opencv (ok)" for the parity line: each requested runtime and its status."""
    sections = report.get("runtimes") or []
    if not sections:
        return ""
    return "; then run in %s" % ", ".join("%s (%s)" % (s["name"], s["status"]) for s in sections)
