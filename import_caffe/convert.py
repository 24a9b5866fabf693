"""The generated net: the prototxt built from the plan, named after the model (the default import).

`convert` runs the import pipeline (pipeline.py) with it; --prototxt runs the same pipeline with your net
instead (manual.py)."""
import os

from . import caffe_stage, netbuild, own_run, pipeline
from .plan import Names
from .staging import file_stem


class GeneratedNet(pipeline.NetSource):
    """Caffe's net is the plan itself: every TF tensor is in the blob the plan put it in."""

    def make(self, manifest, plan, staging, log):
        self.plan = self.fill = plan
        self.subject = manifest["model_name"]
        stem = file_stem(manifest["model_name"], log)
        self.weight_bytes = netbuild.weight_bytes(plan)
        hdf5 = self.weight_bytes > caffe_stage.hdf5_threshold()
        self.files = {"prototxt": stem + ".prototxt", "weights": stem + (".caffemodel.h5" if hdf5 else ".caffemodel")}
        if hdf5:
            log("weights are %.2f GB, over %s: writing them in Caffe's HDF5 format (%s), which Caffe reads "
                "like a .caffemodel" % (self.weight_bytes / 1e9, "protobuf's 2 GB limit" if self.weight_bytes >
                                        caffe_stage.HDF5_THRESHOLD_BYTES else "TF2CAFFE_HDF5_THRESHOLD",
                                        self.files["weights"]))
            renamed = netbuild.hdf5_names(plan)
            if renamed:
                log("in the HDF5 format a layer name cannot hold '/': %d helper layer(s) use '.' instead"
                    % len(renamed))
        with open(os.path.join(staging, self.files["prototxt"]), "w") as f:
            f.write(netbuild.prototxt(plan))

    def locate(self, tensor):
        return self.plan.refs[tensor].blob, None

    def caffe_layers(self, node):
        return self.plan.node_layers.get(node["name"], [])

    def preactivation_blob(self, node):
        return Names(node).sub("preact") if node["name"] in self.plan.node_layers else None

    def note(self, node):
        return self.plan.notes.get(node["name"])

    def own_steps(self, manifest, plan, tf_has):
        return own_run.steps(manifest, plan, tf_has, lambda node: self.preactivation_blob(node))

    def run_message(self, batch):
        return ("writing the weights (%.0f MB), loading the Caffe net (%d layers) from its files, running %d "
                "reference input(s)" % (self.weight_bytes / 1e6, len(self.plan.layers), batch))


def convert(bundle_path, out_dir, log=None, labels=None, plugins=(), target="auto", keep_on_failure=False,
            verify_with=None):
    """Convert; returns the report dict. Raises a Tf2CaffeError subclass on any failure."""
    return pipeline.run(GeneratedNet(), bundle_path, out_dir, log=log, labels=labels, plugins=plugins, target=target,
                        keep_on_failure=keep_on_failure, verify_with=verify_with)
