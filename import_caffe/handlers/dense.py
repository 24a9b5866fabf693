"""Dense: InnerProduct on vectors (kernel rows permuted after a Flatten), 1x1 Convolution on images and
sequences (Keras applies the kernel to the last axis)."""
from .. import layout
from ..layout import FLAT_CHW, IMAGE, SEQUENCE, VECTOR, Layout
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register
from .conv import activate


@register("dense", flat_ok=True, composition="InnerProduct (1x1 Convolution on images and sequences)")
def dense(node, ins, arrays, names, target):
    src = ins[0]
    kernel = arrays["kernel"]
    bias = arrays.get("bias")
    units = kernel.shape[1]
    top, act_layers = activate(node["attrs"], names, target)
    blobs_tail = [bias] if bias is not None else []
    if src.layout.kind in (IMAGE, SEQUENCE):
        param = {"num_output": units, "bias_term": bias is not None, "kernel_size": [1]}
        layer = CaffeLayer(names.layer, "Convolution", [src.blob], [top], {"convolution_param": param},
                           [layout.dense_kernel_as_conv1x1(kernel)] + blobs_tail)
        out = TensorRef(names.top, list(src.shape[:-1]) + [units], src.layout)
    else:
        if src.layout.kind == FLAT_CHW:
            weight = layout.dense_kernel_after_flatten(kernel, src.layout.hwc)
        elif src.layout.kind == VECTOR:
            weight = layout.dense_kernel(kernel)
        else:
            raise Unsupported("input layout %s" % src.layout.kind)
        param = {"num_output": units, "bias_term": bias is not None, "axis": 1}
        layer = CaffeLayer(names.layer, "InnerProduct", [src.blob], [top], {"inner_product_param": param},
                           [weight] + blobs_tail)
        out = TensorRef(names.top, [units], Layout(VECTOR))
    if kernel.shape[0] != (src.shape[-1] if src.layout.kind in (IMAGE, SEQUENCE) else src.shape[0]):
        raise Unsupported("kernel expects %d inputs, the input tensor has shape %r" % (kernel.shape[0], src.shape))
    return Lowering([layer] + act_layers, [out])
