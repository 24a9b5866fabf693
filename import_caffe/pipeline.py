"""The import pipeline, one for both kinds of net:

    read -> plan -> make the net -> write weights + run Caffe -> compare -> report and publish

1. read: the bundle (checked on arrival), your plugins, and TF's reference data (References);
2. plan: the target, then every TF layer's Caffe layers with their blobs in Caffe layout (planner.plan_net);
3. make the net: the net source writes the prototxt into the staging folder and says where each TF
   tensor lives in it (NetSource: convert.GeneratedNet generates it from the plan; manual.HandwrittenNet
   takes your prototxt and matches its layers to the plan's);
4. write weights + run Caffe: caffe_stage writes the weights, loads both files afresh in a forked child as
   your Caffe will, and runs the reference inputs;
5. compare: in that child, every TF tensor with a reference value against its Caffe blob (compare.py),
   then each TF node's Caffe layers run alone on TF's values of its inputs (own_run.py), and each row
   judged on its lowering's own error, or end to end where that cannot be measured (judge.py);
6. other runtimes (--verify-with): once Caffe's check passes, each requested runtime runs the written
   files and is judged against Caffe's blobs and TF's outputs (runtime_check.py);
7. report and publish: report.json and report.html, and the final file names (report.py).

Output files appear under their final names only when the whole conversion and its verification
succeeded; everything is staged in a hidden folder inside the output folder first (staging.py).
"""
import os
import shutil

from shared import progress
from shared.bundle import read_bundle
from shared.messages import shown, where
from shared.errors import BundleError, ConversionError, UsageError

from . import caffe_stage, compare, judge, layout, own_run, runtime_check, tolerances, verify
from . import report as reporting
from . import staging as staging_dir
from .planner import plan_net
from .plugins import activate
from .registry import Target


class NetSource(object):
    """How one kind of import makes its Caffe net and where TF's tensors are in it: the only thing the
    generated net and --prototxt differ in. make() sets, for the stages after it:

      files    {"prototxt": name, "weights": name}: written in the staging folder, published in OUT
      fill     what caffe_stage writes the weights from (.name and .layers, each a CaffeLayer with blobs)
      subject  what a parity failure names ("tiny", "your prototxt net.prototxt")
    """

    maps_inputs = False     # True: the report names each input's TF name beside its Caffe blob
    generated = True        # False: the net is yours, and --verify-with leaves --target auto as it is

    def prepare(self):
        """Check this source's own inputs, before the bundle is read."""

    def make(self, manifest, plan, staging, log):
        """Write files["prototxt"] into `staging`; set files, fill and subject."""
        raise NotImplementedError

    def input_blob(self, tf_input):
        """The Caffe input blob fed with the reference values of the TF input named tf_input."""
        return tf_input

    def locate(self, tensor):
        """(Caffe blob holding the TF tensor, None), or (None, why it is not compared)."""
        raise NotImplementedError

    def caffe_layers(self, node):
        """The Caffe layers that compute the TF layer `node` (shown in the report)."""
        raise NotImplementedError

    def preactivation_blob(self, node):
        """The blob holding node's value before its fused activation, or None (not compared)."""
        return None

    def note(self, node):
        """A note for node's rows in the report (the composition it became), or None."""
        return None

    def own_steps(self, manifest, plan, tf_has):
        """own_run.Steps running each node's layers alone on TF's values of its inputs (own errors), or a
        text saying why this net cannot (its rows are then judged end to end)."""
        return "this net's layers are not run one TF layer at a time"

    def run_message(self, batch):
        """The log line for the stage that writes the weights and runs Caffe."""
        raise NotImplementedError

    def parity_hint(self):
        """Appended to the parity failure's message (what may explain it), or ""."""
        return ""

    def report_fields(self):
        """report.json fields of this kind of net only."""
        return {}


class References(object):
    """TF's reference data of a bundle: the inputs (by tensor, TF layout), TF's values (outputs and
    activations, by tensor) and the values before fused activations (by node name). Taken before
    planning, which lets go of each weight array once lowered (an array may serve both).

    Every conversion is verified: a bundle without reference values for each model input and output is
    refused as malformed (exit status 5, nothing written). The schema accepts one (inspect shows it),
    but export_tf always writes them, and without them the importer could only publish an unverified
    model under its final names, which it never does (a parity failure leaves only the report)."""

    def __init__(self, bundle, path):
        manifest = bundle.manifest
        ref = manifest["reference"]
        self.batch = ref["batch"]
        self.values = {}
        for part in ("outputs", "activations"):
            self.values.update(bundle.reference(part))
        self.preacts = dict((node, bundle.arrays[key]) for node, key in ref.get("preactivations", {}).items())
        self.inputs = {}
        for entry in manifest["inputs"]:
            key = ref["inputs"].get(entry["tensor"])
            if key is None:
                raise BundleError(self._missing(path, "inputs", "input", entry))
            self.inputs[entry["tensor"]] = bundle.arrays[key]
        for entry in manifest["outputs"]:
            if entry["tensor"] not in self.values:
                raise BundleError(self._missing(path, "outputs", "output", entry))

    def has(self, tensor):
        """Whether TF's value of the tensor is known (a model input, an output or a stored activation)."""
        return tensor in self.inputs or tensor in self.values

    def value(self, tensor):
        """TF's value of the tensor (TF layout, batch first)."""
        return self.inputs[tensor] if tensor in self.inputs else self.values[tensor]

    @staticmethod
    def _missing(path, part, kind, entry):
        return ("%s: manifest field 'reference.%s': no values for %s %s; the conversion cannot be verified"
                % (where(path), part, kind, shown(entry["name"], 40)))     # at most 252 characters


def caffe_layer_types():
    """The layer types the Caffe here registers (caffe.layer_type_list())."""
    try:
        types = caffe_stage.layer_types()
    except ImportError as exc:
        raise ConversionError("pycaffe cannot be imported here (%s); run the import where Caffe is (make import "
                              "does)" % exc)
    if not types:
        raise ConversionError("the Caffe here lists no layer types")
    return types


def detect_target(requested="auto"):
    """The Target to generate for: `auto` matches what the Caffe here offers; a named Caffe target (see
    registry.TARGETS) is refused if the Caffe here lacks its layers, since it verifies the result; a
    runtime's target (opencv) drops them for their compositions."""
    types = caffe_layer_types()
    if requested in (None, "auto"):
        return Target.from_layer_types(types)
    try:
        target = Target.named(requested)
    except ValueError as exc:
        raise UsageError("--target: %s" % exc)
    missing = target.missing_in(types)
    if missing and target.runtime:
        # a runtime's target verifies in the Caffe here too: what that Caffe lacks (Swish in a Caffe built
        # from source) is lowered by its exact composition, which the runtime runs as well
        return target.without(missing)
    if missing:
        raise UsageError("--target %s uses Caffe layers %s, which the Caffe here lacks, so the result could not "
                         "be verified; use --target auto" % (requested, ", ".join(missing)))
    return target


# ----------------------------------------------------------------------------------------- the stages

def read(bundle_path, plugins, labels, log):
    """Stage 1: the bundle and its reference data."""
    log("reading %s" % bundle_path)
    activate(plugins)
    bundle = read_bundle(bundle_path)
    references = References(bundle, bundle_path)
    if labels is not None and labels.shape[0] != references.batch:
        raise UsageError("%d labels for %d reference inputs" % (labels.shape[0], references.batch))
    return bundle, references


def plan(bundle, bundle_path, requested_target, log):
    """Stage 2: the target, and the plan (each weight array is released once lowered)."""
    target = detect_target(requested_target)
    log("target %s" % target.describe())
    with progress.phase("planning the Caffe net"):
        return target, plan_net(bundle.manifest, bundle.take_node_arrays, target, where=bundle_path)


def run_caffe(net, manifest, net_plan, references, staging, labels, log):
    """Stages 4 and 5: write the weights, load the net's files in Caffe, run the reference inputs,
    compare every layer where Caffe's blobs are, then run each node's layers on TF's values of its
    inputs and judge each row. Returns (inputs fed by blob, rows, accuracy)."""
    inputs = {}
    for entry in manifest["inputs"]:
        value = references.inputs[entry["tensor"]]
        inputs[net.input_blob(entry["name"])] = layout.activation_to_caffe(value, net_plan.refs[entry["tensor"]].layout)
    located = [net.locate(tensor) for tensor in references.values]
    nodes = dict((n["name"], n) for n in manifest["nodes"])
    wanted = set(blob for blob, why in located if why is None)
    wanted |= set(net.preactivation_blob(nodes[name]) for name in references.preacts) - set([None])
    steps = net.own_steps(manifest, net_plan, references.has)
    if isinstance(steps, str):
        reasons, steps = dict((n["name"], steps) for n in manifest["nodes"]), []
    else:
        reasons = dict((s.node["name"], s.why_not) for s in steps if s.why_not)
    log(net.run_message(references.batch))

    def examine(blobs, runner):     # in the Caffe child, where the blobs are: only the rows come back
        with progress.phase("comparing every layer with TF"):
            rows = compare.rows(manifest, net_plan, net, references.values, references.preacts, blobs)
        accuracy = None
        if labels is not None:
            accuracy = compare.accuracy(manifest, net_plan, net, references.values, blobs, labels)
        blobs.clear()
        with progress.phase("running each layer on TF's values of its inputs", len(steps)) as p:
            own = own_run.measure(steps, runner, references.value, references.preacts, tolerances.for_op, p.advance)
        judge.judge(manifest, rows, own, reasons)
        return {"rows": rows, "accuracy": accuracy}
    examined = caffe_stage.run(net.fill, os.path.join(staging, net.files["prototxt"]),
                               os.path.join(staging, net.files["weights"]), inputs, sorted(wanted), staging,
                               release_blobs=True, examine=examine)
    return inputs, examined["rows"], examined["accuracy"]


def other_runtimes(runtimes, net, manifest, net_plan, references, report, inputs, staging, log):
    """Stage 6 (--verify-with): the sections of report["runtimes"], once Caffe's check has passed."""
    if report["summary"]["status"] != verify.OK:
        return runtime_check.not_run(runtimes, report["target"], "the Caffe parity check failed first")
    drift = dict((r["tensor"], r.get("drift_tolerance")) for r in report["outputs"])
    outputs = []
    for entry in manifest["outputs"]:
        blob, why = net.locate(entry["tensor"])
        if why is None:
            outputs.append(runtime_check.Output(blob, entry["name"], references.values[entry["tensor"]],
                                                net_plan.refs[entry["tensor"]],
                                                tolerances.runtime_output_tolerance(drift.get(entry["tensor"]))))
    tensors = [r["blob"] for r in report["layers"] if r.get("blob")]
    return runtime_check.check(runtimes, report["target"], os.path.join(staging, net.files["prototxt"]),
                               os.path.join(staging, net.files["weights"]), inputs, outputs, tensors, staging, log)


def run(net, bundle_path, out_dir, log=None, labels=None, plugins=(), target="auto", keep_on_failure=False,
        verify_with=None):
    """Convert the bundle with the net `net` (a NetSource) makes; returns the report dict. Raises a
    Tf2CaffeError subclass on any failure (ParityError, with the report, when parity fails; with
    keep_on_failure the model files are then published under names that say they failed verification).
    verify_with: --verify-with's text ("opencv,..."), or None."""
    log = log or (lambda msg: None)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError("%s: exists and is not a folder" % out_dir)
    net.prepare()
    runtimes = runtime_check.requested(verify_with)      # a missing runtime: refused before anything
    if net.generated:
        target = runtime_check.target_for(target, runtimes)
    bundle, references = read(bundle_path, plugins, labels, log)
    manifest = bundle.manifest
    target, net_plan = plan(bundle, bundle_path, target, log)
    os.makedirs(out_dir, exist_ok=True)
    staging = staging_dir.make(out_dir)
    try:
        net.make(manifest, net_plan, staging, log)
        inputs, rows, accuracy = run_caffe(net, manifest, net_plan, references, staging, labels, log)
        report = reporting.build(bundle_path, manifest, target, net_plan, net, rows, accuracy, inputs)
        if runtimes:
            report["runtimes"] = other_runtimes(runtimes, net, manifest, net_plan, references, report, inputs,
                                                staging, log)
        return reporting.publish(report, staging, out_dir, net, keep_on_failure)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
