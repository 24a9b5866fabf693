"""shared.bundle: write_bundle/read_bundle round trips for .npz and .h5, and every corrupt bundle is
refused with a BundleError (never another exception). Corrupt bundles are built by editing a valid one
directly: the zip with the zipfile module, the HDF5 file with h5py."""
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
from shared.bundle import api, integrity
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


# ----------------------------------------------------------------------------- refused writes

def with_nan(arrays):
    arrays[KERNEL][1, 2] = np.nan
    return arrays


def with_inf(arrays):
    arrays["dense/bias"][0] = -np.inf
    return arrays


def with_nan_in_the_last_array(arrays):
    arrays["reference/y"][2, 3] = np.nan        # the manifest, written last, waits for its check
    return arrays


def without_model_name(manifest):
    del manifest["model_name"]
    return manifest


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("fix_manifest, fix_arrays, message", [
    pytest.param(None, with_nan, "NaN or Inf", id="nan-weight"),
    pytest.param(None, with_inf, "NaN or Inf", id="inf-weight"),
    pytest.param(None, with_nan_in_the_last_array, "NaN or Inf", id="nan-in-the-last-array"),
    pytest.param(without_model_name, None, "model_name", id="invalid-manifest"),
])
def test_write_refuses_and_leaves_nothing_behind(tmp_path, container, fix_manifest, fix_arrays, message):
    manifest, arrays = sample_manifest(), sample_arrays()
    manifest = fix_manifest(manifest) if fix_manifest else manifest
    arrays = fix_arrays(arrays) if fix_arrays else arrays
    with pytest.raises(BundleError, match=message):
        write_bundle(str(tmp_path / ("model." + container)), manifest, arrays)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("name, message", [
    pytest.param("model.zip", "must end in .npz or .h5", id="wrong-extension"),
    pytest.param("no/such/folder/model.npz", "does not exist", id="missing-folder"),
])
def test_write_refuses_a_bad_path(tmp_path, name, message):
    with pytest.raises(BundleError, match=message):
        write_bundle(str(tmp_path / name), sample_manifest(), sample_arrays())


@pytest.mark.parametrize("container", CONTAINERS)
def test_arrays_are_hashed_and_checked_a_block_at_a_time(tmp_path, container, monkeypatch):
    """With blocks far smaller than the arrays (as the real ones are to VGG's weights), each checksum
    still covers its whole array, and a NaN or Inf in a later block is still refused."""
    monkeypatch.setattr(integrity, "CHUNK", 24)        # 6 floats: the 16x4 kernel is 10 blocks and a part
    path = str(tmp_path / ("model." + container))
    arrays = sample_arrays()
    written = write_bundle(path, sample_manifest(), arrays)
    assert dict((k, s["sha256"]) for k, s in written["arrays"].items()) == \
        dict((k, sha256_of(v)) for k, v in arrays.items())
    read_bundle(path)                                     # checks every sha256 from the file
    arrays[KERNEL][15, 3] = np.inf
    with pytest.raises(BundleError, match="NaN or Inf"):
        write_bundle(str(tmp_path / ("other." + container)), sample_manifest(), arrays)
    assert os.listdir(str(tmp_path)) == ["model." + container]


def test_npz_manifest_is_the_last_member(tmp_path):
    """It holds the checksums, known once the arrays are written; readers find members by name."""
    with zipfile.ZipFile(write_sample(tmp_path, "npz")) as zf:
        assert zf.namelist()[-1] == MANIFEST


def _writer_threads():
    import threading
    return [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]


@pytest.mark.parametrize("container", CONTAINERS)
def test_a_failure_while_writing_leaves_nothing_behind(tmp_path, container, monkeypatch):
    """An error after some arrays are in the file (a full disk, an interrupt): the partial file is
    removed, the hashing threads are gone, the error is the one raised."""
    before = _writer_threads()
    calls = []
    check = integrity.Digests.check

    def full_disk(self):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return check(self)
    monkeypatch.setattr(integrity.Digests, "check", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_bundle(str(tmp_path / ("model." + container)), sample_manifest(), sample_arrays())
    assert os.listdir(str(tmp_path)) == []
    assert _writer_threads() == before


def cut_short(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 10)


def header_says_float64(path):
    with open(path, "r+b") as f:
        data = f.read()
        f.seek(data.index(b"'descr': '<f4'") + len(b"'descr': '<f"))
        f.write(b"8")


@pytest.mark.parametrize("container, damage", [
    pytest.param("npz", cut_short, id="npz-cut-short"),
    pytest.param("h5", cut_short, id="h5-cut-short"),
    pytest.param("npz", header_says_float64, id="npz-array-header-changed"),
])
def test_a_damaged_write_is_refused_before_it_is_published(tmp_path, container, damage, monkeypatch):
    """What the file system kept is checked before the rename: a file cut short or an array header that
    reads back differently is refused, no temporary file stays, and the previous bundle is untouched."""
    path = write_sample(tmp_path, container)
    previous = open(path, "rb").read()
    verify = api.verify_written

    def damaged(tmp, *args):
        damage(tmp)
        return verify(tmp, *args)
    monkeypatch.setattr(api, "verify_written", damaged)
    with pytest.raises(BundleError, match="does not read back|reads back differently"):
        write_bundle(path, sample_manifest(), sample_arrays(seed=1))
    assert os.listdir(str(tmp_path)) == [os.path.basename(path)]
    assert open(path, "rb").read() == previous


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


# ----------------------------------------------------------------------------- corrupt bundles
# Each builder turns the valid bundle at `path` into a corrupt one and returns the path to read and a
# regular expression the BundleError's message must match.

def empty_file(path, tmp):
    put_file_bytes(path, b"")
    return path, "the file is empty"


def random_bytes(path, tmp):
    put_file_bytes(path, np.random.RandomState(1).bytes(4096))
    return path, "not a bundle"


def magic_then_random_bytes(path, tmp):
    magic = bundle_mod.NPZ_MAGIC if path.endswith(".npz") else bundle_mod.H5_MAGIC
    put_file_bytes(path, magic + np.random.RandomState(2).bytes(4096))
    return path, "corrupt or truncated"


def truncated_to_half(path, tmp):
    data = file_bytes(path)
    put_file_bytes(path, data[:len(data) // 2])
    return path, "corrupt or truncated"


def truncated_by_one_byte(path, tmp):
    put_file_bytes(path, file_bytes(path)[:-1])
    return path, "corrupt or truncated"


def flipped_byte_in_array_data(path, tmp):
    data = bytearray(file_bytes(path))
    raw = sample_arrays()[KERNEL].tobytes()
    at = bytes(data).find(raw)
    assert at > 0 and bytes(data).find(raw, at + 1) == -1, "the kernel's bytes must occur once in the file"
    data[at + len(raw) // 2] ^= 0x10
    put_file_bytes(path, bytes(data))
    # the zip's own CRC may notice first; HDF5 keeps no checksum of raw data, so sha256 must
    return path, "sha256|CRC" if path.endswith(".npz") else "sha256"


def modified_array_with_valid_container(path, tmp):
    changed = sample_arrays()[KERNEL].copy()
    changed[0, 0] += 1.0
    replace_array(path, KERNEL, changed, fix_checksum=False)
    return path, "sha256"


def array_missing(path, tmp):
    ed = edit(path)
    ed.drop_array("dense/bias")
    ed.save()
    return path, "'dense/bias' is declared in the manifest but missing"


def undeclared_array(path, tmp):
    ed = edit(path)
    ed.add_undeclared("arrays/extra" if path.endswith(".h5") else "extra", np.ones(3, dtype=np.float32))
    ed.save()
    return path, "undeclared member"


def undeclared_top_level_member(path, tmp):
    ed = edit(path)
    if path.endswith(".npz"):
        ed.put_raw("notes.txt", b"hello")
    else:
        ed.add_undeclared("notes", np.ones(3, dtype=np.float32))
    ed.save()
    return path, "undeclared member"


def wrong_dtype_float64(path, tmp):
    replace_array(path, KERNEL, sample_arrays()[KERNEL].astype(np.float64))
    return path, "dtype float64"


def wrong_dtype_int32(path, tmp):
    replace_array(path, KERNEL, np.ones((16, 4), dtype=np.int32))
    return path, "dtype int32"


def wrong_shape(path, tmp):
    replace_array(path, KERNEL, np.ones((4, 16), dtype=np.float32))
    return path, r"has shape \[4, 16\], the manifest declares \[16, 4\]"


def nan_weight(path, tmp):
    kernel = sample_arrays()[KERNEL]
    kernel[3, 1] = np.nan
    replace_array(path, KERNEL, kernel)
    return path, "NaN or Inf"


def inf_reference(path, tmp):
    x = sample_arrays()["reference/x"]
    x[0, 0] = np.inf
    replace_array(path, "reference/x", x)
    return path, "NaN or Inf"


def manifest_not_json(path, tmp):
    ed = edit(path)
    ed.set_manifest_bytes(b'{"format": "tf2caffe-bundle", ')
    ed.save()
    return path, "not valid JSON"


def manifest_not_utf8(path, tmp):
    ed = edit(path)
    ed.set_manifest_bytes(b'{"model_name": "\xff\xfe"}')
    ed.save()
    return path, "not valid JSON"


def manifest_a_json_list(path, tmp):
    ed = edit(path)
    ed.set_manifest_bytes(b"[1, 2, 3]")
    ed.save()
    return path, "expected a JSON object"


def manifest_nested_very_deep(path, tmp):
    ed = edit(path)
    ed.set_manifest_bytes(b"[" * 100000 + b"]" * 100000)
    ed.save()
    return path, "RecursionError|not valid JSON"


def manifest_invalid(path, tmp):
    ed = edit(path)
    manifest = ed.manifest()
    manifest["nodes"][0]["inputs"] = ["nowhere"]
    ed.set_manifest(manifest)
    ed.save()
    return path, r"nodes\[0\]\.inputs\[0\]"


def manifest_missing(path, tmp):
    ed = edit(path)
    ed.drop_manifest()
    ed.save()
    return path, "has no manifest.json member"


def directory(path, tmp):
    folder = os.path.join(str(tmp), "folder." + path.rsplit(".", 1)[1])
    os.mkdir(folder)
    return folder, "is a directory"


def nonexistent(path, tmp):
    return os.path.join(str(tmp), "missing." + path.rsplit(".", 1)[1]), "no such file"


COMMON_CASES = [
    empty_file, random_bytes, magic_then_random_bytes, truncated_to_half, truncated_by_one_byte,
    flipped_byte_in_array_data, modified_array_with_valid_container, array_missing, undeclared_array,
    undeclared_top_level_member, wrong_dtype_float64, wrong_dtype_int32, wrong_shape, nan_weight,
    inf_reference, manifest_not_json, manifest_not_utf8, manifest_a_json_list, manifest_nested_very_deep,
    manifest_invalid, manifest_missing, directory, nonexistent,
]


# .npz only ---------------------------------------------------------------------------------------

def npz_big_endian_float32(path, tmp):
    replace_array(path, KERNEL, sample_arrays()[KERNEL].astype(">f4"))
    return path, "dtype >f4"


def npz_fortran_order(path, tmp):
    replace_array(path, KERNEL, np.asfortranarray(sample_arrays()[KERNEL]))
    return path, "stored in Fortran order"


def npz_array_data_cut_short(path, tmp):
    ed = edit(path)
    member = ed.members[KERNEL + ".npy"]
    ed.put_raw(KERNEL + ".npy", member[:-8])
    ed.save()
    return path, "'dense/kernel' is truncated"


def npz_unsupported_npy_version(path, tmp):
    ed = edit(path)
    member = bytearray(ed.members[KERNEL + ".npy"])
    member[6] = 9  # major version byte of the .npy magic
    ed.put_raw(KERNEL + ".npy", bytes(member))
    ed.save()
    return path, "corrupt or truncated|unsupported .npy version"


def npz_manifest_member_is_a_directory_entry(path, tmp):
    ed = edit(path)
    ed.put_raw("dense/", b"")
    ed.save()
    return path, "undeclared member"


def npz_deflated_members(path, tmp):
    ed = edit(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in ed.members.items():
            zf.writestr(name, data)
    return path, "compressed"


BOMB_ELEMENTS = 1 << 20


def with_zero_array(ed, key):
    """Declare a (BOMB_ELEMENTS,) array of zeros under key, with its true checksum."""
    manifest = ed.manifest()
    manifest["arrays"][key] = {"shape": [BOMB_ELEMENTS], "dtype": "float32",
                               "sha256": sha256_of(np.zeros(BOMB_ELEMENTS, dtype=np.float32))}
    ed.set_manifest(manifest)


def npz_decompression_bomb(path, tmp):
    """A few KiB of deflated zeros that expand to 4 MiB (a real bomb would declare gigabytes)."""
    ed = edit(path)
    with_zero_array(ed, "bomb")
    ed.save()
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.npy", npy_bytes(np.zeros(BOMB_ELEMENTS, dtype=np.float32)))
    assert os.path.getsize(path) < BOMB_ELEMENTS
    return path, "compressed"


NPZ_CASES = [npz_big_endian_float32, npz_fortran_order, npz_array_data_cut_short, npz_unsupported_npy_version,
             npz_manifest_member_is_a_directory_entry, npz_deflated_members, npz_decompression_bomb]


# .h5 only ----------------------------------------------------------------------------------------

def h5_manifest_stored_as_text(path, tmp):
    with h5py.File(path, "a") as f:
        text = f[MANIFEST][()].tobytes().decode("utf-8")
        del f[MANIFEST]
        f.create_dataset(MANIFEST, data=np.array([text.encode("utf-8")]))
    return path, "1-D uint8 byte string"


def h5_array_is_a_group(path, tmp):
    with h5py.File(path, "a") as f:
        del f["arrays/dense/bias"]
        f.create_group("arrays/dense/bias")
    return path, "'dense/bias' is declared in the manifest but missing"


def h5_no_arrays_group(path, tmp):
    with h5py.File(path, "a") as f:
        del f["arrays"]
    return path, "declared in the manifest but missing"


def h5_dataset_without_storage(path, tmp):
    """A declared dataset never written: HDF5 reads its fill value (zeros) from no bytes at all, so a
    tiny file could declare gigabytes."""
    ed = edit(path)
    with_zero_array(ed, "sparse")
    ed.f.create_dataset("arrays/sparse", shape=(BOMB_ELEMENTS,), dtype=np.float32)
    ed.save()
    assert os.path.getsize(path) < BOMB_ELEMENTS
    return path, "not stored contiguously"


def h5_compressed_dataset(path, tmp):
    ed = edit(path)
    with_zero_array(ed, "packed")
    ed.f.create_dataset("arrays/packed", data=np.zeros(BOMB_ELEMENTS, dtype=np.float32), compression="gzip")
    ed.save()
    assert os.path.getsize(path) < BOMB_ELEMENTS
    return path, r"stored chunked with filters \(deflate\)"


H5_CASES = [h5_manifest_stored_as_text, h5_array_is_a_group, h5_no_arrays_group, h5_dataset_without_storage,
            h5_compressed_dataset]


def corrupt_params():
    params = []
    for container in ("npz", "h5"):
        for build in COMMON_CASES + (NPZ_CASES if container == "npz" else H5_CASES):
            name = build.__name__.replace("npz_", "").replace("h5_", "").replace("_", "-")
            params.append(pytest.param(container, build, id="%s-%s" % (container, name)))
    return params


@pytest.mark.parametrize("container, build", corrupt_params())
def test_corrupt_bundle_is_refused(tmp_path, container, build):
    valid = write_sample(tmp_path, container)
    path, message = build(valid, tmp_path)
    with pytest.raises(BundleError) as info:
        read_bundle(path)
    assert info.match(message)


# ----------------------------------------------------------------------------- pickles are never loaded

def test_the_trap_payload_is_live(tmp_path):
    """Guard for the two tests below: loading the payload with pickles allowed does unpickle it."""
    marker = str(tmp_path / "unpickled")
    np.load(io.BytesIO(npy_bytes(trap_array(marker, (2,)))), allow_pickle=True)
    assert os.path.isdir(marker)


def test_undeclared_object_array_is_refused_without_unpickling(tmp_path):
    path = write_sample(tmp_path, "npz")
    marker = str(tmp_path / "unpickled")
    ed = NpzEdit(path)
    ed.put_raw("evil.npy", npy_bytes(trap_array(marker, (4,))))
    ed.save()
    with pytest.raises(BundleError, match="undeclared member.*'evil'"):
        read_bundle(path)
    assert not os.path.exists(marker)


def test_object_array_under_a_declared_key_is_refused_without_unpickling(tmp_path):
    path = write_sample(tmp_path, "npz")
    marker = str(tmp_path / "unpickled")
    ed = NpzEdit(path)
    ed.put_raw("dense/bias.npy", npy_bytes(trap_array(marker, (4,))))
    ed.save()
    with pytest.raises(BundleError, match="object arrays are never loaded"):
        read_bundle(path)
    assert not os.path.exists(marker)


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
