"""Reading and writing bundles: what callers use (read_bundle, write_bundle, Bundle, container_of)."""
import os
import tempfile

import numpy as np

from .. import progress
from ..errors import BundleError
from ..schema import FORMAT_NAME, FORMAT_VERSION, validate_manifest
from . import h5, integrity, npz
from .integrity import F32
from .manifest import manifest_text, parse_manifest, text_problem
from ..messages import corrupt, one_line, shown, where

_PENDING_SHA256 = "0" * 64      # a valid placeholder while the manifest is validated before writing


class Bundle(object):
    """A loaded bundle: the validated manifest and the arrays by key (TF layout, float32)."""

    def __init__(self, path, manifest, arrays):
        self.path = path
        self.manifest = manifest
        self.arrays = arrays
        self._uses = None

    def node_arrays(self, node):
        return dict((role, self.arrays[key]) for role, key in node["arrays"].items())

    def take_node_arrays(self, node):
        """node_arrays(node), and the bundle lets go of each array no later node uses: a planner that
        lowers node by node then holds one copy of the weights (the lowered one), not two."""
        if self._uses is None:
            self._uses = {}
            for n in self.manifest["nodes"]:
                for key in n["arrays"].values():
                    self._uses[key] = self._uses.get(key, 0) + 1
        out = self.node_arrays(node)
        for key in node["arrays"].values():
            self._uses[key] -= 1
            if self._uses[key] <= 0:
                del self.arrays[key]
        return out

    def reference(self, part):
        ref = self.manifest["reference"][part]
        return dict((tensor, self.arrays[key]) for tensor, key in ref.items())


def container_of(path):
    ext = os.path.splitext(str(path))[1].lower()
    if ext == ".npz":
        return "npz"
    if ext in (".h5", ".hdf5"):
        return "h5"
    raise BundleError("%s: a bundle file name must end in .npz or .h5" % where(path))


# ----------------------------------------------------------------------------------------- reading

def read_bundle(path, arrays=True):
    """Read, validate and checksum a bundle. With arrays=False only the manifest is read. Every refusal
    is a BundleError of one bounded line."""
    try:
        return _read_bundle(str(path), arrays)
    except BundleError as exc:
        raise BundleError(one_line(exc))


def _read_bundle(path, arrays):
    if not os.path.exists(path):
        raise BundleError("%s: no such file" % where(path))
    if os.path.isdir(path):
        raise BundleError("%s: is a directory, expected a bundle file (.npz or .h5)" % where(path))
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as exc:
        raise BundleError("%s: cannot be read (%s)" % (where(path), exc.strerror or exc))
    if not magic:
        raise BundleError("%s: the file is empty" % where(path))
    if magic.startswith(npz.NPZ_MAGIC):
        reader = npz.NpzReader
    elif magic == h5.H5_MAGIC:
        reader = h5.H5Reader
        h5.probe_in_child(path, arrays)
    else:
        raise BundleError("%s: not a bundle (neither an .npz zip archive nor an HDF5 file)" % where(path))
    manifest, loaded = _read(path, reader, arrays)
    return Bundle(path, manifest, loaded)


def _read(path, reader, arrays):
    try:
        with reader(path) as src:
            manifest = parse_manifest(path, src.manifest_bytes())
            loaded = {}
            declared = manifest["arrays"]
            extra = src.undeclared(declared)
            if extra:
                raise BundleError("%s: contains %d undeclared member(s), first %s; refusing the bundle"
                                  % (where(path), len(extra), shown(sorted(extra)[0])))
            if arrays:
                total = sum(4 * int(np.prod(spec["shape"], dtype=np.int64)) for spec in declared.values())
                what = "reading and checking %s" % where(os.path.basename(path))
                with progress.phase(what, total, "B") as shown_progress:
                    integrity.read_checked(path, src, declared, loaded, shown_progress)
    except BundleError:
        raise
    except Exception as exc:  # h5py/numpy/OS failures on corrupt input
        raise corrupt(path, exc)
    return manifest, loaded


# ----------------------------------------------------------------------------------------- writing

def write_bundle(path, manifest, arrays):
    """Fill manifest['arrays'] (shapes, dtypes, checksums), validate, and write atomically.

    The manifest is validated before anything is written (its checksums are still placeholders then).
    Worker threads hash each array and check it for NaN/Inf while the arrays are written (hashlib and
    numpy release the GIL): one pass over the weights does both, beside the writing. The manifest, which
    holds the checksums, is written last. The file is a temporary one in the target folder, checked
    (verify_written) and renamed into place only when complete; on any failure (a NaN or Inf value, an
    invalid manifest, a full disk, an interrupt) it is removed, and nothing is published."""
    path = str(path)
    kind = container_of(path)
    prepared = {}
    table = {}
    for key, value in arrays.items():
        arr = np.asarray(value, dtype=F32, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        prepared[key] = arr
        table[key] = {"shape": list(arr.shape), "dtype": "float32", "sha256": _PENDING_SHA256}
    manifest = dict(manifest)
    manifest["format"] = FORMAT_NAME
    manifest["format_version"] = FORMAT_VERSION
    manifest["arrays"] = table
    validate_manifest(manifest)
    problem = text_problem(manifest)
    if problem:
        raise BundleError("the manifest %s; refusing to write it" % problem)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BundleError("%s: the folder %s does not exist" % (where(path), where(folder)))

    def text_of(checksums):       # called once every array is written
        for key, digest in checksums.items():
            table[key]["sha256"] = digest
        return manifest_text(manifest)

    name = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, suffix=".partial", dir=folder)
    name = where(name)      # as shown on the terminal
    try:
        with progress.phase("writing %s" % name, sum(a.nbytes for a in prepared.values()), "B") as shown_progress:
            with integrity.Digests(prepared) as digests:
                if kind == "npz":
                    # mkstemp's own descriptor: reopening the file by name with truncation would make
                    # ext4 flush all of it to disk when it is closed
                    with open(fd, "w+b") as out:
                        fd = None
                        text, members = npz.write_npz(out, prepared, digests, text_of, shown_progress)
                else:
                    os.close(fd)
                    fd = None
                    text = h5.write_h5(tmp, prepared, digests, text_of, shown_progress)
                    members = None
        with progress.phase("verifying %s" % name):
            verify_written(tmp, kind, text, table, members)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return manifest


def verify_written(tmp, kind, text, table, members):
    """The file just written is the bundle meant, checked from its structure with the reader's own
    checks: exactly the members meant, each of the size meant, stored, with the .npy header meant; the
    manifest reads back byte for byte and passes the reader's parsing and validation. The array data is
    not read back: each array's sha256, computed from the very memory the data was written from, is in
    the manifest, and every reader of the bundle checks it (the importer does, before using any array)."""
    try:
        if kind == "npz":
            npz.verify_npz(tmp, members)
        else:
            h5.verify_h5(tmp, text, table)
    except BundleError:
        raise
    except Exception as exc:    # h5py, OS: the file does not even read as what was written
        raise BundleError("%s: the file just written does not read back (%s: %s)"
                          % (where(tmp), type(exc).__name__, exc))
    if parse_manifest(tmp, text)["arrays"] != table:
        raise BundleError("%s: the manifest reads back differently from what was written" % where(tmp))
