"""Bundles are untrusted input: a thousand deterministic mutations of a real bundle (bytes of the
container, and fields of its manifest; .npz and .h5) are either read and planned, or refused with a
Tf2CaffeError — never any other exception, never a crash. Plus property tests of the TF <-> Caffe layout
permutations.

Everything is seeded, so a failure names the exact mutation that reproduces it. Runs under both Pythons
(the Caffe environment has no hypothesis: the property tests there run on a seeded sample instead).
"""
import collections
import copy
import json
import os
import random
import shutil
import struct

import numpy as np
import pytest

from shared.bundle import read_bundle, write_bundle
from shared import opspec
from shared.errors import BundleError, Tf2CaffeError
from import_caffe import layout
from import_caffe.layout import FLAT_CHW, IMAGE, VECTOR, Layout
from import_caffe.planner import plan_net
from import_caffe.registry import Target

from test_bundle import H5Edit, NpzEdit, file_bytes, put_file_bytes

CONTAINERS = [pytest.param("npz", id="npz"), pytest.param("h5", id="h5")]
BATCH = 2
# Mutations per container and per kind (bytes, manifest). Every .h5 read forks (shared/bundle.py reads
# HDF5 in a child first), which costs more in a big process, so .h5 gets fewer. Fuzz longer with e.g.
# TF2CAFFE_FUZZ=5000:seed2 (the count for both containers, and a seed suffix).
_COUNT, SEED = (os.environ.get("TF2CAFFE_FUZZ", "") or ":").split(":", 1)
MUTATIONS = {"npz": int(_COUNT or 300), "h5": int(_COUNT or 200)}


# ----------------------------------------------------------------------------- the bundle mutated

def _tensor(shape):
    return {"shape": list(shape), "dtype": "float32"}


def _node(name, op, source_type, inputs, attrs=None, arrays=None):
    """A node as the exporter writes it: attributes completed through the op spec."""
    return {"name": name, "op": op, "source_type": source_type, "inputs": list(inputs),
            "outputs": [name + "/out"], "attrs": opspec.complete(op, attrs or {}), "arrays": arrays or {}}


def fuzz_manifest():
    """A small net touching every importer family: x (6, 6, 3) -> conv (relu) -> batch norm -> max pool
    -> add (itself) -> concat -> flatten -> dropout -> rescale -> dense (softmax) = y, and flatten ->
    reshape back to (3, 3, 8) -> global avg pool = g (both consumers of the flattened tensor take it in
    Caffe's CHW order)."""
    conv_attrs = {"kernel_size": [3, 3], "strides": [1, 1], "dilation": [1, 1], "padding": "same",
                  "pads": [1, 1, 1, 1], "activation": {"function": "relu"}, "filters": 4}
    pool_attrs = {"kernel_size": [2, 2], "strides": [2, 2], "padding": "valid", "pads": [0, 0, 0, 0]}
    nodes = [
        _node("conv", "conv2d", "Conv2D", ["x"], conv_attrs, {"kernel": "w/conv/kernel", "bias": "w/conv/bias"}),
        _node("bn", "batch_norm", "BatchNormalization", ["conv/out"], {"epsilon": 1e-3, "center": True, "scale": True},
              dict((r, "w/bn/" + r) for r in ("gamma", "beta", "moving_mean", "moving_variance"))),
        _node("pool", "max_pool2d", "MaxPooling2D", ["bn/out"], pool_attrs),
        _node("add", "add", "Add", ["pool/out", "pool/out"]),
        _node("cat", "concat", "Concatenate", ["add/out", "pool/out"], {"axis": 3}),
        _node("flat", "flatten", "Flatten", ["cat/out"]),
        _node("drop", "identity", "Dropout", ["flat/out"]),
        _node("scale", "rescale", "Rescaling", ["drop/out"], {"scale": [0.5], "offset": [0.25]}),
        _node("dense", "dense", "Dense", ["scale/out"], {"activation": {"function": "softmax"}, "units": 5},
              {"kernel": "w/dense/kernel", "bias": "w/dense/bias"}),
        _node("back", "reshape", "Reshape", ["flat/out"], {"target_shape": [3, 3, 8]}),
        _node("gap", "global_pool2d", "GlobalAveragePooling2D", ["back/out"], {"mode": "avg", "keepdims": False}),
    ]
    shapes = {"x": [6, 6, 3], "conv/out": [6, 6, 4], "bn/out": [6, 6, 4], "pool/out": [3, 3, 4],
              "add/out": [3, 3, 4], "cat/out": [3, 3, 8], "flat/out": [72], "drop/out": [72],
              "scale/out": [72], "dense/out": [5], "back/out": [3, 3, 8], "gap/out": [8]}
    return {
        "producer": {"name": "tf2caffe", "version": "1.0", "tensorflow": "2.16.1", "keras": "3.3.3"},
        "source": {"path": "model.keras", "sha256": "ab" * 32, "format": "keras"},
        "model_name": "fuzz",
        "inputs": [{"name": "x", "tensor": "x", "shape": [6, 6, 3], "dtype": "float32"}],
        "outputs": [{"name": "y", "tensor": "dense/out", "shape": [5], "dtype": "float32"},
                    {"name": "g", "tensor": "gap/out", "shape": [8], "dtype": "float32"}],
        "tensors": dict((t, _tensor(s)) for t, s in shapes.items()),
        "nodes": nodes,
        "reference": {"batch": BATCH, "inputs": {"x": "reference/x"},
                      "outputs": {"dense/out": "reference/y", "gap/out": "reference/g"},
                      "activations": {"pool/out": "reference/pool", "cat/out": "reference/cat"},
                      "preactivations": {"conv": "reference/conv_preact"}},
    }


def fuzz_arrays():
    """Arrays of the right shapes (their values are not a real TF run: nothing here checks parity)."""
    rng = np.random.RandomState(7)
    shapes = collections.OrderedDict([
        ("w/conv/kernel", (3, 3, 3, 4)), ("w/conv/bias", (4,)), ("w/bn/gamma", (4,)), ("w/bn/beta", (4,)),
        ("w/bn/moving_mean", (4,)), ("w/dense/kernel", (72, 5)), ("w/dense/bias", (5,)),
        ("reference/x", (BATCH, 6, 6, 3)), ("reference/y", (BATCH, 5)), ("reference/g", (BATCH, 8)),
        ("reference/pool", (BATCH, 3, 3, 4)), ("reference/cat", (BATCH, 3, 3, 8)),
        ("reference/conv_preact", (BATCH, 6, 6, 4)),
    ])
    arrays = collections.OrderedDict((k, rng.standard_normal(s).astype(np.float32)) for k, s in shapes.items())
    arrays["w/bn/moving_variance"] = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    return arrays


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """The valid bundle in each container: {container: (path, file bytes, manifest dict)}."""
    folder = tmp_path_factory.mktemp("fuzz-originals")
    out = {}
    for container in ("npz", "h5"):
        path = str(folder / ("fuzz." + container))
        manifest = write_bundle(path, fuzz_manifest(), fuzz_arrays())
        out[container] = (path, file_bytes(path), manifest)
    return out


def read_and_plan(path):
    """The contract: read_bundle succeeds or raises a one-line BundleError; a bundle it accepts is planned
    or refused with a Tf2CaffeError. Returns what happened."""
    try:
        bundle = read_bundle(path)
    except BundleError as exc:
        message = str(exc)
        assert message and "\n" not in message, "a BundleError must be one line: %r" % message
        return "refused"
    try:
        plan_net(bundle.manifest, bundle.node_arrays, Target(), where=path)
    except Tf2CaffeError:
        return "not planned"
    return "planned"


def test_the_unmutated_bundle_plans(originals):
    for container in ("npz", "h5"):
        path = originals[container][0]
        assert read_and_plan(path) == "planned", container
        bundle = read_bundle(path)
        plan = plan_net(bundle.manifest, bundle.node_arrays, Target())
        assert [name for name, _ in plan.outputs] == ["y", "g"]


# ----------------------------------------------------------------------------- byte-level mutations

def _zip_headers(data):
    """Offsets of every local file header, central directory entry and end-of-central-directory record."""
    offsets = []
    for sig in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"):
        start = data.find(sig)
        while start != -1:
            offsets.append(start)
            start = data.find(sig, start + 1)
    return sorted(offsets)


def _h5_headers(data):
    """The superblock and the object headers (HDF5 'OHDR', 'TREE', 'HEAP', 'SNOD' signatures and the
    version-1 object headers the superblock points at: the first 2 KB hold them)."""
    offsets = [0]
    for sig in (b"OHDR", b"TREE", b"HEAP", b"SNOD", b"GCOL", b"FRHP", b"BTHD", b"BTIN", b"BTLF"):
        start = data.find(sig)
        while start != -1:
            offsets.append(start)
            start = data.find(sig, start + 1)
    offsets += list(range(0, min(len(data), 2048), 64))
    return sorted(set(offsets))


def mutate_bytes(data, rng, container):
    """One random byte-level corruption of `data`; returns (new bytes, description)."""
    data = bytearray(data)
    kind = rng.choice(["flip", "flip", "truncate", "insert", "delete", "header", "header", "zero-run", "dup-run"])
    n = len(data)
    if kind == "flip":
        count = rng.choice([1, 1, 2, 4, 16])
        spots = [rng.randrange(n) for _ in range(count)]
        for i in spots:
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data), "flip bits at %s" % spots
    if kind == "truncate":
        cut = rng.randrange(n)
        return bytes(data[:cut]), "truncate to %d bytes" % cut
    if kind == "insert":
        at, run = rng.randrange(n + 1), rng.randrange(1, 64)
        return bytes(data[:at]) + bytes(rng.getrandbits(8) for _ in range(run)) + bytes(data[at:]), \
            "insert %d random bytes at %d" % (run, at)
    if kind == "delete":
        at = rng.randrange(n)
        run = rng.randrange(1, 64)
        return bytes(data[:at] + data[at + run:]), "delete %d bytes at %d" % (run, at)
    if kind == "zero-run":
        at, run = rng.randrange(n), rng.randrange(1, 32)
        data[at:at + run] = b"\x00" * len(data[at:at + run])
        return bytes(data), "zero %d bytes at %d" % (run, at)
    if kind == "dup-run":
        at, run = rng.randrange(n), rng.randrange(1, 256)
        return bytes(data[:at + run]) + bytes(data[at:]), "duplicate %d bytes at %d" % (run, at)
    # header: overwrite fields of a container structure (sizes, offsets, counts, names) with random
    # or extreme values
    headers = _zip_headers(bytes(data)) if container == "npz" else _h5_headers(bytes(data))
    base = rng.choice(headers)
    at = min(n - 1, base + rng.randrange(4, 46))
    width = rng.choice([1, 2, 4, 8])
    value = rng.choice([0, 1, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFFFFFFFFFF, rng.getrandbits(64)])
    packed = struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF)[:width]
    data[at:at + width] = packed[:len(data[at:at + width])]
    return bytes(data), "header at %d: write %d bytes of %#x" % (at, width, value)


@pytest.mark.parametrize("container", CONTAINERS)
def test_byte_mutations_are_refused_or_read(tmp_path, originals, container):
    _, original, _ = originals[container]
    rng = random.Random("bytes-%s%s" % (container, SEED))
    path = str(tmp_path / ("mutated." + container))
    outcomes = collections.Counter()
    for i in range(MUTATIONS[container]):
        data, what = mutate_bytes(original, rng, container)
        put_file_bytes(path, data)
        try:
            outcomes[read_and_plan(path)] += 1
        except Exception as exc:
            raise AssertionError("mutation %d (%s) of the %s bundle: %s: %s escaped (expected a BundleError)"
                                 % (i, what, container, type(exc).__name__, exc))
    assert outcomes["refused"] > MUTATIONS[container] // 2, outcomes   # most corruptions must be caught


# ----------------------------------------------------------------------------- manifest mutations

BAD_VALUES = [None, True, False, 0, -1, 1, 2 ** 31, 2 ** 63, 10 ** 30, -(10 ** 30), 1e308, -1e308, 1e-320, 0.5,
              "", "x", "\x00", "a" * 300, u"\u202e\u0000", u"\ud800x", [], [None], [1, 2, 3], [[[]]], {}, {"": None},
              {"function": "relu"}, {"function": None}]


def _paths(obj, prefix=()):
    """Every (container, key) path in a JSON value, depth first."""
    out = []
    if isinstance(obj, dict):
        for key in list(obj):
            out.append(prefix + (key,))
            out += _paths(obj[key], prefix + (key,))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            out.append(prefix + (i,))
            out += _paths(item, prefix + (i,))
    return out


def _leaves(obj):
    if isinstance(obj, dict):
        return [v for k in obj for v in _leaves(obj[k])] + list(obj)
    if isinstance(obj, list):
        return [v for item in obj for v in _leaves(item)]
    return [obj]


def _at(obj, path):
    for key in path[:-1]:
        obj = obj[key]
    return obj


def mutate_manifest(manifest, rng):
    """1 to 3 random edits of a manifest, recomputing nothing; returns (new manifest, descriptions)."""
    manifest = copy.deepcopy(manifest)
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        paths = _paths(manifest)
        focus = rng.random()     # most edits go to the nodes and their attributes, to reach the planner
        if focus < 0.6:
            paths = [p for p in paths if p[0] == "nodes" and (focus < 0.3 or "attrs" in p[2:3])] or paths
        if not paths:
            break
        path = rng.choice(paths)
        parent, key = _at(manifest, path), path[-1]
        kind = rng.choice(["delete", "null", "bad", "bad", "swap", "swap", "rename", "grow", "number"])
        if (kind == "rename" and not isinstance(parent, dict)) or (kind == "grow" and not isinstance(parent[key], list)):
            kind = "null"
        if kind == "delete":
            del parent[key]
        elif kind == "null":
            parent[key] = None
        elif kind == "bad":
            parent[key] = copy.deepcopy(rng.choice(BAD_VALUES))
        elif kind == "swap":          # a value that is valid somewhere else in the manifest
            parent[key] = copy.deepcopy(rng.choice(_leaves(manifest)))
        elif kind == "rename":
            parent[rng.choice(_leaves(manifest) + ["", "a" * 300])
                   if rng.random() < 0.8 else "new"] = parent.pop(key)
        elif kind == "grow":
            parent[key] = parent[key] + copy.deepcopy(parent[key][:1]) * rng.choice([1, 2, 100])
        elif kind == "number":
            value = parent[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                value = 1
            parent[key] = rng.choice([value + 1, value - 1, -value, value * 1000, value * 10 ** 12, 0])
        done.append("%s %s" % (kind, "/".join(str(p) for p in path)))
    return manifest, done


def put_manifest_text(path, container, original_path, text):
    """A copy of the bundle at original_path with its manifest member replaced by `text` (nothing else
    changes: array members and checksums stay as they were)."""
    shutil.copyfile(original_path, path)
    ed = NpzEdit(path) if container == "npz" else H5Edit(path)
    ed.set_manifest_bytes(text)
    ed.save()


def manifest_mutations(container, originals, folder):
    """(index, description, path) of each manifest mutation, the file rewritten in place each time."""
    original_path, _, manifest = originals[container]
    rng = random.Random("manifest-%s%s" % (container, SEED))
    path = os.path.join(str(folder), "mutated." + container)
    for i in range(MUTATIONS[container]):
        mutated, what = mutate_manifest(manifest, rng)
        put_manifest_text(path, container, original_path, json.dumps(mutated).encode("utf-8"))
        yield i, "; ".join(what), path


@pytest.mark.parametrize("container", CONTAINERS)
def test_manifest_mutations_are_refused_or_planned(tmp_path, originals, container):
    outcomes = collections.Counter()
    for i, what, path in manifest_mutations(container, originals, tmp_path):
        try:
            outcomes[read_and_plan(path)] += 1
        except Exception as exc:
            raise AssertionError("mutation %d (%s) of the %s manifest: %s: %s escaped (expected a Tf2CaffeError)"
                                 % (i, what, container, type(exc).__name__, exc))
    assert outcomes["refused"] > MUTATIONS[container] // 3, outcomes
    assert outcomes["planned"] + outcomes["not planned"] > 0, outcomes   # some edits pass the schema


@pytest.mark.parametrize("text", [
    pytest.param(b'{"format": NaN}', id="nan-constant"),
    pytest.param(b'{"format": Infinity}', id="infinity-constant"),
    pytest.param(b'{"format": 1e999}', id="overflowing-float"),
    pytest.param(b"[" * 100000 + b"]" * 100000, id="deep-nesting"),
    pytest.param(b"\xef\xbb\xbf{}", id="utf8-bom"),
    pytest.param(b'"' + b"\\ud800" + b'"', id="lone-surrogate"),
    pytest.param(b"{}" + b" " * 1000 + b"{}", id="trailing-data"),
])
@pytest.mark.parametrize("container", CONTAINERS)
def test_odd_manifest_text_is_refused(tmp_path, originals, container, text):
    path = str(tmp_path / ("odd." + container))
    put_manifest_text(path, container, originals[container][0], text)
    with pytest.raises(BundleError):
        read_bundle(path)


@pytest.mark.parametrize("where, value", [
    pytest.param(("nodes", 1, "attrs", "epsilon"), float("nan"), id="nan-epsilon"),
    pytest.param(("nodes", 1, "attrs", "epsilon"), float("inf"), id="inf-epsilon"),
    pytest.param(("nodes", 8, "attrs", "activation"), {"function": "relu", "max_value": float("-inf")},
                 id="inf-max-value"),
])
@pytest.mark.parametrize("container", CONTAINERS)
def test_non_finite_numbers_in_the_manifest_are_refused(tmp_path, originals, container, where, value):
    """The manifest is JSON: NaN and Infinity are not JSON, and a NaN attribute would only show up later
    as a parity failure. The reader refuses them like NaN weights; the writer never writes them."""
    manifest = copy.deepcopy(originals[container][2])
    _at(manifest, where)[where[-1]] = value
    path = str(tmp_path / ("nan." + container))
    put_manifest_text(path, container, originals[container][0], json.dumps(manifest).encode("utf-8"))
    with pytest.raises(BundleError, match="NaN or Infinity"):
        read_bundle(path)
    del manifest["arrays"]
    # the writer's schema check (the node's field is no finite number) or its text check refuses it
    with pytest.raises(BundleError, match="NaN or Infinity|expected a finite number"):
        write_bundle(str(tmp_path / ("written." + container)), manifest, fuzz_arrays())
    assert sorted(os.listdir(str(tmp_path))) == ["nan." + container]


@pytest.mark.parametrize("where", [("model_name",), ("nodes", 3, "name"), ("nodes", 3, "source_type"),
                                   ("producer", "version")], ids=lambda w: "/".join(map(str, w)))
def test_lone_surrogates_in_the_manifest_are_refused(tmp_path, originals, where):
    """JSON can spell a lone surrogate ("\\ud800"); no UTF-8 file, protobuf or terminal can hold it."""
    manifest = copy.deepcopy(originals["npz"][2])
    _at(manifest, where)[where[-1]] = u"conv\ud800"
    path = str(tmp_path / "surrogate.npz")
    put_manifest_text(path, "npz", originals["npz"][0], json.dumps(manifest).encode("utf-8"))
    with pytest.raises(BundleError, match="not valid Unicode"):
        read_bundle(path)
    del manifest["arrays"]
    # the writer's schema check (a name must be printable) or its text check refuses it
    with pytest.raises(BundleError, match="not valid Unicode|non-printable"):
        write_bundle(str(tmp_path / "written.npz"), manifest, fuzz_arrays())


# ----------------------------------------------------------------------------- layout properties

def check_activation_round_trip(n, h, w, c, kind, seed):
    """activation_to_caffe then activation_to_tf is the identity, and activation_to_caffe agrees with an
    independent statement of each layout."""
    rng = np.random.RandomState(seed)
    if kind == IMAGE:
        tf_shape, lay = [h, w, c], Layout(IMAGE)
        x = rng.standard_normal((n, h, w, c)).astype(np.float32)
        expected = np.stack([np.stack([x[i, :, :, k] for k in range(c)]) for i in range(n)])   # (n, c, h, w)
    elif kind == VECTOR:
        tf_shape, lay = [c], Layout(VECTOR)
        x = rng.standard_normal((n, c)).astype(np.float32)
        expected = x
    else:
        tf_shape, lay = [h * w * c], Layout(FLAT_CHW, (h, w, c))
        image = rng.standard_normal((n, h, w, c)).astype(np.float32)
        x = image.reshape(n, -1)                                        # TF flattens HWC
        expected = np.array([[image[i, a, b, k] for k in range(c) for a in range(h) for b in range(w)]
                             for i in range(n)], dtype=np.float32).reshape(n, -1)   # Caffe flattens CHW
    caffe = layout.activation_to_caffe(x, lay)
    assert caffe.flags["C_CONTIGUOUS"]
    assert list(caffe.shape) == [n] + layout.caffe_shape(tf_shape, lay)
    np.testing.assert_array_equal(caffe, expected)
    back = layout.activation_to_tf(caffe, lay, tf_shape)
    assert back.shape == x.shape
    np.testing.assert_array_equal(back, x)
    # Caffe blobs may come back with any (N, ...) shape holding the same values, e.g. (N, C, 1, 1)
    np.testing.assert_array_equal(layout.activation_to_tf(caffe.reshape(n, -1, 1, 1), lay, tf_shape), x)


def check_dense_after_flatten(n, h, w, c, units, seed):
    """InnerProduct on Caffe's CHW-flattened blob with the permuted kernel computes TF's Dense on the
    HWC-flattened tensor."""
    rng = np.random.RandomState(seed)
    image = rng.standard_normal((n, h, w, c))
    kernel = rng.standard_normal((h * w * c, units))
    tf_out = image.reshape(n, -1).dot(kernel)
    caffe_in = layout.activation_to_caffe(image.reshape(n, -1), Layout(FLAT_CHW, (h, w, c)))
    np.testing.assert_array_equal(caffe_in, layout.nhwc_to_nchw(image).reshape(n, -1))
    weight = layout.dense_kernel_after_flatten(kernel, (h, w, c))
    assert weight.shape == (units, c * h * w)
    np.testing.assert_allclose(caffe_in.dot(weight.T), tf_out, rtol=1e-12, atol=1e-12)
    # the permutation only moves rows: the same multiset of values, each column of the kernel intact
    np.testing.assert_array_equal(np.sort(weight.T, axis=0), np.sort(kernel, axis=0))
    p = layout.hwc_to_chw_order(h, w, c)
    np.testing.assert_array_equal(weight.T, kernel[p])
    np.testing.assert_array_equal(p[layout.chw_to_hwc_order(h, w, c)], np.arange(h * w * c))


def test_layout_properties_seeded():
    """The same properties on a seeded sample (always runs, hypothesis or not)."""
    rng = random.Random("layout")
    for seed in range(150):
        n, h, w, c = (rng.randint(1, 3), rng.randint(1, 6), rng.randint(1, 6), rng.randint(1, 6))
        check_activation_round_trip(n, h, w, c, rng.choice([IMAGE, VECTOR, FLAT_CHW]), seed)
        check_dense_after_flatten(n, h, w, c, rng.randint(1, 4), seed)


def test_layout_properties_hypothesis():
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    dims = st.integers(min_value=1, max_value=7)
    settings = hypothesis.settings(max_examples=150, deadline=None, database=None, derandomize=True)

    @settings
    @hypothesis.given(n=st.integers(1, 3), h=dims, w=dims, c=dims, kind=st.sampled_from([IMAGE, VECTOR, FLAT_CHW]),
                      seed=st.integers(0, 2 ** 31 - 1))
    def activation_round_trip(n, h, w, c, kind, seed):
        check_activation_round_trip(n, h, w, c, kind, seed)

    @settings
    @hypothesis.given(n=st.integers(1, 3), h=dims, w=dims, c=dims, units=st.integers(1, 5),
                      seed=st.integers(0, 2 ** 31 - 1))
    def dense_after_flatten(n, h, w, c, units, seed):
        check_dense_after_flatten(n, h, w, c, units, seed)

    activation_round_trip()
    dense_after_flatten()


# ----------------------------------------------------------------------------- with caffe_pb2 (last:
# importing caffe makes every later fork, and so every .h5 read, slower)

def test_planned_mutations_make_a_prototxt_or_are_refused(tmp_path, originals):
    """Where caffe_pb2 exists, every plan the manifest mutations produce is written as prototxt or
    refused with a Tf2CaffeError (protobuf refuses out-of-range values with a ValueError)."""
    pytest.importorskip("caffe.proto.caffe_pb2")
    from import_caffe import netbuild
    outcomes = collections.Counter()
    for i, what, path in manifest_mutations("npz", originals, tmp_path):
        try:
            bundle = read_bundle(path)
            plan = plan_net(bundle.manifest, bundle.node_arrays, Target(), where=path)
        except Tf2CaffeError:
            continue
        try:
            netbuild.prototxt(plan)
            outcomes["written"] += 1
        except Tf2CaffeError:
            outcomes["refused"] += 1
        except Exception as exc:
            raise AssertionError("mutation %d (%s) of the npz manifest: netbuild: %s: %s escaped"
                                 % (i, what, type(exc).__name__, exc))
    assert outcomes["written"] > 0, outcomes
