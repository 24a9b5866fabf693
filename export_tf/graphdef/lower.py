"""TF ops -> manifest nodes, in the vocabulary of the Keras path (so one importer serves both).

A handler is registered per TF op type with ``@op("Conv2D", ...)`` (the registry mirrors
export_tf/registry.py) and is a pure function ``handler(view) -> Lowered``: it reads the op's attributes,
the concrete shapes of its DATA inputs and outputs and the folded values of its STATIC inputs, and
returns one manifest node (canonical op, explicit attributes, arrays in TF layout). A handler may absorb
the op's single consumer (a bias add after a convolution, an add after a multiply) with
``view.absorb_channel_add``; the node then writes the consumer's output. ``Unsupported(reason)`` is
collected over the whole graph and reported once.
"""
import numpy as np

from shared.errors import Tf2CaffeError

from ..registry import Unsupported

_OPS = {}


def op(*types):
    def wrap(func):
        for t in types:
            if t in _OPS:
                raise Tf2CaffeError("graph handler for TF op %r registered twice (%s and %s)"
                                    % (t, _OPS[t].__module__, func.__module__))
            _OPS[t] = func
        return func
    return wrap


def handler_for(op_type):
    _load()
    return _OPS.get(op_type)


def supported_ops():
    _load()
    return dict(_OPS)


def _load():
    from . import ops_math, ops_nn  # noqa: F401  (imports every handler module by name)


class Lowered(object):
    """One manifest node: op, attrs, arrays by role; the DATA tensors it reads (in order), the tensor
    it writes, and the TF ops it absorbed."""

    def __init__(self, op, attrs=None, arrays=None, inputs=None, output=None, absorbed=()):
        self.op = op
        self.attrs = attrs or {}
        self.arrays = arrays or {}
        self.inputs = inputs
        self.output = output
        self.absorbed = list(absorbed)


class OpView(object):
    """What a handler may look at for one TF op: plain values only."""

    def __init__(self, graph, node, values, outputs):
        self.graph = graph
        self.node = node
        self.name = node.name
        self.type = node.op
        self.values = values              # tensor -> numpy value (DATA with the batch, STATIC folded)
        self.model_outputs = outputs      # resolved output tensors: never absorbed into another node

    # -- attributes
    def attr(self, key, default=None):
        if key not in self.node.attr:
            return default
        value = self.node.attr[key]
        kind = value.WhichOneof("value")
        if kind == "list":
            lst = value.list
            for field in ("i", "f", "s", "b"):
                items = list(getattr(lst, field))
                if items:
                    return [x.decode() if isinstance(x, bytes) else x for x in items]
            return []
        out = getattr(value, kind) if kind else default
        return out.decode() if isinstance(out, bytes) else out

    # -- inputs
    @property
    def inputs(self):
        return [self.graph.resolve(t) for t in self.node.inputs]

    def data_inputs(self):
        return [t for t in self.inputs if self.graph.is_data(t)]

    def data_input(self, index=0):
        t = self.inputs[index]
        if not self.graph.is_data(t):
            raise Unsupported("input %d (%s) is a constant; expected the model's data" % (index, t))
        return t

    def static(self, index):
        """The folded value of static input `index` (Unsupported if it depends on the model's data)."""
        t = self.inputs[index]
        if self.graph.is_data(t):
            raise Unsupported("input %d (%s) depends on the model's inputs; only constants are supported "
                              "there" % (index, t))
        return np.asarray(self.values[t])

    def shape(self, tensor):
        """The tensor's shape without the batch dimension."""
        return tuple(self.values[tensor].shape[1:])

    @property
    def output(self):
        return self.name + ":0"

    @property
    def output_shape(self):
        return self.shape(self.output)

    # -- fusion
    def single_consumer(self, tensor):
        """The one DATA op reading `tensor` (None if several, none, or it is a model output)."""
        users = self.graph.consumers.get(tensor, [])
        if len(users) != 1 or tensor in self.model_outputs:
            return None
        return self.graph.nodes[users[0][0]], users[0][1]

    def absorb_channel_add(self, tensor, channels):
        """If `tensor`'s single consumer adds a constant per-channel vector (BiasAdd, Add, AddV2), return
        (vector of `channels` float32, the consumer's output tensor, the consumer's name); else None."""
        found = self.single_consumer(tensor)
        if found is None:
            return None
        node, index = found
        if node.op not in ("BiasAdd", "Add", "AddV2") or len(node.inputs) != 2:
            return None
        other = self.graph.resolve(node.inputs[1 - index])
        if self.graph.is_data(other):
            return None
        if node.op == "BiasAdd" and (index != 0 or _data_format(node) not in ("NHWC", "")):
            return None
        vector = channel_vector(self.values[other], channels, len(self.shape(tensor)) + 1)
        if vector is None:
            return None
        out = node.name + ":0"
        if self.shape(out) != self.shape(tensor):
            return None
        return vector, out, node.name


def _data_format(node):
    if "data_format" not in node.attr:
        return ""
    value = node.attr["data_format"].s
    return value.decode() if isinstance(value, bytes) else value


def channel_vector(value, channels, rank):
    """A constant that broadcasts along the last axis only, as a (channels,) float32 vector, else None."""
    value = np.asarray(value)
    if value.dtype.kind not in "fiu" or value.ndim > rank:
        return None
    if value.size > 1 and np.all(value == value.reshape(-1)[0]):
        value = value.reshape(-1)[:1]     # one value repeated, e.g. the all-ones mask of a dropout at rate 0
    if value.ndim and any(d != 1 for d in value.shape[:-1]):
        return None
    last = value.shape[-1] if value.ndim else 1
    if last not in (1, channels):
        return None
    return np.broadcast_to(value.reshape(-1).astype(np.float32), (channels,)).copy()


CONTROL_FLOW_OPS = ("Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "If", "StatelessIf",
                    "While", "StatelessWhile", "RefSwitch", "RefMerge")


def refuse_control_flow(graph, where):
    """Before the reference run (which cannot fetch the tensors of an untaken branch): a graph with
    control flow on the data path is refused, listing every op without a handler."""
    from shared.errors import UnsupportedError
    from shared.unsupported import format_unsupported
    names = [n for n in graph.order if n + ":0" not in graph.alias]
    if not any(graph.nodes[n].op in CONTROL_FLOW_OPS for n in names):
        return
    entries = [(graph.nodes[n].op, n, "control flow (tf.cond / while loops) is not supported; export the "
                "graph with the branch fixed, e.g. training=False" if graph.nodes[n].op in CONTROL_FLOW_OPS
                else "") for n in names if handler_for(graph.nodes[n].op) is None]
    raise UnsupportedError(format_unsupported(where, entries, sorted(supported_ops())))


def lower_graph(graph, values, where):
    """Run every handler. Returns [(TfNode, Lowered)] in graph order; raises UnsupportedError listing
    every unsupported op at once."""
    from shared.errors import UnsupportedError
    from shared.unsupported import format_unsupported
    outputs = set(graph.resolve(t) for t in graph.outputs)
    produced = set(graph.resolve(s.tensor) for s in graph.inputs)
    batch = next(iter(values[s.tensor] for s in graph.inputs)).shape[0]
    absorbed, unsupported, lowered, failed = set(), [], [], set()
    for name in graph.order:
        node = graph.nodes[name]
        if name in absorbed or name + ":0" in graph.alias:
            continue
        view = OpView(graph, node, values, outputs)
        if any(t.rsplit(":", 1)[0] in failed for t in view.data_inputs()):
            failed.add(name)
            continue    # an upstream op is unsupported; it is already reported
        handler = handler_for(node.op)
        if handler is None:
            unsupported.append((node.op, name, ""))
            failed.add(name)
            continue
        try:
            _check_tensors(view, produced, batch)
            result = handler(view)
            if result.inputs is None:
                result.inputs = view.data_inputs()
            result.output = result.output or view.output
            _check_shape(result.output, values, batch)
        except Unsupported as exc:
            unsupported.append((node.op, name, str(exc)))
            failed.add(name)
            continue
        absorbed.update(result.absorbed)
        produced.add(result.output)
        lowered.append((node, result))
    missing = [t for t in outputs if t not in produced]
    if unsupported:
        supported = sorted(supported_ops())
        raise UnsupportedError(format_unsupported(where, unsupported, supported))
    if missing:
        raise UnsupportedError("%s: output %s is not produced by any converted op" % (where, missing[0]))
    return lowered


def _check_tensors(view, produced, batch):
    for t in view.data_inputs():
        if t not in produced:
            raise Unsupported("reads %s, which no converted op writes (only the first output of an op is "
                              "converted)" % t)
        _check_shape(t, view.values, batch)


def _check_shape(tensor, values, batch):
    value = values[tensor]
    if value.ndim == 0 or value.shape[0] != batch:
        raise Unsupported("tensor %s of shape %r does not keep the batch of %d in front"
                          % (tensor, tuple(value.shape), batch))
    if value.ndim not in (2, 4):
        raise Unsupported("tensor %s of shape %r: only (N, C) and (N, H, W, C) tensors are supported"
                          % (tensor, tuple(value.shape)))
    if value.dtype != np.float32:
        raise Unsupported("tensor %s is %s; only float32 tensors are supported" % (tensor, value.dtype))
