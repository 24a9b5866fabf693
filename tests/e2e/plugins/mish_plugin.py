"""An example plugin: teaches tf2caffe a custom Keras layer, `Mish` (x * tanh(softplus(x))), without
editing the package. Use it on both sides:

    python -m export_tf model.keras -o model.npz --plugin mish_plugin.py
    python -m import_caffe model.npz -o out --plugin mish_plugin.py

The export hook runs where TensorFlow is; the import hook runs where Caffe is and must not import TF.
"""
NAME = "tf2caffe_example>Mish"


def keras_class():
    """The user's own Keras layer (normally it lives in the user's code; here it is defined once)."""
    import keras
    existing = keras.saving.get_registered_object(NAME)
    if existing is not None:
        return existing

    @keras.saving.register_keras_serializable(package="tf2caffe_example")
    class Mish(keras.layers.Layer):
        def call(self, x):
            return x * keras.ops.tanh(keras.ops.softplus(x))
    return Mish


def declare(api):
    """The manifest op's spec (shared/opspec): one input, no attributes, no arrays, the input's shape.
    Both hooks declare it, so each side checks the node the same way."""
    def same_shape(ctx):
        ctx.output(ctx.ins[0])
    api.declare("mish", "plugin", inputs=1, rule=same_shape, doc="x * tanh(softplus(x))")


def tf2caffe_export(api):
    api.custom_object(keras_class())
    declare(api)

    @api.register("Mish", ops=("mish",))
    def mish(view):
        # One manifest node: the op name the import hook lowers, attributes (none here) and arrays.
        return api.Node("mish", {})


def tf2caffe_import(api):
    declare(api)

    @api.register("mish", flat_ok=True, composition="BNLL + TanH + Eltwise PROD")
    def mish(node, ins, arrays, names, target):
        src = ins[0]
        softplus, tanh = names.sub("softplus"), names.sub("tanh")
        layers = [
            api.CaffeLayer(softplus, "BNLL", [src.blob], [softplus]),
            api.CaffeLayer(tanh, "TanH", [softplus], [tanh]),
            api.CaffeLayer(names.layer, "Eltwise", [src.blob, tanh], [names.top],
                           {"eltwise_param": {"operation": "PROD"}}),
        ]
        return api.Lowering(layers, [api.TensorRef(names.top, src.shape, src.layout)],
                            note="Mish as BNLL + TanH + Eltwise PROD (plugin)")
