"""Control flow with a constant predicate, resolved statically: the taken branch stays, the other goes.

* tf.cond v1 (`Switch` / `Merge`): a Switch whose predicate is constant forwards its data to the taken
  output; the other output is dead, and so is every op that reads a dead tensor or has a dead control
  input (a branch's constants hang off `switch_t` / `switch_f` by control edges), as TensorFlow's executor
  propagates it (except for a Merge: it is dead only when all its data inputs are). A Merge with one
  live input becomes an Identity of it. Repeated until nothing changes
  (nested conds: the inner predicate is constant once the outer one is folded).
* tf.cond v2 (`If` / `StatelessIf`): the taken branch function is inlined in place of the op (its nodes
  under the op's name), its arguments wired to the op's inputs, the op's outputs to the function's.

Predicates are evaluated by TensorFlow on the predicate's own subgraph (constants only: the training
flags and --set values are constants by now, settings.py). A predicate that depends on a model input,
an unset placeholder or a random op cannot be resolved: the op is left in place with the reason in its
`_tf2caffe_refused` attribute, which the lowering's refusal names (lower.refuse_control_flow).
"""
from shared.errors import ModelLoadError

from .names import is_scalar_placeholder, op_name
from .variables import ancestors_in

REASON_ATTR = "_tf2caffe_refused"
_RANDOM = ("RandomUniform", "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt", "Multinomial",
           "RandomShuffle", "StatelessRandomUniformV2", "StatelessRandomNormalV2", "RandomGamma",
           "RandomPoisson", "RandomPoissonV2")
_LOOP = ("Enter", "RefEnter", "Exit", "RefExit", "NextIteration", "RefNextIteration", "LoopCond")
IF_OPS = ("If", "StatelessIf")
_DT_RESOURCE = 20
SWITCH_OPS = ("Switch", "RefSwitch")
MERGE_OPS = ("Merge", "RefMerge")


def _split(tensor):
    """'op:1' -> ('op', 1); 'op' -> ('op', 0)."""
    name = tensor.lstrip("^")
    if ":" in name and name.rsplit(":", 1)[1].isdigit():
        op, index = name.rsplit(":", 1)
        return op, int(index)
    return name, 0


def _predicate(node):
    return node.input[1] if node.op in SWITCH_OPS else node.input[0]


def resolve_control_flow(graph_def, fed, where, log=None):
    """Fold every Switch/Merge and inline every If whose predicate is constant (in place, repeatedly).
    `fed`: the input tensors (data, never constant). Returns the number of ops resolved."""
    log = log or (lambda msg: None)
    total = 0
    for _ in range(64):
        pending = [n for n in graph_def.node if n.op in SWITCH_OPS + IF_OPS and REASON_ATTR not in n.attr]
        if not pending:
            break
        values = _evaluate(graph_def, pending, fed, where)
        if not values:
            break
        switches = dict((n.name, values[n.name]) for n in pending if n.op in SWITCH_OPS and n.name in values)
        if switches:
            _fold_switches(graph_def, switches)
        for node in [n for n in graph_def.node if n.op in IF_OPS and n.name in values]:
            _inline_if(graph_def, node, values[node.name])
        total += len(values)
    if total:
        log("resolved %d control-flow op(s) with constant predicates (the inference branches kept)" % total)
    return total


def _evaluate(graph_def, pending, fed, where):
    """{op name: bool} for the pending ops whose predicate is constant; the others get their reason."""
    by_name = dict((n.name, n) for n in graph_def.node)
    fed_ops = set(op_name(t) for t in fed or [])
    fetch = {}
    for node in pending:
        reason = _why_not_constant(by_name, _predicate(node), fed_ops)
        if reason:
            node.attr[REASON_ATTR].s = ("its predicate %s %s" % (op_name(_predicate(node)), reason)).encode()
        else:
            fetch[node.name] = _predicate(node)
    if not fetch:
        return {}
    import numpy as np
    import tensorflow as tf
    needed = ancestors_in(by_name, list(fetch.values()), control=False)
    sub = tf.compat.v1.GraphDef()
    sub.versions.CopyFrom(graph_def.versions)
    sub.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.name in needed:
            new = sub.node.add()
            new.CopyFrom(node)
            keep = [i for i in node.input if not i.startswith("^")]
            del new.input[:]
            new.input.extend(keep)
    graph = tf.Graph()
    names = sorted(fetch)
    try:
        with graph.as_default():
            tf.import_graph_def(sub, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            got = sess.run([_tensor(fetch[n]) for n in names])
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ModelLoadError("%s: TensorFlow could not evaluate the control-flow predicates %s (%s: %s)"
                             % (where, ", ".join(op_name(fetch[n]) for n in names[:4]), type(exc).__name__,
                                text[0] if text else ""))
    out = {}
    for name, value in zip(names, got):
        value = np.asarray(value)
        if value.size != 1:
            by_name[name].attr[REASON_ATTR].s = ("its predicate %s is not a scalar (shape %s)"
                                                 % (op_name(fetch[name]), list(value.shape))).encode()
            continue
        out[name] = bool(value.reshape(-1)[0])
    return out


def _tensor(name):
    return name if ":" in name else name + ":0"


def _why_not_constant(by_name, tensor, fed_ops):
    """None if the tensor depends on constants only, else why not (for the refusal message)."""
    for name in sorted(ancestors_in(by_name, [tensor], control=False)):
        node = by_name[name]
        if name in fed_ops:
            return "depends on the model input %s: the branch taken depends on the data" % name
        if node.op == "Placeholder" and is_scalar_placeholder(node):
            return ("depends on placeholder %s, which is not set (give its value with --set %s=VALUE)"
                    % (name, name))
        if node.op == "Placeholder":
            return "depends on the model input %s: the branch taken depends on the data" % name
        if node.op in _RANDOM:
            return "depends on the random op %s: the branch taken changes from run to run" % name
        if node.op in ("VariableV2", "Variable", "VarHandleOp"):
            return "depends on variable %s, which has no value" % name
        if node.op in _LOOP:
            return "is computed inside a while loop (%s)" % name
    return None



def _fold_switches(graph_def, switches):
    """Fold the given Switch ops ({name: predicate value}); remove the dead ops."""
    by_name = dict((n.name, n) for n in graph_def.node)
    dead_tensors = set()       # (op, port)
    forward = {}               # (switch, live port) -> the switch's data input
    for name, value in switches.items():
        port = 1 if value else 0
        forward[(name, port)] = by_name[name].input[0]
        dead_tensors.add((name, 1 - port))
    dead = set()
    merges = {}
    for node in _topological(graph_def):
        if node.name in switches:
            continue
        data = [_split(i) for i in node.input if not i.startswith("^")]
        controls = [op_name(i) for i in node.input if i.startswith("^")]
        if node.op in MERGE_OPS:
            live = [k for k, (op, port) in enumerate(data) if op not in dead and (op, port) not in dead_tensors]
            if not live:        # a dead control input only counts as arrived for a Merge
                dead.add(node.name)
            elif len(live) < len(data):
                merges[node.name] = live
            continue
        if any(op in dead or (op, port) in dead_tensors for op, port in data) or any(c in dead for c in controls):
            dead.add(node.name)
    _rewrite(graph_def, dead, switches, forward, merges)


def _rewrite(graph_def, dead, switches, forward, merges):
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util
    import numpy as np
    removed = dead | set(switches)
    keep = [n for n in graph_def.node if n.name not in removed]
    value_index = {}
    for node in keep:
        if node.name in merges:
            live = merges[node.name]
            data = [i for i in node.input if not i.startswith("^")]
            controls = [i for i in node.input if i.startswith("^")]
            if len(live) == 1:
                node.op = "Identity"
                if "N" in node.attr:
                    del node.attr["N"]
                if "_output_shapes" in node.attr and len(node.attr["_output_shapes"].list.shape) > 1:
                    del node.attr["_output_shapes"].list.shape[1:]
                del node.input[:]
                node.input.extend([data[live[0]]] + controls)
                value_index[node.name] = live[0]
            else:
                del node.input[:]
                node.input.extend([data[k] for k in live] + controls)
                node.attr["N"].i = len(live)
    consts = []
    for merge, index in value_index.items():
        const = tf.compat.v1.NodeDef()
        const.name = merge + "/value_index_folded"
        const.op = "Const"
        const.attr["dtype"].type = tf.int32.as_datatype_enum
        const.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(np.int32(index)))
        consts.append(const)
    for node in keep:
        inputs = []
        for i in node.input:
            op, port = _split(i)
            if i.startswith("^"):
                if op in removed:
                    if op in switches:
                        data_op = op_name(switches_input(graph_def, op, forward))
                        if data_op and ("^" + data_op) not in inputs:
                            inputs.append("^" + data_op)
                    continue
                inputs.append(i)
            elif (op, port) in forward:
                inputs.append(forward[(op, port)])
            elif op in value_index and port == 1:
                inputs.append(op + "/value_index_folded")
            else:
                inputs.append(i)
        del node.input[:]
        node.input.extend(inputs)
    del graph_def.node[:]
    graph_def.node.extend(keep + consts)


def switches_input(graph_def, switch, forward):
    for (name, _), tensor in forward.items():
        if name == switch:
            return tensor
    return ""


def _topological(graph_def):
    """The nodes in an order where every op comes after its inputs (cycles: the rest in file order)."""
    by_name = dict((n.name, n) for n in graph_def.node)
    deps = dict((n.name, set(op_name(i) for i in n.input if op_name(i) in by_name)) for n in graph_def.node)
    users = {}
    for name, ds in deps.items():
        for d in ds:
            users.setdefault(d, []).append(name)
    remaining = dict((k, len(v)) for k, v in deps.items())
    ready = [n.name for n in graph_def.node if not deps[n.name]]
    order, placed = [], set()
    while ready:
        name = ready.pop()
        order.append(by_name[name])
        placed.add(name)
        for u in users.get(name, []):
            remaining[u] -= 1
            if remaining[u] == 0:
                ready.append(u)
    order += [n for n in graph_def.node if n.name not in placed]
    return order


def _inline_if(graph_def, node, value):
    """Replace an If op by the body of its taken branch."""
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def
    branch = node.attr["then_branch" if value else "else_branch"].func.name
    functions = dict((f.signature.name, f) for f in graph_def.library.function)
    if branch not in functions:
        node.attr[REASON_ATTR].s = ("its branch function %s is not in the graph's library" % branch).encode()
        return
    fdef = functions[branch]
    body, flat = function_def_to_graph_def(fdef)
    args = [a.name for a in fdef.signature.input_arg]
    data_inputs = [i for i in node.input if not i.startswith("^")][1:]
    controls = [i for i in node.input if i.startswith("^")]
    wiring = dict(zip(args, data_inputs))
    prefix = node.name + "/"
    taken = set(n.name for n in graph_def.node)

    def renamed(tensor):
        control = tensor.startswith("^")
        op, port = _split(tensor)
        if op in wiring:
            if control:
                return "^" + op_name(wiring[op])
            return wiring[op]
        new = prefix + op
        return ("^" + new) if control else "%s:%d" % (new, port)

    added = []
    for inner in body.node:
        if inner.name in wiring:
            continue
        new = graph_def.node.add()
        new.CopyFrom(inner)
        new.name = prefix + inner.name
        if new.name in taken:
            raise ModelLoadError("inlining %s: a node %s already exists" % (node.name, new.name))
        del new.input[:]
        new.input.extend([renamed(i) for i in inner.input] + (controls if not inner.input else []))
        added.append(new)
    # a resource argument fed by a frozen variable (a Const by now): the body reads the value itself
    outer = dict((n.name, n) for n in graph_def.node)
    frozen = {}
    for arg, tensor in zip(fdef.signature.input_arg, data_inputs):
        source = outer.get(op_name(tensor))
        if arg.type == _DT_RESOURCE and source is not None and source.op in ("Const", "Placeholder"):
            frozen[source.name] = source.attr["dtype"].type
    outputs = [renamed(flat[fdef.ret[a.name]]) for a in fdef.signature.output_arg]
    name = node.name
    read = False
    for other in graph_def.node:
        if other.name == name:
            continue
        read = read or any(_split(i)[0] == name for i in other.input)
        changed = []
        for i in other.input:
            op, port = _split(i)
            if op != name:
                changed.append(i)
            elif i.startswith("^"):
                changed.extend("^" + op_name(t) for t in outputs[:1])
            else:
                changed.append(outputs[port])
        del other.input[:]
        other.input.extend(changed)
    keep = [n for n in graph_def.node if n.name != name]
    del graph_def.node[:]
    graph_def.node.extend(keep)
    if not read and len(outputs) == 1:
        # a sink (the model's output itself): its name stays, an Identity of the branch's result
        sink = graph_def.node.add()
        sink.name, sink.op = name, "Identity"
        sink.input.append(outputs[0])
        sink.attr["T"].type = fdef.signature.output_arg[0].type
    if frozen:
        from .variables import values_flow
        values_flow(graph_def, frozen)
