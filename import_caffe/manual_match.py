"""--prototxt, the matching half: which of your layers takes which generated layer's weights, where each
TF tensor lives in your net, what does not fit (on both sides), and which settings differ.
Pure: works on the plan and on your net's description (manual.UserNet); touches neither Caffe nor files."""
import collections

from . import layout


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
    produced_by = dict((t, n["name"]) for n in manifest["nodes"] for t in n["outputs"])
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
            group = _follow_on(node, plan, user, m, consumers, position, produced_by)
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
            later = [n for n in user.order[position[last] + 1:]     # Dropout keeps the value at TEST
                     if blob in user.layers[n]["tops"] and n not in group and user.layers[n]["type"] != "Dropout"]
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


def _follow_on(node, plan, user, m, consumers, position, produced_by):
    """A TF layer without weights, neither named nor mapped, whose one input a TF layer already located in
    your net writes: your next layer on that blob (an in-place one first) if it has the one Caffe type the
    TF layer is generated as (the ReLU after your conv1, the Pooling after it). [] otherwise."""
    if node["arrays"] or len(node["inputs"]) != 1 or produced_by.get(node["inputs"][0]) not in m.groups:
        return []
    types = [l.type for l in plan.layers if l.name in plan.node_layers.get(node["name"], [])]
    last = m.groups[produced_by[node["inputs"][0]]][-1]
    if len(types) != 1 or len(user.layers[last]["tops"]) != 1:
        return []
    top = user.layers[last]["tops"][0]
    nxt = [c for c in consumers.get(top, []) if position[c] > position[last]]
    in_place = [c for c in nxt if user.layers[c]["tops"] == [top]]
    nxt = in_place[:1] or nxt
    taken = set(n for g in m.groups.values() for n in g)
    if len(nxt) != 1 or nxt[0] in taken or user.layers[nxt[0]]["type"] != types[0] or user.layers[nxt[0]]["params"]:
        return []
    return [nxt[0]]


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
