"""The .npz container: a zip archive (stored, uncompressed) of one ``<array key>.npy`` member per array
and ``manifest.json``, so ``numpy.load(bundle)["conv1/kernel"]`` works for a curious human.

The reader takes the archive's layout from ziplayout (strict: one unambiguous reading) and each array's
.npy header from a bounded read (at most MAX_NPY_HEADER bytes, its numbers at most 30 digits, checked
before numpy parses it), then maps the array's data straight from the file."""
import io
import mmap
import os
import re
import struct
import time
import zipfile
import zlib

import numpy as np

from ..errors import BundleError
from . import integrity
from .integrity import F32
from .manifest import MANIFEST_MEMBER, check_manifest_size
from ..messages import clip, shown, where
from .ziplayout import read_at, read_layout

NPZ_MAGIC = b"PK\x03\x04"
MAX_NPY_HEADER = 4096       # numpy writes 128 bytes for a float32 array of any rank bundles allow
_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADER_TEXT = re.compile(r"[\x20-\x7e]*\n?\Z")
_LONG_NUMBER = re.compile(r"[0-9]{31,}")
_DATA_ALIGN = 64


class NpzReader(object):
    """Reads an .npz bundle's members straight from the file. Each array is a read-only view of the file,
    mapped into memory (no copy, no freshly allocated memory for the weights; the page cache holds them
    once), with a mapping of its own that is unmapped when the array is released. An array whose data
    does not start at a multiple of 4 bytes in the file is read with readinto into an array of its own
    instead. No CRC-32 pass over the arrays: the sha256 each must match is the stronger check (the
    manifest, which has no sha256, is checked against its CRC-32). (A mapped file that another program
    truncates during the import is a crash, not an error message.)"""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb", buffering=0)
        try:
            layout = read_layout(path, self.f, os.fstat(self.f.fileno()).st_size)
        except BaseException:
            self.f.close()
            raise
        self.members = dict((m.name, m) for m in layout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()      # each array's mapping stays valid without the file object

    def undeclared(self, declared):
        """Members that are neither the manifest nor a declared array's <key>.npy (shown by key)."""
        return [name[:-4] if name.endswith(".npy") else name for name in self.members
                if name != MANIFEST_MEMBER and not (name.endswith(".npy") and name[:-4] in declared)]

    def manifest_bytes(self):
        member = self.members.get(MANIFEST_MEMBER)
        if member is None:
            return None
        check_manifest_size(self.path, member.size)
        raw = read_at(self.f, member.data_offset, member.size)
        if len(raw) != member.size or zlib.crc32(raw) & 0xFFFFFFFF != member.crc:
            raise BundleError("%s: %s fails its CRC-32 check (the file is corrupt or was modified)"
                              % (where(self.path), MANIFEST_MEMBER))
        return raw

    def read(self, key, spec):
        """Array `key`, its header checked against spec first, mapped from the file or read into a new array."""
        member = self.members.get(key + ".npy")
        if member is None:
            raise BundleError("%s: array %s is declared in the manifest but missing" % (where(self.path), shown(key)))
        header_bytes, nbytes = check_npy_header(self.path, self.f, member, key, spec)
        if header_bytes + nbytes != member.size:
            raise BundleError("%s: array %s is truncated or padded (its zip member holds %d bytes, its header "
                              "declares %d)" % (where(self.path), shown(key), member.size, header_bytes + nbytes))
        data_at = member.data_offset + header_bytes
        if nbytes and data_at % F32.itemsize == 0:      # a mapping of its own: gone with the array
            skip = data_at % mmap.ALLOCATIONGRANULARITY
            mapped = mmap.mmap(self.f.fileno(), skip + nbytes, access=mmap.ACCESS_READ, offset=data_at - skip)
            return np.frombuffer(mapped, dtype=F32, count=nbytes // 4, offset=skip).reshape(spec["shape"])
        out = np.empty(spec["shape"], dtype=F32)
        view = memoryview(out.reshape(-1)).cast("B") if out.size else memoryview(b"")
        self.f.seek(data_at)
        done = 0
        while done < nbytes:
            n = self.f.readinto(view[done:])
            if not n:
                raise BundleError("%s: array %s is truncated" % (where(self.path), shown(key)))
            done += n
        return out


def check_npy_header(path, f, member, key, spec):
    """(header bytes, data bytes) of member's .npy header, read within MAX_NPY_HEADER bytes and checked
    (bounded text, then float32, C order, the declared shape) before numpy's parser sees it."""
    def fail(text):
        raise BundleError("%s: array %s %s" % (where(path), shown(key), text))
    prefix = read_at(f, member.data_offset, min(member.size, 12))
    if len(prefix) < 10 or not prefix.startswith(_NPY_MAGIC):
        fail("is not a .npy array (its member does not start with the .npy magic)")
    version = (prefix[6], prefix[7])
    if version not in ((1, 0), (2, 0)) or len(prefix) < (10 if version == (1, 0) else 12):
        fail("uses unsupported .npy version %s" % shown(version))
    start = 10 if version == (1, 0) else 12
    length = struct.unpack("<H" if version == (1, 0) else "<I", prefix[8:start])[0]
    if length > MAX_NPY_HEADER:
        fail("has a .npy header of %d bytes (at most %d)" % (length, MAX_NPY_HEADER))
    if start + length > member.size:
        fail("is truncated (its .npy header runs past its zip member)")
    header = read_at(f, member.data_offset + start, length)
    text = header.decode("latin1")
    if len(header) != length or not _NPY_HEADER_TEXT.match(text):
        fail("has a damaged .npy header %s" % shown(text))
    if _LONG_NUMBER.search(text) or sum(text.count(c) for c in "([{") > 8:
        fail("has a .npy header with numbers over 30 digits or nested too deep: %s" % shown(text))
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(io.BytesIO(prefix[8:start] + header))
    except ValueError as exc:
        fail("has an unreadable .npy header (%s)" % clip(exc))
    if dtype.hasobject or dtype != F32:
        fail("has dtype %s, expected float32 (object arrays are never loaded)" % clip(dtype, 40))
    if fortran:
        fail("is stored in Fortran order, expected C order")
    if list(shape) != spec["shape"]:
        fail("has shape %s, the manifest declares %s" % (shown(list(shape)), shown(spec["shape"])))
    return start + length, int(np.prod(shape, dtype=np.int64)) * F32.itemsize


# ----------------------------------------------------------------------------------------- writing

def npy_header(arr):
    """The .npy header numpy writes before arr's data: format 1.0, or 2.0 if the header needs it."""
    fields = np.lib.format.header_data_from_array_1_0(arr)
    buf = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buf, fields)
    except ValueError:
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, fields)
    return buf.getvalue()


def write_npz(out, arrays, digests, manifest_text, shown_progress):
    """Each array as a stored <key>.npy member, its data written straight from the array's memory (no
    bytes copy; zipfile computes the CRC-32 every zip member carries), then the manifest member. Returns
    (manifest bytes, {member name: its leading bytes (the .npy header or the manifest), size})."""
    members = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            digests.check()
            header = npy_header(arr)
            data = memoryview(arr.reshape(-1)).cast("B")
            chunk = integrity.CHUNK
            with zf.open(_aligned_member(zf, key + ".npy", len(header)), "w", force_zip64=True) as member:
                member.write(header)
                for start in range(0, len(data), chunk):
                    member.write(data[start:start + chunk])
                    shown_progress.advance(min(chunk, len(data) - start))
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


def verify_npz(tmp, members):
    """The zip just written holds exactly `members` ({name: (leading bytes, size)}), each stored with the
    size meant and its leading bytes read back from where its local header says, and passes the
    reader's layout checks."""
    with open(tmp, "rb") as f:
        try:
            layout = read_layout(tmp, f, os.fstat(f.fileno()).st_size)
        except BundleError as exc:
            raise BundleError("%s: the file just written does not read back (%s)" % (where(tmp), exc))
        integrity.same_members(tmp, [m.name for m in layout], members)
        for m in layout:
            head, size = members[m.name]
            if m.size != size:
                raise BundleError("%s: member %s is not stored as written" % (where(tmp), shown(m.name)))
            if read_at(f, m.data_offset, len(head)) != head:
                raise BundleError("%s: member %s reads back differently from what was written"
                                  % (where(tmp), shown(m.name)))

