"""The exporter's two handler tables, one per reader, over the same family modules (export_tf/handlers/):

* ``register("Conv2D", ops=("conv2d",))``: Keras layer class name -> handler(LayerView) -> Node; `ops`
  names the manifest ops the handler emits (for the README's support table);
* ``tf_op("Conv2D", "DepthwiseConv2dNative")``: TF op type -> handler(OpView) -> Node (the graph reader).

Handlers build their nodes with export_tf.node.make_node and raise Unsupported (see export_tf/node.py).
Registering a name twice raises at import time (shared/registry.py).
"""
from shared.registry import Registry

FAMILIES = ("activation", "applications", "attention", "conv", "core", "dense", "merge", "norm", "ops", "pool",
            "recurrent", "reshape", "resize", "sequence")
KERAS_LAYERS = Registry("exporter handler for", "export_tf.handlers", FAMILIES)
TF_OPS = Registry("graph handler for TF op", "export_tf.handlers", FAMILIES)

register = KERAS_LAYERS.register
tf_op = TF_OPS.register


def handler_for(class_name):
    return KERAS_LAYERS.get(class_name)


def supported_classes():
    return KERAS_LAYERS.entries()


def tf_op_handler(op_type):
    return TF_OPS.get(op_type)


def supported_ops():
    return TF_OPS.entries()
