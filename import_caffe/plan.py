"""The plan a handler returns: Caffe layers (type, params, bottoms, tops, blobs) and tensor refs."""


class CaffeLayer(object):
    """One Caffe layer. params maps a LayerParameter field (e.g. 'convolution_param') to a dict;
    blobs are numpy arrays already in Caffe layout (or None for a layer without parameters)."""

    def __init__(self, name, type, bottoms, tops, params=None, blobs=None):
        self.name = name
        self.type = type
        self.bottoms = list(bottoms)
        self.tops = list(tops)
        self.params = params or {}
        self.blobs = list(blobs) if blobs else []

    def __repr__(self):
        return "CaffeLayer(%s %s %s->%s)" % (self.type, self.name, self.bottoms, self.tops)


class TensorRef(object):
    """Where a TF tensor lives in the Caffe net: the blob, the TF shape (no batch) and the layout."""

    def __init__(self, blob, shape, layout):
        self.blob = blob
        self.shape = list(shape)
        self.layout = layout


class Lowering(object):
    """A handler's result: the layers it adds, a TensorRef per node output, and an optional note
    naming the composition used (shown in the report)."""

    def __init__(self, layers, outputs, note=None):
        self.layers = list(layers)
        self.outputs = list(outputs)
        self.note = note


class Names(object):
    """Naming for one node: the main Caffe layer carries the TF layer name, helper layers and
    intermediate blobs are '<name>/<role>', the final blob of each output is the TF tensor name."""

    def __init__(self, node):
        self.layer = node["name"]
        self.outputs = list(node["outputs"])

    def sub(self, role):
        return "%s/%s" % (self.layer, role)

    @property
    def top(self):
        return self.outputs[0]
