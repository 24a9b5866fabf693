"""Hostile bundles (issue 18): from three small models exported once, variants of .npz and .h5 bundles
built as an attacker would, with every checksum recomputed so they pass the integrity check and reach
whatever comes after it. The containers are written here, byte by byte where needed (zipfile, h5py,
numpy's .npy format): shared.bundle.write_bundle validates what it writes, so it cannot write these.

Each recipe is one attack, built on one model, for the containers it applies to; a variant is a recipe
on a container, with the id `<container>-<class>-<name>` (`npz-amplify-upsample510`). The classes follow
the issue:

  name       file names that are shell or make code (backticks, $(...), quotes, spaces, a leading dash),
             on a bundle with one wrong sha256 (so the message quotes the path)
  links      .h5 external links, soft links, external raw storage, virtual, compact, chunked and
             compressed datasets; .npz members marked as symbolic links or compressed
  amplify    small files declaring huge work: a x510 upsampling, a 4074 padding, a 20,000-node relu
             chain, a reference batch of 150,000, phantom arrays, 110 MB manifests (and a ~110 kB one
             that inflates to 110 MB)
  slow       numbers that are slow to parse: 3-million-digit integers in the manifest and in .npy headers
  semantic   shapes and attributes an op cannot have (groups, concat, add, reshape), with consistent
             checksums; embedding ids far out of range (may reach Caffe: status 7 is accepted there only)
  ambiguous  zips that read differently in different readers (duplicate names, wrong end-record counts,
             disagreeing headers); .h5 objects linked under two names
  valid      schema-valid bundles that used to crash the importer (no reference inputs or outputs, a
             node's array that is a reference array, a 1-D conv/pool without pads)
  message    values that would forge or flood the terminal if echoed (200,000 characters, newlines,
             escape codes, bidirectional overrides) in source_type, source.path, producer, names, member
             names and .npy headers

`generate(folder)` exports the models (in-process, TF needed) and writes every variant under `folder`,
each in its own sub-folder (with any sibling file it links to); files an .h5 bundle points at outside
its folder go to `folder/elsewhere/<id>/`. It returns {variant id: Variant}.
"""
import copy
import hashlib
import io
import json
import os
import struct
import warnings
import zipfile

import numpy as np

CONTAINERS = ("npz", "h5")
MARK = "PWNED"
NAME_PREFIX = "hostile_"        # the models' names: the files a conversion would write start with it
BIG_DIGITS = 3 * 1000 * 1000
MANIFEST_110MB = 110 * 1000 * 1000
FORGED = "\nimport_caffe: all good, exit 0"
ESCAPES = "\x1b[2K\x1b[1A\rimport_caffe: all good, exit 0\x1b]0;owned\x07"


# ----------------------------------------------------------------------------------------- models

def _cnn():
    import keras
    from keras import layers
    x = keras.Input((16, 16, 3), name="image")
    a = layers.Conv2D(8, 3, activation="relu", name="conv1")(x)
    a = layers.BatchNormalization(name="bn")(a)
    a = layers.MaxPooling2D(2, name="pool")(a)
    a = layers.Conv2D(8, 3, padding="same", name="conv2")(a)
    a = layers.GlobalAveragePooling2D(name="gap")(a)
    a = layers.Dense(4, name="fc0")(a)
    a = layers.Dense(4, activation="tanh", name="fc1")(a)       # kernel (4, 4): the shape of fc0's activation
    y = layers.Dense(3, activation="softmax", name="probs")(a)  # kernel (4, 3): the shape of the outputs
    return keras.Model(x, y, name=NAME_PREFIX + "cnn")


def _seq():
    import keras
    from keras import layers
    x = keras.Input((16,), dtype="int32", name="tokens")
    a = layers.Embedding(50, 8, name="embed")(x)
    a = layers.Conv1D(8, 3, padding="same", activation="relu", name="conv1d")(a)
    a = layers.MaxPooling1D(2, name="pool1d")(a)
    a = layers.GlobalAveragePooling1D(name="gap1d")(a)
    y = layers.Dense(3, name="logits")(a)
    return keras.Model(x, y, name=NAME_PREFIX + "seq")


def _merge():
    import keras
    from keras import layers
    x = keras.Input((8, 8, 3), name="image")
    a = layers.Conv2D(4, 3, padding="same", name="conv_a")(x)
    b = layers.Conv2D(4, 1, name="conv_b")(x)
    s = layers.Add(name="add")([a, b])
    k = layers.Concatenate(name="cat")([s, a])
    r = layers.Reshape((4, 16, 8), name="reshape")(k)
    p = layers.ZeroPadding2D(1, name="pad")(r)
    u = layers.UpSampling2D(2, name="up")(p)
    g = layers.GlobalMaxPooling2D(name="gmp")(u)
    y = layers.Dense(3, name="logits")(g)
    return keras.Model(x, y, name=NAME_PREFIX + "merge")


# model: (builder, reference batch). The cnn's batch is 4 so that its last Dense kernel has the shape of
# the reference outputs, and fc1's kernel that of fc0's activation (class `valid`).
MODELS = {"cnn": (_cnn, 4), "seq": (_seq, 2), "merge": (_merge, 2)}


def export_models(folder):
    """{model: (manifest without 'arrays', {key: array})} of each model, exported once (.npz)."""
    from conftest import randomize
    from export_tf.exporter import export
    from shared.bundle import read_bundle
    out = {}
    for name, (build, batch) in MODELS.items():
        model_path = os.path.join(folder, name + ".keras")
        randomize(build()).save(model_path)
        bundle_path = os.path.join(folder, name + ".npz")
        export(model_path, bundle_path, batch=batch)
        bundle = read_bundle(bundle_path)
        for key in bundle.manifest["reference"]["outputs"].values():     # a changed weight shows in them
            assert np.ptp(bundle.arrays[key], axis=0).max() > 1e-3, (name, "outputs do not depend on the inputs")
        manifest = copy.deepcopy(bundle.manifest)
        del manifest["arrays"]
        out[name] = (manifest, dict((k, np.array(v)) for k, v in bundle.arrays.items()))
    return out


# ----------------------------------------------------------------------------------------- drafts

class Draft(object):
    """What a recipe edits: the manifest (without 'arrays'), the arrays written, and hooks on how the
    container is written. emit() declares every array with its real shape and sha256 (the checksums are
    recomputed) unless `sha` overrides one; `declared` adds table entries for arrays written otherwise."""

    def __init__(self, manifest, arrays):
        self.manifest = copy.deepcopy(manifest)
        self.arrays = dict((k, v.copy()) for k, v in arrays.items())
        self.sha = {}
        self.declared = {}
        self.text = None                # the manifest's bytes, written as they are
        self.text_edit = None           # bytes -> bytes, on the manifest's text
        self.npz_members = None         # [Member] -> [Member]
        self.h5_edit = None             # (h5py.File, manifest bytes) -> None
        self.after = None               # (path) -> None, on the written file

    def node(self, name):
        return [n for n in self.manifest["nodes"] if n["name"] == name][0]

    def index(self, name):
        return [n["name"] for n in self.manifest["nodes"]].index(name)

    def move_out(self, key):
        """Array `key` stays declared (real shape and sha256) but is no longer written as a normal member:
        the recipe stores it its own way. Returns it."""
        arr = self.arrays.pop(key)
        self.declared[key] = spec_of(arr)
        return arr

    def drop_reference(self, part, tensors=None):
        """Remove reference entries of `part` (all, or those of `tensors`) and their arrays."""
        ref = self.manifest["reference"]
        for tensor in list(ref.get(part, {})):
            if tensors is None or tensor in tensors:
                self.arrays.pop(ref[part].pop(tensor), None)

    def table(self):
        table = dict((k, spec_of(a, self.sha.get(k))) for k, a in self.arrays.items())
        table.update(self.declared)
        return table

    def manifest_text(self):
        if self.text is not None:
            return self.text
        manifest = dict(self.manifest)
        manifest["arrays"] = self.table()
        text = json.dumps(manifest, indent=1).encode("utf-8")
        return self.text_edit(text) if self.text_edit else text


def spec_of(arr, sha=None):
    return {"shape": list(arr.shape), "dtype": "float32", "sha256": sha or sha256(arr)}


def sha256(arr):
    return hashlib.sha256(np.ascontiguousarray(arr, dtype="<f4").tobytes()).hexdigest()


def zeros_sha256(nbytes):
    digest = hashlib.sha256()
    block = bytes(64 << 20)
    while nbytes:
        n = min(nbytes, len(block))
        digest.update(block[:n])
        nbytes -= n
    return digest.hexdigest()


def npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr, dtype="<f4"), version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def npy_with_header(header_text, data=b"", version=(1, 0)):
    """A .npy member whose header text is `header_text` (padded and ended as numpy does)."""
    body = header_text.encode("latin1")
    prefix = 10 if version == (1, 0) else 12
    body += b" " * (-(prefix + len(body) + 1) % 64) + b"\n"
    length = struct.pack("<H" if version == (1, 0) else "<I", len(body))
    return b"\x93NUMPY" + bytes(version) + length + body + data


class Member(object):
    def __init__(self, name, data, deflate=False, symlink=False):
        self.name, self.data, self.deflate, self.symlink = name, data, deflate, symlink


def write_zip(path, members):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # zipfile warns about duplicate names: they are the point
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            for m in members:
                info = zipfile.ZipInfo(m.name, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED if m.deflate else zipfile.ZIP_STORED
                if m.symlink:
                    info.create_system = 3
                    info.external_attr = 0o120777 << 16
                else:
                    info.external_attr = 0o644 << 16
                zf.writestr(info, m.data)


def emit(draft, path, container):
    text = draft.manifest_text()
    if container == "npz":
        members = [Member(k + ".npy", npy(a)) for k, a in draft.arrays.items()]
        members.append(Member("manifest.json", text))
        if draft.npz_members:
            members = draft.npz_members(members)
        write_zip(path, members)
    else:
        import h5py
        with h5py.File(path, "w") as f:
            group = f.create_group("arrays")
            for key, arr in draft.arrays.items():
                group.create_dataset(key, data=np.ascontiguousarray(arr, dtype="<f4"))
            f.create_dataset("manifest.json", data=np.frombuffer(text, dtype=np.uint8))
            if draft.h5_edit:
                draft.h5_edit(f, text)
    if draft.after:
        draft.after(path)


def replace_member(members, name, **changes):
    for m in members:
        if m.name == name:
            for k, v in changes.items():
                setattr(m, k, v)
    return members


def patch_end_record(path, here=None, total=None):
    """Rewrite the zip end record's entry counts (this disk, in all); the archive has no comment."""
    with open(path, "r+b") as f:
        f.seek(-22, os.SEEK_END)
        record = bytearray(f.read(22))
        assert record[:4] == b"PK\x05\x06"
        old_here, old_total = struct.unpack_from("<HH", record, 8)
        struct.pack_into("<HH", record, 8, old_here + (here or 0), old_total + (total or 0))
        f.seek(-22, os.SEEK_END)
        f.write(bytes(record))


def write_side_h5(path, name, data):
    import h5py
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=data)


# ----------------------------------------------------------------------------------------- context

class Context(object):
    """Where a recipe writes: its folder (the bundle's), a folder outside it, the files it planted (which
    nothing may read) and the container."""

    def __init__(self, folder, elsewhere, container, shared):
        self.folder, self.elsewhere, self.container, self.shared = folder, elsewhere, container, shared
        self.planted = []

    def sibling(self, name):
        path = os.path.join(self.folder, name)
        self.planted.append(path)
        return path

    def outside(self, name):
        os.makedirs(self.elsewhere, exist_ok=True)
        path = os.path.join(self.elsewhere, name)
        self.planted.append(path)
        return path


# ----------------------------------------------------------------------------------------- 1. names

def wrong_checksum(d, ctx):
    d.sha["w/conv1/bias"] = sha256(d.arrays["w/conv1/bias"] + 1)


# ----------------------------------------------------------------------------------------- 2. links

KERNEL = "w/conv1/kernel"


def _h5_link(target_of):
    """The array KERNEL replaced by a link: target_of(ctx, arr) -> the h5py link object."""
    def build(d, ctx):
        arr = d.move_out(KERNEL)
        link = target_of(ctx, arr)

        def edit(f, text):
            f["arrays/" + KERNEL] = link
        d.h5_edit = edit
    return build


def _external_sibling(ctx, arr):
    import h5py
    write_side_h5(ctx.sibling("sibling.h5"), "data", arr)
    return h5py.ExternalLink("sibling.h5", "/data")


def _external_absolute(ctx, arr):
    import h5py
    path = ctx.outside("target.h5")
    write_side_h5(path, "data", arr)
    return h5py.ExternalLink(path, "/data")


def _external_passwd(ctx, arr):
    import h5py
    return h5py.ExternalLink("/etc/passwd", "/data")


def _soft_array(d, ctx):
    import h5py
    arr = d.move_out(KERNEL)

    def edit(f, text):
        f.create_dataset("stash/kernel", data=arr)
        f["arrays/" + KERNEL] = h5py.SoftLink("/stash/kernel")
    d.h5_edit = edit


def _soft_manifest(d, ctx):
    import h5py

    def edit(f, text):
        del f["manifest.json"]
        f.create_dataset("stash/manifest", data=np.frombuffer(text, dtype=np.uint8))
        f["manifest.json"] = h5py.SoftLink("/stash/manifest")
    d.h5_edit = edit


def _external_manifest(d, ctx):
    import h5py
    side = ctx.sibling("sibling.h5")

    def edit(f, text):
        write_side_h5(side, "manifest.json", np.frombuffer(text, dtype=np.uint8))
        del f["manifest.json"]
        f["manifest.json"] = h5py.ExternalLink("sibling.h5", "/manifest.json")
    d.h5_edit = edit


def _storage(where):
    """The array KERNEL stored in another file (HDF5 external raw storage)."""
    def build(d, ctx):
        arr = d.move_out(KERNEL)
        if where == "devzero":
            arr = np.zeros_like(arr)
            d.declared[KERNEL] = spec_of(arr)
            name = "/dev/zero"
        else:
            raw = ctx.outside("raw.bin") if where == "absolute" else ctx.sibling("raw.bin")
            with open(raw, "wb") as f:
                f.write(arr.tobytes())
            name = raw if where != "relative" else "raw.bin"

        def edit(f, text):
            f["arrays"].create_dataset(KERNEL, shape=arr.shape, dtype="<f4", external=[(name, 0, arr.nbytes)])
        d.h5_edit = edit
    return build


def _storage_devzero_big(d, ctx):
    """A 1.26 GB array declared (with the sha256 of its zeros) and stored in /dev/zero by a 2 kB file."""
    shape = (300, 1024, 1024)
    d.declared["x/zeros"] = {"shape": list(shape), "dtype": "float32", "sha256": ctx.shared["zeros_sha"]}

    def edit(f, text):
        f.create_group("arrays/x").create_dataset("zeros", shape=shape, dtype="<f4",
                                                  external=[("/dev/zero", 0, 4 * int(np.prod(shape)))])
    d.h5_edit = edit


def _virtual(where):
    def build(d, ctx):
        import h5py
        arr = d.move_out(KERNEL)
        if where == "sibling":
            write_side_h5(ctx.sibling("source.h5"), "data", arr)
            source = "source.h5"
        else:
            source = ctx.outside("source.h5")
            write_side_h5(source, "data", arr)

        def edit(f, text):
            layout = h5py.VirtualLayout(shape=arr.shape, dtype="<f4")
            layout[...] = h5py.VirtualSource(source, "data", shape=arr.shape)
            f["arrays"].create_virtual_dataset(KERNEL, layout)
        d.h5_edit = edit
    return build


def _filtered(**options):
    def build(d, ctx):
        arr = d.move_out(KERNEL)

        def edit(f, text):
            f["arrays"].create_dataset(KERNEL, data=arr, **options)
        d.h5_edit = edit
    return build


def _compact(d, ctx):
    from h5py import h5d, h5p, h5s, h5t
    arr = d.move_out(KERNEL)

    def edit(f, text):
        dcpl = h5p.create(h5p.DATASET_CREATE)
        dcpl.set_layout(h5d.COMPACT)
        group = f.require_group("arrays/w/conv1")
        ds = h5d.create(group.id, b"kernel", h5t.IEEE_F32LE, h5s.create_simple(arr.shape), dcpl=dcpl)
        ds.write(h5s.ALL, h5s.ALL, np.ascontiguousarray(arr, dtype="<f4"))
    d.h5_edit = edit


def _gzip_manifest(d, ctx):
    def edit(f, text):
        del f["manifest.json"]
        f.create_dataset("manifest.json", data=np.frombuffer(text, dtype=np.uint8), compression="gzip")
    d.h5_edit = edit


def _npz_member(name, **changes):
    def build(d, ctx):
        d.npz_members = lambda members: replace_member(members, name, **changes)
    return build


def _npz_symlink_to_passwd(d, ctx):
    d.npz_members = lambda members: replace_member(members, KERNEL + ".npy", symlink=True, data=b"/etc/passwd")


# ----------------------------------------------------------------------------------------- 3. amplification

def redeclare(d, shapes):
    """Declared shapes of tensors changed ({tensor: shape}); their reference activations dropped."""
    for tensor, shape in shapes.items():
        d.manifest["tensors"][tensor]["shape"] = list(shape)
    d.drop_reference("activations", set(shapes))


def upsample510(d, ctx):
    d.node("up")["attrs"]["size"] = [510, 510]
    redeclare(d, {"up": [6 * 510, 18 * 510, 8]})


def upsample510_bare(d, ctx):
    upsample510(d, ctx)
    d.drop_reference("activations")
    d.manifest["reference"]["preactivations"] = {}


def pad4074(d, ctx):
    d.node("pad")["attrs"]["pads"] = [4074, 4074, 4074, 4074]
    redeclare(d, {"pad": [4 + 8148, 16 + 8148, 8], "up": [2 * (4 + 8148), 2 * (16 + 8148), 8]})


def pad4074_asymmetric(d, ctx):
    d.node("pad")["attrs"]["pads"] = [0, 4074, 4074, 0]
    d.node("up")["attrs"]["size"] = [1, 1]
    redeclare(d, {"pad": [4 + 4074, 16 + 4074, 8], "up": [4 + 4074, 16 + 4074, 8]})


def relu_chain(after, count=20000):
    """`count` relu nodes after node `after` (whose output is already relu'd: same values), the next
    node reading the chain's end."""
    def build(d, ctx):
        from shared import opspec
        nodes = d.manifest["nodes"]
        at = d.index(after)
        source = nodes[at]["outputs"][0]
        shape = d.manifest["tensors"][source]["shape"]
        attrs = opspec.complete("activation", {"function": "relu"})
        chain, prev = [], source
        for i in range(count):
            name = "relu_%05d" % i
            chain.append({"name": name, "op": "activation", "source_type": "ReLU", "inputs": [prev],
                          "outputs": [name], "attrs": dict(attrs), "arrays": {}})
            d.manifest["tensors"][name] = {"shape": list(shape), "dtype": "float32"}
            prev = name
        nxt = nodes[at + 1]
        nxt["inputs"] = [prev if t == source else t for t in nxt["inputs"]]
        nodes[at + 1:at + 1] = chain
    return build


def batch150000(d, ctx):
    """A batch of 150,000 and no reference arrays at all (a reader making inputs of that batch)."""
    d.manifest["reference"]["batch"] = 150000
    for part in ("inputs", "outputs", "activations"):
        d.drop_reference(part)
    d.drop_reference("preactivations")


def phantom_array(d, ctx):
    """An unused array of 2**33 float32 (32 GiB) declared, stored as a header without data (.npz) or a
    dataset never written (.h5)."""
    shape = (1 << 33,)
    d.declared["x/phantom"] = {"shape": list(shape), "dtype": "float32", "sha256": "0" * 64}
    if ctx.container == "npz":
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % shape[0]
        d.npz_members = lambda members: members[:-1] + [Member("x/phantom.npy", npy_with_header(header))] + members[-1:]
    else:
        d.h5_edit = lambda f, text: f.create_group("arrays/x").create_dataset("phantom", shape=shape, dtype="<f4")


def upsample510_phantom(d, ctx):
    """The x510 upsampling with a phantom 32 GiB array to inflate a budget computed from declared sizes."""
    upsample510(d, ctx)
    phantom_array(d, ctx)


def _big_manifest(kind):
    def build(d, ctx):
        text = d.manifest_text()
        if kind == "whitespace":
            d.text = b"{" + b" " * MANIFEST_110MB + text[1:]
        elif kind == "list":        # an unknown key holding 55 million zeros
            d.text = b'{"unused": [' + b"0," * (MANIFEST_110MB // 2) + b"0], " + text[1:]
        elif kind == "string":
            d.text = b'{"unused": "' + b"x" * MANIFEST_110MB + b'", ' + text[1:]
        if kind == "compressed":
            d.text = b"{" + b" " * MANIFEST_110MB + text[1:]
            if ctx.container == "npz":
                d.npz_members = lambda members: replace_member(members, "manifest.json", deflate=True)
            else:
                def edit(f, text):
                    del f["manifest.json"]
                    f.create_dataset("manifest.json", data=np.frombuffer(text, dtype=np.uint8),
                                     compression="gzip", compression_opts=9, chunks=(1 << 20,))
                d.h5_edit = edit
    return build


# ----------------------------------------------------------------------------------------- 4. slow parsing

BIG = '"@@BIG@@"'


def _big_number(place, number):
    """The manifest's text with `number` (text) at the place place(manifest) marks with BIG."""
    def build(d, ctx):
        place(d.manifest)
        text = json.dumps(dict(d.manifest, arrays=d.table()), indent=1)
        assert text.count(BIG) == 1
        d.text = text.replace(BIG, number()).encode("ascii")
    return build


def _digits():
    return "9" * BIG_DIGITS


def _set(*path):
    def place(manifest):
        obj = manifest
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = json.loads(BIG)
    return place


def _node_attr(node, attr):
    def place(manifest):
        [n for n in manifest["nodes"] if n["name"] == node][0]["attrs"][attr] = json.loads(BIG)
    return place


def _first_shape(manifest):
    manifest["tensors"][manifest["nodes"][0]["outputs"][0]]["shape"][0] = json.loads(BIG)


def _deep_nesting(d, ctx):
    text = d.manifest_text()
    d.text = b'{"unused": ' + b"[" * 100000 + b"]" * 100000 + b", " + text[1:]


def _npy_header(header, version=(1, 0), key=KERNEL):
    """The member of array `key` with this .npy header (its data after it, as written)."""
    def build(d, ctx):
        arr = d.arrays[key]
        text = header(arr) if callable(header) else header
        data = npy_with_header(text, arr.tobytes(), version)
        d.npz_members = lambda members: replace_member(members, key + ".npy", data=data)
    return build


def _shape_text(arr, first):
    return "{'descr': '<f4', 'fortran_order': False, 'shape': (%s, %s), }" % (
        first, ", ".join(str(n) for n in arr.shape[1:]))


def _h5_huge_dataspace(d, ctx):
    """The kernel's dataset declared with 2**40 elements (never written); the manifest is unchanged."""
    d.move_out(KERNEL)
    d.h5_edit = lambda f, text: f["arrays"].create_dataset(KERNEL, shape=(1 << 20, 1 << 20), dtype="<f4")


def _h5_many_groups(d, ctx):
    def edit(f, text):
        group = f.create_group("arrays/junk")
        for i in range(30000):
            group.create_group("g%05d" % i)
    d.h5_edit = edit


# ----------------------------------------------------------------------------------------- 5. semantics

def _conv_groups(node, groups):
    """conv node `node` with `groups`, its kernel cut to the (kh, kw, in // groups, filters) of that."""
    def build(d, ctx):
        n = d.node(node)
        n["attrs"]["groups"] = groups
        key = n["arrays"]["kernel"]
        kernel = d.arrays[key]
        d.arrays[key] = np.ascontiguousarray(kernel[:, :, :max(1, kernel.shape[2] // groups), :])
    return build


def concat_mismatched(inputs, axis, shape):
    def build(d, ctx):
        n = d.node("cat")
        n["inputs"], n["attrs"]["axis"] = list(inputs), axis
        d.manifest["tensors"]["cat"]["shape"] = list(shape)
        d.drop_reference("activations", {"cat"})
    return build


def add_inputs(inputs):
    def build(d, ctx):
        d.node("add")["inputs"] = list(inputs)
    return build


def reshape_count(d, ctx):
    d.node("reshape")["attrs"]["target_shape"] = [4, 16, 4]
    redeclare(d, {"reshape": [4, 16, 4]})


def reshape_count_consistent(d, ctx):
    """target (4, 16, 16): twice the values; every later shape, activation and the last kernel made to fit."""
    d.node("reshape")["attrs"]["target_shape"] = [4, 16, 16]
    redeclare(d, {"reshape": [4, 16, 16], "pad": [6, 18, 16], "up": [12, 36, 16], "gmp": [16]})
    kernel = d.node("logits")["arrays"]["kernel"]
    d.arrays[kernel] = np.concatenate([d.arrays[kernel], d.arrays[kernel]], axis=0)


def embedding_ids(value):
    def build(d, ctx):
        key = d.manifest["reference"]["inputs"]["tokens"]
        ids = d.arrays[key].copy()
        ids[:, ::3] = value
        d.arrays[key] = ids
    return build


# ----------------------------------------------------------------------------------------- 6. ambiguous containers

def _duplicate_manifest(good_first):
    def build(d, ctx):
        evil = copy.deepcopy(d.manifest)
        evil["model_name"] = "evil"
        evil["nodes"][-1]["attrs"]["activation"] = None
        evil["arrays"] = d.table()
        other = json.dumps(evil, indent=1).encode("utf-8")

        def members(ms):
            first, second = (ms[-1].data, other) if good_first else (other, ms[-1].data)
            return ms[:-1] + [Member("manifest.json", first), Member("manifest.json", second)]
        d.npz_members = members
    return build


def _duplicate_array(checksummed_last):
    """A second member under the name of KERNEL holding other values; the manifest's sha256 is that of
    the last (what Python's zipfile reads) or of the first (what a reader taking the first one reads)."""
    def build(d, ctx):
        good = d.arrays[KERNEL]
        smuggled = good[::-1].copy() + 1
        if checksummed_last:
            d.sha[KERNEL] = sha256(smuggled)

        def members(ms):
            at = [m.name for m in ms].index(KERNEL + ".npy")
            return ms[:at + 1] + [Member(KERNEL + ".npy", npy(smuggled))] + ms[at + 1:]
        d.npz_members = members
    return build


def _end_counts(here, total):
    def build(d, ctx):
        d.after = lambda path: patch_end_record(path, here, total)
    return build


def _local_name_differs(d, ctx):
    def after(path):
        with open(path, "r+b") as f:
            head = f.read(30)
            name_len = struct.unpack_from("<H", head, 26)[0]
            name = bytearray(f.read(name_len))
            name[0] = ord("W") if name[0] != ord("W") else ord("w")
            f.seek(30)
            f.write(bytes(name))
    d.after = after


def _two_archives(d, ctx):
    """An evil archive (other kernel values, its own manifest) followed by the bundle's own."""
    evil = copy.deepcopy(d)
    evil.arrays[KERNEL] = -evil.arrays[KERNEL]

    def after(path):
        first = path + ".first"
        emit(evil, first, "npz")
        with open(first, "rb") as f:
            head = f.read()
        os.unlink(first)
        with open(path, "rb") as f:
            tail = f.read()
        with open(path, "wb") as f:
            f.write(head + tail)
    d.after = after


def _h5_alias(d, ctx):
    """fc0's and fc1's biases are one dataset linked under both names (each sha256 is that data's)."""
    bias = d.arrays["w/fc0/bias"]
    d.move_out("w/fc0/bias")
    d.move_out("w/fc1/bias")
    d.declared["w/fc1/bias"] = spec_of(bias)

    def edit(f, text):
        f["arrays"].create_dataset("w/fc0/bias", data=bias)
        f["arrays/w/fc1/bias"] = f["arrays/w/fc0/bias"]
    d.h5_edit = edit


def _h5_alias_manifest(d, ctx):
    def edit(f, text):
        f["arrays/w/conv1/manifest.json"] = f["manifest.json"]
    d.h5_edit = edit


def _h5_root_attribute(d, ctx):
    def edit(f, text):
        f.attrs["manifest.json"] = np.frombuffer(text, dtype=np.uint8)
    d.h5_edit = edit


# ----------------------------------------------------------------------------------------- 7. schema-valid

def no_reference(*parts):
    def build(d, ctx):
        for part in parts:
            d.drop_reference(part)
    return build


def array_is_reference(node, part, tensor):
    """Node `node` takes as its kernel the reference array of `tensor` (same shape); its own is dropped."""
    def build(d, ctx):
        n = d.node(node)
        d.arrays.pop(n["arrays"]["kernel"])
        n["arrays"]["kernel"] = d.manifest["reference"][part][tensor]
    return build


def without_pads(nodes, version):
    def build(d, ctx):
        d.manifest["format_version"] = version
        for name in nodes:
            del d.node(name)["attrs"]["pads"]
    return build


# ----------------------------------------------------------------------------------------- 8. messages

def _set_value(path, value):
    def build(d, ctx):
        obj = d.manifest
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return build


def _rename_tensor(d, ctx):
    """The first node's output tensor renamed to 200,000 characters holding escapes, everywhere."""
    old = d.manifest["nodes"][0]["outputs"][0]
    new = ("\x1b[2K" + "T" * 100) * 1920 + "\nend"
    m = d.manifest
    m["tensors"] = dict((new if k == old else k, v) for k, v in m["tensors"].items())
    for n in m["nodes"]:
        n["inputs"] = [new if t == old else t for t in n["inputs"]]
        n["outputs"] = [new if t == old else t for t in n["outputs"]]
    ref = m["reference"]
    ref["activations"] = dict((new if k == old else k, v) for k, v in ref["activations"].items())


def _dtype_flood(d, ctx):
    def edit(text):
        manifest = json.loads(text.decode("utf-8"))
        manifest["arrays"][KERNEL]["dtype"] = ("float32" + ESCAPES) * 5000
        return json.dumps(manifest, indent=1).encode("utf-8")
    d.text_edit = edit


def _member_named(name):
    def build(d, ctx):
        if ctx.container == "npz":
            d.npz_members = lambda members: members[:-1] + [Member(name, npy(np.zeros(3)))] + members[-1:]
        else:
            d.h5_edit = lambda f, text: f["arrays"].create_dataset(name.replace("/", "|"), data=np.zeros(3, "<f4"))
    return build


NESTED_HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 1900 + ")" * 1900 + ", }"


# ----------------------------------------------------------------------------------------- the recipes

class Recipe(object):
    """One attack. statuses: the exit statuses import may give (the README's: 5 for a malformed bundle);
    inspect_may_pass: inspect may summarise it (status 0) instead of refusing it; file_name: the bundle's
    file name without its extension; relative: commands run in the bundle's folder with relative names."""

    def __init__(self, klass, name, model, build, containers=CONTAINERS, statuses=(5,), inspect_may_pass=False,
                 file_name="bundle", relative=False):
        self.klass, self.name, self.model, self.build = klass, name, model, build
        self.containers, self.statuses, self.inspect_may_pass = containers, statuses, inspect_may_pass
        self.file_name, self.relative = file_name, relative


NPZ, H5 = ("npz",), ("h5",)
R = Recipe
NAMES = [("backtick", "x`touch PWNED`y"), ("dollar-paren", "$(touch PWNED)"),
         ("make-shell", "$(shell touch PWNED)${HOME}$$(touch PWNED)"), ("quotes", "it's \"quoted\" 'q'"),
         ("spaces", "with  many   spaces "), ("leading-dash", "-rf --output=evil -q"),
         ("separators", "a;touch PWNED;|&<>*?[x]#%\\ b")]

RECIPES = [R("name", n, "cnn", wrong_checksum, file_name=f, relative=True) for n, f in NAMES] + [
    # 2. links, external storage, datasets not stored as written; npz members not stored as written
    R("links", "external-link-sibling", "cnn", _h5_link(_external_sibling), H5),
    R("links", "external-link-absolute", "cnn", _h5_link(_external_absolute), H5),
    R("links", "external-link-etc-passwd", "cnn", _h5_link(_external_passwd), H5),
    R("links", "external-link-manifest", "cnn", _external_manifest, H5),
    R("links", "soft-link-array", "cnn", _soft_array, H5),
    R("links", "soft-link-manifest", "cnn", _soft_manifest, H5),
    R("links", "external-storage-sibling", "cnn", _storage("sibling"), H5),
    R("links", "external-storage-absolute", "cnn", _storage("absolute"), H5),
    R("links", "external-storage-relative", "cnn", _storage("relative"), H5),
    R("links", "external-storage-devzero", "cnn", _storage("devzero"), H5),
    R("links", "external-storage-devzero-1gb", "cnn", _storage_devzero_big, H5),
    R("links", "virtual-sibling", "cnn", _virtual("sibling"), H5),
    R("links", "virtual-absolute", "cnn", _virtual("absolute"), H5),
    R("links", "gzip-array", "cnn", _filtered(compression="gzip"), H5),
    R("links", "chunked-array", "cnn", _filtered(chunks=(1, 1, 3, 8)), H5),
    R("links", "shuffle-fletcher-array", "cnn", _filtered(shuffle=True, fletcher32=True), H5),
    R("links", "compact-array", "cnn", _compact, H5),
    R("links", "gzip-manifest", "cnn", _gzip_manifest, H5),
    R("links", "symlink-array", "cnn", _npz_member(KERNEL + ".npy", symlink=True), NPZ),
    R("links", "symlink-manifest", "cnn", _npz_member("manifest.json", symlink=True), NPZ),
    R("links", "symlink-to-etc-passwd", "cnn", _npz_symlink_to_passwd, NPZ),
    R("links", "deflated-array", "cnn", _npz_member(KERNEL + ".npy", deflate=True), NPZ),
    # 3. amplification
    R("amplify", "upsample510", "merge", upsample510),
    R("amplify", "upsample510-no-activations", "merge", upsample510_bare),
    R("amplify", "upsample510-phantom-budget", "merge", upsample510_phantom),
    R("amplify", "pad4074", "merge", pad4074),
    R("amplify", "pad4074-asymmetric", "merge", pad4074_asymmetric),
    R("amplify", "relu-chain20000", "cnn", relu_chain("conv1")),
    R("amplify", "relu-chain20000-seq", "seq", relu_chain("conv1d")),
    R("amplify", "batch150000-cnn", "cnn", batch150000),
    # within the activation budget (208 MB at this batch): only the missing reference data refuses it
    R("amplify", "batch150000-seq", "seq", batch150000, inspect_may_pass=True),
    R("amplify", "batch150000-merge", "merge", batch150000),
    R("amplify", "phantom-array-32gib", "cnn", phantom_array),
    R("amplify", "manifest110mb-whitespace", "cnn", _big_manifest("whitespace")),
    R("amplify", "manifest110mb-unused-list", "cnn", _big_manifest("list"), NPZ),
    R("amplify", "manifest110mb-unused-string", "cnn", _big_manifest("string"), H5),
    R("amplify", "manifest110mb-compressed", "seq", _big_manifest("compressed")),
    R("amplify", "30000-groups", "cnn", _h5_many_groups, H5),
    # 4. slow parsing
    R("slow", "int3m-batch", "cnn", _big_number(_set("reference", "batch"), _digits)),
    R("slow", "int3m-unused-key", "cnn", _big_number(_set("unused"), _digits)),
    R("slow", "int3m-shape", "cnn", _big_number(_first_shape, _digits)),
    R("slow", "int3m-negative-attr", "cnn", _big_number(_node_attr("conv1", "filters"), lambda: "-" + _digits())),
    R("slow", "float3m-attr", "cnn", _big_number(_node_attr("bn", "epsilon"), lambda: "0." + "0" * BIG_DIGITS + "1")),
    R("slow", "float-exponent-overflow", "cnn", _big_number(_node_attr("bn", "epsilon"), lambda: "1e999999999")),
    R("slow", "nesting-100000", "cnn", _deep_nesting),
    R("slow", "npy-header-int3m", "cnn", _npy_header(lambda a: _shape_text(a, _digits()), (2, 0)), NPZ),
    R("slow", "npy-header-int60000-v1", "cnn", _npy_header(lambda a: _shape_text(a, "9" * 60000)), NPZ),
    R("slow", "npy-header-31-digits", "cnn", _npy_header(lambda a: _shape_text(a, "1" + "0" * 30)), NPZ),
    R("slow", "npy-header-64kb-spaces", "cnn", _npy_header(lambda a: _shape_text(a, a.shape[0]) + " " * 65000), NPZ),
    R("slow", "dataspace-2e40", "cnn", _h5_huge_dataspace, H5),
    # 5. semantics an op cannot have (checksums consistent)
    R("semantic", "conv-filters-not-multiple-of-groups", "merge", _conv_groups("conv_a", 3)),
    R("semantic", "conv-filters-not-multiple-of-groups-cnn", "cnn", _conv_groups("conv1", 3)),
    R("semantic", "conv-groups-not-dividing-inputs", "merge", _conv_groups("conv_a", 2)),
    R("semantic", "conv-groups-not-dividing-inputs-cnn", "cnn", _conv_groups("conv1", 2)),
    R("semantic", "concat-mismatched-maps", "merge", concat_mismatched(["add", "image"], 1, [16, 8, 4])),
    R("semantic", "concat-mismatched-maps-three", "merge",
      concat_mismatched(["add", "conv_a", "image"], 2, [8, 24, 4])),
    R("semantic", "add-one-input", "merge", add_inputs(["conv_a"])),
    R("semantic", "add-mismatched-channels", "merge", add_inputs(["conv_a", "image"])),
    R("semantic", "reshape-changes-count", "merge", reshape_count),
    R("semantic", "reshape-changes-count-consistent", "merge", reshape_count_consistent),
    R("semantic", "embedding-ids-1e9", "seq", embedding_ids(1e9), statuses=(5,), inspect_may_pass=True),
    R("semantic", "embedding-ids-negative", "seq", embedding_ids(-1e9), statuses=(5,), inspect_may_pass=True),
    R("semantic", "embedding-ids-input-dim", "seq", embedding_ids(50), statuses=(5,), inspect_may_pass=True),
    # 6. ambiguous containers
    R("ambiguous", "duplicate-manifest-good-first", "cnn", _duplicate_manifest(True), NPZ),
    R("ambiguous", "duplicate-manifest-good-last", "cnn", _duplicate_manifest(False), NPZ),
    R("ambiguous", "duplicate-array-checksummed-last", "cnn", _duplicate_array(True), NPZ),
    R("ambiguous", "duplicate-array-checksummed-first", "cnn", _duplicate_array(False), NPZ),
    R("ambiguous", "end-record-count-low", "cnn", _end_counts(-1, -1), NPZ),
    R("ambiguous", "end-record-count-high", "cnn", _end_counts(1, 1), NPZ),
    R("ambiguous", "end-record-counts-disagree", "cnn", _end_counts(0, 1), NPZ),
    R("ambiguous", "local-name-differs", "cnn", _local_name_differs, NPZ),
    R("ambiguous", "two-archives", "cnn", _two_archives, NPZ),
    R("ambiguous", "one-dataset-two-names", "cnn", _h5_alias, H5),
    R("ambiguous", "manifest-two-names", "cnn", _h5_alias_manifest, H5),
    R("ambiguous", "manifest-as-root-attribute", "cnn", _h5_root_attribute, H5),
    # 7. schema-valid bundles that used to crash (inspect may summarise them)
    R("valid", "no-reference-inputs", "cnn", no_reference("inputs"), inspect_may_pass=True),
    R("valid", "no-reference-outputs", "cnn", no_reference("outputs"), inspect_may_pass=True),
    R("valid", "no-reference-at-all", "cnn", no_reference("inputs", "outputs", "activations", "preactivations"),
      inspect_may_pass=True),
    R("valid", "kernel-is-reference-output", "cnn", array_is_reference("probs", "outputs", "probs"),
      statuses=(5,)),
    R("valid", "kernel-is-reference-activation", "cnn", array_is_reference("fc1", "activations", "fc0"),
      statuses=(5,)),
    R("valid", "conv1d-without-pads-v1", "seq", without_pads(["conv1d"], 1), inspect_may_pass=True),
    R("valid", "pool1d-without-pads-v1", "seq", without_pads(["pool1d"], 1), inspect_may_pass=True),
    R("valid", "conv1d-pool1d-without-pads-v2", "seq", without_pads(["conv1d", "pool1d"], 2), inspect_may_pass=True),
    # 8. messages carrying the attack
    R("message", "source-type-200k", "cnn", _set_value(["nodes", 0, "source_type"], "Conv2D" * 33334)),
    R("message", "source-type-forged-line", "cnn", _set_value(["nodes", 0, "source_type"], "Conv2D" + FORGED)),
    R("message", "source-type-escapes", "cnn", _set_value(["nodes", 0, "source_type"], ESCAPES)),
    R("message", "op-forged-line", "cnn", _set_value(["nodes", 0, "op"], "conv2d" + FORGED)),
    R("message", "source-path-escapes", "cnn", _set_value(["source", "path"], "m.keras" + ESCAPES)),
    R("message", "producer-escapes", "cnn", _set_value(["producer", "name"], "tf2caffe" + ESCAPES + FORGED)),
    R("message", "producer-200k", "cnn", _set_value(["producer", "version"], "1.0" * 66667)),
    R("message", "model-name-bidi-escapes", "cnn", _set_value(["model_name"], "\u202ecnn" + ESCAPES)),
    R("message", "tensor-name-200k-escapes", "cnn", _rename_tensor),
    R("message", "dtype-200k-escapes", "cnn", _dtype_flood),
    R("message", "member-name-escapes", "cnn", _member_named("w/x" + ESCAPES + FORGED)),
    R("message", "npy-header-nested", "cnn", _npy_header(NESTED_HEADER), NPZ),
    R("message", "npy-header-escapes", "cnn", _npy_header(
        "{'descr': '<f4" + ESCAPES + "', 'fortran_order': False, 'shape': (3, 3, 3, 8), }"), NPZ),
]


class Variant(object):
    def __init__(self, recipe, container, folder, path, planted):
        self.recipe, self.container, self.folder, self.path, self.planted = recipe, container, folder, path, planted
        self.id = variant_id(recipe, container)

    @property
    def size(self):
        return os.path.getsize(self.path)


def variant_id(recipe, container):
    return "%s-%s-%s" % (container, recipe.klass, recipe.name)


def unchanged(d, ctx):
    pass


# Each model unchanged, written by the same writer: these convert (the test checks it), so what the
# variants change is what gets them refused.
CONTROLS = [Recipe("control", name, name, unchanged, statuses=(0,)) for name in MODELS]


def variant_ids():
    return [variant_id(r, c) for r in RECIPES for c in r.containers]


def control_ids():
    return [variant_id(r, c) for r in CONTROLS for c in r.containers]


def generate(folder):
    """Export the models into folder/models and write every variant and control; {id: Variant}."""
    models = os.path.join(folder, "models")
    os.makedirs(models)
    bases = export_models(models)
    shared = {"zeros_sha": zeros_sha256(300 << 22)}
    out = {}
    for recipe in RECIPES + CONTROLS:
        for container in recipe.containers:
            vid = variant_id(recipe, container)
            sub = os.path.join(folder, "bundles", vid)
            os.makedirs(sub)
            ctx = Context(sub, os.path.join(folder, "elsewhere", vid), container, shared)
            draft = Draft(*bases[recipe.model])
            recipe.build(draft, ctx)
            path = os.path.join(sub, "%s.%s" % (recipe.file_name, container))
            emit(draft, path, container)
            out[vid] = Variant(recipe, container, sub, path, ctx.planted)
    assert sorted(out) == sorted(variant_ids() + control_ids())
    return out
