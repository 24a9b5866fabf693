"""Test only: deliberately wrong lowerings, to prove the parity check refuses them and names the layer.

Each wrong layer is a Keras subclass of a built-in one (the test swaps it in for one layer of a real
model, same configuration and weights), exported as its own manifest op with the built-in op's spec,
and lowered by the built-in lowering with one classic mistake:

* WrongKernelConv2D / WrongKernelDepthwiseConv2D: the kernel's rows and columns swapped (TF's
  (kh, kw, ...) read as (kw, kh, ...): the transposition keras2caffe-style converters get wrong);
* NoEpsilonBatchNormalization: BatchNorm without its epsilon (Caffe's default 1e-5 instead of
  Keras' 1e-3).

    python -m export_tf model.keras -o model.npz --plugin wrong_lowering_plugin.py
    python -m import_caffe model.npz -o out --plugin wrong_lowering_plugin.py
"""
PACKAGE = "tf2caffe_test"
# Keras class -> (the built-in Keras class and manifest op it copies, this plugin's op)
WRONG = {
    "WrongKernelConv2D": ("Conv2D", "conv2d", "test_conv2d_kernel_hw_swapped"),
    "WrongKernelDepthwiseConv2D": ("DepthwiseConv2D", "depthwise_conv2d", "test_depthwise_conv2d_kernel_hw_swapped"),
    "NoEpsilonBatchNormalization": ("BatchNormalization", "batch_norm", "test_batch_norm_without_epsilon"),
}


def keras_classes():
    """{name: class}: each a plain subclass of its built-in layer, registered so the model file loads."""
    import keras
    out = {}
    for name, (base, _, _) in WRONG.items():
        cls = keras.saving.get_registered_object("%s>%s" % (PACKAGE, name))
        if cls is None:
            cls = keras.saving.register_keras_serializable(package=PACKAGE)(
                type(name, (getattr(keras.layers, base),), {}))
        out[name] = cls
    return out


def declare(api):
    """Each op has the spec of the built-in op it copies (same attributes, arrays and shape rule)."""
    from shared.opspec import spec_for
    for _, builtin, op in WRONG.values():
        spec = spec_for(builtin)
        api.declare(op, "plugin", inputs=spec.inputs, attrs=spec.attrs, arrays=spec.arrays, rule=spec.rule,
                    doc="test only: %s lowered wrongly" % builtin)


def tf2caffe_export(api):
    from export_tf.registry import handler_for
    declare(api)
    for name, cls in keras_classes().items():
        base, _, op = WRONG[name]
        api.custom_object(cls)

        def handler(view, base=base, op=op):
            node = handler_for(base)(view)          # the built-in node, under this plugin's op
            return api.Node(op, node.attrs, node.arrays)
        api.register(name, ops=(op,))(handler)


def tf2caffe_import(api):
    from import_caffe.handlers.conv import conv2d, depthwise_conv2d
    from import_caffe.handlers.norm import batch_norm
    declare(api)

    def swapped(lowering):
        def lower(node, ins, arrays, names, target):
            arrays = dict(arrays, kernel=arrays["kernel"].transpose(1, 0, 2, 3))    # (kw, kh, ...): wrong
            return lowering(node, ins, arrays, names, target)
        return lower

    api.register(WRONG["WrongKernelConv2D"][2], composition="Convolution, kernel rows and columns swapped")(
        swapped(conv2d))
    api.register(WRONG["WrongKernelDepthwiseConv2D"][2],
                 composition="Convolution (group = channels), kernel rows and columns swapped")(
        swapped(depthwise_conv2d))

    @api.register(WRONG["NoEpsilonBatchNormalization"][2], composition="BatchNorm (Caffe's default eps) + Scale")
    def no_epsilon(node, ins, arrays, names, target):
        lowering = batch_norm(node, ins, arrays, names, target)
        for layer in lowering.layers:
            layer.params.get("batch_norm_param", {}).pop("eps", None)
        return lowering
