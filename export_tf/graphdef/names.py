"""Plain-text helpers of the graph front end (no TensorFlow): the --inputs / --outputs syntax,
TF tensor names, and the names the manifest (so the Caffe net) gets from TF op names."""
import hashlib
import re

from shared.errors import UsageError
from shared.keys import unique
from shared.schema import MAX_NAME_LENGTH

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/:]")
_SHAPE = re.compile(r"^\d+(x\d+)*$")
# Prefixes TF adds when it inlines a function: they say nothing about the model.
_CALL_PREFIXES = ("StatefulPartitionedCall/", "PartitionedCall/")


class InputSpec(object):
    """One model input: a tensor name ("op:0") and its shape without the batch (None = from the graph)."""

    def __init__(self, tensor, shape=None):
        self.tensor = tensor
        self.shape = shape

    def __repr__(self):
        return "InputSpec(%r, %r)" % (self.tensor, self.shape)


def tensor_name(name):
    """'op' -> 'op:0'; 'op:1' stays; '^op' (a control input) is not a tensor (None)."""
    if name.startswith("^"):
        return None
    if re.search(r":\d+$", name):
        return name
    return name + ":0"


def op_name(tensor):
    return re.sub(r":\d+$", "", tensor.lstrip("^"))


def parse_inputs(text):
    """'images,mask:0:32x32x1' -> [InputSpec('images:0'), InputSpec('mask:0', [32, 32, 1])].
    An entry is NAME[:INDEX][:SHAPE]; SHAPE leaves out the batch and separates dims with 'x'."""
    specs = []
    for item in _items(text, "--inputs"):
        parts = item.split(":")
        shape = None
        if len(parts) > 1 and ("x" in parts[-1] or len(parts) == 3):
            if not _SHAPE.match(parts[-1]) or any(int(d) < 1 for d in parts[-1].split("x")):
                raise UsageError("--inputs %s: shape %r must be positive dimensions separated by 'x' "
                                 "(without the batch), e.g. 224x224x3" % (item, parts[-1]))
            shape = [int(d) for d in parts[-1].split("x")]
            parts = parts[:-1]
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()) or not parts[0]:
            raise UsageError("--inputs %s: expected NAME[:INDEX][:SHAPE], e.g. images or images:0:112x112x3"
                             % item)
        specs.append(InputSpec(tensor_name(":".join(parts)), shape))
    return specs


def parse_outputs(text):
    """'prob,logits:0' -> ['prob:0', 'logits:0']."""
    outs = []
    for item in _items(text, "--outputs"):
        if not re.match(r"^[^:]+(:\d+)?$", item):
            raise UsageError("--outputs %s: expected an op or tensor name, e.g. prob or prob:0" % item)
        outs.append(tensor_name(item))
    return outs


def _items(text, option):
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise UsageError("%s %r: expected a comma-separated list of names" % (option, text))
    if len(set(items)) != len(items):
        raise UsageError("%s %r: a name is given twice" % (option, text))
    return items


def strip_call_prefix(name):
    for prefix in _CALL_PREFIXES:
        while name.startswith(prefix):
            name = name[len(prefix):]
    return name


def clean_name(name):
    """A TF op or tensor name as a manifest/Caffe name: readable, safe characters, bounded length."""
    text = strip_call_prefix(name)
    text = _UNSAFE.sub("_", text).strip("/") or "x"
    if len(text) > MAX_NAME_LENGTH - 24:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        text = text[-(MAX_NAME_LENGTH - 40):].lstrip("/") + "_" + digest
    return text


class NameTable(object):
    """Unique manifest names for TF names (the same TF name always gets the same manifest name)."""

    def __init__(self):
        self.by_tf = {}
        self.taken = set()

    def reserve(self, name):
        self.taken.add(name)

    def unique(self, label):
        """A new name for `label` (cleaned, made unique)."""
        return unique(clean_name(label), self.taken)

    def get(self, tf_name, label=None):
        """The name of TF op (or tensor) `tf_name`; a new one is made from `label` if given."""
        if tf_name not in self.by_tf:
            self.by_tf[tf_name] = self.unique(label or tf_name)
        return self.by_tf[tf_name]

    def tensor(self, tensor, label=None):
        """'op:0' -> manifest id of the op's first output ('op'); 'op:2' -> 'op:2'."""
        op, index = tensor.rsplit(":", 1)
        return self.get(op if index == "0" else tensor, label)


def is_scalar_placeholder(node):
    """Whether a graph node declares a known scalar shape (a flag such as is_training, not model data)."""
    if "shape" not in node.attr:
        return False
    shape = node.attr["shape"].shape
    return not shape.unknown_rank and len(shape.dim) == 0
