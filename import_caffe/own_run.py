"""Each lowering on TF's values of its inputs: the error a TF layer's Caffe layers make themselves.

The end-to-end run feeds the reference inputs to the whole net, so every blob carries the round-off of
every layer before it. Here the layers of one TF node (the plan's node_layers: its lowering, and the
layers that restore HWC order for it) run alone, after TF's values of the node's inputs are written
into the blobs they read: what differs from TF's value of the node's output is the lowering's own error.
In network order, one range of the loaded net at a time (Net::ForwardFromTo), so no second net is built:
the node's layers are consecutive in the net (plan order; Caffe adds only Split layers, which share
their bottom's memory, after the layer producing a blob).

steps() (in the parent, no Caffe) says, for each node, which blobs to fill with which TF tensor, which
layers to run and which blobs to read; measure() (in the Caffe child, after the end-to-end run has been
compared) runs them. A node whose inputs have no stored TF values (a bundle written with
--no-activations) cannot be run alone: its rows are judged end to end (judge.py)."""
from . import layout, verify

NO_INPUT_VALUES = "TF's values of its input %s are not in the bundle (--no-activations)"


class Step(object):
    """One node's lowering run alone: fill `feeds` [(blob, tensor, Layout)], run the Caffe layers
    `first`..`last` (None: the node has no layer of its own), read `outputs` [(tensor, TensorRef)]
    and `preact` (the blob of the value before a fused activation, or None). why_not: the reason it
    cannot be run (then nothing else is set)."""

    def __init__(self, node, why_not=None):
        self.node = node
        self.why_not = why_not
        self.first = self.last = self.preact = None
        self.feeds, self.outputs = [], []


def steps(manifest, plan, tf_has, preact_blob):
    """A Step per node of the generated net, in network order. tf_has(tensor): whether TF's value of a
    tensor is known (a model input, an output or a stored activation); preact_blob(node): the blob of
    the node's value before its fused activation, when the bundle stores it, else None."""
    index = dict((layer.name, i) for i, layer in enumerate(plan.layers))
    out = []
    for node in manifest["nodes"]:
        out.append(_step(node, plan, index, tf_has, preact_blob))
    return out


def _step(node, plan, index, tf_has, preact_blob):
    names = plan.node_layers.get(node["name"])
    if names is None:
        return Step(node, "not planned")
    positions = [index[n] for n in names if n in index]
    if len(positions) != len(names) or (positions and positions != list(range(positions[0], positions[-1] + 1))):
        return Step(node, "its Caffe layers are not consecutive in the net")
    group = [plan.layers[i] for i in positions]
    made, reads = set(), []
    for layer in group:
        for blob in layer.bottoms:
            if blob not in made and blob not in reads:
                reads.append(blob)
        if set(layer.tops) & set(reads) - made:
            return Step(node, "Caffe layer %s writes in place into a blob it reads from outside" % layer.name)
        made.update(layer.tops)
    step = Step(node)
    for blob in reads:
        tensor, ref = plan.held.get(blob, (None, None))
        if tensor is None:
            return Step(node, "Caffe blob %s holds no TF tensor" % blob)
        if not tf_has(tensor):
            return Step(node, NO_INPUT_VALUES % tensor)
        step.feeds.append((blob, tensor, ref.layout))
    if group:
        step.first, step.last = group[0].name, group[-1].name
    else:                       # no layer of its own: its output is the blob of its input
        for t in node["outputs"]:
            tensor, ref = plan.held.get(getattr(plan.produced.get(t), "blob", None), (None, None))
            if tensor is None or not tf_has(tensor):
                return Step(node, "its output is the blob of a tensor without TF values")
            step.feeds.append((ref.blob, tensor, ref.layout))
    step.outputs = [(t, plan.produced[t]) for t in node["outputs"] if t in plan.produced and tf_has(t)]
    blob = preact_blob(node)
    step.preact = blob if blob in made else None
    return step


def measure(step_list, runner, tf_value, preacts, tolerance_of, advance=None):
    """Run each step in the Caffe child. runner: set(blob, NCHW array), run(first, last), get(blob);
    tf_value(tensor): TF's value (TF layout); preacts: node name -> TF's value before the activation;
    tolerance_of(op): the Tolerance of a node's own error. Call it right after the end-to-end run: a
    step's output blobs still hold their end-to-end values when it starts (earlier steps write only
    their own layers' blobs and the blobs of earlier tensors), which it keeps for the comparison.
    Returns {(node name, tensor, or "preact"): verify.compare's metrics of the lowering's own output,
    plus `inherited_abs`: max |end to end - own|, the part of the end-to-end error the layer inherited
    from its inputs}. advance(): called once a step (progress)."""
    result = {}
    for step in step_list:
        if advance is not None:
            advance()
        if step.why_not is not None:
            continue
        reads = [(tensor, ref, tf_value(tensor)) for tensor, ref in step.outputs]
        if step.preact is not None and step.outputs and step.node["name"] in preacts:
            reads.append(("preact", _with_blob(step.outputs[0][1], step.preact), preacts[step.node["name"]]))
        e2e = dict((ref.blob, runner.get(ref.blob).copy()) for _, ref, _ in reads) if step.first else {}
        for blob, tensor, lay in step.feeds:
            runner.set(blob, layout.activation_to_caffe(tf_value(tensor), lay))
        if step.first is not None:
            runner.run(step.first, step.last)
        tol = tolerance_of(step.node["op"])
        for key, ref, expected in reads:
            own = layout.activation_view_in_tf(runner.get(ref.blob), ref.layout, ref.shape)
            metrics = verify.compare(expected, own, tol)
            if ref.blob in e2e and metrics.get("max_abs") is not None:
                before = layout.activation_view_in_tf(e2e[ref.blob], ref.layout, ref.shape)
                metrics["inherited_abs"] = verify.max_abs_diff(before, own)
            result[(step.node["name"], key)] = metrics
    return result


def _with_blob(ref, blob):
    from .plan import TensorRef
    return TensorRef(blob, ref.shape, ref.layout)
