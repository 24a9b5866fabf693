"""Fill YOUR hand-written prototxt with a bundle's weights (`--prototxt net.prototxt [--map map.json]`).

The manual workflow of copying weights layer by layer into `net.params[...]`, done for you: the usual
planner computes every TF layer's blobs in Caffe layout (transposes, the flatten-then-dense reorder, BatchNorm
as BatchNorm + Scale...); each generated layer that carries weights is then matched to one of your layers
  1. through the map: {"TF layer": "your layer"} or {"TF layer": ["your BatchNorm", "your Scale"]}
     (a key may also be a generated Caffe layer name such as "bn/scale", a TF input or a TF output name);
  2. else by name (the TF layer name, or the generated name such as "bn/scale");
  3. else, for the other parts of an already matched TF layer, the layer of the right type right after it
     (the Scale that follows your BatchNorm).
Every parameter shape is checked; every problem, on both sides, is reported at once before anything runs.
Then the net is filled, saved, and run on the reference inputs: your net's inputs and outputs must
correspond to TF's (same names or through the map), and every TF layer located in your net is compared.
This module reads your net and runs it; manual_match.py does the matching.
"""
import collections
import json
import os

from shared import forked
from shared.errors import ConversionError, UsageError

from . import layout
from .manual_match import match, param_differences, problem_message
from .plan import CaffeLayer


class UserNet(object):
    """Your net as Caffe builds it (TEST phase): layers in order, parameter and blob shapes, inputs."""

    def __init__(self, data):
        self.layers = collections.OrderedDict(
            (l["name"], l) for l in data["layers"])   # name -> {type, bottoms, tops, params: [shape]}
        self.blobs = dict((k, tuple(v)) for k, v in data["blobs"].items())
        self.inputs = list(data["inputs"])
        self.order = list(self.layers)


def read_map(path):
    if path is None:
        return {}
    try:
        with open(path) as f:
            mapping = json.load(f)
    except (OSError, ValueError) as exc:
        raise UsageError("%s: not a readable JSON file (%s)" % (path, exc))
    ok = isinstance(mapping, dict) and all(
        isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(x, str) for x in v))
        for v in mapping.values())
    if not ok:
        raise UsageError('%s: expected a JSON object {"TF layer": "Caffe layer" or ["Caffe layer", ...]}' % path)
    return dict((k, [v] if isinstance(v, str) else list(v)) for k, v in mapping.items())


def check_text(prototxt):
    """Parse it in this process first, so a syntax error is a clean message with line and column."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    if not os.path.isfile(prototxt):
        raise UsageError("%s: no such file" % prototxt)
    net = caffe_pb2.NetParameter()
    try:
        with open(prototxt) as f:
            text_format.Merge(f.read(), net)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise UsageError("%s: not a valid Caffe prototxt: %s" % (prototxt, exc))
    if net.layers:
        raise UsageError("%s: uses the old V1 'layers' syntax; upgrade it with Caffe's upgrade_net_proto_text"
                         % prototxt)
    return net


def _describe_child(prototxt, out_path):
    import caffe
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffe.TEST)
    layers = []
    for name, layer in zip(net._layer_names, net.layers):
        params = [list(b.data.shape) for b in net.params[name]] if name in net.params else []
        layers.append({"name": name, "type": layer.type, "bottoms": list(net.bottom_names[name]),
                       "tops": list(net.top_names[name]), "params": params})
    data = {"layers": layers, "blobs": dict((k, list(v.data.shape)) for k, v in net.blobs.items()),
            "inputs": list(net.inputs)}
    with open(out_path, "w") as f:
        json.dump(data, f)


def describe(prototxt, workdir):
    """Build your net in a forked child (a Caffe CHECK failure aborts a process) and return a UserNet."""
    out_path = os.path.join(workdir, "user-net.json")
    log_path = os.path.join(workdir, "user-net-log.txt")
    result = forked.run_forked(lambda: _describe_child(prototxt, out_path), stderr_path=log_path)
    if not result.ok:
        from .caffe_stage import _check_line
        why = _check_line(log_path) if result.signal is not None else "%s: %s" % (result.error_type, result.message)
        raise ConversionError("Caffe cannot build your net %s: %s" % (prototxt, why))
    with open(out_path) as f:
        return UserNet(json.load(f))


def fill_plan(m):
    """What caffe_stage writes the weights from: your layer names, the generated blobs (Caffe loads
    weights by layer name and checks every blob's shape)."""
    class _Plan(object):
        name = None
        layers = [CaffeLayer(user_name, g.type, [], [], blobs=g.blobs) for user_name, g in m.fills]
    return _Plan()


def _rows(manifest, plan, m, ref_values, blobs):
    from . import tolerances, verify
    rows = []
    output_tensors = set(o["tensor"] for o in manifest["outputs"])
    for node in manifest["nodes"]:
        for tensor in node["outputs"]:
            blob, why = m.tensor_blobs.get(tensor, (None, "not located in your net"))
            row = {"layer": node["name"], "type": node["source_type"], "op": node["op"], "tensor": tensor,
                   "caffe_layers": m.groups.get(node["name"], []), "shape": manifest["tensors"][tensor]["shape"],
                   "output": tensor in output_tensors}
            ref = plan.refs.get(tensor)
            caffe = blobs.get(blob) if blob is not None else None
            if tensor in ref_values and caffe is not None and ref is not None and \
                    tuple(caffe.shape[1:]) == tuple(layout.caffe_shape(ref.shape, ref.layout)):
                seen = layout.activation_view_in_tf(caffe, ref.layout, ref.shape)
                row.update(verify.compare(ref_values[tensor], seen, tolerances.for_op(node["op"])))
                row["blob"] = blob
            else:
                if why is None:
                    why = "no TF reference" if tensor not in ref_values else \
                        "your blob %r has another shape than TF's in Caffe layout" % blob
                row.update({"status": verify.NOT_COMPARED, "max_abs": None, "max_rel": None, "note": why})
            rows.append(row)
    return rows


def convert_manual(bundle_path, out_dir, prototxt, map_path=None, log=None, plugins=(), target="auto"):
    """Fill your prototxt; returns the report dict. Raises a Tf2CaffeError subclass on any failure."""
    import shutil
    from shared.bundle import read_bundle
    from shared.errors import ParityError
    from . import __version__, caffe_stage, report_html, tolerances, verify
    from . import staging as staging_dir
    from .convert import detect_target, file_stem, input_layout_name, reference_feed
    from .planner import plan_net
    from .plugins import activate
    log = log or (lambda msg: None)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError("%s: exists and is not a folder" % out_dir)
    user_param = check_text(prototxt)
    mapping = read_map(map_path)
    activate(plugins)
    log("reading %s" % bundle_path)
    bundle = read_bundle(bundle_path)
    manifest = bundle.manifest
    target = detect_target() if target in (None, "auto") else detect_target(target)
    plan = plan_net(manifest, bundle.node_arrays, target, where=bundle_path)
    os.makedirs(out_dir, exist_ok=True)
    staging = staging_dir.make(out_dir)
    try:
        stem = file_stem(os.path.splitext(os.path.basename(prototxt))[0])
        proto_path = os.path.join(staging, stem + ".prototxt")
        shutil.copyfile(prototxt, proto_path)
        user = describe(proto_path, staging)
        m = match(manifest, plan, user, mapping)
        if m.problems:
            raise ConversionError(problem_message(prototxt, m.problems, plan, user))
        differences = param_differences(plan, m, user_param)
        log("filling your net (%d layers with weights) and running %d reference input(s)"
            % (len(m.fills), manifest["reference"]["batch"]))
        ref = manifest["reference"]
        ref_values, inputs = reference_feed(bundle, plan, m.inputs.__getitem__)
        wanted = sorted(set(b for b, _ in m.tensor_blobs.values() if b is not None))
        weights_name = stem + ".caffemodel"
        plan_to_fill = fill_plan(m)
        size = sum(b.nbytes for layer in plan_to_fill.layers for b in layer.blobs)
        if size > caffe_stage.HDF5_THRESHOLD_BYTES:
            raise ConversionError("the weights are %.1f GB, over protobuf's 2 GB limit; --prototxt writes only "
                                  "the binary .caffemodel format: convert without --prototxt (it writes HDF5 "
                                  "weights)" % (size / 1e9))
        blobs = caffe_stage.run(plan_to_fill, proto_path, os.path.join(staging, weights_name), inputs, wanted,
                                staging)
        rows = _rows(manifest, plan, m, ref_values, blobs)
        output_rows = [r for r in rows if r["output"]]
        summary = verify.summarize(rows, output_rows)
        report = {
            "tool": "tf2caffe.import_caffe %s" % __version__, "bundle": os.path.abspath(bundle_path),
            "model": manifest["model_name"], "source": manifest["source"], "producer": manifest["producer"],
            "target": target.name, "batch": ref["batch"], "summary": summary,
            "inputs": [{"name": m.inputs[e["name"]], "tf_name": e["name"],
                        "caffe_shape": ["N"] + layout.caffe_shape(plan.refs[e["tensor"]].shape,
                                                                  plan.refs[e["tensor"]].layout),
                        "tf_shape": ["N"] + list(plan.refs[e["tensor"]].shape),
                        "layout": input_layout_name(plan.refs[e["tensor"]].layout),
                        "reference_range": {"min": float(inputs[m.inputs[e["name"]]].min()),
                                            "mean": float(inputs[m.inputs[e["name"]]].mean()),
                                            "max": float(inputs[m.inputs[e["name"]]].max())}}
                       for e in manifest["inputs"]],
            "outputs": output_rows, "layers": rows, "notes": plan.notes,
            "tolerances": {"default": {"rel": tolerances.DEFAULT.rel, "reason": tolerances.DEFAULT.reason}},
            "accuracy": None,
            "manual": {"prototxt": os.path.abspath(prototxt), "map": map_path and os.path.abspath(map_path),
                       "matched": [{"tf_layer": k, "caffe_layers": v} for k, v in m.by_node.items()],
                       "param_differences": differences,
                       "layers_without_weights": [n for n in user.order if not user.layers[n]["params"]]},
            "files": {"prototxt": stem + ".prototxt", "weights": weights_name},
        }
        from . import convert as generated
        if hasattr(generated, "_approximations"):   # the same measured approximation entries as a generated net
            report["approximations"] = generated._approximations(manifest, rows)
        ok = summary["status"] == verify.OK
        if not ok:
            report["files"] = {}
        with open(os.path.join(staging, "report.json"), "w") as f:
            json.dump(report, f, indent=1)
        report_html.write(report, os.path.join(staging, "report.html"))
        for name in ([stem + ".prototxt", weights_name] if ok else []) + ["report.html", "report.json"]:
            os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
        if not ok:
            raise ParityError("parity check failed for your prototxt %s: first diverging layer %s%s; see %s" % (
                prototxt, summary["first_divergence"],
                (" (settings that differ from TF's: %s)" % "; ".join(differences)) if differences else "",
                os.path.join(out_dir, "report.json")), report)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)
