"""What a graph handler sees of one TF op: its attributes, the concrete shapes of its data inputs and
outputs, the folded values of its static inputs, and the ops it may absorb. Plain values only; the Keras
reader's counterpart is export_tf/layerview.py's LayerView."""
import numpy as np

from ..node import Unsupported
from ..padding import resolve_pads


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

    # -- the checks every NHWC op makes
    def require_nhwc(self):
        fmt = self.attr("data_format", "NHWC")
        if fmt not in ("NHWC", None, ""):
            raise Unsupported("data_format=%s (only NHWC graphs are supported)" % fmt)

    def image(self, tensor):
        """The tensor's (H, W, C); Unsupported if it is not an image."""
        shape = self.shape(tensor)
        if len(shape) != 3:
            raise Unsupported("expects an image tensor (N, H, W, C), found %s of shape %r" % (tensor, shape))
        return shape

    def spatial(self, key, default=1):
        """A 4-element NHWC attribute (strides, dilations, ksize) as [h, w]; the N and C entries must be 1."""
        value = self.attr(key, [default] * 4)
        if len(value) != 4 or value[0] != 1 or value[3] != 1:
            raise Unsupported("%s=%r (only the spatial entries may differ from 1)" % (key, value))
        return [int(value[1]), int(value[2])]

    def explicit_pads(self):
        """EXPLICIT padding's [top, bottom, left, right] (the N and C entries must be 0)."""
        explicit = self.attr("explicit_paddings", [])
        if len(explicit) != 8 or any(explicit[i] for i in (0, 1, 6, 7)):
            raise Unsupported("explicit_paddings=%r (only H and W may be padded)" % (explicit,))
        return [int(p) for p in explicit[2:6]]

    def window_padding(self, in_hw, kernel, strides, dilation=(1, 1)):
        """The op's padding as the manifest's (padding, [top, bottom, left, right]); EXPLICIT padding is
        written as valid with its pads, and may not pad by a whole window."""
        padding = self.attr("padding")
        if padding == "SAME":
            return "same", resolve_pads("same", in_hw, kernel, strides, dilation)
        if padding == "VALID":
            return "valid", [0, 0, 0, 0]
        if padding == "EXPLICIT":
            pads = self.explicit_pads()
            for axis in range(2):
                k_eff = (kernel[axis] - 1) * dilation[axis] + 1
                if max(pads[2 * axis], pads[2 * axis + 1]) >= k_eff:
                    raise Unsupported("explicit padding %r by a whole window of %d or more" % (pads, k_eff))
            return "valid", pads
        raise Unsupported("padding=%r" % padding)

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
