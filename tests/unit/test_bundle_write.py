"""shared.bundle's writer: what it refuses (NaN/Inf, an invalid manifest, a bad path), and that a
failure or a damaged file leaves nothing behind and never replaces a previous bundle."""
import os
import zipfile

import numpy as np
import pytest

from shared.bundle import api, integrity
from shared.bundle import read_bundle, sha256_of, write_bundle
from shared.errors import BundleError

from test_bundle import CONTAINERS, KERNEL, MANIFEST, sample_arrays, sample_manifest, write_sample

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
