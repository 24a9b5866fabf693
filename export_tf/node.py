"""The exporter's one node type and its one constructor, used by both readers.

A handler (export_tf/handlers/<family>.py) is a pure function ``handler(view) -> Node``: a LayerView
for one Keras layer call, or an OpView for one TF op of a graph. It builds its node only with
``make_node(op, attrs, arrays)``: a canonical op of the manifest vocabulary, its attributes (completed
against the op spec, every default written out) and its arrays by role in TF layout. A graph handler
may also say which data tensors the node reads, which tensor it writes and which TF ops it absorbed
(a bias add after a convolution); a Keras handler, which of its layer's inputs the node reads and in what
order (`select`: a layer called with keyword arguments lists its inputs in their sorted order, and one
tensor given twice is read once). The reader then places the node (its manifest name, source type,
input and output tensor ids) and export_tf/manifest.py writes it.

A handler raises ``Unsupported(reason)`` for a setting the converter cannot express; the readers collect
those over the whole model. Anything else going wrong in a handler, or a node its op's spec refuses, is
a bug of the converter and surfaces as ``HandlerBug`` naming the handler and the layer.
"""
import sys

from shared.errors import InternalError, Tf2CaffeError
from shared.opspec import complete


class Unsupported(Exception):
    """Raised by a handler for a setting that cannot be converted exactly (with the reason)."""


class HandlerBug(InternalError):
    """A handler failed, or built a node its op's spec refuses: a bug of the converter (or of a plugin),
    not of the model. Exit status 1."""


class Node(object):
    """One manifest node in the making. Built by make_node only; placed by its reader."""

    __slots__ = ("op", "attrs", "arrays", "inputs", "outputs", "absorbed", "select", "name", "source_type")

    def __init__(self, op, attrs, arrays, inputs, outputs, absorbed, select=None):
        self.op = op
        self.attrs = attrs                # complete: every attribute of the op written out
        self.arrays = arrays              # role -> numpy array (TF layout)
        self.inputs = inputs              # tensors read, in order (None: the layer's / op's data inputs)
        self.outputs = outputs            # tensors written (None: the layer's / op's own outputs)
        self.absorbed = absorbed          # names of TF ops folded into this node
        self.select = select              # Keras handlers: the indices of the layer's inputs read, in order
        self.name = None
        self.source_type = None

    def place(self, name, source_type, inputs, outputs):
        """Where the node sits in the manifest: its name, the TF type it came from, its tensor ids (of
        them, the ones `select` picks, if set)."""
        self.name = name
        self.source_type = source_type
        self.inputs = list(inputs) if self.select is None else [inputs[i] for i in self.select]
        self.outputs = list(outputs)
        return self


def make_node(op, attrs=None, arrays=None, inputs=None, output=None, absorbed=(), select=None):
    """The one way to build a node. attrs are completed by the op spec (shared.opspec.complete: every
    default written out, every value checked; a plugin's op is declared by the plugin); what the spec
    refuses is a HandlerBug naming the function that built the node. inputs, output, absorbed: for graph
    handlers; select: for Keras handlers (see Node)."""
    try:
        attrs = complete(op, dict(attrs or {}))
    except Exception as exc:
        raise HandlerBug("%s built an invalid %r node (%s)" % (_builder(), op, _first_line(exc)))
    return Node(op, attrs, dict(arrays or {}), None if inputs is None else list(inputs),
                None if output is None else [output], list(absorbed), None if select is None else list(select))


def _builder():
    frame = sys._getframe(2)        # make_node's caller
    return "%s.%s" % (frame.f_globals.get("__name__", "?"), frame.f_code.co_name)


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return "%s: %s" % (type(exc).__name__, text[0] if text else "")


def qualified(func):
    return "%s.%s" % (getattr(func, "__module__", "?"), getattr(func, "__name__", repr(func)))


def call_handler(handler, view, what):
    """Run one handler on its view; return its Node. Unsupported and the converter's own errors pass
    through; any other failure, or a result not built by make_node, is a HandlerBug naming the handler
    and `what` (the layer or op, e.g. "Conv2D 'conv1'")."""
    plugin = getattr(handler, "plugin", False)
    where = "%s handler %s on %s" % ("plugin" if plugin else "internal error:", qualified(handler), what)
    todo = "fix the plugin" if plugin else "please report this"
    try:
        result = handler(view)
    except Unsupported:
        raise
    except HandlerBug as exc:
        raise HandlerBug("%s: %s; %s" % (where, exc, todo))
    except Tf2CaffeError:
        raise
    except Exception as exc:
        raise HandlerBug("%s failed (%s); %s" % (where, _first_line(exc), todo)) from exc
    if not isinstance(result, Node):
        raise HandlerBug("%s returned %s, not a node built by make_node; %s" % (where, type(result).__name__, todo))
    return result
