"""Reading and writing bundles: one self-contained file of named float32 arrays plus a JSON manifest.

Two containers with the same content:

* ``.npz`` — a zip archive (stored, uncompressed) with ``manifest.json`` and one ``<array key>.npy``
  member per array, so ``numpy.load(bundle)["conv1/kernel"]`` works for a curious human.
* ``.h5`` — an HDF5 file with a ``manifest.json`` byte dataset and ``arrays/<array key>`` datasets.

Bundles are untrusted input. Reading never unpickles (object arrays are refused from their header,
before any data is read), refuses members the manifest does not declare, checks every array's header
against the declared dtype and shape before allocating, verifies each sha256 and refuses NaN/Inf (in
the arrays, and NaN/Infinity in the manifest). The HDF5 library can crash on a corrupt file, so an .h5
bundle is read in a forked child first (where fork exists).
Writing goes to a temporary file in the target folder that is renamed into place only when complete.
"""
import hashlib
import io
import json
import mmap
import os
import signal
import struct
import tempfile
import time
import zipfile

import numpy as np

from . import forked, progress
from .errors import BundleError
from .schema import FORMAT_NAME, FORMAT_VERSION, validate_manifest

MANIFEST_MEMBER = "manifest.json"
MAX_MANIFEST_BYTES = 256 << 20
NPZ_MAGIC = b"PK\x03\x04"
H5_MAGIC = b"\x89HDF\r\n\x1a\n"
_F32 = np.dtype("<f4")


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


def sha256_of(array):
    data = np.ascontiguousarray(array)
    return hashlib.sha256(memoryview(data).cast("B")).hexdigest()


def container_of(path):
    ext = os.path.splitext(str(path))[1].lower()
    if ext == ".npz":
        return "npz"
    if ext in (".h5", ".hdf5"):
        return "h5"
    raise BundleError("%s: a bundle file name must end in .npz or .h5" % path)


# ----------------------------------------------------------------------------------------- writing

def write_bundle(path, manifest, arrays):
    """Fill manifest['arrays'] (shapes, dtypes, checksums), validate, and write atomically.

    The manifest is validated before anything is written (its checksums are still placeholders then).
    Worker threads hash each array and check it for NaN/Inf while the arrays are written (hashlib and
    numpy release the GIL): one pass over the weights does both, beside the writing. The manifest, which
    holds the checksums, is written last. The file is a temporary one in the target folder, checked
    (_verify_written) and renamed into place only when complete; on any failure (a NaN or Inf value, an
    invalid manifest, a full disk, an interrupt) it is removed, and nothing is published."""
    path = str(path)
    kind = container_of(path)
    prepared = {}
    table = {}
    for key, value in arrays.items():
        arr = np.asarray(value, dtype=_F32, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        prepared[key] = arr
        table[key] = {"shape": list(arr.shape), "dtype": "float32", "sha256": _PENDING_SHA256}
    manifest = dict(manifest)
    manifest["format"] = FORMAT_NAME
    manifest["format_version"] = FORMAT_VERSION
    manifest["arrays"] = table
    validate_manifest(manifest)
    problem = _text_problem(manifest)
    if problem:
        raise BundleError("the manifest %s; refusing to write it" % problem)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BundleError("%s: the folder %s does not exist" % (path, folder))

    def manifest_text(checksums):       # called once every array is written
        for key, digest in checksums.items():
            table[key]["sha256"] = digest
        return json.dumps(manifest, indent=1, sort_keys=False).encode("utf-8")

    name = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % name, suffix=".partial", dir=folder)
    try:
        with progress.phase("writing %s" % name, sum(a.nbytes for a in prepared.values()), "B") as shown:
            with _Digests(prepared) as digests:
                if kind == "npz":
                    # mkstemp's own descriptor: reopening the file by name with truncation would make
                    # ext4 flush all of it to disk when it is closed
                    with open(fd, "w+b") as out:
                        fd = None
                        text, members = _write_npz(out, prepared, digests, manifest_text, shown)
                else:
                    os.close(fd)
                    fd = None
                    text = _write_h5(tmp, prepared, digests, manifest_text, shown)
                    members = None
        with progress.phase("verifying %s" % name):
            _verify_written(tmp, kind, text, table, members)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return manifest


_PENDING_SHA256 = "0" * 64      # a valid placeholder while the manifest is validated before writing
_CHUNK = 4 << 20
_HASHERS = max(1, min(2, (os.cpu_count() or 2) - 1))    # the writing thread keeps a core busy too


def _scan(arr):
    """(sha256_of(arr), whether every value is finite) in one pass over its bytes, a block at a time (each
    block is checked while the hash has it in the cache); stops at the first NaN or Inf (digest None)."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    digest = hashlib.sha256()
    step = _CHUNK // _F32.itemsize
    for start in range(0, flat.size, step):
        block = flat[start:start + step]
        digest.update(memoryview(block).cast("B"))
        if not np.isfinite(block).all():
            return None, False
    return digest.hexdigest(), True


def _digest(key, arr):
    """sha256_of(arr), and a BundleError if it holds a NaN or Inf."""
    digest, finite = _scan(arr)
    if not finite:
        raise BundleError("array %r holds NaN or Inf values; refusing to write it" % key)
    return digest


class _Digests(object):
    """_digest of every array, computed by worker threads while the writer writes them (in the same
    order). check() raises the first failure among those done (the writer stops early), wait() waits for
    all and returns {key: sha256}. Leaving the block cancels what has not started and waits for the rest."""

    def __init__(self, arrays):
        from concurrent.futures import ThreadPoolExecutor
        self.pool = ThreadPoolExecutor(_HASHERS)
        self.futures = [(key, self.pool.submit(_digest, key, arr)) for key, arr in arrays.items()]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for _, future in self.futures:
            future.cancel()
        self.pool.shutdown(wait=True)
        return False

    def check(self):
        for _, future in self.futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()

    def wait(self):
        return dict((key, future.result()) for key, future in self.futures)


def _npy_header(arr):
    """The .npy header numpy writes before arr's data: format 1.0, or 2.0 if the header needs it."""
    fields = np.lib.format.header_data_from_array_1_0(arr)
    buf = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buf, fields)
    except ValueError:
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, fields)
    return buf.getvalue()


def _write_npz(out, arrays, digests, manifest_text, shown):
    """Each array as a stored <key>.npy member, its data written straight from the array's memory (no
    bytes copy; zipfile computes the CRC-32 every zip member carries), then the manifest member. Returns
    (manifest bytes, {member name: its leading bytes (the .npy header or the manifest), size})."""
    members = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            digests.check()
            header = _npy_header(arr)
            data = memoryview(arr.reshape(-1)).cast("B")
            with zf.open(_aligned_member(zf, key + ".npy", len(header)), "w", force_zip64=True) as member:
                member.write(header)
                for start in range(0, len(data), _CHUNK):
                    member.write(data[start:start + _CHUNK])
                    shown.advance(min(_CHUNK, len(data) - start))
            members[key + ".npy"] = (header, len(header) + len(data))
        text = manifest_text(digests.wait())
        zf.writestr(MANIFEST_MEMBER, text)
        members[MANIFEST_MEMBER] = (text, len(text))
    return text, members


def _aligned_member(zf, name, header_bytes):
    """A ZipInfo for member `name` whose array data (after its local header and a .npy header of
    header_bytes) starts at a multiple of 64 bytes in the file: its extra field holds the padding (the
    alignment field Android's zipalign uses, 0xD935, which zip readers skip). Aligned data lets a reader
    map the arrays straight from the file instead of copying them."""
    info = zipfile.ZipInfo(name, date_time=time.localtime(time.time())[:6])
    info.compress_type = zipfile.ZIP_STORED
    # local header: 30 bytes, the name, our extra field (4 + pad), the zip64 field zipfile appends (20)
    start = zf.fp.tell() + 30 + len(name.encode("utf-8")) + 4 + 20 + header_bytes
    pad = -start % _DATA_ALIGN
    info.extra = struct.pack("<HH", 0xD935, pad) + b"\0" * pad
    return info


_DATA_ALIGN = 64


def _write_h5(tmp, arrays, digests, manifest_text, shown):
    import h5py
    with h5py.File(tmp, "w") as f:
        group = f.create_group("arrays")
        for key, arr in arrays.items():
            digests.check()
            group.create_dataset(key, data=arr)
            shown.advance(arr.nbytes)
        text = manifest_text(digests.wait())
        f.create_dataset(MANIFEST_MEMBER, data=np.frombuffer(text, dtype=np.uint8))
    return text


def _verify_written(tmp, kind, text, table, members):
    """The file just written is the bundle meant, checked from its structure: exactly the members meant
    (the zip's central directory, or the HDF5 file's datasets), each of the size meant, stored, not
    compressed, with the .npy header meant (read back from where its local header says); the manifest
    reads back byte for byte and passes the reader's validation. The array data is not read back: each
    array's sha256, computed from the very memory the data was written from, is in the manifest, and
    every reader of the bundle checks it (the importer does, before using any array)."""
    try:
        if kind == "npz":
            _verify_npz(tmp, members)
        else:
            _verify_h5(tmp, text, table)
    except BundleError:
        raise
    except Exception as exc:    # zipfile, h5py: the file does not even read as what was written
        raise BundleError("%s: the file just written does not read back (%s: %s)" % (tmp, type(exc).__name__, exc))
    if _parse_manifest(tmp, text)["arrays"] != table:
        raise BundleError("%s: the manifest reads back differently from what was written" % tmp)


def _same_members(tmp, found, written):
    missing = sorted(set(written) - set(found))
    extra = sorted(set(found) - set(written))
    if missing or extra or len(found) != len(set(found)):
        raise BundleError("%s: %s" % (tmp, "member %r written is missing" % missing[0] if missing else
                                      "holds a member %r not written" % extra[0] if extra else
                                      "lists a member twice"))


def _verify_npz(tmp, members):
    with zipfile.ZipFile(tmp) as zf:
        infos = zf.infolist()
        _same_members(tmp, [info.filename for info in infos], members)
        for info in infos:
            head, size = members[info.filename]
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != size:
                raise BundleError("%s: member %r is not stored as written" % (tmp, info.filename))
            with zf.open(info) as f:
                if f.read(len(head)) != head:
                    raise BundleError("%s: member %r reads back differently from what was written"
                                      % (tmp, info.filename))


def _verify_h5(tmp, text, table):
    import h5py
    with h5py.File(tmp, "r") as f:
        found = []
        f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
        _same_members(tmp, found, [MANIFEST_MEMBER] + ["arrays/" + key for key in table])
        if f[MANIFEST_MEMBER][()].tobytes() != text:
            raise BundleError("%s: the manifest reads back differently from what was written" % tmp)
        for key, spec in table.items():
            ds = f["arrays/" + key]
            if ds.dtype != _F32 or list(ds.shape) != spec["shape"] or not _stored_in_full(ds):
                raise BundleError("%s: array %r is not stored as written" % (tmp, key))


# ----------------------------------------------------------------------------------------- reading

def read_bundle(path, arrays=True):
    """Read, validate and checksum a bundle. With arrays=False only the manifest is read."""
    path = str(path)
    if not os.path.exists(path):
        raise BundleError("%s: no such file" % path)
    if os.path.isdir(path):
        raise BundleError("%s: is a directory, expected a bundle file (.npz or .h5)" % path)
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as exc:
        raise BundleError("%s: cannot be read (%s)" % (path, exc.strerror or exc))
    if not magic:
        raise BundleError("%s: the file is empty" % path)
    if magic.startswith(NPZ_MAGIC):
        reader = _NpzReader
    elif magic == H5_MAGIC:
        reader = _H5Reader
        _probe_in_child(path, reader, arrays)
    else:
        raise BundleError("%s: not a bundle (neither an .npz zip archive nor an HDF5 file)" % path)
    manifest, loaded = _read(path, reader, arrays)
    return Bundle(path, manifest, loaded)


def _read(path, reader, arrays):
    try:
        with reader(path) as src:
            manifest = _parse_manifest(path, src.manifest_bytes())
            loaded = {}
            declared = manifest["arrays"]
            extra = sorted(set(src.members()) - set(declared))
            if extra:
                raise BundleError("%s: contains %d undeclared member(s), first %r; refusing the bundle"
                                  % (path, len(extra), extra[0]))
            if arrays:
                total = sum(4 * int(np.prod(spec["shape"], dtype=np.int64)) for spec in declared.values())
                with progress.phase("reading and checking %s" % os.path.basename(path), total, "B") as shown:
                    _read_checked(path, src, declared, loaded, shown)
    except BundleError:
        raise
    except Exception as exc:  # zipfile/h5py/numpy failures on corrupt input
        raise BundleError("%s: corrupt or truncated bundle (%s: %s)"
                          % (path, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ""))
    return manifest, loaded


def _read_checked(path, src, declared, loaded, shown):
    """Read every declared array into `loaded`, each checked (_checked) by a worker thread while the next
    one is read: hashing and the finiteness check release the GIL, so reading and checking overlap."""
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(_CHECKERS)
    pending = []
    try:
        for key, spec in declared.items():
            arr = src.read(key, spec)
            loaded[key] = arr
            pending.append(pool.submit(_checked_and_unpaged, path, key, spec, arr))
            while pending and (pending[0].done() or len(pending) > 2 * _CHECKERS):
                shown.advance(pending.pop(0).result().nbytes)    # re-raises the first failure in order
        for future in pending:
            shown.advance(future.result().nbytes)
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


_CHECKERS = 2


def _checked_and_unpaged(path, key, spec, arr):
    """_checked, then a mapped array's pages leave this process's memory (they stay in the page cache,
    and come back from there when the array is next read): checking a bundle does not leave a copy of
    it resident beside what the conversion builds."""
    _checked(path, key, spec, arr)
    base = arr
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None and hasattr(base, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            base.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass
    return arr


def _probe_in_child(path, reader, arrays):
    """The HDF5 library can crash (SIGSEGV) on a corrupt file, or be left in a state that breaks it for
    the rest of the process, so an HDF5 bundle is read in a forked child first: a child killed by a
    signal means a corrupt file, and a child that refuses the file reports its message.
    Only a file the child read in full is read again here."""
    if not forked.available():
        return
    result = forked.run_forked(lambda: _read(path, reader, arrays))
    if result.signal is not None:
        try:
            name = signal.Signals(result.signal).name
        except ValueError:
            name = "signal %d" % result.signal
        raise BundleError("%s: corrupt HDF5 file (the HDF5 library crashed reading it: %s)" % (path, name))
    if result.exit_code != 0:
        if result.error_type == "BundleError" and result.message:
            raise BundleError(result.message)
        raise BundleError("%s: the HDF5 file could not be read (exit status %d)" % (path, result.exit_code))


def _parse_manifest(path, raw):
    if raw is None:
        raise BundleError("%s: has no %s member; not a tf2caffe bundle" % (path, MANIFEST_MEMBER))
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except _NonFinite as exc:
        raise BundleError("%s: the manifest holds NaN or Infinity (%s), which JSON does not allow" % (path, exc))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError("%s: the manifest is not valid JSON (%s)" % (path, exc))
    problem = _text_problem(manifest)
    if problem:
        raise BundleError("%s: the manifest %s" % (path, problem))
    try:
        return validate_manifest(manifest)
    except BundleError as exc:
        raise BundleError("%s: %s" % (path, exc))


def _text_problem(manifest):
    """What makes a parsed manifest unfit to be written back as strict UTF-8 JSON (NaN or Infinity, a lone
    surrogate such as JSON's "\\ud800" in some string), or None. Names end up in files and protobufs."""
    try:
        json.dumps(manifest, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds text that is not valid Unicode (a lone surrogate)"
    except ValueError as exc:
        return "holds NaN or Infinity, which JSON does not allow (%s)" % exc
    return None


class _NonFinite(ValueError):
    pass


def _no_constant(name):
    raise _NonFinite(name)


def _finite_float(text):
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise _NonFinite(text if len(text) <= 40 else text[:37] + "...")
    return value


def _checked(path, key, spec, arr):
    if list(arr.shape) != spec["shape"]:
        raise BundleError("%s: array %r has shape %r, the manifest declares %r"
                          % (path, key, list(arr.shape), spec["shape"]))
    digest, finite = _scan(arr)
    if not finite:
        digest = sha256_of(arr)     # a corrupt file, or NaN/Inf in an intact one: the message says which
    if digest != spec["sha256"]:
        raise BundleError("%s: array %r fails its sha256 check (the file is corrupt or was modified)"
                          % (path, key))
    if not finite:
        raise BundleError("%s: array %r holds NaN or Inf values" % (path, key))
    return arr


class _NpzReader(object):
    """Reads an .npz bundle's members straight from the file: zipfile only lists the members. Each array
    is a read-only view of the file, mapped into memory (no copy, no freshly allocated memory for the
    weights; the page cache holds them once), with a mapping of its own that is unmapped when the array
    is released, checked like any other (_checked: sha256, finite). An
    array whose data does not start at a multiple of 4 bytes in the file is read with readinto into
    an array of its own instead. No CRC-32 pass: the sha256 each array must match is the stronger check.
    (A mapped file that another program truncates during the import is a crash, not an error message.)"""

    def __init__(self, path):
        self.path = path
        self.zf = zipfile.ZipFile(path, "r")
        self.raw = None
        self.size = None
        self.names = dict((info.filename, info) for info in self.zf.infolist())
        packed = [n for n, info in self.names.items() if info.compress_type != zipfile.ZIP_STORED]
        if packed:  # what is read is then bounded by the file's size, not by what the manifest declares
            self.zf.close()
            raise BundleError("%s: member %r is compressed; bundle members are stored uncompressed"
                              % (path, packed[0]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zf.close()
        if self.raw is not None:
            self.raw.close()        # each array's mapping stays valid without the file object

    def members(self):
        return [n[:-4] for n in self.names if n != MANIFEST_MEMBER and n.endswith(".npy")] + \
               [n for n in self.names if n != MANIFEST_MEMBER and not n.endswith(".npy")]

    def manifest_bytes(self):
        info = self.names.get(MANIFEST_MEMBER)
        if info is None:
            return None
        if info.file_size > MAX_MANIFEST_BYTES:
            raise BundleError("%s: manifest of %d bytes is too large" % (self.path, info.file_size))
        return self.zf.read(info)

    def read(self, key, spec):
        """Array `key`, its header checked against spec first, read into a new array."""
        info = self._info(key)
        if self.raw is None:
            self.raw = open(self.path, "rb", buffering=0)
        f = self.raw
        f.seek(info.header_offset)
        local = f.read(_LOCAL_HEADER.size)
        if len(local) != _LOCAL_HEADER.size:
            raise BundleError("%s: array %r is truncated" % (self.path, key))
        magic, flags, name_len, extra_len = _LOCAL_HEADER.unpack(local)
        name = f.read(name_len).decode("utf-8" if flags & 0x800 else "cp437", "replace")
        if magic != NPZ_MAGIC or name != info.orig_filename:
            raise BundleError("%s: array %r: the zip member's local header is damaged" % (self.path, key))
        f.seek(extra_len, os.SEEK_CUR)
        start = f.tell()
        nbytes = self._check_header(_Bounded(f, info.file_size), key, spec)
        if f.tell() - start + nbytes != info.file_size:
            raise BundleError("%s: array %r is truncated or padded (its zip member holds %d bytes, its header "
                              "declares %d)" % (self.path, key, info.file_size, f.tell() - start + nbytes))
        data_at = f.tell()
        if self.size is None:
            self.size = os.fstat(f.fileno()).st_size
        if data_at + nbytes > self.size:
            raise BundleError("%s: array %r is truncated" % (self.path, key))
        if nbytes and data_at % _F32.itemsize == 0:      # a mapping of its own: gone with the array
            skip = data_at % mmap.ALLOCATIONGRANULARITY
            mapped = mmap.mmap(f.fileno(), skip + nbytes, access=mmap.ACCESS_READ, offset=data_at - skip)
            return np.frombuffer(mapped, dtype=_F32, count=nbytes // 4, offset=skip).reshape(spec["shape"])
        out = np.empty(spec["shape"], dtype=_F32)
        view = memoryview(out.reshape(-1)).cast("B") if out.size else memoryview(b"")
        done = 0
        while done < nbytes:
            n = f.readinto(view[done:])
            if not n:
                raise BundleError("%s: array %r is truncated" % (self.path, key))
            done += n
        return out

    def _info(self, key):
        info = self.names.get(key + ".npy")
        if info is None:
            raise BundleError("%s: array %r is declared in the manifest but missing" % (self.path, key))
        return info

    def _check_header(self, f, key, spec):
        """Reads the .npy header from f and checks it against spec; returns the data size in bytes."""
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise BundleError("%s: array %r uses unsupported .npy version %r" % (self.path, key, version))
        if dtype.hasobject or dtype != _F32:
            raise BundleError("%s: array %r has dtype %s, expected float32 (object arrays are never "
                              "loaded)" % (self.path, key, dtype))
        if fortran:
            raise BundleError("%s: array %r is stored in Fortran order, expected C order" % (self.path, key))
        if list(shape) != spec["shape"]:
            raise BundleError("%s: array %r has shape %r, the manifest declares %r"
                              % (self.path, key, list(shape), spec["shape"]))
        return int(np.prod(shape, dtype=np.int64)) * 4


_LOCAL_HEADER = struct.Struct("<4s2xH18xHH")   # signature, flags, name length, extra length (zip spec 4.3.7)


class _Bounded(object):
    """A read-only file view that never reads past `limit` bytes from where it starts (the .npy header
    parser reads with f.read(n); a damaged header must not read into the next member)."""

    def __init__(self, f, limit):
        self.f = f
        self.left = limit

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.f.read(n)
        self.left -= len(data)
        return data


def _stored_in_full(ds):
    """An HDF5 dataset stored as bundles are written: contiguous, every byte of its float32 data present
    (chunked, compressed or never written, HDF5 would produce the declared size from fewer bytes)."""
    nbytes = _F32.itemsize * int(np.prod(ds.shape, dtype=np.int64))
    return ds.chunks is None and ds.id.get_storage_size() == nbytes


class _H5Reader(object):
    def __init__(self, path):
        import h5py
        self.path = path
        self.f = h5py.File(path, "r")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def members(self):
        names = []
        arrays = self.f.get("arrays")

        def visit(name, obj):
            if not hasattr(obj, "keys"):
                names.append(name)
        if arrays is not None:
            arrays.visititems(visit)
        names.extend(k for k in self.f.keys() if k not in ("arrays", MANIFEST_MEMBER))
        return names

    def manifest_bytes(self):
        ds = self.f.get(MANIFEST_MEMBER)
        if ds is None:
            return None
        if ds.dtype != np.uint8 or ds.ndim != 1 or ds.shape[0] > MAX_MANIFEST_BYTES:
            raise BundleError("%s: the manifest dataset must be a 1-D uint8 byte string" % self.path)
        return ds[()].tobytes()

    def read(self, key, spec):
        ds = self.f.get("arrays/" + key)
        if ds is None or hasattr(ds, "keys"):
            raise BundleError("%s: array %r is declared in the manifest but missing" % (self.path, key))
        if ds.dtype != _F32:
            raise BundleError("%s: array %r has dtype %s, expected float32" % (self.path, key, ds.dtype))
        if list(ds.shape) != spec["shape"]:
            raise BundleError("%s: array %r has shape %r, the manifest declares %r"
                              % (self.path, key, list(ds.shape), spec["shape"]))
        if not _stored_in_full(ds):
            raise BundleError("%s: array %r is not stored contiguously in full, as bundles are written"
                              % (self.path, key))
        out = np.empty(ds.shape, dtype=_F32)
        if out.size:
            ds.read_direct(out)
        return out


def summary(manifest):
    """A short human-readable description of a bundle's manifest (for --inspect)."""
    counts = {}
    for node in manifest["nodes"]:
        counts[node["source_type"]] = counts.get(node["source_type"], 0) + 1
    params = sum(int(np.prod(manifest["arrays"][k]["shape"])) for n in manifest["nodes"]
                 for k in n["arrays"].values())
    ref = manifest["reference"]
    lines = [
        "model:      %s (from %s, %s)" % (manifest["model_name"], manifest["source"]["path"],
                                          manifest["source"]["format"]),
        "producer:   %s %s (TensorFlow %s, Keras %s)" % (
            manifest["producer"]["name"], manifest["producer"]["version"],
            manifest["producer"]["tensorflow"], manifest["producer"]["keras"]),
        "inputs:     " + ", ".join("%s %s" % (i["name"], tuple(i["shape"])) for i in manifest["inputs"]),
        "outputs:    " + ", ".join("%s %s" % (o["name"], tuple(o["shape"])) for o in manifest["outputs"]),
        "layers:     %d (%s)" % (len(manifest["nodes"]), ", ".join(
            "%s x%d" % (k, v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))),
        "parameters: %d (%s as float32)" % (params, _size(params * 4)),
        "reference:  %d input(s), batch %d: TF's inputs %s, TF's outputs %s" % (
            len(ref["inputs"]), ref["batch"], "present" if ref["inputs"] else "absent",
            "present" if ref.get("outputs") else "absent"),
        "activations: " + _activations(manifest),
    ]
    return "\n".join(lines)


def _size(nbytes):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return "%.1f %s" % (nbytes / scale, unit)
    return "%d bytes" % nbytes


def _activations(manifest):
    """Whether TF's per-layer values are there: the parity report compares every layer only if they are."""
    ref = manifest["reference"]
    outputs = set(o["tensor"] for o in manifest["outputs"])
    inner = [t for n in manifest["nodes"] for t in n["outputs"] if t not in outputs]
    have = sum(1 for t in inner if t in ref["activations"])
    if inner and not have:
        return "absent (exported with --no-activations?): the report will compare the outputs only"
    pre = len(ref.get("preactivations", {}))
    return "present for %d of %d intermediate tensors%s" % (
        have, len(inner), " (+%d before a fused activation)" % pre if pre else "")
