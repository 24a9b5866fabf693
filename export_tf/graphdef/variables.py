"""A TF1 checkpoint's graph with its variables replaced by their saved values, read without a Saver.

The MetaGraphDef is parsed here (its collections are never looked at: tflearn's name ops such as
`Momentum` that import_meta_graph cannot resolve), its graph_def pruned to what the outputs need, and
every variable node on that path (`VariableV2` / `Variable`: ref variables; `VarHandleOp` read through
`ReadVariableOp`: resource variables) replaced by a Const holding the checkpoint's value
(`tf.train.load_checkpoint`). A variable's key in the checkpoint is the name its graph's Saver wrote it
under (read from the SaveV2 op's tensor_names, so a Saver built with its own var_list names is
followed), else its op name (or a resource variable's shared_name). No session restores anything, so no
training state (optimizer slots, step counters, the saver's own ops) is ever loaded.
"""
import numpy as np

from shared.errors import ModelLoadError, UsageError

from .names import op_name

REF_VARIABLES = ("VariableV2", "Variable")
RESOURCE_VARIABLES = ("VarHandleOp",)
_PASS_THROUGH = ("Identity", "ReadVariableOp")


def read_meta_graph(path):
    """The MetaGraphDef's graph_def (device placements cleared); nothing else of it is used."""
    from tensorflow.core.protobuf import meta_graph_pb2
    meta = meta_graph_pb2.MetaGraphDef()
    try:
        with open(path, "rb") as f:
            meta.ParseFromString(f.read())
    except Exception as exc:
        raise ModelLoadError("%s: not a readable MetaGraphDef (%s: %s)" % (path, type(exc).__name__,
                                                                           _first_line(exc)))
    graph_def = meta.graph_def
    if not graph_def.node:
        raise ModelLoadError("%s: the MetaGraphDef holds no graph" % path)
    for node in graph_def.node:
        node.device = ""
    return graph_def


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def ancestors(graph_def, tensors, control=True):
    """Op names the tensors need (their data inputs, and control inputs too when `control`)."""
    return ancestors_in(dict((n.name, n) for n in graph_def.node), tensors, control)


def ancestors_in(by_name, tensors, control=True):
    """ancestors() in a graph given as {op name: NodeDef}."""
    seen, stack = set(), [op_name(t) for t in tensors]
    while stack:
        name = stack.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        for i in by_name[name].input:
            if control or not i.startswith("^"):
                stack.append(op_name(i))
    return seen


def saver_keys(graph_def):
    """{variable op name: checkpoint key} from the graph's SaveV2 / Save ops (the names a Saver wrote)."""
    by_name = dict((n.name, n) for n in graph_def.node)
    keys = {}
    for node in graph_def.node:
        if node.op not in ("SaveV2", "Save") or len(node.input) < 3:
            continue
        names_node = by_name.get(op_name(node.input[1]))
        if names_node is None or names_node.op != "Const":
            continue
        from tensorflow.python.framework import tensor_util
        try:
            names = [x.decode("utf-8") if isinstance(x, bytes) else str(x)
                     for x in tensor_util.MakeNdarray(names_node.attr["value"].tensor).reshape(-1)]
        except Exception:
            continue
        first = 3 if node.op == "SaveV2" else 2
        for key, tensor in zip(names, node.input[first:]):
            var = _variable_behind(by_name, tensor)
            if var is not None:
                keys.setdefault(var, key)
    return keys


def _variable_behind(by_name, tensor):
    """The variable op a saved tensor reads (through Identity / ReadVariableOp), or None."""
    node = by_name.get(op_name(tensor))
    for _ in range(8):
        if node is None:
            return None
        if node.op in REF_VARIABLES + RESOURCE_VARIABLES:
            return node.name
        if node.op not in _PASS_THROUGH or not node.input:
            return None
        node = by_name.get(op_name(node.input[0]))
    return None


def _candidates(node, saved):
    keys = [saved.get(node.name), node.name]
    if node.op in RESOURCE_VARIABLES and node.attr["shared_name"].s:
        keys.append(node.attr["shared_name"].s.decode("utf-8"))
    return [k for k in keys if k]


# A variable of at least this many elements is kept out of the GraphDef: a Placeholder fed with its value
# (a GraphDef holds its constants as serialised copies, and cannot exceed protobuf's 2 GB).
FED_ELEMENTS = 1024


def freeze_from_checkpoint(graph_def, prefix, outputs, where, fixed=None):
    """(the graph_def pruned to what `outputs` need, {tensor: numpy value}): its variables there replaced
    by their checkpoint values (or `fixed`: {variable op name: value}, the training flags and --set
    values): a Const for a small one, a Placeholder to feed with the returned value for a large one (the
    weights). Raises ModelLoadError naming a variable the outputs read that the checkpoint lacks."""
    import tensorflow as tf
    fixed = fixed or {}
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
    except Exception as exc:
        raise ModelLoadError("%s: could not read the checkpoint's variables (%s: %s)"
                             % (prefix, type(exc).__name__, _first_line(exc)))
    keep = ancestors(graph_def, outputs)
    data_needed = ancestors(graph_def, outputs, control=False)
    saved = saver_keys(graph_def)
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    frozen, constants = {}, {}
    for node in graph_def.node:
        if node.name not in keep:
            continue
        if node.op in REF_VARIABLES + RESOURCE_VARIABLES:
            value = fixed.get(node.name)
            if value is None:
                value = _value(reader, shapes, node, saved, where, required=node.name in data_needed)
            if value is not None:
                dtype = node.attr["dtype"].type
                if np.size(value) >= FED_ELEMENTS:
                    out.node.add().CopyFrom(_placeholder(node.name, value, dtype))
                    constants[node.name + ":0"] = np.asarray(value)
                else:
                    out.node.add().CopyFrom(_const(node.name, value, dtype))
                frozen[node.name] = dtype
                continue
        new = out.node.add()
        new.CopyFrom(node)
        # control inputs to ops outside the kept graph (savers, initializers) go
        keep_inputs = [i for i in node.input if not i.startswith("^") or op_name(i) in keep]
        del new.input[:]
        new.input.extend(keep_inputs)
    values_flow(out, frozen)
    return out, constants


def constant_values(graph, tensors, constants):
    """{tensor: value} for the static tensors that read a fed variable value through identities (their
    values need no TF run: the arrays themselves, not copies)."""
    from .clean import IDENTITY_OPS
    found = {}
    for tensor in tensors:
        t = tensor
        for _ in range(16):
            if t in constants:
                found[tensor] = constants[t]
                break
            node = graph.nodes.get(op_name(t))
            if node is None or node.op not in IDENTITY_OPS or not t.endswith(":0") or not node.inputs:
                break
            t = node.inputs[0]
    return found


def _placeholder(name, value, dtype_enum):
    import tensorflow as tf
    node = tf.compat.v1.NodeDef()
    node.name = name
    node.op = "Placeholder"
    node.attr["dtype"].type = tf.dtypes.as_dtype(dtype_enum).base_dtype.as_datatype_enum
    for d in np.shape(value):
        node.attr["shape"].shape.dim.add().size = int(d)
    return node


# ops a variable's handle or reference passes through unchanged (their type becomes the value's)
_CARRY = {"Identity": "Identity", "RefIdentity": "Identity", "Switch": "Switch", "RefSwitch": "Switch",
          "Merge": "Merge", "RefMerge": "Merge", "Enter": "Enter", "RefEnter": "Enter", "Exit": "Exit",
          "RefExit": "Exit", "NextIteration": "NextIteration", "RefNextIteration": "NextIteration"}
_DT_RESOURCE = 20
_REF_OFFSET = 100


def values_flow(graph_def, frozen):
    """Rewrite the consumers of the frozen variables (now Consts): what carried the handle or reference
    carries the value, a ReadVariableOp becomes an Identity, and what wrote to the variable or asked about
    it (Assign, AssignVariableOp, optimizer updates, initialisation checks) goes, with what depends on it
    through data; control edges to it are dropped."""
    carrying = dict((name, dtype) for name, dtype in frozen.items())       # op name -> value dtype enum
    removed = set()
    changed = True
    while changed:
        changed = False
        for node in graph_def.node:
            if node.name in removed or node.name in carrying:
                continue
            data = [op_name(i) for i in node.input if not i.startswith("^")]
            if any(d in removed for d in data):
                removed.add(node.name)
                changed = True
                continue
            sources = [d for d in data if d in carrying]
            if not sources:
                continue
            dtype = carrying[sources[0]]
            if node.op == "ReadVariableOp":
                node.op = "Identity"
                del node.attr["dtype"]
                node.attr["T"].type = dtype
                carrying[node.name] = dtype
            elif node.op in _CARRY and (node.op.endswith("Merge") or data[0] in carrying):
                node.op = _CARRY[node.op]
                if "T" in node.attr and (node.attr["T"].type == _DT_RESOURCE or node.attr["T"].type > _REF_OFFSET):
                    node.attr["T"].type = dtype
                carrying[node.name] = dtype
            elif node.op in ("VarIsInitializedOp", "IsVariableInitialized"):
                _make_const(node, np.asarray(True))
            else:
                if _reads_reference(node):
                    removed.add(node.name)
                    changed = True
                continue
            changed = True
    if removed:
        keep = [n for n in graph_def.node if n.name not in removed]
        for node in keep:
            inputs = [i for i in node.input if not (i.startswith("^") and op_name(i) in removed)]
            del node.input[:]
            node.input.extend(inputs)
        del graph_def.node[:]
        graph_def.node.extend(keep)


def _reads_reference(node):
    """An op that takes a variable itself (a handle or a reference), not its value: it writes or inspects
    the variable."""
    name = node.op
    return (name.startswith("Assign") or name.startswith("Resource") or name.startswith("Scatter")
            or name.startswith("Apply") or name in ("VariableShape", "DestroyResourceOp", "CountUpTo")
            or name.startswith("Sparse") and "Apply" in name)


def _make_const(node, value):
    from tensorflow.python.framework import tensor_util
    controls = [i for i in node.input if i.startswith("^")]
    node.op = "Const"
    del node.input[:]
    node.input.extend(controls)
    for key in list(node.attr.keys()):
        del node.attr[key]
    proto = tensor_util.make_tensor_proto(value)
    node.attr["dtype"].type = proto.dtype
    node.attr["value"].tensor.CopyFrom(proto)


def _value(reader, shapes, node, saved, where, required):
    for key in _candidates(node, saved):
        if key in shapes:
            value = reader.get_tensor(key)
            declared = _declared_shape(node)
            if declared is not None and list(np.shape(value)) != declared:
                raise ModelLoadError("%s: variable %s has shape %s in the graph but %s in the checkpoint "
                                     "(key %s)" % (where, node.name, declared, list(np.shape(value)), key))
            return value
    if required:
        keys = sorted(shapes)
        raise ModelLoadError("%s: the outputs read variable %s, which the checkpoint does not hold (tried "
                             "%s; the checkpoint has %d variables, e.g. %s)"
                             % (where, node.name, ", ".join(_candidates(node, saved)), len(keys),
                                ", ".join(keys[:5])))
    return None


def _declared_shape(node):
    if "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
        return None
    dims = [d.size for d in node.attr["shape"].shape.dim]
    return None if any(d < 0 for d in dims) else dims


def _const(name, value, dtype_enum):
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util
    dtype = tf.dtypes.as_dtype(dtype_enum).base_dtype
    node = tf.compat.v1.NodeDef()
    node.name = name
    node.op = "Const"
    node.attr["dtype"].type = dtype.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(np.asarray(value), dtype=dtype))
    return node


def check_outputs_exist(graph_def, outputs, where):
    names = set(n.name for n in graph_def.node)
    for t in outputs:
        if op_name(t) not in names:
            raise UsageError("--outputs: %s has no op %r" % (where, op_name(t)))
