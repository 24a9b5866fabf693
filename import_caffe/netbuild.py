"""Plan -> caffe_pb2.NetParameter -> prototxt text. The only module that builds protobuf messages.
Names and values go through protobuf's own text format, so no name can break the net definition."""


def _fill(message, values):
    for key, value in values.items():
        field = message.DESCRIPTOR.fields_by_name.get(key)
        if field is None:
            raise ValueError("%s has no field %r" % (message.DESCRIPTOR.name, key))
        if isinstance(value, dict):
            if field.label == field.LABEL_REPEATED:
                _fill(getattr(message, key).add(), value)
            else:
                _fill(getattr(message, key), value)
        elif isinstance(value, (list, tuple)):
            getattr(message, key).extend(value)
        elif field.enum_type is not None and isinstance(value, str):
            setattr(message, key, field.enum_type.values_by_name[value].number)
        else:
            setattr(message, key, value)


def net_parameter(plan):
    from caffe.proto import caffe_pb2
    net = caffe_pb2.NetParameter()
    net.name = plan.name
    for layer in plan.layers:
        msg = net.layer.add()
        msg.name = layer.name
        msg.type = layer.type
        msg.bottom.extend(layer.bottoms)
        msg.top.extend(layer.tops)
        _fill(msg, layer.params)
    return net


def prototxt(plan):
    from google.protobuf import text_format
    return text_format.MessageToString(net_parameter(plan))
