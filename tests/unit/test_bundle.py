"""shared.bundle: write_bundle/read_bundle round trips for .npz and .h5, the public helpers, the npz
arrays mapped from the file; and the helpers the other bundle tests share (a sample bundle, editing a
bundle in place: the zip with the zipfile module, the HDF5 file with h5py, `refused`). Writing is tested in
test_bundle_write.py, corrupt bundles in test_bundle_corrupt.py, hostile containers in
test_hostile_container.py, parsing bounds in test_bundle_bounds.py."""
import collections
import hashlib
import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

from shared import bundle as bundle_mod
from shared.bundle import read_bundle, sha256_of, write_bundle
from shared.errors import BundleError

CONTAINERS = [pytest.param("npz", id="npz"), pytest.param("h5", id="h5")]
MANIFEST = "manifest.json"
KERNEL = "dense/kernel"


def sample_manifest():
    """x (16,) -> dense -> y (4,), reference batch 3; write_bundle fills 'format*' and 'arrays'."""
    return {
        "producer": {"name": "tf2caffe", "version": "1.0", "tensorflow": "2.16.1", "keras": "3.3.3"},
        "source": {"path": "model.keras", "sha256": "ab" * 32, "format": "keras"},
        "model_name": "tiny",
        "inputs": [{"name": "x", "tensor": "x", "shape": [16], "dtype": "float32"}],
        "outputs": [{"name": "y", "tensor": "dense/out", "shape": [4], "dtype": "float32"}],
        "tensors": {"x": {"shape": [16], "dtype": "float32"}, "dense/out": {"shape": [4], "dtype": "float32"}},
        "nodes": [{"name": "dense", "op": "dense", "source_type": "Dense", "inputs": ["x"], "outputs": ["dense/out"],
                   "attrs": {"units": 4, "use_bias": True, "activation": None},
                   "arrays": {"kernel": KERNEL, "bias": "dense/bias"}}],
        "reference": {"batch": 3, "inputs": {"x": "reference/x"}, "outputs": {"dense/out": "reference/y"},
                      "activations": {}},
    }


def sample_arrays(seed=0):
    rng = np.random.RandomState(seed)
    x = rng.standard_normal((3, 16)).astype(np.float32)
    kernel = rng.standard_normal((16, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    return collections.OrderedDict([
        (KERNEL, kernel), ("dense/bias", bias), ("reference/x", x), ("reference/y", x.dot(kernel) + bias)])


def write_sample(folder, container, name="model"):
    path = os.path.join(str(folder), "%s.%s" % (name, container))
    write_bundle(path, sample_manifest(), sample_arrays())
    return path


# ----------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("container", CONTAINERS)
def test_round_trip(tmp_path, container):
    path = str(tmp_path / ("model." + container))
    arrays = sample_arrays()
    written = write_bundle(path, sample_manifest(), arrays)
    assert written["format"] == "tf2caffe-bundle" and written["format_version"] == 2
    assert written["arrays"][KERNEL] == {"shape": [16, 4], "dtype": "float32", "sha256": sha256_of(arrays[KERNEL])}
    loaded = read_bundle(path)
    assert loaded.path == path
    assert loaded.manifest == written
    assert sorted(loaded.arrays) == sorted(arrays)
    assert dict((k, v.dtype) for k, v in loaded.arrays.items()) == dict((k, np.float32) for k in arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded.arrays[key], value, err_msg=key)
    node_arrays = loaded.node_arrays(written["nodes"][0])
    np.testing.assert_array_equal(node_arrays["kernel"], arrays[KERNEL])
    np.testing.assert_array_equal(loaded.reference("outputs")["dense/out"], arrays["reference/y"])
    assert os.listdir(str(tmp_path)) == ["model." + container], "no temporary file may be left behind"


@pytest.mark.parametrize("container", CONTAINERS)
def test_round_trip_of_scalars_nested_keys_and_other_input_dtypes(tmp_path, container):
    path = str(tmp_path / ("model." + container))
    arrays = sample_arrays()
    arrays["block1/conv1/alpha"] = np.float64(0.25)                   # 0-d, and float64 in
    arrays["block1/conv1/kernel"] = np.arange(24, dtype=np.int64).reshape(2, 3, 4).transpose(2, 0, 1)
    write_bundle(path, sample_manifest(), arrays)
    loaded = read_bundle(path)
    assert loaded.arrays["block1/conv1/alpha"].shape == ()
    assert loaded.arrays["block1/conv1/alpha"] == np.float32(0.25)
    np.testing.assert_array_equal(loaded.arrays["block1/conv1/kernel"], arrays["block1/conv1/kernel"])
    assert loaded.arrays["block1/conv1/kernel"].dtype == np.float32


@pytest.mark.parametrize("container", CONTAINERS)
def test_read_manifest_only(tmp_path, container):
    path = write_sample(tmp_path, container)
    loaded = read_bundle(path, arrays=False)
    assert loaded.arrays == {}
    assert loaded.manifest["model_name"] == "tiny"


@pytest.mark.parametrize("container", CONTAINERS)
def test_overwriting_replaces_the_bundle(tmp_path, container):
    path = write_sample(tmp_path, container)
    arrays = sample_arrays(seed=1)
    write_bundle(path, sample_manifest(), arrays)
    np.testing.assert_array_equal(read_bundle(path).arrays[KERNEL], arrays[KERNEL])
    assert os.listdir(str(tmp_path)) == [os.path.basename(path)]


def test_npz_is_a_stored_zip_numpy_can_open(tmp_path):
    path = write_sample(tmp_path, "npz")
    with zipfile.ZipFile(path) as zf:
        assert [i.filename for i in zf.infolist() if i.compress_type != zipfile.ZIP_STORED] == []
        assert sorted(zf.namelist()) == sorted([MANIFEST] + [k + ".npy" for k in sample_arrays()])
    with np.load(path) as npz:
        np.testing.assert_array_equal(npz[KERNEL], sample_arrays()[KERNEL])


def test_h5_layout(tmp_path):
    path = write_sample(tmp_path, "h5")
    with h5py.File(path, "r") as f:
        assert json.loads(f[MANIFEST][()].tobytes().decode("utf-8"))["model_name"] == "tiny"
        np.testing.assert_array_equal(f["arrays/" + KERNEL][()], sample_arrays()[KERNEL])


# ----------------------------------------------------------------------------- editing bundles

def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


class Trap(object):
    """Unpickling this creates the directory `marker`: proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def trap_array(marker, shape):
    arr = np.empty(shape, dtype=object)
    arr.fill(Trap(marker))
    return arr


class NpzEdit(object):
    """A valid .npz bundle's members, edited in memory and written back with the zipfile module."""

    def __init__(self, path):
        self.path = path
        with zipfile.ZipFile(path) as zf:
            self.members = collections.OrderedDict((i.filename, zf.read(i)) for i in zf.infolist())

    def manifest(self):
        return json.loads(self.members[MANIFEST].decode("utf-8"))

    def set_manifest(self, manifest):
        self.set_manifest_bytes(json.dumps(manifest).encode("utf-8"))

    def set_manifest_bytes(self, data):
        self.members[MANIFEST] = data

    def drop_manifest(self):
        del self.members[MANIFEST]

    def put_array(self, key, array):
        self.members[key + ".npy"] = npy_bytes(array)

    def put_raw(self, name, data):
        self.members[name] = data

    def drop_array(self, key):
        del self.members[key + ".npy"]

    def add_undeclared(self, name, array):
        self.put_array(name, array)

    def save(self):
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_STORED) as zf:
            for name, data in self.members.items():
                zf.writestr(name, data)


class H5Edit(object):
    """A valid .h5 bundle edited in place with h5py."""

    def __init__(self, path):
        self.path = path
        self.f = h5py.File(path, "a")

    def manifest(self):
        return json.loads(self.f[MANIFEST][()].tobytes().decode("utf-8"))

    def set_manifest(self, manifest):
        self.set_manifest_bytes(json.dumps(manifest).encode("utf-8"))

    def set_manifest_bytes(self, data):
        self.drop_manifest()
        self.f.create_dataset(MANIFEST, data=np.frombuffer(data, dtype=np.uint8))

    def drop_manifest(self):
        del self.f[MANIFEST]

    def put_array(self, key, array):
        name = "arrays/" + key
        if name in self.f:
            del self.f[name]
        self.f.create_dataset(name, data=array)

    def drop_array(self, key):
        del self.f["arrays/" + key]

    def add_undeclared(self, name, array):
        self.f.create_dataset(name, data=array)

    def save(self):
        self.f.close()


def edit(path):
    return NpzEdit(path) if path.endswith(".npz") else H5Edit(path)


def replace_array(path, key, array, fix_checksum=True):
    """Replace one array's data; with fix_checksum the manifest's sha256 (and only that) follows."""
    ed = edit(path)
    ed.put_array(key, array)
    if fix_checksum:
        manifest = ed.manifest()
        manifest["arrays"][key]["sha256"] = sha256_of(array)
        ed.set_manifest(manifest)
    ed.save()


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def put_file_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def refused(path, arrays=True):
    """read_bundle's BundleError message for path (arrays=False: as inspect reads it), checked to be one
    printable line of bounded length naming the file."""
    with pytest.raises(BundleError) as info:
        read_bundle(path, arrays=arrays)
    message = str(info.value)
    assert message.isprintable(), repr(message)     # one line: no newline, control or bidi character
    assert len(message) < 300, message
    assert os.path.basename(path) in message, message
    return message


# ----------------------------------------------------------------------------- helpers

@pytest.mark.parametrize("name, expected", [
    pytest.param("m.npz", "npz", id="npz"),
    pytest.param("dir.v2/M.NPZ", "npz", id="npz-upper-case"),
    pytest.param("m.h5", "h5", id="h5"),
    pytest.param("m.hdf5", "h5", id="hdf5"),
])
def test_container_of(name, expected):
    assert bundle_mod.container_of(name) == expected


@pytest.mark.parametrize("name", [pytest.param("m.zip", id="zip"), pytest.param("m", id="no-extension"),
                                  pytest.param("m.npz.tmp", id="npz-then-more")])
def test_container_of_refuses(name):
    with pytest.raises(BundleError):
        bundle_mod.container_of(name)


def test_sha256_of_hashes_the_c_ordered_float_bytes():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert sha256_of(arr) == hashlib.sha256(arr.tobytes()).hexdigest()
    assert sha256_of(arr.T) == hashlib.sha256(np.ascontiguousarray(arr.T).tobytes()).hexdigest()
    assert sha256_of(np.float32(1.5).reshape(())) == hashlib.sha256(np.float32(1.5).tobytes()).hexdigest()


def test_summary_counts_layers_and_parameters(tmp_path):
    from import_caffe.inspect_summary import summary
    text = summary(read_bundle(write_sample(tmp_path, "npz")).manifest)
    assert "tiny" in text
    assert "Dense x1" in text
    assert "parameters: 68 " in text  # 16 * 4 kernel + 4 bias
    assert "batch 3" in text


def test_unreadable_file_is_a_clean_bundle_error(tmp_path, monkeypatch):
    """As root every file is readable, so the permission failure is simulated at open()."""
    import errno
    from shared.bundle import api as bundle_module
    path = tmp_path / "locked.npz"
    path.write_bytes(b"PK\x03\x04 whatever")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr(bundle_module, "open", denied, raising=False)
    with pytest.raises(BundleError) as info:
        bundle_module.read_bundle(str(path))
    assert "cannot be read" in str(info.value) and "Permission denied" in str(info.value)


# ------------------------------------------------------------------ npz arrays mapped from the file

def rewrite_with_padding(src, dst, shift):
    """The same members, each preceded by a zip extra field that puts its .npy data `shift` bytes past a
    64-byte boundary of the file (the data and every checksum are unchanged)."""
    import struct
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED, allowZip64=True) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            npy_header = 0
            if info.filename.endswith(".npy"):
                f = io.BytesIO(data)
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    np.lib.format.read_array_header_1_0(f)
                else:
                    np.lib.format.read_array_header_2_0(f)
                npy_header = f.tell()
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            base = zout.fp.tell() + 30 + len(info.filename.encode("utf-8")) + 20 + 4 + npy_header
            pad = (shift - base) % 64
            zi.extra = struct.pack("<HH", 0xD935, pad) + b"\0" * pad
            with zout.open(zi, "w", force_zip64=True) as member:
                member.write(data)


@pytest.mark.parametrize("shift", [0, 1, 2, 3, 4])
def test_npz_arrays_are_read_only_maps_where_aligned_and_copies_elsewhere(tmp_path, shift):
    path = str(tmp_path / "padded.npz")
    rewrite_with_padding(write_sample(tmp_path, "npz"), path, shift)
    loaded = read_bundle(path)
    for key, expected in sample_arrays().items():
        got = loaded.arrays[key]
        np.testing.assert_array_equal(got, expected)
        assert got.flags.writeable == (shift % 4 != 0), key       # a map of the file is never written
        if shift % 4 == 0:
            with pytest.raises(ValueError):
                got[...] = 0
    del loaded                                                       # the mappings close with their arrays
    os.remove(path)


def test_written_npz_array_data_starts_at_64_byte_boundaries(tmp_path):
    """write_bundle pads each member's zip extra field so that its array data is aligned: the importer
    then maps every array from the file instead of copying it."""
    path = write_sample(tmp_path, "npz")
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            f.seek(info.header_offset + 26)
            name_len, extra_len = np.frombuffer(f.read(4), "<u2")
            f.seek(info.header_offset + 30 + int(name_len) + int(extra_len))
            version = np.lib.format.read_magic(f)
            (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(f)
            assert f.tell() % 64 == 0, info.filename
    assert not any(a.flags.writeable for a in read_bundle(path).arrays.values())
    assert sorted(np.load(path).files) == sorted(list(sample_arrays()) + ["manifest.json"])
