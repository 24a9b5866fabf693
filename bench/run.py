"""`make bench`: how close the conversion comes to the frameworks' own I/O, in time and memory.

For each model it runs, each phase in its own process tree measured from outside (bench/measure.py):

  export floor   Keras loads the model and writes its weights (save_weights)       TF environment
                 (a TF1 checkpoint: TF restores it and runs the graph once)
  export         python -m export_tf MODEL -o BUNDLE                               TF environment
  import         python -m import_caffe BUNDLE -o OUT                              Caffe environment
  import floor   stock pycaffe loads the produced .prototxt + weights, saves them  Caffe environment

and prints each phase's wall time and peak memory with its ratio to its floor. Models: VGG16, VGG19,
ResNet50 (keras.applications, weights=None: random) and "big", a few huge Dense layers holding
--big-gb GB of float32 weights (over protobuf's 2 GB limit: the weights go to Caffe's HDF5 format); and
two TF1 checkpoints for the graph front end, "slim_vgg16" (TF-Slim's vgg_16) and "big_ckpt" (three
MatMul layers of --big-gb GB), saved with their momentum slots.

The recurrent models (lstm, lstm_hard, gru, bilstm; not run unless named) measure something else: the
converted net's Caffe forward time per batch against the same model's TF run, at each of --steps
(bench/rnn.py).

  python bench/run.py [--models vgg16,vgg19,resnet50,big,slim_vgg16,big_ckpt] [--big-gb 3.2] [--workdir build/bench]
  python bench/run.py --models lstm,lstm_hard,gru,bilstm [--steps 64,256] [--threads 1]
"""
import argparse
import json
import os
import platform
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import measure  # noqa: E402
import rnn  # noqa: E402

CAFFE_RUN = os.path.join(ROOT, "docker", "caffe-run")
MODELS = ("vgg16", "vgg19", "resnet50", "big", "slim_vgg16", "big_ckpt")
# TF1 checkpoints (the graph front end): their input placeholder and output op (bench/make_model.py)
CHECKPOINT_INPUTS = {"slim_vgg16": ("images", "vgg_16/fc8/squeezed"), "big_ckpt": ("x", "logits")}


def tf_python():
    return os.environ.get("TF2CAFFE_PYTHON") or os.path.join(ROOT, ".venv", "bin", "python")


def has_caffe():
    try:
        import importlib.util
        return importlib.util.find_spec("caffe") is not None
    except Exception:
        return False


def caffe_cmd(binds, argv, env=()):
    """A command line in the Caffe environment: directly where this Python has caffe, else caffe-run."""
    pre = ["env"] + ["%s=%s" % kv for kv in env]
    if has_caffe():
        return pre + ["python3"] + argv
    cmd = [CAFFE_RUN]
    for b in binds:
        cmd += ["--bind", b]
    return cmd + pre + ["python3"] + argv


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "nproc": os.cpu_count(), "ram_gb": round(mem / 2 ** 30, 1),
            "system": "%s %s" % (platform.system(), platform.release()),
            "load_before": os.getloadavg()[0]}


def check(m):
    if m.returncode != 0:
        raise SystemExit("bench: %s failed (exit %s):\n%s" % (m.name, m.returncode, m.stderr[-3000:]))
    return m


def timings(stderr):
    """The import's own phase timings (TF2CAFFE_TIMINGS=1): [(phase, seconds)]."""
    return [(m.group(1), float(m.group(2))) for m in re.finditer(r"timing: (.+?) ([0-9.]+)s$", stderr, re.M)]


def bench_model(name, work, big_gb, log):
    folder = os.path.join(work, name)
    os.makedirs(folder, exist_ok=True)
    ckpt = name in CHECKPOINT_INPUTS
    model = os.path.join(folder, name + (".ckpt" if ckpt else ".keras"))
    bundle = os.path.join(folder, name + ".npz")
    out = os.path.join(folder, "caffe")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    log("%s: building the model" % name)
    check(measure.run("make", [tf_python(), os.path.join(HERE, "make_model.py"), name, model, str(big_gb)],
                             env=env))
    if ckpt:
        inp, output = CHECKPOINT_INPUTS[name]
        weight_bytes = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
                           if f.startswith(name + ".ckpt.data-"))
        floor = [tf_python(), os.path.join(HERE, "floor_tf_ckpt.py"), model, inp, output]
        extra = ["--outputs", output]
    else:
        weight_bytes = os.path.getsize(model)
        floor = [tf_python(), os.path.join(HERE, "floor_tf.py"), model, os.path.join(folder, "floor.weights.h5")]
        extra = []
    result = {"model": name, "model_file_bytes": weight_bytes, "phases": {}}
    phases = result["phases"]

    def record(m):
        phases[m.name] = {"wall_s": round(m.wall, 2), "maxrss_bytes": m.maxrss, "tree_peak_bytes": m.tree_peak}
        log("%s: %-13s %7.1f s   max RSS %6.2f GB   tree peak %6.2f GB"
            % (name, m.name, m.wall, m.maxrss / 1e9, m.tree_peak / 1e9))
        return m

    record(check(measure.run("export floor", floor, env=env)))
    if not ckpt:
        os.unlink(os.path.join(folder, "floor.weights.h5"))
    for old in (bundle, out):   # like the floors, write fresh files (replacing a file costs the file system more)
        if os.path.isdir(old):
            shutil.rmtree(old)
        elif os.path.exists(old):
            os.unlink(old)
    m = record(check(measure.run("export", [tf_python(), "-m", "export_tf", model, "-o", bundle, "-q"] + extra,
                                 env=dict(env, TF2CAFFE_TIMINGS="1"), cwd=ROOT)))
    phases["export"]["timings"] = timings(m.stderr)
    os.makedirs(out, exist_ok=True)
    m = record(check(measure.run("import", caffe_cmd([folder], ["-m", "import_caffe", bundle, "-o", out, "-q"],
                                                     env=[("TF2CAFFE_TIMINGS", "1")]), cwd=ROOT)))
    phases["import"]["timings"] = timings(m.stderr)
    report = json.load(open(os.path.join(out, "report.json")))
    proto = os.path.join(out, report["files"]["prototxt"])
    weights = os.path.join(out, report["files"]["weights"])
    resaved = os.path.join(folder, "floor" + (".caffemodel.h5" if weights.endswith(".h5") else ".caffemodel"))
    record(check(measure.run("import floor", caffe_cmd([folder], [os.path.join(HERE, "floor_caffe.py"), proto,
                                                                  weights, resaved]), cwd=ROOT)))
    os.unlink(resaved)
    result.update(weights_file=os.path.basename(weights), weights_bytes=os.path.getsize(weights),
                  bundle_bytes=os.path.getsize(bundle), status=report["summary"]["status"],
                  layers_compared=report["summary"]["layers_compared"])
    for kind in ("export", "import"):
        p, f = phases[kind], phases[kind + " floor"]
        result[kind + "_time_ratio"] = round(p["wall_s"] / f["wall_s"], 2)
        result[kind + "_mem_ratio"] = round(p["tree_peak_bytes"] / max(f["tree_peak_bytes"], 1), 2)
    return result


def table(results):
    lines = ["| model | weights | phase | wall s | floor s | time ratio | peak GB | floor GB | memory ratio |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for kind in ("export", "import"):
            p, f = r["phases"][kind], r["phases"][kind + " floor"]
            lines.append("| %s | %.0f MB %s | %s | %.1f | %.1f | %.2fx | %.2f | %.2f | %.2fx |" % (
                r["model"], r["weights_bytes"] / 1e6, "HDF5" if r["weights_file"].endswith(".h5") else "protobuf",
                kind, p["wall_s"], f["wall_s"], r[kind + "_time_ratio"], p["tree_peak_bytes"] / 1e9,
                f["tree_peak_bytes"] / 1e9, r[kind + "_mem_ratio"]))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, from %s (default: all but "
                   "the recurrent ones)" % ", ".join(MODELS + rnn.KINDS))
    p.add_argument("--big-gb", type=float, default=3.2, help="float32 weights of the synthetic model, GB")
    p.add_argument("--steps", default="64,256", help="the recurrent models' sequence lengths, comma-separated")
    p.add_argument("--threads", type=int, default=1, help="threads of the recurrent models' timed passes, both sides")
    p.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    args = p.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    bad = [n for n in names if n not in MODELS + rnn.KINDS]
    if bad:
        p.error("unknown model(s) %s" % ", ".join(bad))
    try:
        lengths = [int(n) for n in args.steps.split(",") if n]
    except ValueError:
        lengths = []
    if not lengths or min(lengths) < 1:
        p.error("--steps: positive integers, comma-separated (found %r)" % args.steps)
    if args.threads < 1:
        p.error("--threads: a positive integer")
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)

    def log(msg):
        print("bench: " + msg, file=sys.stderr, flush=True)
    info = machine()
    log("machine: %(cpu)s, %(nproc)s CPUs, %(ram_gb)s GB RAM, load %(load_before).2f" % info)
    results = [bench_model(n, work, args.big_gb, log) for n in names if n in MODELS]
    recurrent = [rnn.bench_model(n, steps, args.threads, work, log, tf_python, caffe_cmd, check)
                 for n in names if n in rnn.KINDS for steps in lengths]
    info["load_after"] = os.getloadavg()[0]
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"machine": info, "results": results, "recurrent": recurrent}, f, indent=1)
    print("machine: %(cpu)s, %(nproc)s CPUs, %(ram_gb)s GB RAM (load average %(load_before).2f before, "
          "%(load_after).2f after)" % info)
    if results:
        print(table(results))
    if recurrent:
        print("recurrent layers, one batch of %d on %d thread(s) (at least %d passes and %.0f s after warm-up):"
              % (rnn.BATCH, args.threads, rnn.RUNS, rnn.SECONDS))
        print(rnn.table(recurrent))
    for r in results:
        for kind in ("export", "import"):
            if r["phases"][kind].get("timings"):
                print("%s %s phases: %s" % (r["model"], kind, ", ".join("%s %.1fs" % t for t in
                                                                        r["phases"][kind]["timings"])))
    if results:
        print("(peak = the sampled peak of the whole process tree's memory, PSS; wait4's max RSS of the largest "
              "process is in %s)" % os.path.join(work, "results.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
