"""Manifest -> Caffe plan: runs the handlers in graph order, tracks each tensor's blob and layout,
restores HWC order where a consumer needs it, and collects every unsupported node before failing."""
from shared.errors import ConversionError, InternalError, Tf2CaffeError, UnsupportedError
from shared.unsupported import format_unsupported
from .handlers.common import identity_layer
from .handlers.reshape import restore_hwc
from .layout import FLAT_CHW, Layout, layout_for_shape, caffe_shape
from .plan import CaffeLayer, Names, TensorRef
from .runtime_lowering import adapt
from .registry import Target, Unsupported, all_handlers, handler_for


class NetPlan(object):
    def __init__(self, name, layers, refs, node_layers, notes, inputs, outputs, produced=None, held=None):
        self.name = name
        self.layers = layers            # [CaffeLayer] in order
        self.refs = refs                # tensor id -> TensorRef (a model output: its final blob)
        self.node_layers = node_layers  # node name -> [Caffe layer names], consecutive in `layers`
        self.notes = notes              # node name -> composition note
        self.inputs = inputs            # [(input name, TensorRef)]
        self.outputs = outputs          # [(output name, TensorRef)]
        # for running one node's layers alone (own_run.py): where its lowering wrote each output, and
        # which TF tensor (in which layout) every blob that holds one holds
        self.produced = produced if produced is not None else {}     # tensor id -> TensorRef
        self.held = held if held is not None else {}                 # blob -> (tensor id, TensorRef)


def _input_layer(entry):
    shape = entry["shape"]
    try:
        lay = layout_for_shape(shape)
    except ValueError:
        raise Unsupported("input of shape %r: only (C,), (L, C) and (H, W, C) inputs are supported" % (shape,))
    layer = CaffeLayer(entry["name"], "Input", [], [entry["name"]],
                       {"input_param": {"shape": {"dim": [1] + caffe_shape(shape, lay)}}})
    return layer, TensorRef(entry["name"], shape, lay)


def plan_net(manifest, arrays_of, target=None, where="bundle"):
    """arrays_of(node) -> {role: TF-layout array}. Returns a NetPlan or raises UnsupportedError."""
    target = target or Target()
    layers, refs, node_layers, notes = [], {}, {}, {}
    produced, held = {}, {}
    unsupported = []
    restored = {}
    inputs = []
    output_tensors = set(entry["tensor"] for entry in manifest["outputs"])
    for entry in manifest["inputs"]:
        try:
            layer, ref = _input_layer(entry)
        except Unsupported as exc:
            unsupported.append(("Input", entry["name"], str(exc)))
            continue
        layers.append(layer)
        refs[entry["tensor"]] = ref
        held[ref.blob] = (entry["tensor"], ref)
        inputs.append((entry["name"], ref))

    def canonical(tensor):
        ref = refs[tensor]
        if ref.layout.kind != FLAT_CHW:
            return ref, []
        if tensor not in restored:
            more, new = restore_hwc("%s/hwc_order" % tensor, ref, "%s/hwc_order" % tensor)
            restored[tensor] = new
            held[new.blob] = (tensor, new)
            return new, more
        return restored[tensor], []

    for node in manifest["nodes"]:
        handler = handler_for(node["op"])
        if handler is None:
            unsupported.append((node["source_type"], node["name"], "op %r is unknown to this importer (a custom layer? give its plugin with --plugin FILE)" % node["op"]))
            continue
        if any(t not in refs for t in node["inputs"]):
            continue  # an upstream node was unsupported; it is already reported
        ins = [refs[t] for t in node["inputs"]]
        extra = []
        flat = [r for r in ins if r.layout.kind == FLAT_CHW]
        mixed = len(set(r.layout for r in ins)) > 1
        node_arrays = arrays_of(node)
        try:
            if flat and (mixed or not handler.accepts_flat(node, ins)):
                ins = []
                for t in node["inputs"]:
                    ref, more = canonical(t)
                    ins.append(ref)
                    extra += more
            lowering = handler.func(node, ins, node_arrays, Names(node), target)
            if target.runtime:
                lowering.layers = adapt(lowering.layers, ins, target)
                refused = [target.refusal(l) for l in extra + lowering.layers]
                if any(refused):
                    raise Unsupported("; ".join(sorted(set(r for r in refused if r))))
        except Unsupported as exc:
            unsupported.append((node["source_type"], node["name"], str(exc)))
            continue
        except Tf2CaffeError:
            raise
        except Exception as exc:
            # the op spec accepted this node, so a handler that fails on it is a converter bug
            raise InternalError("%s: the importer's handler for op %r failed on node %r (%s): %s: %s"
                                % (where, node["op"], node["name"], node["source_type"], type(exc).__name__,
                                   str(exc).splitlines()[0][:200] if str(exc) else ""))
        if len(lowering.outputs) != len(node["outputs"]):
            raise ConversionError("handler for %r returned %d outputs, expected %d"
                                  % (node["op"], len(lowering.outputs), len(node["outputs"])))
        for tensor, ref in zip(node["outputs"], lowering.outputs):
            declared = manifest["tensors"][tensor]["shape"]
            if list(ref.shape) != list(declared):
                raise ConversionError("node %r (%s): Caffe output shape %r differs from TF's %r"
                                      % (node["name"], node["source_type"], ref.shape, declared))
            if tensor in output_tensors and ref.layout.kind == FLAT_CHW and ref.blob == tensor:
                ref = _rename_blob(lowering.layers, ref, tensor + "/chw_order")
            refs[tensor] = produced[tensor] = ref
            held.setdefault(ref.blob, (tensor, ref))     # a reused blob stays its producer's
        layers += extra + lowering.layers
        node_layers[node["name"]] = [l.name for l in extra + lowering.layers]
        if lowering.note:
            notes[node["name"]] = lowering.note

    outputs = []
    producers = dict((t, node) for node in manifest["nodes"] for t in node["outputs"])
    for entry in manifest["outputs"]:
        if entry["tensor"] not in refs:
            continue  # its node was unsupported; it is already reported
        ref = refs[entry["tensor"]]
        name = entry["name"]
        if ref.layout.kind == FLAT_CHW:
            if entry["tensor"] in restored:
                ref = restored[entry["tensor"]]
            else:
                try:
                    more, ref = restore_hwc(name + "/hwc_order", ref, name)
                except Unsupported as exc:
                    node = producers[entry["tensor"]]
                    unsupported.append((node["source_type"], node["name"], "as a model output: %s" % exc))
                    continue
                layers += more
        if ref.blob != name:
            layers.append(identity_layer(name + "/output", ref.blob, name))
            ref = TensorRef(name, ref.shape, ref.layout)
        refs[entry["tensor"]] = ref
        outputs.append((name, ref))
    if unsupported:
        supported = sorted(set(h.op for h in all_handlers().values()))
        raise UnsupportedError(format_unsupported(where, unsupported, ["op " + s for s in supported]))
    _check_unique(layers)
    return NetPlan(manifest["model_name"], layers, refs, node_layers, notes, inputs, outputs, produced, held)


def _rename_blob(layers, ref, blob):
    """A model output's blob must hold TF order under the output's name, so a node whose output is
    left in CHW order (a Flatten) writes it under another name; the output stage restores HWC order."""
    for layer in layers:
        layer.tops = [blob if t == ref.blob else t for t in layer.tops]
        layer.bottoms = [blob if b == ref.blob else b for b in layer.bottoms]
    return TensorRef(blob, ref.shape, ref.layout)


def _check_unique(layers):
    names, tops = {}, {}
    for layer in layers:
        if layer.name in names:
            raise ConversionError("two Caffe layers would be named %r; rename one of the TF layers" % layer.name)
        names[layer.name] = layer
        for top in layer.tops:
            if top in tops:
                raise ConversionError("two Caffe layers would write blob %r; rename one of the TF layers" % top)
            tops[top] = layer
