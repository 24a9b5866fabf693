"""shared.bundle's reader: every corrupt bundle is refused with a BundleError (never another exception),
and no pickle is ever loaded. Corrupt bundles are built by editing a valid one directly (test_bundle's
NpzEdit and H5Edit)."""
import io
import os
import re
import zipfile

import h5py
import numpy as np
import pytest

from shared import bundle as bundle_mod
from shared.bundle import read_bundle, sha256_of
from shared.errors import BundleError

from test_bundle import (KERNEL, MANIFEST, NpzEdit, edit, file_bytes, npy_bytes, put_file_bytes, refused,
                         replace_array, sample_arrays, trap_array, write_sample)

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


def with_manifest_text(path, text):
    ed = edit(path)
    ed.set_manifest_bytes(text)
    ed.save()
    return path


def manifest_not_json(path, tmp):
    return with_manifest_text(path, b'{"format": "tf2caffe-bundle", '), "not valid JSON"


def manifest_not_utf8(path, tmp):
    return with_manifest_text(path, b'{"model_name": "\xff\xfe"}'), "not valid JSON"


def manifest_a_json_list(path, tmp):
    return with_manifest_text(path, b"[1, 2, 3]"), "expected a JSON object"


def manifest_nested_very_deep(path, tmp):
    return with_manifest_text(path, b"[" * 100000 + b"]" * 100000), "RecursionError|not valid JSON"


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
    return path, "undeclared member|a folder or another non-file"


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
    found = refused(path)       # one printable line naming the file
    assert re.search(message, found), found


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
