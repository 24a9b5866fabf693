"""`make bench`'s recurrent models (bench/make_model.py: lstm, lstm_hard, gru, bilstm at --steps): what a
recurrent layer costs in Caffe's forward pass against the same model's TF run on the same batch.

For each model and length: the model is exported and imported as `make export` / `make import` do (wall
times), then one batch of BATCH sequences runs through TF (Keras' predict_on_batch, bench/forward_tf.py)
and through the converted Caffe net (net.forward(), bench/forward_caffe.py), each in its own process on
`threads` threads (TF's pools; OpenBLAS and OpenMP for Caffe) after two warm-up passes: the median (and
the min) of at least RUNS passes taking SECONDS in all, so that a short burst of other work moves the
median less. Caffe's output is checked against TF's on that batch. The import's note says how the layer
was lowered (Caffe's LSTM or unrolled) and into how many layers."""
import json
import os
import shutil
import subprocess

import numpy as np

import make_model
import measure

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KINDS = make_model.RECURRENT
BATCH, RUNS, SECONDS = 16, 15, 3.0


def _figures(cmd, what):
    """Run one timing script; its JSON line."""
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2"))
    if proc.returncode != 0:
        raise SystemExit("bench: %s failed (exit %d):\n%s" % (what, proc.returncode, proc.stderr[-3000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_model(kind, steps, threads, work, log, tf_python, caffe_cmd, check):
    name = "%s_%d" % (kind, steps)
    folder = os.path.join(work, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    model, bundle, out = (os.path.join(folder, f) for f in (name + ".keras", name + ".npz", "caffe"))
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    log("%s: building the model" % name)
    check(measure.run("make", [tf_python(), os.path.join(HERE, "make_model.py"), name, model], env=env))
    exported = check(measure.run("export", [tf_python(), "-m", "export_tf", model, "-o", bundle, "-q"], env=env,
                                 cwd=ROOT))
    os.makedirs(out)
    imported = check(measure.run("import", caffe_cmd([folder], ["-m", "import_caffe", bundle, "-o", out, "-q"]),
                                 cwd=ROOT))
    report = json.load(open(os.path.join(out, "report.json")))
    notes = sorted(set(r["note"] for r in report["layers"] if r.get("note")))
    x = os.path.join(folder, "batch.npy")
    np.save(x, np.random.default_rng(0).standard_normal((BATCH, steps, make_model.CHANNELS)).astype(np.float32))
    tf_out = os.path.join(folder, "tf_out.npy")
    log("%s: timing TF" % name)
    tf = _figures([tf_python(), os.path.join(HERE, "forward_tf.py"), model, x, tf_out, str(RUNS), str(SECONDS),
                   str(threads)], "TF forward")
    log("%s: timing Caffe" % name)
    caffe = _figures(caffe_cmd([folder], [os.path.join(HERE, "forward_caffe.py"),
                                          os.path.join(out, report["files"]["prototxt"]),
                                          os.path.join(out, report["files"]["weights"]), x, tf_out, str(RUNS),
                                          str(SECONDS)],
                               env=[("OPENBLAS_NUM_THREADS", str(threads)), ("OMP_NUM_THREADS", str(threads))]),
                     "Caffe forward")
    result = {"model": kind, "steps": steps, "batch": BATCH, "threads": threads, "status": report["summary"]["status"],
              "lowering": "; ".join(notes), "caffe_layers": caffe["layers"], "net_layers": caffe["net_layers"],
              "tf_ms": 1e3 * tf["median_s"], "tf_min_ms": 1e3 * tf["min_s"], "caffe_min_ms": 1e3 * caffe["min_s"],
              "caffe_ms": 1e3 * caffe["median_s"], "caffe_max_rel_vs_tf": caffe["max_rel_vs_tf"],
              "export_s": round(exported.wall, 2), "import_s": round(imported.wall, 2)}
    result["ratio"] = result["caffe_ms"] / result["tf_ms"]
    log("%s: %d Caffe layers, TF %.1f ms, Caffe %.1f ms per batch of %d (%.2fx), Caffe's output %.1e from "
        "TF's; %s" % (
        name, result["caffe_layers"], result["tf_ms"], result["caffe_ms"], BATCH, result["ratio"],
        result["caffe_max_rel_vs_tf"], result["lowering"]))
    return result


def table(results):
    lines = ["| model | steps | lowering | Caffe layers | TF predict ms, median (min) | Caffe forward ms, median (min) "
             "| Caffe / TF | "
             "Caffe vs TF, max rel | export s | import s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        how = "Caffe's LSTM" if "Caffe's LSTM" in r["lowering"] else "unrolled"
        lines.append("| %s | %d | %s | %d | %.1f (%.1f) | %.1f (%.1f) | %.2fx | %.0e | %.1f | %.1f |" % (
            r["model"], r["steps"], how, r["caffe_layers"], r["tf_ms"], r["tf_min_ms"], r["caffe_ms"],
            r["caffe_min_ms"], r["ratio"],
            r["caffe_max_rel_vs_tf"], r["export_s"], r["import_s"]))
    return "\n".join(lines)
