"""Run a written Caffe net in OpenCV's dnn (cv2.dnn.readNetFromCaffe) and compare it with Caffe.

    python3 -m import_caffe.opencv_check NET.prototxt NET.caffemodel BUNDLE.npz

feeds the bundle's reference inputs to both, compares every blob OpenCV can output by name (a layer's
first top: OpenCV addresses layers, not blobs) and the net's outputs, and prints one JSON line:
{"layers": n, "max_rel": worst per-layer relative error, "outputs": {blob: relative error},
"unconnected": OpenCV's network outputs, "tf_outputs": {output: relative error against TF's reference}}. Run in the Caffe environment (make setup installs OpenCV)."""
import json
import sys

import numpy as np

from shared.bundle import read_bundle
from .layout import activation_to_caffe, layout_for_shape
from .opencv_runtime import load_cv2


def _rel(got, want):
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    return float(np.abs(got - want).max() / max(float(np.abs(want).max()), 1e-12))


def compare(prototxt, weights, inputs):
    """inputs: {input blob: NCHW array}. Returns the summary dict described above."""
    import caffe
    cv2 = load_cv2()
    net = caffe.Net(prototxt, weights, caffe.TEST)
    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
        net.blobs[name].data[...] = value
    net.reshape()
    net.forward()
    cv = cv2.dnn.readNetFromCaffe(prototxt, weights)
    for name, value in inputs.items():
        cv.setInput(np.ascontiguousarray(value, dtype=np.float32), name)
    names = set(cv.getLayerNames())
    producer = {}
    for layer in net.layer_dict:
        for top in net.top_names[layer]:
            producer[top] = layer           # the last layer writing a blob (in-place layers) holds its value
    wanted = []
    for blob, layer in producer.items():
        if blob in inputs or net.top_names[layer].index(blob) != 0:
            continue
        # OpenCV's importer names a Convolution / Deconvolution layer after its top
        name = blob if net.layer_dict[layer].type in ("Convolution", "Deconvolution") else layer
        if name not in names:
            continue
        if name is not None:
            wanted.append((blob, name))
    got = cv.forward([n for _, n in wanted]) if wanted else []
    errors = dict((blob, _rel(g, net.blobs[blob].data)) for (blob, _), g in zip(wanted, got))
    outputs = dict(zip([b for b, _ in wanted], got))
    return {"layers": len(errors), "opencv_outputs": outputs, "max_rel": max(errors.values()) if errors else None,
            "outputs": dict((b, errors.get(b)) for b in net.outputs), "unconnected": list(cv.getUnconnectedOutLayersNames()),
            "net_outputs": list(net.outputs),
            "worst": sorted(errors.items(), key=lambda kv: -kv[1])[:3]}


def main(argv):
    prototxt, weights, bundle_path = argv
    bundle = read_bundle(bundle_path)
    manifest = bundle.manifest
    inputs = {}
    for entry in manifest["inputs"]:
        value = bundle.arrays[manifest["reference"]["inputs"][entry["tensor"]]]
        inputs[entry["name"]] = activation_to_caffe(value, layout_for_shape(entry["shape"]))
    result = compare(prototxt, weights, inputs)
    # OpenCV's outputs against TF's own (rank-2 outputs, the same layout in both)
    values = bundle.reference("outputs")
    got = result.pop("opencv_outputs")
    result["tf_outputs"] = {}
    for entry in manifest["outputs"]:
        want = values.get(entry["tensor"])
        have = [v for b, v in got.items() if b == entry["name"]]
        if want is not None and want.ndim == 2 and have and have[0].size == want.size:
            result["tf_outputs"][entry["name"]] = _rel(have[0], np.asarray(want, dtype=np.float64))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
