"""Fill YOUR hand-written prototxt with a bundle's weights (`--prototxt net.prototxt [--map map.json]`).

The manual workflow of copying weights layer by layer into `net.params[...]`, done for you: the usual
planner computes every TF layer's blobs in Caffe layout (transposes, the flatten-then-dense reorder, BatchNorm
as BatchNorm + Scale...); each generated layer that carries weights is then matched to one of your layers
  1. through the map: {"TF layer": "your layer"} or {"TF layer": ["your BatchNorm", "your Scale"]}
     (a key may also be a generated Caffe layer name such as "bn/scale", a TF input or a TF output name);
  2. else by name (the TF layer name, or the generated name such as "bn/scale");
  3. else, for the other parts of an already matched TF layer, the layer of the right type right after it
     (the Scale that follows your BatchNorm).
Every parameter shape is checked; every problem, on both sides, is reported at once before anything runs.
Then the net is filled, saved, and run on the reference inputs: your net's inputs and outputs must
correspond to TF's (same names or through the map), and every TF layer located in your net is compared.

This is the import pipeline (pipeline.py) with your net as its net source (HandwrittenNet) instead of the
generated one; manual_match.py does the matching.
"""
import collections
import json
import os
import shutil

from shared.errors import ConversionError, UsageError

from . import caffe_stage, layout, netbuild, pipeline
from .manual_match import match, param_differences, problem_message
from .plan import CaffeLayer
from .staging import file_stem


class UserNet(object):
    """Your net as Caffe builds it (TEST phase): layers in order, parameter and blob shapes, inputs."""

    def __init__(self, data):
        self.layers = collections.OrderedDict(
            (l["name"], l) for l in data["layers"])   # name -> {type, bottoms, tops, params: [shape]}
        self.blobs = dict((k, tuple(v)) for k, v in data["blobs"].items())
        self.inputs = list(data["inputs"])
        self.order = list(self.layers)


def read_map(path):
    if path is None:
        return {}
    try:
        with open(path) as f:
            mapping = json.load(f)
    except (OSError, ValueError) as exc:
        raise UsageError("%s: not a readable JSON file (%s)" % (path, exc))
    ok = isinstance(mapping, dict) and all(
        isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(x, str) for x in v))
        for v in mapping.values())
    if not ok:
        raise UsageError('%s: expected a JSON object {"TF layer": "Caffe layer" or ["Caffe layer", ...]}' % path)
    return dict((k, [v] if isinstance(v, str) else list(v)) for k, v in mapping.items())


def check_text(prototxt):
    """Parse it in this process first, so a syntax error is a clean message with line and column."""
    if not os.path.isfile(prototxt):
        raise UsageError("%s: no such file" % prototxt)
    try:
        with open(prototxt) as f:
            net = netbuild.parse_prototxt(f.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError("%s: not a valid Caffe prototxt: %s" % (prototxt, exc))
    if net.layers:
        raise UsageError("%s: uses the old V1 'layers' syntax; upgrade it with Caffe's upgrade_net_proto_text"
                         % prototxt)
    return net


def describe(prototxt, workdir, shown_as=None):
    """Build your net in Caffe (a forked child: a Caffe CHECK failure aborts a process): a UserNet.
    shown_as: the path an error names (default: prototxt)."""
    return UserNet(caffe_stage.describe(prototxt, workdir, "your net %s" % (shown_as or prototxt)))


class _FillPlan(object):
    """What caffe_stage writes the weights from: your layer names, the generated blobs (Caffe loads
    weights by layer name and checks every blob's shape)."""

    name = None

    def __init__(self, m):
        self.layers = [CaffeLayer(user_name, g.type, [], [], blobs=g.blobs) for user_name, g in m.fills]


class HandwrittenNet(pipeline.NetSource):
    """Your prototxt, copied into the output folder unchanged; TF's tensors are where the matching found
    them (manual_match.match)."""

    maps_inputs = True
    generated = False

    def __init__(self, prototxt, map_path=None):
        self.prototxt, self.map_path = prototxt, map_path

    def prepare(self):
        self.user_param = check_text(self.prototxt)
        self.mapping = read_map(self.map_path)

    def make(self, manifest, plan, staging, log):
        self.plan = plan
        self.subject = "your prototxt %s" % self.prototxt
        stem = file_stem(os.path.splitext(os.path.basename(self.prototxt))[0], log)
        self.files = {"prototxt": stem + ".prototxt", "weights": stem + ".caffemodel"}
        proto_path = os.path.join(staging, self.files["prototxt"])
        shutil.copyfile(self.prototxt, proto_path)
        self.user = describe(proto_path, staging, shown_as=self.prototxt)
        self.m = match(manifest, plan, self.user, self.mapping)
        if self.m.problems:
            raise ConversionError(problem_message(self.prototxt, self.m.problems, plan, self.user))
        self.differences = param_differences(plan, self.m, self.user_param)
        self.fill = _FillPlan(self.m)
        size = sum(b.nbytes for layer in self.fill.layers for b in layer.blobs)
        if size > caffe_stage.HDF5_THRESHOLD_BYTES:
            raise ConversionError("the weights are %.1f GB, over protobuf's 2 GB limit; --prototxt writes only "
                                  "the binary .caffemodel format: convert without --prototxt (it writes HDF5 "
                                  "weights)" % (size / 1e9))

    def input_blob(self, tf_input):
        return self.m.inputs[tf_input]

    def locate(self, tensor):
        blob, why = self.m.tensor_blobs.get(tensor, (None, "not located in your net"))
        ref = self.plan.refs.get(tensor)
        if why is None and (ref is None or
                            list(self.user.blobs.get(blob, ())[1:]) != layout.caffe_shape(ref.shape, ref.layout)):
            return None, "your blob %r has another shape than TF's in Caffe layout" % blob
        return blob, why

    def caffe_layers(self, node):
        return self.m.groups.get(node["name"], [])

    def run_message(self, batch):
        return "filling your net (%d layers with weights) and running %d reference input(s)" % (len(self.m.fills),
                                                                                               batch)

    def own_steps(self, manifest, plan, tf_has):
        return "your prototxt's layers are not run one TF layer at a time"

    def parity_hint(self):
        if not self.differences:
            return ""
        return " (settings that differ from TF's: %s)" % "; ".join(self.differences)

    def report_fields(self):
        return {"manual": {
            "prototxt": os.path.abspath(self.prototxt), "map": self.map_path and os.path.abspath(self.map_path),
            "matched": [{"tf_layer": k, "caffe_layers": v} for k, v in self.m.by_node.items()],
            "param_differences": self.differences,
            "layers_without_weights": [n for n in self.user.order if not self.user.layers[n]["params"]]}}


def convert_manual(bundle_path, out_dir, prototxt, map_path=None, log=None, plugins=(), target="auto",
                   keep_on_failure=False, verify_with=None):
    """Fill your prototxt; returns the report dict. Raises a Tf2CaffeError subclass on any failure."""
    return pipeline.run(HandwrittenNet(prototxt, map_path), bundle_path, out_dir, log=log, plugins=plugins,
                        target=target, keep_on_failure=keep_on_failure, verify_with=verify_with)
