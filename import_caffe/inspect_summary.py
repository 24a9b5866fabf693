"""The bundle summary `--inspect` prints (and export_tf prints after writing a bundle)."""
import numpy as np


def summary(manifest):
    """A short human-readable description of a bundle's manifest (for --inspect)."""
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
    return "\n".join(lines)


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
