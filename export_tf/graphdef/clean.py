"""A frozen GraphDef -> the cleaned graph to lower.

* pruned to what the outputs need, cut at the inputs (training ops, savers and summaries go);
* identities (Identity, StopGradient, Snapshot, ...) become aliases of their input;
* every tensor is either DATA (it depends on an input's values) or STATIC (it does not: constants, weights
  read from frozen variables, and shape arithmetic such as Shape -> StridedSlice -> Pack). STATIC
  tensors are folded: TF computes them once with the reference run and handlers read them as numpy
  arrays (weights, biases, paddings, axes); only DATA nodes become manifest nodes.

Works on the GraphDef's protobuf objects only; TensorFlow itself is not imported here.
"""
from shared.errors import ModelLoadError, UsageError

from .names import InputSpec, is_scalar_placeholder, op_name, tensor_name

IDENTITY_OPS = ("Identity", "StopGradient", "Snapshot", "PreventGradient", "CheckNumerics", "EnsureShape")
# Ops whose output depends on the input's shape only, never on its values.
SHAPE_OPS = ("Shape", "ShapeN", "Size", "Rank")
NON_OUTPUT_OPS = ("Const", "NoOp", "Placeholder", "PlaceholderWithDefault", "Assert", "VariableV2",
                  "VarHandleOp", "SaveV2", "RestoreV2", "Print", "PrintV2")


class TfNode(object):
    def __init__(self, pb):
        self.pb = pb
        self.name = pb.name
        self.op = pb.op
        self.inputs = [t for t in (tensor_name(i) for i in pb.input) if t is not None]
        self.attr = pb.attr


class CleanGraph(object):
    def __init__(self, nodes, order, inputs, outputs, data, alias, consumers):
        self.nodes = nodes          # op name -> TfNode (the pruned graph)
        self.order = order          # DATA op names in topological order (aliases included)
        self.inputs = inputs        # [InputSpec] with tensors as fed
        self.outputs = outputs      # [tensor name] as requested
        self.data = data            # set of DATA tensor names
        self.alias = alias          # tensor -> the tensor it is an identity of
        self.consumers = consumers  # resolved tensor -> [(op name, input index)] among DATA nodes

    def resolve(self, tensor):
        while tensor in self.alias:
            tensor = self.alias[tensor]
        return tensor

    def is_data(self, tensor):
        return tensor in self.data

    def writer(self, tensor):
        """The op writing `tensor`, through identities (None for a tensor no op of the graph writes)."""
        return self.nodes.get(op_name(self.resolve(tensor)))

    def static_inputs(self):
        """Static tensors that DATA nodes read (their values are folded by the reference run)."""
        out = []
        for name in self.order:
            for t in self.nodes[name].inputs:
                if t not in self.data and t not in out:
                    out.append(t)
        return out


def default_outputs(graph_def):
    """The graph's sinks: float outputs of ops no other op reads (the usual outputs of a frozen graph)."""
    used = set()
    for n in graph_def.node:
        for i in n.input:
            if not i.startswith("^"):     # a control edge reads no value
                used.add(op_name(i))
    return [n.name + ":0" for n in graph_def.node if n.name not in used and n.op not in NON_OUTPUT_OPS
            and not n.op.startswith("Save") and not n.op.startswith("Restore")]


def clean(graph_def, inputs, outputs, where, constants=()):
    """constants: tensors of placeholders that stand for constants (a checkpoint's weights, fed by the
    reference run): static, never inputs."""
    nodes = dict((n.name, TfNode(n)) for n in graph_def.node)
    constant_ops = set(op_name(t) for t in constants)
    sinks = outputs is None
    if sinks:
        outputs = default_outputs(graph_def)
        if not outputs:
            raise UsageError("%s: the graph has no sinks to use as outputs; name them with --outputs" % where)
    for t in outputs:
        if op_name(t) not in nodes:
            raise UsageError("%s: no op %r for output %s" % (where, op_name(t), t))
    fed = set(s.tensor for s in inputs or [])
    for t in fed:
        if op_name(t) not in nodes:
            raise UsageError("%s: no op %r for input %s" % (where, op_name(t), t))

    # prune: what the outputs need, not looking past the inputs
    needed, stack = set(), [op_name(t) for t in outputs]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        for t in nodes[name].inputs:
            if t not in fed and op_name(t) not in needed:
                if op_name(t) not in nodes:
                    raise ModelLoadError("%s: op %r reads %r, which is not in the graph" % (where, name, t))
                stack.append(op_name(t))
    order = _topological(nodes, needed, fed, where)

    if inputs is None:
        # a scalar placeholder (a keep_prob, a flag) is no model input: it must be set (--set)
        inputs = [InputSpec(n + ":0") for n in order if nodes[n].op == "Placeholder" and not is_scalar_placeholder(nodes[n])
                  and n not in constant_ops]
        if not inputs:
            raise UsageError("%s: the outputs depend on no placeholder; name the inputs with --inputs" % where)
        fed = set(s.tensor for s in inputs)
    unfed = [n for n in order if nodes[n].op == "Placeholder" and n + ":0" not in fed and n not in constant_ops]
    if unfed:
        raise UsageError("%s: the outputs need placeholder(s) %s that are not inputs; list every model "
                         "input with --inputs, or fix a flag such as a dropout keep_prob at its inference value with "
                         "--set NAME=VALUE (training flags such as is_training are set to false by themselves)"
                         % (where, ", ".join(unfed[:5])))

    read = {}
    for name in order:
        for t in nodes[name].inputs:
            op, index = t.rsplit(":", 1)
            read[op] = max(read.get(op, 0), int(index))
    for t in outputs:
        op, index = t.rsplit(":", 1)
        read[op] = max(read.get(op, 0), int(index))
    data, alias, data_order = set(fed), {}, []
    for name in order:
        node = nodes[name]
        if node.op in SHAPE_OPS or not any(t in data for t in node.inputs):
            continue
        for k in range(read.get(name, 0) + 1):
            data.add("%s:%d" % (name, k))
        if node.op in IDENTITY_OPS and node.inputs:
            alias[name + ":0"] = node.inputs[0]
        data_order.append(name)
    if sinks and any(t in data for t in outputs):
        outputs = [t for t in outputs if t in data]     # sinks that are constants are not model outputs
    missing = [t for t in outputs if t not in data]
    if missing:
        raise UsageError("%s: output %s does not depend on the inputs (%s)"
                         % (where, missing[0], ", ".join(s.tensor for s in inputs)))
    graph = CleanGraph(dict((n, nodes[n]) for n in order), data_order, inputs, outputs, data, alias, {})
    for name in data_order:
        if name + ":0" in alias:
            continue
        for k, t in enumerate(nodes[name].inputs):
            if t in data:
                graph.consumers.setdefault(graph.resolve(t), []).append((name, k))
    return graph



def _topological(nodes, needed, fed, where):
    deps = dict((n, set(op_name(t) for t in nodes[n].inputs if t not in fed and op_name(t) in needed))
                for n in needed)
    users = {}
    for n, ds in deps.items():
        for d in ds:
            users.setdefault(d, []).append(n)
    position = dict((n.name, i) for i, n in enumerate(nodes[k].pb for k in nodes))
    ready = sorted((n for n, ds in deps.items() if not ds), key=position.get, reverse=True)
    order = []
    remaining = dict((n, len(ds)) for n, ds in deps.items())
    while ready:
        n = ready.pop()
        order.append(n)
        for u in sorted(users.get(n, []), key=position.get, reverse=True):
            remaining[u] -= 1
            if remaining[u] == 0:
                ready.append(u)
    if len(order) != len(needed):
        raise ModelLoadError("%s: the graph has a cycle: a while loop lowered into Enter / Merge / NextIteration "
                             "ops, which is not converted; a recurrent layer's loop converts from its SavedModel, "
                             "or from a graph frozen with convert_variables_to_constants_v2(..., "
                             "lower_control_flow=False)" % where)
    return order
