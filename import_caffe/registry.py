"""The importer's registry: manifest op name -> handler.

A handler is a pure function ``handler(node, ins, arrays, names, target) -> Lowering``:

* node   — the manifest node (a dict: name, op, source_type, attrs, ...)
* ins    — a TensorRef per input (blob name, TF shape, layout)
* arrays — the node's arrays by role, in TF layout (transpose them with import_caffe.layout)
* names  — a Names helper for layer and blob names
* target — what the Caffe build offers (Target)

It returns Caffe layers with their blobs in Caffe layout; it never touches caffe itself. It raises
``Unsupported(reason)`` for what stock Caffe cannot express. ``flat_ok`` says whether the handler
accepts FLAT_CHW inputs as they are (True, False, or a predicate on (node, ins)); otherwise the
planner restores HWC order first. Registering an op twice raises at import time.

A handler needs no checks of its own: every node reaching it has passed its op's spec (shared/opspec:
arity, every attribute present and in range, arrays and output shapes consistent with the inputs), so it
indexes attributes directly. What the spec cannot see (array values, such as a negative variance) the
handler refuses with ``malformed(node, field, message)``.
"""
from shared.errors import BundleError
from shared.opspec import FAMILIES
from shared.opspec.fields import show
from shared.registry import Registry

# one module per layer family, the same family names as export_tf/handlers and shared/opspec
HANDLERS = Registry("importer handler for op", "import_caffe.handlers", FAMILIES)


class Unsupported(Exception):
    """A setting stock Caffe cannot express exactly (the message says why)."""


class Handler(object):
    def __init__(self, op, func, flat_ok, family, composition, approximate=""):
        self.op = op
        self.approximate = approximate
        self.func = func
        self.flat_ok = flat_ok
        self.family = family
        self.composition = composition

    def accepts_flat(self, node, ins):
        if callable(self.flat_ok):
            return bool(self.flat_ok(node, ins))
        return bool(self.flat_ok)


# The Caffe layer types each named target offers. BVLC Caffe 1.0 (April 2017) has neither Clip nor
# Swish; Debian's python3-caffe (1.0.0+git20180821) adds both.
CAFFE_1_0_LAYERS = frozenset((
    "AbsVal", "BNLL", "BatchNorm", "BatchReindex", "Bias", "Concat", "Convolution", "Crop", "Deconvolution",
    "Dropout", "ELU", "Eltwise", "Embed", "Exp", "Filter", "Flatten", "InnerProduct", "Input", "LRN", "LSTM",
    "Log", "MVN", "Parameter", "PReLU", "Pooling", "Power", "RNN", "ReLU", "Reduction", "Reshape", "SPP",
    "Scale", "Sigmoid", "Silence", "Slice", "Softmax", "Split", "TanH", "Threshold", "Tile"))
TARGETS = {
    "caffe-1.0": CAFFE_1_0_LAYERS,
    "caffe-1.0-debian": CAFFE_1_0_LAYERS | frozenset(("Clip", "Swish")),
}
OPTIONAL_LAYERS = ("Clip", "Swish")   # the layers lowerings use when the target has them

# Targets for runtimes that import Caffe files, not Caffe builds: the Caffe layers (and layer parameters)
# each runtime loads with Caffe's semantics. This is the one table; tests/caffe_env/test_opencv_layers.py
# runs every layer type the converter emits in the runtime itself (it loads and agrees with Caffe, or its
# exclusion below is what happens). Never detected (--target auto): named only, and verified in Caffe.
# OpenCV's dnn: cv2.dnn.readNetFromCaffe, opencv-python-headless 4.11.0.86 (OPENCV_VERSION).
OPENCV_VERSION = "4.11.0.86"
_NOT_IN_OPENCV = "OpenCV's dnn has no such layer (\"Can't create layer ... of type\")"
OPENCV_EXCLUDED = {
    "BatchReindex": _NOT_IN_OPENCV, "Bias": _NOT_IN_OPENCV, "Clip": _NOT_IN_OPENCV, "Embed": _NOT_IN_OPENCV,
    "Filter": _NOT_IN_OPENCV, "Parameter": _NOT_IN_OPENCV, "RNN": _NOT_IN_OPENCV, "Reduction": _NOT_IN_OPENCV,
    "SPP": _NOT_IN_OPENCV, "Threshold": _NOT_IN_OPENCV,
    "Tile": "OpenCV's Tile reads ONNX's repeats, not tile_param: the net does not load",
    "LSTM": "OpenCV's LSTM expects its own weight layout and no continuation input: Caffe's does not load",
    "Silence": "OpenCV runs Silence as a layer whose input becomes an extra network output (a dangling helper blob)",
}
# layer type -> (parameter field, {setting: the only value OpenCV reads as Caffe does}, why)
OPENCV_PARAMS = {
    "LRN": ("lrn_param", {"k": 1.0}, "OpenCV's LRN ignores k (uses 1)"),
    "Log": ("log_param", {"base": -1.0, "scale": 1.0, "shift": 0.0}, "OpenCV's Log ignores base, scale and shift"),
    "MVN": ("mvn_param", {"normalize_variance": False},
            "OpenCV's MVN adds eps inside the square root, Caffe adds it to the standard deviation"),
}
# MNN: its Caffe converter (mnnconvert -f CAFFE) and session API, mnn 3.6.1 (MNN_VERSION; runtimes/mnn.py).
# Tested with tests/caffe_env/test_mnn_layers.py like OpenCV's; MNN drops a Dropout (its top is its bottom).
MNN_VERSION = "3.6.1"
_MNN_CANNOT = "MNN's Caffe converter cannot convert it (mnnconvert -f CAFFE fails)"
MNN_EXCLUDED = {
    "BatchReindex": _MNN_CANNOT, "Clip": _MNN_CANNOT, "Filter": _MNN_CANNOT, "LSTM": _MNN_CANNOT,
    "Parameter": _MNN_CANNOT, "RNN": _MNN_CANNOT, "SPP": _MNN_CANNOT, "Swish": _MNN_CANNOT, "Tile": _MNN_CANNOT,
    "Embed": "MNN's converted Embed looks up other rows than Caffe's (wrong values)",
    "Log": "MNN's Caffe converter drops a Log layer without a word: its top gets the bottom's values",
    "Silence": "MNN lists the silenced blob (a discarded crop slice) as an extra network output",
}
# layer type -> (parameter field, {setting: the only value MNN reads as Caffe does}, why)
MNN_PARAMS = {
    "LRN": ("lrn_param", {"k": 1.0}, "MNN's LRN ignores k (uses 1)"),
    "MVN": ("mvn_param", {"normalize_variance": False},
            "MNN's MVN normalising the variance disagrees with Caffe's"),
    "Scale": ("scale_param", {"axis": 1, "num_axes": 1},
              "MNN's Scale over other axes than the channels computes wrong values, and with a second bottom "
              "(axis 0) its converter crashes"),
    "Bias": ("bias_param", {"axis": 1, "num_axes": 1},
             "MNN's Bias with a second bottom (axis 0) adds wrong values; over other axes it is untested"),
    "Eltwise": ("eltwise_param", {"coeff": []},
                "MNN's Eltwise SUM with coefficients fails to run where a bottom is a network input or there "
                "are three bottoms"),
}
RUNTIME_TARGETS = {
    "opencv": (CAFFE_1_0_LAYERS | frozenset(("Swish",))) - frozenset(OPENCV_EXCLUDED),
    "mnn": (CAFFE_1_0_LAYERS | frozenset(("Clip", "Swish"))) - frozenset(MNN_EXCLUDED),
}
RUNTIME_EXCLUDED = {"opencv": (OPENCV_EXCLUDED, OPENCV_PARAMS), "mnn": (MNN_EXCLUDED, MNN_PARAMS)}


def runtime_parts(name):
    """The runtimes a target name stands for: "opencv" -> ["opencv"]; several runtimes' targets joined by
    "+" ("mnn+opencv": one net for all of them, each runtime's exclusions and settings refused) -> each;
    any other name -> []."""
    parts = name.split("+")
    if len(set(parts)) == len(parts) and all(p in RUNTIME_TARGETS for p in parts):
        return parts
    return []


def runtime_target_name(names):
    """The one target name of a set of runtimes' targets (runtime_parts' inverse): sorted, joined by "+"."""
    return "+".join(sorted(set(names)))
_PARAM_DEFAULTS = {"k": 1.0, "base": -1.0, "scale": 1.0, "shift": 0.0, "normalize_variance": True, "axis": 1,
                   "num_axes": 1, "coeff": []}


class Target(object):
    """What the Caffe build offers: the optional layer types (Clip, Swish) the lowerings may use, and
    where that knowledge came from (a named target, or detected from the Caffe running the import).
    Target() is Debian's build, which has both."""

    def __init__(self, has_clip=True, name="caffe-1.0-debian", has_swish=None, source="named"):
        self.parts = runtime_parts(name)
        self.runtime = bool(self.parts)      # a runtime's target: layers outside its table are refused
        self.has_clip = bool(has_clip)
        self.has_swish = bool(has_clip if has_swish is None else has_swish)
        self.name = name
        self.source = source

    @classmethod
    def named(cls, name):
        """A target from TARGETS by name (ValueError for an unknown name)."""
        known = dict(TARGETS, **RUNTIME_TARGETS)
        parts = runtime_parts(name)
        if name not in known and not parts:
            raise ValueError("unknown target %r (known: auto, %s; runtimes' targets join with +, e.g. %s)"
                             % (name, ", ".join(sorted(known)), runtime_target_name(RUNTIME_TARGETS)))
        layers = known[name] if name in known else frozenset.intersection(*[RUNTIME_TARGETS[p] for p in parts])
        return cls("Clip" in layers, name, "Swish" in layers, "requested")

    @classmethod
    def from_layer_types(cls, types):
        """The target matching the layer types a Caffe build registers (caffe.layer_type_list())."""
        types = set(types)
        clip, swish = "Clip" in types, "Swish" in types
        for name in sorted(TARGETS):
            if set(OPTIONAL_LAYERS) & TARGETS[name] == set(l for l in OPTIONAL_LAYERS if l in types):
                return cls(clip, name, swish, "detected")
        return cls(clip, "caffe-1.0+%s" % "+".join(l for l in OPTIONAL_LAYERS if l in types), swish, "detected")

    def layers(self):
        """The optional layer types this target has."""
        return [l for l, has in zip(OPTIONAL_LAYERS, (self.has_clip, self.has_swish)) if has]

    def missing_in(self, types):
        """The optional layers this target uses that a Caffe offering `types` lacks."""
        return [l for l in self.layers() if l not in set(types)]

    def without(self, layers):
        """This target with the optional `layers` dropped: their lowerings use the exact compositions."""
        target = Target(self.has_clip and "Clip" not in layers, self.name, self.has_swish and "Swish" not in layers,
                        self.source)
        return target

    def refusal(self, layer):
        """Why this target cannot hold the CaffeLayer `layer` (its type, or a parameter the runtime reads
        otherwise than Caffe), or None."""
        for part in self.parts:
            why = _refusal(layer, part, self.name)
            if why:
                return why
        return None

    def describe(self):
        return "%s (%s; %s)" % (self.name, self.source, ", ".join(self.layers()) or "no Clip, no Swish")


def _refusal(layer, runtime, target):
    """Why `runtime`'s table refuses the CaffeLayer `layer` (for the target named `target`), or None."""
    excluded, params = RUNTIME_EXCLUDED[runtime]
    where = target if target == runtime else "%s (for %s)" % (target, runtime)
    if layer.type in excluded:
        return "Caffe layer %s (%s) is not in target %s: %s" % (layer.type, layer.name, where, excluded[layer.type])
    if layer.type in params:
        field, wanted, why = params[layer.type]
        given = layer.params.get(field, {})
        for key, value in sorted(wanted.items()):
            if given.get(key, _PARAM_DEFAULTS[key]) != value:
                return "Caffe layer %s (%s) with %s %r is not in target %s: %s" % (
                    layer.type, layer.name, key, given.get(key, _PARAM_DEFAULTS[key]), where, why)
    return None


def malformed(node, field, message):
    """The BundleError for a node whose array values are unusable (the spec has checked the rest)."""
    return BundleError("node %s (%s, op %s): %s: %s" % (show(node["name"]), show(node["source_type"]),
                                                        show(node["op"]), field, message))


def register(op, flat_ok=False, composition="", approximate=""):
    """composition: the Caffe layers the op lowers to, for the README table. approximate: which of
    its settings stock Caffe cannot express exactly and how close the lowering gets (the table's
    "exact" column; the report measures each use)."""
    def wrap(func):
        family = func.__module__.rsplit(".", 1)[-1]
        HANDLERS.add(op, Handler(op, func, flat_ok, family, composition, approximate), func.__module__)
        return func
    return wrap


def handler_for(op):
    return HANDLERS.get(op)


def all_handlers():
    return HANDLERS.entries()
