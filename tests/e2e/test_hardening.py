"""Bundles are untrusted input, end to end through the import CLI in the real Caffe environment:

* a malformed bundle (.npz and .h5) ends with the README's exit status, one line on stderr naming the
  file, no traceback, and nothing in the output folder;
* names full of quotes, braces, backslashes, '#', spaces (and 200 characters long) convert with parity
  and reach the prototxt escaped by protobuf; so do folder names with spaces and quotes;
* a conversion killed with SIGKILL leaves nothing under a final name, and a previous good conversion in
  the same folder intact, byte for byte.
"""
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile

import h5py
import keras
import numpy as np
import pytest
from keras import layers

from conftest import CAFFE_RUN, ROOT, assert_parity, import_bundle, randomize
from shared.bundle import read_bundle, sha256_of, write_bundle

CONTAINERS = ["npz", "h5"]


def tiny_model(path):
    inp = keras.Input((6, 6, 2), name="x")
    x = layers.Conv2D(3, 3, activation="relu", name="c")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    out = layers.Dense(3, activation="softmax", name="y")(layers.Flatten(name="flat")(x))
    model = randomize(keras.Model(inp, out, name="tiny"))
    model.save(path)
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """{container: path} of a valid exported bundle of the tiny model."""
    from export_tf.exporter import export
    folder = tmp_path_factory.mktemp("good")
    model = tiny_model(str(folder / "tiny.keras"))
    out = {}
    for container in CONTAINERS:
        out[container] = str(folder / ("tiny." + container))
        export(model, out[container])
    return out


# ----------------------------------------------------------------------------- raw edits of a bundle

def rewrite_npz(path, change):
    """change(members: {name: bytes}) edits the members in place; the zip is written anew."""
    with zipfile.ZipFile(path) as zf:
        members = dict((i.filename, zf.read(i)) for i in zf.infolist())
    change(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def npy(array):
    import io
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def a_weight(path):
    manifest = read_bundle(path, arrays=False).manifest
    return sorted(k for k in manifest["arrays"] if k.startswith("w/"))[0]


def edit_manifest_text(path, change):
    """change(manifest dict) -> the manifest's new bytes; nothing else (no checksum) is recomputed."""
    if path.endswith(".npz"):
        def go(members):
            members["manifest.json"] = change(json.loads(members["manifest.json"].decode("utf-8")))
        rewrite_npz(path, go)
    else:
        with h5py.File(path, "a") as f:
            data = change(json.loads(f["manifest.json"][()].tobytes().decode("utf-8")))
            del f["manifest.json"]
            f.create_dataset("manifest.json", data=np.frombuffer(data, dtype=np.uint8))


def replace_array(path, key, array, fix_checksum):
    if path.endswith(".npz"):
        rewrite_npz(path, lambda members: members.__setitem__(key + ".npy", npy(array)))
    else:
        with h5py.File(path, "a") as f:
            del f["arrays/" + key]
            f.create_dataset("arrays/" + key, data=array)
    if fix_checksum:
        def fix(manifest):
            manifest["arrays"][key]["sha256"] = sha256_of(array)
            return json.dumps(manifest).encode("utf-8")
        edit_manifest_text(path, fix)


def drop_array(path, key):
    if path.endswith(".npz"):
        rewrite_npz(path, lambda members: members.pop(key + ".npy"))
    else:
        with h5py.File(path, "a") as f:
            del f["arrays/" + key]


def array_data_offset(path, key):
    """Where the raw float32 data of array `key` starts in the file."""
    if path.endswith(".npz"):
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(key + ".npy")
            with zf.open(info) as member:
                if np.lib.format.read_magic(member) == (1, 0):
                    np.lib.format.read_array_header_1_0(member)
                else:
                    np.lib.format.read_array_header_2_0(member)
                header = member.tell()
        with open(path, "rb") as f:
            f.seek(info.header_offset + 26)
            name_len, extra_len = np.frombuffer(f.read(4), dtype="<u2")
        return info.header_offset + 30 + int(name_len) + int(extra_len) + header
    with h5py.File(path, "r") as f:
        return f["arrays/" + key].id.get_offset()


# ----------------------------------------------------------------------------- the malformed bundles
# Each takes a fresh copy of the good bundle (its path) and returns the path to import, the README's
# exit status and a regular expression the message must match.

def empty(path):
    open(path, "wb").close()
    return path, 5, "the file is empty"


def random_bytes(path):
    with open(path, "wb") as f:
        f.write(np.random.RandomState(3).bytes(5000))
    return path, 5, "not a bundle"


def truncated(path):
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    return path, 5, "corrupt or truncated"


def flipped_array_byte(path):
    at = array_data_offset(path, a_weight(path)) + 5
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0x10]))
    return path, 5, "CRC|sha256"


def missing_array(path):
    drop_array(path, a_weight(path))
    return path, 5, "declared in the manifest but missing"


def nan_weights(path):
    key = a_weight(path)
    array = np.array(read_bundle(path).arrays[key])
    array.reshape(-1)[0] = np.nan
    replace_array(path, key, array, fix_checksum=True)
    return path, 5, "NaN or Inf"


def manifest_not_json(path):
    edit_manifest_text(path, lambda manifest: json.dumps(manifest).encode("utf-8")[:-20] + b"{not json")
    return path, 5, "not valid JSON"


def unknown_format_version(path):
    def change(manifest):
        manifest["format_version"] = 99
        return json.dumps(manifest).encode("utf-8")
    edit_manifest_text(path, change)
    return path, 5, "format_version"


def unknown_op(path):
    """Valid in every checksum (written by write_bundle): only the op is one the importer lacks."""
    bundle = read_bundle(path)
    manifest = copy.deepcopy(bundle.manifest)
    del manifest["arrays"]
    manifest["nodes"][0]["op"] = "fancy_conv_v9"
    write_bundle(path, manifest, bundle.arrays)
    return path, 4, "unsupported layer"


def dangling_input(path):
    def change(manifest):
        manifest["nodes"][-1]["inputs"][0] = "nowhere/out"
        return json.dumps(manifest).encode("utf-8")
    edit_manifest_text(path, change)
    return path, 5, "dangling input"


def directory(path):
    os.unlink(path)
    os.mkdir(path)
    return path, 2, "is a directory"


def missing_path(path):
    os.unlink(path)
    return path + ".gone", 2, "no such file"


CASES = [empty, random_bytes, truncated, flipped_array_byte, missing_array, nan_weights, manifest_not_json,
         unknown_format_version, unknown_op, dangling_input, directory, missing_path]


@pytest.mark.parametrize("build", CASES, ids=[c.__name__ for c in CASES])
@pytest.mark.parametrize("container", CONTAINERS)
def test_malformed_bundle_is_refused_cleanly(tmp_path, good, container, build):
    folder = tmp_path / "in"
    folder.mkdir()
    path = str(folder / ("model." + container))
    shutil.copyfile(good[container], path)
    path, status, message = build(path)
    out = str(tmp_path / "out")
    result = import_bundle(path, out)
    assert result.returncode == status, result.describe()
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no message"
    assert lines[0].startswith("import_caffe: error: %s: " % path), result.stderr
    assert re.search(message, lines[0]), result.stderr
    if status != 4:     # the unsupported-layer message lists the layers, one group a line
        assert len(lines) == 1, result.stderr
    else:
        assert "fancy_conv_v9" in result.stderr and "unsupported layer" in lines[0], result.stderr
    assert os.listdir(out) == [], "the output folder must stay empty"


# ----------------------------------------------------------------------------- names as data

NASTY = ['say "hi"', "back\\slash", "{braces}", "# hash", "with spaces", "end }\" #{", "q'uote"]


def protobuf_escaped(text):
    """How protobuf's text format (C-escape, not UTF-8) writes a string between double quotes."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in "\"'\\":
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append("\\%03o" % byte)
    return "".join(out)


def rename_everything(manifest):
    """Every node, tensor, input and output name replaced by a nasty one (one of them 200 characters),
    every reference to it updated. Array keys keep their restricted alphabet."""
    manifest = copy.deepcopy(manifest)
    del manifest["arrays"]
    node_names = [n["name"] for n in manifest["nodes"]]
    tensors = list(manifest["tensors"])
    nodes_map = dict((name, "%s %s" % (NASTY[i % len(NASTY)], name)) for i, name in enumerate(node_names))
    tensor_map = dict((t, "%s/%s" % (NASTY[(i + 3) % len(NASTY)], t)) for i, t in enumerate(tensors))
    long_tensor = tensors[len(tensors) // 2]
    tensor_map[long_tensor] = ("L\"{#}\\" + "x" * 200)[:200]
    nodes_map[node_names[0]] = ("N'{#}\\ " + "n" * 200)[:200]
    io_map = {}
    for part in ("inputs", "outputs"):
        for entry in manifest[part]:
            io_map[entry["name"]] = 'io "%s" {#} \\ %s' % (part, entry["name"])
            entry["name"] = io_map[entry["name"]]
            entry["tensor"] = tensor_map[entry["tensor"]]
    manifest["tensors"] = dict((tensor_map[t], spec) for t, spec in manifest["tensors"].items())
    for node in manifest["nodes"]:
        node["name"] = nodes_map[node["name"]]
        node["inputs"] = [tensor_map[t] for t in node["inputs"]]
        node["outputs"] = [tensor_map[t] for t in node["outputs"]]
    ref = manifest["reference"]
    for part in ("inputs", "outputs", "activations"):
        ref[part] = dict((tensor_map[t], key) for t, key in ref[part].items())
    ref["preactivations"] = dict((nodes_map[n], key) for n, key in ref.get("preactivations", {}).items())
    ref["input_domains"] = dict((tensor_map[t], d) for t, d in ref.get("input_domains", {}).items())
    manifest["model_name"] = 'tiny "model" {#} \\'
    return manifest, nodes_map, tensor_map, io_map


@pytest.mark.parametrize("container", CONTAINERS)
def test_nasty_names_convert_with_parity(tmp_path, good, container):
    bundle = read_bundle(good[container])
    manifest, nodes_map, tensor_map, io_map = rename_everything(bundle.manifest)
    assert max(len(n) for n in list(nodes_map.values()) + list(tensor_map.values())) == 200
    path = str(tmp_path / ("nasty." + container))
    write_bundle(path, manifest, bundle.arrays)
    result = import_bundle(path, str(tmp_path / "out"))
    report = assert_parity(result)
    assert report["summary"]["layers_compared"] >= len(manifest["nodes"])
    text = open(os.path.join(result.out, report["files"]["prototxt"])).read()
    assert report["files"]["prototxt"] == "tiny__model_______.prototxt"
    assert 'name: "%s"' % protobuf_escaped(manifest["model_name"]) in text
    for name in nodes_map.values():
        assert 'name: "%s"' % protobuf_escaped(name) in text, name     # a layer per node
    for name in io_map.values():
        assert 'top: "%s"' % protobuf_escaped(name) in text, name      # a blob per input and output
    for tensor in set(t for node in manifest["nodes"] for t in node["outputs"]):
        assert '"%s' % protobuf_escaped(tensor) in text, tensor         # a blob (or its prefix) per tensor
    assert set(r["layer"] for r in report["layers"]) == set(nodes_map.values())
    assert [i["name"] for i in report["inputs"]] == [e["name"] for e in manifest["inputs"]]


def test_paths_with_spaces_quotes_and_hashes(tmp_path, good):
    """Folders are data too: docker/caffe-run mounts them into the Caffe root filesystem by name."""
    folder = tmp_path / "my 'bundles' #1"
    folder.mkdir()
    bundle = str(folder / 'tiny "v2".npz')
    shutil.copyfile(good["npz"], bundle)
    result = import_bundle(bundle, str(tmp_path / 'caffe out "#2" *'))
    assert_parity(result)
    assert sorted(os.listdir(result.out)) == ["report.html", "report.json", "tiny.caffemodel", "tiny.prototxt"]


# ----------------------------------------------------------------------------- interrupted runs

@pytest.fixture(scope="module")
def big_bundle(tmp_path_factory):
    """MobileNetV2 (random weights, 96x96) with batch 8: an import that takes several seconds."""
    from export_tf.exporter import export
    folder = tmp_path_factory.mktemp("big")
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))
    model.save(str(folder / "mobilenet.keras"))
    path = str(folder / "mobilenet.npz")
    export(str(folder / "mobilenet.keras"), path, batch=8)
    return path


def start_import(bundle, out):
    cmd = [CAFFE_RUN, "--bind", os.path.dirname(bundle), "--bind", out,
           "python3", "-m", "import_caffe", bundle, "-o", out, "-q"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def staging_folders(out):
    return [n for n in os.listdir(out) if n.startswith(".tf2caffe-")]


def kill_when(proc, out, ready, timeout=600):
    """SIGKILL the whole process group (caffe-run's unshare, sh, chroot, python and Caffe's forked
    child) as soon as ready(staging folder path) holds; returns what the staging folder held then."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for name in staging_folders(out):
            staging = os.path.join(out, name)
            try:
                if ready(staging):
                    held = sorted(os.listdir(staging))
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return held
            except OSError:     # the folder vanished: the conversion finished first
                pass
        if proc.poll() is not None:
            raise AssertionError("the import finished (exit %d) before it could be interrupted: %s"
                                 % (proc.returncode, proc.stderr.read().decode("utf-8", "replace")[-2000:]))
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("no staging folder appeared")


FINAL = (".prototxt", ".caffemodel", ".caffemodel.h5", "report.html", "report.json")


def final_files(out):
    return sorted(n for n in os.listdir(out) if not n.startswith("."))


def as_soon_as_it_exists(staging):
    return True


def once_the_weights_are_staged(staging):
    return any(n.endswith(".caffemodel") for n in os.listdir(staging))


@pytest.mark.parametrize("ready", [as_soon_as_it_exists, once_the_weights_are_staged])
def test_a_killed_import_writes_nothing_final(tmp_path, big_bundle, ready):
    out = str(tmp_path / "out")
    os.mkdir(out)
    held = kill_when(start_import(big_bundle, out), out, ready)
    assert final_files(out) == [], (final_files(out), held)
    assert not [n for n in os.listdir(out) if n.endswith(FINAL)]


def test_a_killed_rerun_keeps_the_previous_conversion(tmp_path, big_bundle):
    out = str(tmp_path / "out")
    first = import_bundle(big_bundle, out)
    assert_parity(first)
    before = dict((n, open(os.path.join(out, n), "rb").read()) for n in final_files(out))
    assert len(before) == 4 and all(n.endswith(FINAL) for n in before), sorted(before)
    held = kill_when(start_import(big_bundle, out), out, once_the_weights_are_staged)
    assert any(n.endswith(".caffemodel") for n in held)
    after = dict((n, open(os.path.join(out, n), "rb").read()) for n in final_files(out))
    assert sorted(after) == sorted(before)
    for name in before:
        assert after[name] == before[name], "%s changed" % name
    left = staging_folders(out)
    assert left, "the killed import's staging folder should still be there"
    assert_parity(import_bundle(big_bundle, out))       # the next import clears the killed one's leftovers
    assert staging_folders(out) == [], staging_folders(out)
