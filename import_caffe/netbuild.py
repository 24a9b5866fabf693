"""Plan -> caffe_pb2.NetParameter -> prototxt text (and a prototxt's text -> NetParameter). The only module
that builds or parses protobuf messages.
Names and values go through protobuf's own text format, so no name can break the net definition."""
import os


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


def _layer_message(msg, layer):
    msg.name = layer.name
    msg.type = layer.type
    msg.bottom.extend(layer.bottoms)
    msg.top.extend(layer.tops)
    _fill(msg, layer.params)
    return msg


def net_parameter(plan):
    from caffe.proto import caffe_pb2
    net = caffe_pb2.NetParameter()
    net.name = plan.name
    for layer in plan.layers:
        _layer_message(net.layer.add(), layer)
    return net


def prototxt(plan):
    from google.protobuf import text_format
    return text_format.MessageToString(net_parameter(plan))


def parse_prototxt(text):
    """A prototxt's text as a NetParameter; ValueError with protobuf's message (line and column) when it
    does not parse."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format
    net = caffe_pb2.NetParameter()
    try:
        text_format.Merge(text, net)
    except text_format.ParseError as exc:
        raise ValueError(str(exc))
    return net


def prototxt_layers(path):
    """[(name, type, bottoms, tops)] of the layers of the prototxt file at `path`, in order."""
    with open(path) as f:
        net = parse_prototxt(f.read())
    return [(l.name, l.type, list(l.bottom), list(l.top)) for l in net.layer]


# ----------------------------------------------------------------------------------------- weights
# The weights are written straight from the plan's arrays: no copy into net.params, no second copy in
# a NetParameter built by Net::ToProto. What is written is exactly what Caffe's own writers produce and
# read (net.save: a binary NetParameter whose layers carry their blobs; net.save_hdf5: /data/<layer>/<i>),
# and it is verified the way Caffe uses it: the Caffe stage loads prototxt + these files afresh, where
# Caffe checks every blob's count and shape, and every layer's output is compared with TF's.

HDF5_SEPARATOR = "."


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field_number, wire_type=2):
    return _varint((field_number << 3) | wire_type)


def _numbers():
    from caffe.proto import caffe_pb2
    f = lambda message, name: message.DESCRIPTOR.fields_by_name[name].number  # noqa: E731
    return {"net.name": f(caffe_pb2.NetParameter, "name"), "net.layer": f(caffe_pb2.NetParameter, "layer"),
            "layer.blobs": f(caffe_pb2.LayerParameter, "blobs"), "blob.shape": f(caffe_pb2.BlobProto, "shape"),
            "blob.data": f(caffe_pb2.BlobProto, "data"), "shape.dim": f(caffe_pb2.BlobShape, "dim")}


def _blob_header(numbers, shape, nbytes):
    """BlobProto up to its packed float data: shape { dim: packed } and the data field's key and length."""
    dims = b"".join(_varint(int(d)) for d in shape)
    shape_msg = (_key(numbers["shape.dim"]) + _varint(len(dims)) + dims) if dims else b""
    head = _key(numbers["blob.shape"]) + _varint(len(shape_msg)) + shape_msg
    if nbytes:
        head += _key(numbers["blob.data"]) + _varint(nbytes)
    return head


def _as_f32(blob):
    """A plan blob as it is written: a float32 array, or a layout.Rearranged (written by its blocks)."""
    if hasattr(blob, "blocks"):
        if blob.dtype != "<f4":
            raise ValueError("a rearranged blob must be float32, found %s" % blob.dtype)
        return blob
    import numpy as np
    return np.ascontiguousarray(blob, dtype="<f4")


def _pieces(blob):
    """The blob's data in Caffe's (C) order, as (first row, array) pieces; rearranged blobs are copied a
    block at a time by a worker thread while the previous block is written (numpy's copies and file
    writes both release the GIL)."""
    if not hasattr(blob, "blocks"):
        if blob.size:
            yield 0, blob
        return
    import queue
    import threading
    pieces = queue.Queue(maxsize=1)     # with 3 buffers: one written, one queued, one being filled
    stop = threading.Event()
    failure = []

    def produce():
        try:
            for piece in blob.blocks(buffers=3):
                while not stop.is_set():
                    try:
                        pieces.put(piece, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:     # handed to the writing thread
            failure.append(exc)
        pieces.put(None)

    worker = threading.Thread(target=produce, name="tf2caffe-blob-blocks", daemon=True)
    worker.start()
    try:
        while True:
            piece = pieces.get()
            if piece is None:
                break
            yield piece
        if failure:
            raise failure[0]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                pieces.get_nowait()
            except queue.Empty:
                pass
            worker.join(0.05)


def weight_bytes(plan):
    return sum(4 * int(b.size) for layer in plan.layers for b in layer.blobs)


def write_caffemodel(plan, path, progress=None, release=False):
    """Write plan's weights as a binary NetParameter (.caffemodel), as net.save() would: each layer with
    its definition (TEST phase) and its blobs, streamed from the arrays without copying them.
    release=True empties each layer's blob list once written (the memory goes as the file grows)."""
    from caffe.proto import caffe_pb2
    numbers = _numbers()
    with open(path, "wb") as f:
        name = (getattr(plan, "name", None) or "").encode("utf-8")
        if name:
            f.write(_key(numbers["net.name"]) + _varint(len(name)) + name)
        for layer in plan.layers:
            message = _layer_message(caffe_pb2.LayerParameter(), layer)
            message.phase = caffe_pb2.TEST
            head = message.SerializeToString()
            blobs = [_as_f32(b) for b in layer.blobs]
            parts = [_blob_header(numbers, b.shape, b.nbytes) for b in blobs]
            sizes = [len(p) + b.nbytes for p, b in zip(parts, blobs)]
            body = len(head) + sum(len(_key(numbers["layer.blobs"])) + len(_varint(s)) + s for s in sizes)
            f.write(_key(numbers["net.layer"]) + _varint(body) + head)
            for part, blob, size in zip(parts, blobs, sizes):
                f.write(_key(numbers["layer.blobs"]) + _varint(size) + part)
                for _, piece in _pieces(blob):
                    f.write(memoryview(piece.reshape(-1)).cast("B"))
                    if progress is not None:
                        progress.advance(piece.nbytes)
            if release:
                layer.blobs = []
                blobs = blob = piece = None


def hdf5_names(plan):
    """Caffe's HDF5 weights hold each layer as the group /data/<layer name>, and Caffe finds a layer by
    the top-level names of /data: a '/' in a layer name would nest a group where Caffe never looks (and
    net.save_hdf5 would nest it inside another layer's group, which then has too many blobs). For that
    format, '/' in layer names becomes '.' (blob names are unchanged). Renames plan's layers in place and
    returns {old: new}; refuses a rename that would make two layers share a name."""
    from shared.errors import ConversionError
    renamed = {}
    names = set(layer.name for layer in plan.layers)
    for layer in plan.layers:
        if "/" in layer.name:
            new = layer.name.replace("/", HDF5_SEPARATOR)
            if new in names:
                raise ConversionError("the HDF5 weight format cannot name layer %r (it would become %r, which "
                                      "another layer is called)" % (layer.name, new))
            names.add(new)
            renamed[layer.name] = new
            layer.name = new
    node_layers = getattr(plan, "node_layers", None)
    if renamed and node_layers:
        for node, layers in node_layers.items():
            node_layers[node] = [renamed.get(n, n) for n in layers]
    return renamed


def write_caffemodel_h5(plan, path, progress=None, release=False):
    """Write plan's weights in Caffe's HDF5 format (.caffemodel.h5), as net.save_hdf5() would: a group
    /data/<layer> per layer (hdf5_names first) holding datasets '0', '1', ... (no /diff, as without
    write_diff). release as for write_caffemodel.

    h5py lays the file out: each dataset contiguous, little-endian float32, its storage allocated at
    creation (no fill). The data then goes straight into that storage with positioned writes, outside
    h5py (which holds the GIL through every write, so a block could not be transposed meanwhile): the
    bytes HDF5 itself would write there."""
    import h5py
    places = []
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        for layer in plan.layers:
            if "/" in layer.name:
                raise ValueError("layer name %r: run netbuild.hdf5_names(plan) first" % layer.name)
            group = data.create_group(layer.name)
            for i, blob in enumerate(layer.blobs):
                blob = _as_f32(blob)
                dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                dcpl.set_layout(h5py.h5d.CONTIGUOUS)
                dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
                dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
                space = h5py.h5s.create_simple(tuple(blob.shape)) if blob.shape else h5py.h5s.create(h5py.h5s.SCALAR)
                dataset = h5py.h5d.create(group.id, str(i).encode("ascii"), h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
                offset = dataset.get_offset() if blob.size else None
                if blob.size and offset is None:
                    raise ValueError("HDF5 allocated no storage for %s/%d" % (layer.name, i))
                places.append((layer, offset, blob))
    fd = os.open(path, os.O_WRONLY)
    try:
        for n, (layer, offset, blob) in enumerate(places):
            if offset is not None:
                at = offset
                for _, piece in _pieces(blob):
                    view = memoryview(piece.reshape(-1)).cast("B")
                    while view:
                        written = os.pwrite(fd, view, at)
                        at += written
                        view = view[written:]
                    if progress is not None:
                        progress.advance(piece.nbytes)
            places[n] = None
            if release and (n + 1 == len(places) or places[n + 1][0] is not layer):
                layer.blobs = []
            blob = piece = view = None
    finally:
        os.close(fd)
