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
"""
import collections
import json
import os

from shared import forked
from shared.errors import ConversionError, UsageError

from . import layout
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


def _shape(shape):
    return "x".join(str(d) for d in shape)


class Match(object):
    def __init__(self):
        self.fills = []          # (your layer name, generated CaffeLayer)
        self.by_node = collections.OrderedDict()   # TF layer -> [your layers]
        self.problems = []
        self.inputs = {}         # TF input name -> your blob
        self.tensor_blobs = {}   # TF tensor -> (your blob, None) or (None, reason not compared)
        self.groups = {}         # TF layer -> your layers that compute it (weights, or name/map, + in-place)


def match(manifest, plan, user, mapping):
    """Pair the plan's weight-carrying layers with your layers; locate TF tensors in your net."""
    m = Match()
    gen = dict((l.name, l) for l in plan.layers)
    claimed = {}
    used_keys = set()
    consumers = collections.defaultdict(list)
    for name in user.order:
        for b in user.layers[name]["bottoms"]:
            consumers[b].append(name)

    def claim(user_name, g, node):
        claimed[user_name] = (node["name"], g.name)
        m.fills.append((user_name, g))
        m.by_node.setdefault(node["name"], []).append(user_name)
        ul = user.layers[user_name]
        want = [list(b.shape) for b in g.blobs]
        if ul["params"] != want:
            m.problems.append("TF layer %r (%s) -> your layer %r (%s): your parameter shapes are %s, TF's weights "
                              "in Caffe layout are %s" % (node["name"], node["source_type"], user_name, ul["type"],
                                                          ", ".join(_shape(s) for s in ul["params"]) or "none",
                                                          ", ".join(_shape(s) for s in want)))

    for node in manifest["nodes"]:
        gens = [gen[n] for n in plan.node_layers.get(node["name"], []) if gen[n].blobs]
        if not gens:
            continue
        pending = list(gens)
        targets = mapping.get(node["name"])
        if targets is not None:
            used_keys.add(node["name"])
        for g in list(pending):
            if g.name in mapping and g.name != node["name"]:
                used_keys.add(g.name)
                targets = (targets or []) + mapping[g.name]
        if targets is not None:
            for t in targets:
                if t not in user.layers:
                    m.problems.append("map: TF layer %r -> %r: your prototxt has no layer %r" % (node["name"], t, t))
                    continue
                ul = user.layers[t]
                g = next((g for g in pending if g.type == ul["type"]), None)
                if g is None:
                    m.problems.append("map: TF layer %r -> your layer %r (%s): TF's layer needs %s" % (
                        node["name"], t, ul["type"], ", ".join(g.type for g in gens)))
                elif t in claimed:
                    m.problems.append("your layer %r is mapped twice (TF layers %r and %r)"
                                      % (t, claimed[t][0], node["name"]))
                else:
                    pending.remove(g)
                    claim(t, g, node)
        else:
            for g in list(pending):
                if g.name in user.layers and g.name not in claimed and user.layers[g.name]["type"] == g.type:
                    pending.remove(g)
                    claim(g.name, g, node)
        # the other parts of a matched TF layer: your layer of that type right after (your BN's Scale)
        progress = True
        while pending and m.by_node.get(node["name"]) and progress:
            progress = False
            last = m.by_node[node["name"]][-1]
            for nxt in consumers.get(user.layers[last]["tops"][0], []):
                g = next((g for g in pending if g.type == user.layers[nxt]["type"]), None)
                if g is not None and nxt not in claimed:
                    pending.remove(g)
                    claim(nxt, g, node)
                    progress = True
                    break
        for g in pending:
            m.problems.append("TF layer %r (%s): no layer of yours takes its %s weights %s (generated name %r): "
                              "name one %r or add it to the map" % (
                                  node["name"], node["source_type"], g.type,
                                  ", ".join(_shape(b.shape) for b in g.blobs), g.name, g.name))
    for name in user.order:
        ul = user.layers[name]
        if ul["params"] and name not in claimed:
            m.problems.append("your layer %r (%s, parameters %s) gets no weights from any TF layer"
                              % (name, ul["type"], ", ".join(_shape(s) for s in ul["params"])))
    _locate(manifest, plan, user, mapping, m, used_keys, consumers)
    for key in sorted(set(mapping) - used_keys):
        m.problems.append("map: %r is neither a TF layer, input or output nor a generated layer name" % key)
    return m


def _locate(manifest, plan, user, mapping, m, used_keys, consumers):
    """Where each TF tensor lives in your net, if anywhere (for the per-layer comparison)."""
    position = dict((n, i) for i, n in enumerate(user.order))
    for entry in manifest["inputs"]:
        names = mapping.get(entry["name"])
        if names:
            used_keys.add(entry["name"])
        blob = names[0] if names else entry["name"]
        if blob not in user.inputs:
            m.problems.append("TF input %r has no input blob in your net (your inputs: %s): name it %r or map it"
                              % (entry["name"], ", ".join(user.inputs) or "none", entry["name"]))
            continue
        m.inputs[entry["name"]] = blob
        want = [layout.caffe_shape(plan.refs[entry["tensor"]].shape, plan.refs[entry["tensor"]].layout)]
        if list(user.blobs[blob][1:]) != want[0]:
            m.problems.append("TF input %r is %s in Caffe layout (NCHW without N), your input %r is %s"
                              % (entry["name"], _shape(want[0]), blob, _shape(user.blobs[blob][1:])))
        m.tensor_blobs[entry["tensor"]] = (blob, None)
    for node in manifest["nodes"]:
        group = list(m.by_node.get(node["name"], []))
        names = mapping.get(node["name"])
        if names:
            used_keys.add(node["name"])
        if not group and names:
            if names[0] not in user.layers:
                m.problems.append("map: TF layer %r -> %r: your prototxt has no layer %r"
                                  % (node["name"], names[0], names[0]))
                continue
            group = [names[0]]
        elif not group and node["name"] in user.layers:
            group = [node["name"]]
        if not group:
            for t in node["outputs"]:
                m.tensor_blobs[t] = (None, "no layer of yours is named or mapped to %r" % node["name"])
            continue
        group.sort(key=position.get)
        # the rest of this TF layer's lowering that has no weights (a fused ReLU): follow it in your net
        gen_types = [l.type for l in plan.layers if l.name in plan.node_layers.get(node["name"], [])]
        for t in [user.layers[g]["type"] for g in group]:
            if t in gen_types:
                gen_types.remove(t)
        last = group[-1]
        while gen_types:
            top = user.layers[last]["tops"][0]
            nxt = [c for c in consumers.get(top, []) if position[c] > position[last]]
            in_place = [c for c in nxt if user.layers[c]["tops"] == [top]]
            nxt = in_place[:1] or nxt     # an in-place layer on the blob acts first
            if len(nxt) != 1 or user.layers[nxt[0]]["type"] not in gen_types:
                break
            gen_types.remove(user.layers[nxt[0]]["type"])
            last = nxt[0]
            group.append(last)
        m.groups[node["name"]] = group
        tops = user.layers[last]["tops"]
        for i, tensor in enumerate(node["outputs"]):
            if len(tops) != len(node["outputs"]):
                m.tensor_blobs[tensor] = (None, "your layer %r has %d tops, TF's %d outputs"
                                          % (last, len(tops), len(node["outputs"])))
                continue
            blob = tops[i]
            later = [n for n in user.order[position[last] + 1:]
                     if blob in user.layers[n]["tops"] and n not in group]
            if later:   # overwritten in place afterwards: the value Caffe keeps is no longer this layer's
                m.tensor_blobs[tensor] = (None, "blob %r is overwritten in place by your layer %r" % (blob, later[0]))
            else:
                m.tensor_blobs[tensor] = (blob, None)
    for entry in manifest["outputs"]:
        names = mapping.get(entry["name"])
        if names:
            used_keys.add(entry["name"])
            blob = names[0]
        elif entry["name"] in user.blobs:
            blob = entry["name"]
        else:
            blob = m.tensor_blobs.get(entry["tensor"], (None, None))[0]
        ref = plan.refs[entry["tensor"]]
        if blob is None or blob not in user.blobs:
            m.problems.append("TF output %r has no blob in your net: name a top %r or map it" % (entry["name"],
                                                                                              entry["name"]))
            continue
        want = layout.caffe_shape(ref.shape, ref.layout)
        if list(user.blobs[blob][1:]) != want:
            m.problems.append("TF output %r is %s in Caffe layout, your blob %r is %s"
                              % (entry["name"], _shape(want), blob, _shape(user.blobs[blob][1:])))
        m.tensor_blobs[entry["tensor"]] = (blob, None)


def problem_message(prototxt, problems, plan, user):
    lines = ["your prototxt %s does not fit the bundle (%d problem%s):" % (prototxt, len(problems),
                                                                          "" if len(problems) == 1 else "s")]
    lines += ["  - " + p for p in problems]
    lines.append("TF side, layers with weights (generated name: type, shapes in Caffe layout):")
    lines += ["    %s: %s %s" % (l.name, l.type, ", ".join(_shape(b.shape) for b in l.blobs))
              for l in plan.layers if l.blobs]
    lines.append("your side, layers with parameters:")
    lines += ["    %s: %s %s" % (n, l["type"], ", ".join(_shape(s) for s in l["params"]))
              for n, l in user.layers.items() if l["params"]] or ["    (none)"]
    lines.append("fix the names, or give --map map.json: {\"TF layer\": \"your layer\" or [\"your layer\", ...]}")
    return "\n".join(lines)


def param_differences(plan, m, user_net_param):
    """Settings of your matched layers that differ from the generated ones (eps, pads, strides...):
    parity decides whether they matter; the report lists them so a failure points at its cause."""
    from . import netbuild
    generated = dict((l.name, l) for l in netbuild.net_parameter(plan).layer)
    yours = dict((l.name, l) for l in user_net_param.layer)
    out = []
    for user_name, g in m.fills:
        if user_name not in yours or g.name not in generated:
            continue
        gl, ul = generated[g.name], yours[user_name]
        for field, value in gl.ListFields():
            if not field.name.endswith("_param") or field.message_type is None:
                continue
            theirs, mine = _settings(value), _settings(getattr(ul, field.name))
            for key in sorted(theirs):
                if theirs[key] != mine.get(key):
                    out.append("%s.%s.%s: TF's layer gives %s, yours has %s"
                               % (user_name, field.name, key, theirs[key], mine.get(key)))
    return out


def _settings(param):
    """A layer parameter message as {setting: effective value}: kernel_size / kernel_h + kernel_w (and
    stride, pad) become one (h, w) pair, defaults are filled in, and use_global_stats unset means True
    (Caffe's TEST phase), so two spellings of the same layer compare equal."""
    out = {}
    for sub in param.DESCRIPTOR.fields:
        if sub.message_type is not None:
            continue
        value = getattr(param, sub.name)
        out[sub.name] = list(value) if sub.label == sub.LABEL_REPEATED else value
    for name, default in (("kernel", None), ("stride", 1), ("pad", 0)):
        size = name + "_size" if name == "kernel" else name
        if size not in out:
            continue
        listed = out.pop(size)
        listed = listed if isinstance(listed, list) else ([listed] if param.HasField(size) else [])
        pair = [listed[0], listed[-1]] if listed else [default, default]
        if name + "_h" in out:
            if param.HasField(name + "_h"):
                pair = [out[name + "_h"], out[name + "_w"]]
            out.pop(name + "_h")
            out.pop(name + "_w")
        out[name] = pair
    if "dilation" in out and not out["dilation"]:
        out["dilation"] = [1]
    if "use_global_stats" in out and not param.HasField("use_global_stats"):
        out["use_global_stats"] = True
    return out


def fill_plan(m):
    """The layers caffe_stage fills: your names, the generated blobs."""
    class _Plan(object):
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
                row.update(verify.compare(ref_values[tensor], layout.activation_to_tf(caffe, ref.layout, ref.shape),
                                          tolerances.for_op(node["op"])))
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
    import tempfile
    from shared.bundle import read_bundle
    from shared.errors import ParityError
    from . import __version__, caffe_stage, report_html, tolerances, verify
    from .convert import detect_target, file_stem
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
    staging = tempfile.mkdtemp(prefix=".tf2caffe-", dir=out_dir)
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
        ref_values = {}
        for part in ("outputs", "activations"):
            ref_values.update(bundle.reference(part))
        inputs = {}
        for entry in manifest["inputs"]:
            value = bundle.arrays[ref["inputs"][entry["tensor"]]]
            inputs[m.inputs[entry["name"]]] = layout.activation_to_caffe(value, plan.refs[entry["tensor"]].layout)
        wanted = sorted(set(b for b, _ in m.tensor_blobs.values() if b is not None))
        weights_name = stem + ".caffemodel"
        blobs = caffe_stage.run(fill_plan(m), proto_path, os.path.join(staging, weights_name), inputs, wanted,
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
                        "layout": "NCHW" if plan.refs[e["tensor"]].layout.kind == layout.IMAGE else "NC",
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
