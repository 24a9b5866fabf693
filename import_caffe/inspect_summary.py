"""The bundle summary `--inspect` prints (and export_tf prints after writing a bundle)."""
import numpy as np


def summary(manifest, weights=False):
    """A short human-readable description of a bundle's manifest (for --inspect). weights: also list
    every layer that carries weights, with its arrays' shapes (what a --prototxt net and its map name)."""
    counts = {}
    for node in manifest["nodes"]:
        counts[node["source_type"]] = counts.get(node["source_type"], 0) + 1
    params = sum(int(np.prod(manifest["arrays"][k]["shape"])) for n in manifest["nodes"]
                 for k in n["arrays"].values())
    ref = manifest["reference"]
    lines = [
        "model:      %s (from %s, %s)" % (manifest["model_name"], manifest["source"]["path"],
                                          manifest["source"]["format"]),
        "producer:   %s %s (TensorFlow %s, Keras %s)" % (
            manifest["producer"]["name"], manifest["producer"]["version"],
            manifest["producer"]["tensorflow"], manifest["producer"]["keras"]),
        "inputs:     " + ", ".join("%s %s" % (i["name"], tuple(i["shape"])) for i in manifest["inputs"]),
        "outputs:    " + ", ".join("%s %s" % (o["name"], tuple(o["shape"])) for o in manifest["outputs"]),
        "layers:     %d (%s)" % (len(manifest["nodes"]), ", ".join(
            "%s x%d" % (k, v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))),
        "parameters: %d (%s as float32)" % (params, _size(params * 4)),
        "reference:  %d input(s), batch %d: TF's inputs %s, TF's outputs %s" % (
            len(ref["inputs"]), ref["batch"], "present" if ref["inputs"] else "absent",
            "present" if ref.get("outputs") else "absent"),
        "activations: " + _activations(manifest),
    ]
    if weights:
        lines += _weights(manifest)
    return "\n".join(lines)


def _weights(manifest):
    """One line per layer that carries weights, in network order: the names a --map maps to yours."""
    rows = [(n["name"], n["op"], ", ".join("%s %s" % (role, "x".join(str(d) for d in manifest["arrays"][key]["shape"]))
                                           for role, key in sorted(n["arrays"].items(), key=lambda kv: (kv[0] != "kernel", kv[0]))))
            for n in manifest["nodes"] if n["arrays"]]
    if not rows:
        return ["weights:    none"]
    width = min(max(len(r[0]) for r in rows), 48)
    return ["weights:    %d layers (TF layout; a --prototxt net takes them in Caffe layout, a --map names yours):"
            % len(rows)] + ["  %-*s %-18s %s" % (width, name, op, arrays) for name, op, arrays in rows]


def _size(nbytes):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return "%.1f %s" % (nbytes / scale, unit)
    return "%d bytes" % nbytes


def _activations(manifest):
    """Whether TF's per-layer values are there: the parity report compares every layer only if they are."""
    ref = manifest["reference"]
    outputs = set(o["tensor"] for o in manifest["outputs"])
    inner = [t for n in manifest["nodes"] for t in n["outputs"] if t not in outputs]
    have = sum(1 for t in inner if t in ref["activations"])
    if inner and not have:
        return "absent (exported with --no-activations?): the report will compare the outputs only"
    pre = len(ref.get("preactivations", {}))
    return "present for %d of %d intermediate tensors%s" % (
        have, len(inner), " (+%d before a fused activation)" % pre if pre else "")
