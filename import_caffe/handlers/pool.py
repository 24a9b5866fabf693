"""Pooling: max_pool2d / avg_pool2d (SAME and VALID, exact) and global_pool2d."""
from ..layout import IMAGE, VECTOR, Layout
from ..padding import avg_divisors, plan_pool
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register
from .common import crop_hw


def _pool(node, ins, names, mode):
    src = ins[0]
    if src.layout.kind != IMAGE:
        raise Unsupported("expects an image input, found a %s tensor" % src.layout.kind)
    h, w, c = src.shape
    attrs = node["attrs"]
    kernel, strides, pads = attrs["kernel_size"], attrs["strides"], attrs["pads"]
    plans = plan_pool((h, w), kernel, strides, pads)
    if plans is None:
        raise Unsupported("no symmetric Caffe padding reproduces TF's windows for kernel %r, strides %r, "
                          "pads %r" % (kernel, strides, pads))
    out_hw = (plans[0].count, plans[1].count)
    caffe_hw = (plans[0].caffe_count, plans[1].caffe_count)
    cropped = caffe_hw != out_hw
    factor = avg_divisors((h, w), kernel, strides, pads, plans) if mode == "AVE" else None
    pool_top = names.sub("pooled") if (cropped or factor is not None) else names.top
    layers = [CaffeLayer(names.layer, "Pooling", [src.blob], [pool_top], {"pooling_param": {
        "pool": mode, "kernel_h": kernel[0], "kernel_w": kernel[1], "stride_h": strides[0],
        "stride_w": strides[1], "pad_h": plans[0].pad, "pad_w": plans[1].pad}})]
    notes = []
    blob = pool_top
    if cropped:
        crop_top = names.sub("cropped") if factor is not None else names.top
        more, blob = crop_hw(names.sub("crop"), pool_top, crop_top, caffe_hw, (plans[0].skip, plans[1].skip), out_hw)
        layers += more
        notes.append("Slice drops the windows Caffe's ceil rounding adds")
    if factor is not None:
        layers.append(CaffeLayer(names.sub("divisor"), "Scale", [blob], [names.top],
                                 {"scale_param": {"axis": 2, "num_axes": 2, "bias_term": False}}, [factor]))
        notes.append("Scale corrects Caffe's padded average divisor to TF's count of real cells")
    return Lowering(layers, [TensorRef(names.top, [out_hw[0], out_hw[1], c], Layout(IMAGE))],
                    "; ".join(notes) or None)


@register("max_pool2d", composition="Pooling MAX (+ Slice)")
def max_pool2d(node, ins, arrays, names, target):
    return _pool(node, ins, names, "MAX")


@register("avg_pool2d", composition="Pooling AVE (+ Slice, + Scale divisor correction)")
def avg_pool2d(node, ins, arrays, names, target):
    return _pool(node, ins, names, "AVE")


@register("global_pool2d", composition="Pooling global_pooling (+ Flatten)")
def global_pool2d(node, ins, arrays, names, target):
    src = ins[0]
    if src.layout.kind != IMAGE:
        raise Unsupported("expects an image input, found a %s tensor" % src.layout.kind)
    mode = {"avg": "AVE", "max": "MAX"}[node["attrs"]["mode"]]
    c = src.shape[2]
    keep = node["attrs"]["keepdims"]
    pool_top = names.top if keep else names.sub("pooled")
    layers = [CaffeLayer(names.layer, "Pooling", [src.blob], [pool_top],
                         {"pooling_param": {"pool": mode, "global_pooling": True}})]
    if keep:
        return Lowering(layers, [TensorRef(names.top, [1, 1, c], Layout(IMAGE))])
    layers.append(CaffeLayer(names.sub("flatten"), "Flatten", [pool_top], [names.top], {"flatten_param": {"axis": 1}}))
    return Lowering(layers, [TensorRef(names.top, [c], Layout(VECTOR))])
