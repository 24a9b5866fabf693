"""--prototxt matching on its own (no TF, no Caffe): by name without a map, BatchNorm's Scale found after
your BatchNorm, a fused ReLU followed in place, and what does not fit listed on both sides."""
import numpy as np

from import_caffe.layout import IMAGE, VECTOR, Layout
from import_caffe.manual import UserNet
from import_caffe.manual_match import match, problem_message
from import_caffe.plan import CaffeLayer, TensorRef


class _Plan(object):
    def __init__(self):
        z = np.zeros
        self.layers = [
            CaffeLayer("image", "Input", [], ["image"]),
            CaffeLayer("conv", "Convolution", ["image"], ["conv/preact"], blobs=[z((4, 3, 3, 3)), z(4)]),
            CaffeLayer("conv/relu", "ReLU", ["conv/preact"], ["conv"]),
            CaffeLayer("bn", "BatchNorm", ["conv"], ["bn/normalized"], blobs=[z(4), z(4), z(1)]),
            CaffeLayer("bn/scale", "Scale", ["bn/normalized"], ["bn"], blobs=[z(4), z(4)]),
            CaffeLayer("fc", "InnerProduct", ["bn"], ["fc"], blobs=[z((5, 64)), z(5)]),
        ]
        self.node_layers = {"conv": ["conv", "conv/relu"], "bn": ["bn", "bn/scale"], "fc": ["fc"]}
        self.refs = {"image": TensorRef("image", [6, 6, 3], Layout(IMAGE)),
                     "conv": TensorRef("conv", [4, 4, 4], Layout(IMAGE)),
                     "bn": TensorRef("bn", [4, 4, 4], Layout(IMAGE)),
                     "fc": TensorRef("fc", [5], Layout(VECTOR))}


MANIFEST = {
    "inputs": [{"name": "image", "tensor": "image", "shape": [6, 6, 3]}],
    "outputs": [{"name": "fc", "tensor": "fc", "shape": [5]}],
    "nodes": [{"name": "conv", "source_type": "Conv2D", "op": "conv2d", "inputs": ["image"], "outputs": ["conv"]},
              {"name": "bn", "source_type": "BatchNormalization", "op": "batch_norm", "inputs": ["conv"],
               "outputs": ["bn"]},
              {"name": "fc", "source_type": "Dense", "op": "dense", "inputs": ["bn"], "outputs": ["fc"]}],
}


def _user(fc_outputs=5, scale_name="sc"):
    layers = [
        ("image", "Input", [], ["image"], []),
        ("conv", "Convolution", ["image"], ["conv"], [[4, 3, 3, 3], [4]]),
        ("relu", "ReLU", ["conv"], ["conv"], []),
        ("bn", "BatchNorm", ["conv"], ["bnout"], [[4], [4], [1]]),
        (scale_name, "Scale", ["bnout"], ["bnout"], [[4], [4]]),
        ("fc", "InnerProduct", ["bnout"], ["fc"], [[fc_outputs, 64], [fc_outputs]]),
    ]
    blobs = {"image": [1, 3, 6, 6], "conv": [1, 4, 4, 4], "bnout": [1, 4, 4, 4], "fc": [1, fc_outputs]}
    return UserNet({"layers": [dict(name=n, type=t, bottoms=b, tops=o, params=p) for n, t, b, o, p in layers],
                    "blobs": blobs, "inputs": ["image"]})


def test_by_name_with_the_scale_after_the_batchnorm():
    m = match(MANIFEST, _Plan(), _user(), {})
    assert m.problems == []
    assert [(u, g.name) for u, g in m.fills] == [("conv", "conv"), ("bn", "bn"), ("sc", "bn/scale"), ("fc", "fc")]
    # the conv's TF value (after its fused ReLU) is blob 'conv' once your in-place ReLU ran
    assert m.groups["conv"] == ["conv", "relu"] and m.tensor_blobs["conv"] == ("conv", None)
    assert m.tensor_blobs["bn"] == ("bnout", None) and m.tensor_blobs["fc"] == ("fc", None)
    assert m.inputs == {"image": "image"}


def test_what_does_not_fit_is_listed_on_both_sides():
    plan, user = _Plan(), _user(fc_outputs=7)
    user.layers["bn"]["tops"] = ["bnout"]
    user.layers.pop("sc")                     # no Scale: BatchNorm's gamma and beta have no taker
    user.order.remove("sc")
    m = match(MANIFEST, plan, user, {"ghost": "nothing"})
    text = problem_message("net.prototxt", m.problems, plan, user)
    assert "TF layer 'fc' (Dense) -> your layer 'fc' (InnerProduct): your parameter shapes are 7x64, 7, " \
           "TF's weights in Caffe layout are 5x64, 5" in text
    assert "TF layer 'bn' (BatchNormalization): no layer of yours takes its Scale weights 4, 4 " \
           "(generated name 'bn/scale')" in text
    assert "TF output 'fc' is 5 in Caffe layout, your blob 'fc' is 7" in text
    assert "map: 'ghost' is neither a TF layer, input or output nor a generated layer name" in text
    assert "    bn/scale: Scale 4, 4" in text and "    fc: InnerProduct 7x64, 7" in text
