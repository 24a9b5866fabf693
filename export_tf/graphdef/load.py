"""SavedModel / frozen GraphDef / TF1 checkpoint -> a frozen GraphDef and the model's inputs and outputs.

* SavedModel: the signature's concrete function (``serving_default`` unless ``--signature``) frozen with
  ``convert_variables_to_constants_v2``; its arguments are the inputs, its outputs the outputs (by the
  signature's names). The function itself is kept to check the frozen graph against. A signature that
  assigns a variable (a stateful layer's state) is refused first, status 4 (refuse_assignments).
* frozen GraphDef: read as is.
* TF1 checkpoint: the MetaGraphDef's graph_def (its collections ignored), pruned to the outputs (which
  must be named when the graph also holds training ops: there is no telling the model's output from the
  loss otherwise), its variables replaced by the checkpoint's values (variables.py): no Saver, no session.

Then, for every format: the training flags set to inference and the --set values applied (settings.py),
and control flow with a constant predicate resolved (controlflow.py).

Graphs without named inputs or outputs get defaults in clean.py: the placeholders the outputs need,
and the sinks of the graph.
"""
import functools
import hashlib
import os

from shared.errors import ModelLoadError, UnsupportedError, UsageError
from shared.unsupported import format_unsupported

from ..registry import supported_ops
from .controlflow import resolve_control_flow
from .names import InputSpec, op_name, strip_call_prefix, tensor_name
from .settings import fix_values


class LoadedGraph(object):
    def __init__(self, graph_def, inputs, outputs, source, input_names=None, output_names=None,
                 function=None, constants=None):
        self.graph_def = graph_def
        self.inputs = inputs                # [InputSpec] or None (the placeholders the outputs need)
        self.outputs = outputs              # [tensor name] or None (the sinks)
        self.source = source                # {"path", "sha256", "format"}
        self.input_names = input_names or {}    # tensor -> user-facing name (signature argument)
        self.output_names = output_names or {}  # tensor -> user-facing name (signature output)
        self.function = function            # the SavedModel's signature function, to check against
        self.constants = constants or {}    # tensor -> value of the placeholders standing for large
                                            # variables (a checkpoint's weights): fed, never inputs


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return "%s: %s" % (type(exc).__name__, text[0] if text else "")


def _digest(paths):
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _files_under(folder):
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out += [os.path.join(root, f) for f in sorted(files)]
    return out


def load_graph(fmt, path, inputs=None, outputs=None, signature=None, settings=None, log=None):
    """inputs: [InputSpec] or None; outputs: [tensor name] or None; settings: {op name: value} (--set).
    Returns a LoadedGraph whose graph is fixed at inference (training flags, --set) with its constant
    control flow resolved."""
    if signature is not None and fmt != "savedmodel":
        raise UsageError("--signature applies to SavedModels only; %s is a %s" % (path, fmt))
    settings = settings or {}
    if fmt == "savedmodel":
        loaded = _saved_model(path, inputs, outputs, signature, settings, log)
    elif fmt == "graphdef":
        loaded = _graph_def_file(path, inputs, outputs)
    elif fmt == "checkpoint":
        return _checkpoint(path, inputs, outputs, settings, log)
    else:
        raise UsageError("%s: format %r is not a graph format" % (path, fmt))
    if fmt == "graphdef":
        fix_values(loaded.graph_def, settings, [s.tensor for s in loaded.inputs or []], path, log)
    resolve_control_flow(loaded.graph_def, [s.tensor for s in loaded.inputs or []], path, log)
    return loaded


def _saved_model(path, inputs, outputs, signature, settings, log):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    try:
        loaded = tf.saved_model.load(path)
    except Exception as exc:
        raise ModelLoadError("%s: TensorFlow could not load the SavedModel (%s)" % (path, _first_line(exc)))
    names = sorted(loaded.signatures.keys())
    if not names:
        raise ModelLoadError("%s: the SavedModel has no signatures; save it with a signature "
                             "(tf.saved_model.save(module, path, signatures=...)) or Keras model.export()"
                             % path)
    name = signature or ("serving_default" if "serving_default" in names else
                         (names[0] if len(names) == 1 else None))
    if name is None:
        raise UsageError("%s: several signatures (%s) and none is serving_default; choose one with "
                         "--signature NAME" % (path, ", ".join(names)))
    if name not in names:
        raise UsageError("%s: no signature %r; the SavedModel has %s" % (path, name, ", ".join(names)))
    function = loaded.signatures[name]
    refuse_assignments(function.graph.as_graph_def(), "%s (signature %r)" % (path, name))
    try:
        frozen = convert_variables_to_constants_v2(function)
        if any(n.op == "Enter" for n in frozen.graph.as_graph_def().node):
            # a while loop (a recurrent layer): kept as one While op with its body function, which
            # loops.py recognises, rather than lowered into Enter / Merge / Switch / NextIteration cycles
            frozen = convert_variables_to_constants_v2(function, lower_control_flow=False)
    except Exception as exc:
        raise ModelLoadError("%s: could not freeze signature %r (%s)" % (path, name, _first_line(exc)))
    graph_def = frozen.graph.as_graph_def()
    args, kwargs = function.structured_input_signature        # the frozen function drops the names
    arg_names = [getattr(s, "name", None) for s in tf.nest.flatten(args)] + sorted(kwargs or {})
    placeholders = [t.name for t in frozen.inputs]
    if len(arg_names) != len(placeholders):
        arg_names = [None] * len(placeholders)
    input_names = dict((t, a or op_name(t)) for t, a in zip(placeholders, arg_names))
    structured = function.structured_outputs      # the frozen function keeps a flat list only
    frozen_outs = [t.name for t in frozen.outputs]
    if isinstance(structured, dict) and len(structured) == len(frozen_outs):
        out_pairs = list(zip(sorted(structured), frozen_outs))    # tf.nest flattens a dict by sorted key
    else:
        out_pairs = [("output_%d" % i, t) for i, t in enumerate(frozen_outs)]
    output_names = dict((t, k) for k, t in out_pairs)
    if inputs is not None:
        by_arg = dict((a + ":0", t) for t, a in input_names.items())
        inputs = [InputSpec(by_arg.get(s.tensor, s.tensor), s.shape) for s in inputs]
    by_arg_name = dict((a, op_name(t)) for t, a in input_names.items())
    settings = dict((by_arg_name.get(k, k), v) for k, v in settings.items())
    fixed, _ = fix_values(graph_def, settings, [s.tensor for s in inputs or []], path, log)
    if fixed:
        # a set argument (a training flag) is no input; the signature is checked called with its value
        given = dict((a, fixed[op_name(t)]) for t, a in zip(placeholders, arg_names) if a and op_name(t) in fixed)
        function = functools.partial(function, **given)
        kept = [(t, a) for t, a in zip(placeholders, arg_names) if op_name(t) not in fixed]
        placeholders, arg_names = [t for t, _ in kept], [a for _, a in kept]
    if inputs is None:
        inputs = [InputSpec(t) for t in placeholders]
    if outputs is None:
        outputs = [t for _, t in out_pairs]
    else:
        by_key = dict((k + ":0", t) for k, t in out_pairs)
        outputs = [by_key.get(t, t) for t in outputs]
    source = {"path": os.path.basename(os.path.normpath(path)), "format": "savedmodel",
              "sha256": _digest(_files_under(path))}
    return LoadedGraph(graph_def, inputs, outputs, source, input_names, output_names,
                       function=(function, placeholders, arg_names, out_pairs))


ASSIGN_OPS = ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")


def refuse_assignments(graph_def, where):
    """UnsupportedError (status 4) if the signature's function or one it calls (a While body) assigns a
    variable: a state kept between calls (Keras' stateful=True recurrent layers, each naming its scope),
    which a frozen graph cannot hold (freezing would fail with an internal message)."""
    bodies = [graph_def.node] + [f.node_def for f in graph_def.library.function]
    scopes = sorted(set(strip_call_prefix(n.name).rsplit("/", 1)[0] for nodes in bodies for n in nodes
                        if n.op in ASSIGN_OPS))
    if scopes:
        reason = ("assigns a variable at each call: a state kept between calls, as a stateful recurrent layer's "
                  "(Keras' stateful=True); convert a stateless copy: the model rebuilt with stateful=False, "
                  "its weights set, saved again")
        raise UnsupportedError(format_unsupported(where, [("stateful layer", scope, reason) for scope in scopes],
                                                  sorted(supported_ops())))


def _graph_def_file(path, inputs, outputs):
    import tensorflow as tf
    graph_def = tf.compat.v1.GraphDef()
    try:
        with open(path, "rb") as f:
            data = f.read()
        if path.lower().endswith(".pbtxt"):
            from google.protobuf import text_format
            text_format.Merge(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
    except Exception as exc:
        raise ModelLoadError("%s: not a readable GraphDef (%s)" % (path, _first_line(exc)))
    if not graph_def.node:
        raise ModelLoadError("%s: the GraphDef holds no nodes (is it a SavedModel's saved_model.pb? then "
                             "give its directory)" % path)
    variables = [n.name for n in graph_def.node if n.op in ("VariableV2", "Variable", "VarHandleOp")]
    if variables:
        raise ModelLoadError("%s: the graph is not frozen (%d variables, e.g. %s); convert its checkpoint "
                             "instead, or freeze it first" % (path, len(variables), variables[0]))
    source = {"path": os.path.basename(path), "format": "graphdef", "sha256": _digest([path])}
    return LoadedGraph(graph_def, inputs, outputs, source)


def _is_training_op(node):
    """Optimizer updates and gradients: a graph with these also computes a loss."""
    return "Apply" in node.op or node.name.startswith("gradients/") or "/gradients/" in node.name


def _checkpoint_outputs(graph_def, meta):
    """The model's outputs of a TF1 graph without --outputs: its sinks that depend on a placeholder, past
    the saver and the initializers. A graph that also trains cannot be guessed (the loss is a sink too)."""
    from .clean import default_outputs
    training = [n for n in graph_def.node if _is_training_op(n)]
    consumers = {}
    for n in graph_def.node:
        for i in n.input:
            consumers.setdefault(op_name(i), []).append(n.name)
    fed = set()
    stack = [n.name for n in graph_def.node if n.op == "Placeholder"]
    while stack:
        name = stack.pop()
        if name not in fed:
            fed.add(name)
            stack += consumers.get(name, [])
    sinks = [t for t in default_outputs(graph_def) if op_name(t) in fed and not op_name(t).startswith("save")
             and op_name(t).split("/")[0] not in ("init", "gradients")]
    if training or not sinks:
        raise UsageError("%s: %s, so its outputs cannot be guessed; name them with --outputs (e.g. the logits "
                         "or softmax op)%s" % (meta, "the graph also holds training ops (%d, e.g. %s)"
                                               % (len(training), training[0].name) if training else
                                               "the graph has no sink that depends on a placeholder",
                                               "; graph sinks: " + ", ".join(op_name(t) for t in sinks[:8])
                                               if sinks and not training else ""))
    return sinks


def _checkpoint(prefix, inputs, outputs, settings, log):
    from concurrent.futures import ThreadPoolExecutor
    from .variables import check_outputs_exist, freeze_from_checkpoint, read_meta_graph
    meta = prefix + ".meta"
    folder = os.path.dirname(prefix) or "."
    files = [meta] + sorted(p for p in (os.path.join(folder, f) for f in os.listdir(folder))
                            if p.startswith(prefix + ".data-") or p == prefix + ".index")
    with ThreadPoolExecutor(1) as pool:       # the files' sha256 while the graph and the values are read
        digest = pool.submit(_digest, files)
        graph_def = read_meta_graph(meta)
        fed = [s.tensor for s in inputs or []]
        _, variables = fix_values(graph_def, settings, fed, meta, log)
        if outputs is None:
            outputs = _checkpoint_outputs(graph_def, meta)
        check_outputs_exist(graph_def, outputs, meta)
        frozen, constants = freeze_from_checkpoint(graph_def, prefix, outputs, prefix, variables)
        del graph_def
        resolve_control_flow(frozen, fed, meta, log)
        source = {"path": os.path.basename(prefix), "format": "checkpoint", "sha256": digest.result()}
    return LoadedGraph(frozen, inputs, [tensor_name(t) for t in outputs], source, constants=constants)
