"""Hostile containers (issue 18): bundles whose container reads other files or reads differently in
different readers, each refused by the reader with one clean line, before any data of the member
concerned is read.

* .h5: external links, soft links, HDF5 external raw storage, virtual datasets, chunked, compressed and
  compact datasets, attributes, named datatypes, a dataset linked under two names; the .npz counterpart
  (a zip member marked as a symbolic link is only bytes, and is refused as such).
* .npz: ambiguous zips, built byte by byte by build_zip below (duplicate names, end-record counts,
  local headers that disagree with the central directory, overlapping members, data before, between or
  after the members, comments, zip64 records and fields that disagree, compressed, encrypted and
  data-descriptor members); and what the writer writes (members aligned by an extra field, zip64 local
  fields) stays readable.
"""
import json
import os
import re
import struct
import time
import zlib

import h5py
import numpy as np
import pytest

from shared.bundle import read_bundle
from shared.errors import BundleError

from test_bundle import KERNEL, MANIFEST, H5Edit, NpzEdit, refused, sample_arrays, write_sample


# ============================================================================ .h5: other files, links

def other_file(folder, name="other.h5", data=None):
    """A sibling HDF5 file holding /x = the sample kernel (so checksums would still match)."""
    path = os.path.join(str(folder), name)
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=sample_arrays()[KERNEL] if data is None else data)
    return path


def raw_sibling(folder):
    """A sibling raw file holding the sample kernel's bytes."""
    path = os.path.join(str(folder), "kernel.raw")
    with open(path, "wb") as f:
        f.write(sample_arrays()[KERNEL].tobytes())
    return path


def h5_external_link_array(f, folder):
    other_file(folder)
    del f["arrays/" + KERNEL]
    f["arrays/" + KERNEL] = h5py.ExternalLink("other.h5", "/x")
    return r"member 'arrays/dense/kernel' is an external link \(to b'other.h5:/x'\)"


def h5_external_link_absolute(f, folder):
    del f["arrays/" + KERNEL]
    f["arrays/" + KERNEL] = h5py.ExternalLink("/etc/passwd", "/x")
    return "is an external link .*/etc/passwd"


def h5_external_link_manifest(f, folder):
    with h5py.File(os.path.join(str(folder), "other.h5"), "w") as other:
        other.create_dataset("m", data=f[MANIFEST][()])
    del f[MANIFEST]
    f[MANIFEST] = h5py.ExternalLink("other.h5", "/m")
    return "member 'manifest.json' is an external link"


def h5_external_link_missing_target(f, folder):
    """Refused from the link itself: the reader does not even try to open the target."""
    del f["arrays/" + KERNEL]
    f["arrays/" + KERNEL] = h5py.ExternalLink("no-such-file.h5", "/x")
    return "is an external link"


def h5_soft_link_array(f, folder):
    f.create_dataset("elsewhere", data=sample_arrays()[KERNEL])
    del f["arrays/" + KERNEL]
    f["arrays/" + KERNEL] = h5py.SoftLink("/elsewhere")
    return "member 'arrays/dense/kernel' is a soft link"


def h5_soft_link_manifest(f, folder):
    f.move(MANIFEST, "m")
    f[MANIFEST] = h5py.SoftLink("/m")
    return "member 'manifest.json' is a soft link"


def h5_external_storage(f, folder):
    """HDF5 external raw storage: the dataset's bytes live in another file (its checksum still holds)."""
    raw = raw_sibling(folder)
    del f["arrays/" + KERNEL]
    f.create_dataset("arrays/" + KERNEL, shape=(16, 4), dtype="<f4", external=[(raw, 0, 256)])
    return r"member 'arrays/dense/kernel' is stored in 1 other file\(s\) \(HDF5 external storage\)"


def h5_external_storage_dev_zero(f, folder):
    """Gigabytes declared from /dev/zero (a 2 kB file made the first-round reader allocate 2.5 GB)."""
    count = 1 << 29
    manifest = json.loads(f[MANIFEST][()].tobytes())
    manifest["arrays"]["zeros"] = {"shape": [count], "dtype": "float32", "sha256": "0" * 64}
    del f[MANIFEST]
    f.create_dataset(MANIFEST, data=np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8))
    f.create_dataset("arrays/zeros", shape=(count,), dtype="<f4", external=[("/dev/zero", 0, 4 * count)])
    return "member 'arrays/zeros' is stored in 1 other file"


def h5_external_storage_manifest(f, folder):
    path = os.path.join(str(folder), "manifest.raw")
    text = f[MANIFEST][()].tobytes()
    with open(path, "wb") as out:
        out.write(text)
    del f[MANIFEST]
    f.create_dataset(MANIFEST, shape=(len(text),), dtype=np.uint8, external=[(path, 0, len(text))])
    return "member 'manifest.json' is stored in 1 other file"


def h5_virtual_dataset(f, folder):
    source = other_file(folder)
    layout = h5py.VirtualLayout(shape=(16, 4), dtype="<f4")
    layout[:] = h5py.VirtualSource(source, "x", shape=(16, 4))
    del f["arrays/" + KERNEL]
    f.create_virtual_dataset("arrays/" + KERNEL, layout)
    return "member 'arrays/dense/kernel' is stored as a virtual dataset"


def h5_chunked_array(f, folder):
    del f["arrays/" + KERNEL]
    f.create_dataset("arrays/" + KERNEL, data=sample_arrays()[KERNEL], chunks=(4, 4))
    return "member 'arrays/dense/kernel' is stored chunked;"


def h5_compressed_array(f, folder):
    del f["arrays/" + KERNEL]
    f.create_dataset("arrays/" + KERNEL, data=sample_arrays()[KERNEL], compression="gzip", shuffle=True,
                     fletcher32=True)
    return r"is stored chunked with filters \(shuffle, deflate, fletcher32\)"


def h5_compressed_manifest(f, folder):
    """110 kB of gzip made 110 MB of manifest in the first round: refused before it is inflated."""
    text = f[MANIFEST][()].tobytes()
    del f[MANIFEST]
    f.create_dataset(MANIFEST, data=np.frombuffer(text, dtype=np.uint8), compression="gzip")
    return r"member 'manifest.json' is stored chunked with filters \(deflate\)"


def h5_compact_array(f, folder):
    from h5py import h5d, h5p, h5s, h5t
    del f["arrays/" + KERNEL]
    plist = h5p.create(h5p.DATASET_CREATE)
    plist.set_layout(h5d.COMPACT)
    ds = h5d.create(f["arrays/dense"].id, b"kernel", h5t.IEEE_F32LE, h5s.create_simple((16, 4)), plist)
    ds.write(h5s.ALL, h5s.ALL, sample_arrays()[KERNEL])
    return "member 'arrays/dense/kernel' is stored compact"


def h5_array_linked_twice(f, folder):
    f["arrays/dense/alias"] = f["arrays/" + KERNEL]
    return "is linked under 2 names"


def h5_attribute_on_an_array(f, folder):
    f["arrays/" + KERNEL].attrs["note"] = np.arange(3)
    return "member 'arrays/dense/kernel' has attributes"


def h5_attribute_on_the_root(f, folder):
    f.attrs["note"] = "hello"
    return "root group has attributes"


def h5_named_datatype(f, folder):
    f["arrays/dtype"] = np.dtype("<f4")
    return "member 'arrays/dtype' is an HDF5 object of type"


def h5_undeclared_empty_group(f, folder):
    f.create_group("arrays/hidden")
    return "undeclared member.*'hidden'"


def h5_undeclared_group_at_the_top(f, folder):
    f.create_group("extras/more")
    return "undeclared member.*'extras'"


H5_CASES = [
    h5_external_link_array, h5_external_link_absolute, h5_external_link_manifest, h5_external_link_missing_target,
    h5_soft_link_array, h5_soft_link_manifest, h5_external_storage, h5_external_storage_dev_zero,
    h5_external_storage_manifest, h5_virtual_dataset, h5_chunked_array, h5_compressed_array,
    h5_compressed_manifest, h5_compact_array, h5_array_linked_twice, h5_attribute_on_an_array,
    h5_attribute_on_the_root, h5_named_datatype, h5_undeclared_empty_group, h5_undeclared_group_at_the_top,
]


@pytest.mark.parametrize("build", H5_CASES, ids=[c.__name__[3:].replace("_", "-") for c in H5_CASES])
def test_h5_that_reads_elsewhere_or_is_not_as_written_is_refused(tmp_path, build):
    path = write_sample(tmp_path, "h5")
    with h5py.File(path, "a") as f:
        expected = build(f, tmp_path)
    started = time.time()
    for arrays in (True, False):        # import and inspect alike
        assert re.search(expected, refused(path, arrays))
    assert time.time() - started < 10


def test_h5_external_link_with_matching_data_was_the_attack(tmp_path):
    """Guard for the case above: the linked file's data matches every checksum, so only the link
    itself can be what the reader refuses (h5py, following it, reads the bundle's very kernel)."""
    path = write_sample(tmp_path, "h5")
    with h5py.File(path, "a") as f:
        h5_external_link_array(f, tmp_path)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["arrays/" + KERNEL][()], sample_arrays()[KERNEL])


@pytest.mark.parametrize("attributes,data", [
    pytest.param(0o120777 << 16, b"/etc/passwd", id="symlink-to-etc-passwd"),
    pytest.param(0o120777 << 16, None, id="symlink-with-the-array-bytes"),
    pytest.param((0o040755 << 16) | 0x10, None, id="folder"),
    pytest.param(0o010644 << 16, None, id="fifo"),
])
@pytest.mark.parametrize("member", ["array", "manifest"])
def test_npz_member_marked_as_a_link_or_non_file_is_refused(tmp_path, attributes, data, member):
    """The zip counterpart of a link: a member whose attributes say symbolic link (or folder, fifo), which
    unzip would create as such. The reader never extracts or follows anything, but such a file means
    something else to other tools, so it is refused whatever its bytes (even the right array's)."""
    import zipfile
    path = write_sample(tmp_path, "npz")
    ed = NpzEdit(path)
    ed.save()
    members = ed.members
    target = KERNEL + ".npy" if member == "array" else "manifest.json"
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            if name == target:
                info.external_attr = attributes
                content = content if data is None else data
            zf.writestr(info, content)
    assert "non-file" in refused(path)


def test_npz_members_written_by_zipfile_with_plain_file_modes_are_read(tmp_path):
    import zipfile
    path = write_sample(tmp_path, "npz")
    ed = NpzEdit(path)
    ed.save()
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in ed.members.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, content)
    read_bundle(path)


# ============================================================================ .npz: ambiguous zips

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")


def build_zip(members, local=None, central=None, end=None, zip64=None, before=b"", between=None,
              after_members=b"", after_cd=b"", after=b"", shift_offsets=True):
    """A zip archive of members [(name, data)] written byte by byte, every field overridable:
    local / central {member index: {field: value}} (fields: name, flags, method, crc, size, csize, usize,
    extra, offset, comment), end {field: value} (count_here, count, cd_size, cd_offset, comment_len),
    zip64 (None, or {field: value} for a zip64 end record and locator: count_here, count, cd_size,
    cd_offset, at), and bytes put before the first member, between members ({index: bytes before
    member index}), after the members, between the central directory and the end record, after it all.
    With shift_offsets=False the offsets are computed as if `before` were not there."""
    local, central, between = local or {}, central or {}, between or {}
    out = bytearray(before)
    shift = 0 if shift_offsets else len(before)
    offsets = []
    for i, (name, data) in enumerate(members):
        out += between.get(i, b"")
        over = local.get(i, {})
        offsets.append(len(out) - shift)
        raw_name = over.get("name", name.encode("utf-8"))
        extra = over.get("extra", b"")
        out += _LOCAL.pack(b"PK\x03\x04", 20, 0, over.get("flags", 0), over.get("method", 0), 0, 0x21,
                           over.get("crc", zlib.crc32(data)), over.get("csize", over.get("size", len(data))),
                           over.get("usize", over.get("size", len(data))), len(raw_name), len(extra))
        out += raw_name + extra + data
    out += after_members
    cd_offset = len(out) - shift
    for i, (name, data) in enumerate(members):
        over = central.get(i, {})
        raw_name = over.get("name", name.encode("utf-8"))
        extra, comment = over.get("extra", b""), over.get("comment", b"")
        out += _CENTRAL.pack(b"PK\x01\x02", 20, 3, 20, 0, over.get("flags", 0), over.get("method", 0), 0, 0x21,
                             over.get("crc", zlib.crc32(data)), over.get("csize", over.get("size", len(data))),
                             over.get("usize", over.get("size", len(data))), len(raw_name), len(extra),
                             len(comment), 0, 0, 0, over.get("offset", offsets[i]))
        out += raw_name + extra + comment
    cd_size = len(out) - shift - cd_offset
    out += after_cd
    values = {"count_here": len(members), "count": len(members), "cd_size": cd_size, "cd_offset": cd_offset,
              "comment_len": 0}
    if zip64 is not None:
        z = dict(values, at=len(out) - shift)
        z.update(zip64)
        out += _ZIP64_END.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, z["count_here"], z["count"], z["cd_size"],
                               z["cd_offset"])
        out += _ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, z["at"], 1)
    values.update(end or {})
    out += _END.pack(b"PK\x05\x06", 0, 0, values["count_here"], values["count"], values["cd_size"],
                     values["cd_offset"], values["comment_len"])
    return bytes(out + after)


def sample_members(tmp_path):
    """The sample bundle's members, [(name, data)], in the writer's order (the manifest last)."""
    return list(NpzEdit(write_sample(tmp_path, "npz", name="source")).members.items())


def zip64_field(*values):
    return struct.pack("<HH", 1, 8 * len(values)) + struct.pack("<%dQ" % len(values), *values)


def other_manifest(members):
    manifest = json.loads(dict(members)[MANIFEST])
    manifest["model_name"] = "someone-else"
    return json.dumps(manifest).encode()


KERNEL_AT = 0           # the kernel is the first member, the manifest the last (index 4)


def duplicate_manifest(m):
    return dict(members=m + [(MANIFEST, other_manifest(m))]), "lists member 'manifest.json' twice"


def duplicate_array(m):
    return dict(members=m[:-1] + [(KERNEL + ".npy", m[KERNEL_AT][1])] + m[-1:]), \
        "lists member 'dense/kernel.npy' twice"


def end_count_too_high(m):
    return dict(members=m, end={"count": 6, "count_here": 6}), \
        "end record counts 6 members, the central directory lists 5"


def end_count_too_low(m):
    return dict(members=m, end={"count": 4, "count_here": 4}), "lists more members than its end record counts"


def end_counts_disagree(m):
    return dict(members=m, end={"count_here": 4}), r"entry counts disagree \(4 on this disk, 5 in all\)"


def local_name_differs(m):
    return dict(members=m, local={KERNEL_AT: {"name": b"dense/kernex.npy"}}), \
        "member 'dense/kernel.npy' is named b'dense/kernex.npy' in its local header"


def local_size_differs(m):
    return dict(members=m, local={KERNEL_AT: {"size": len(m[KERNEL_AT][1]) - 64}}), \
        "member 'dense/kernel.npy' is named|local header and the central directory disagree"


def local_crc_differs(m):
    return dict(members=m, local={KERNEL_AT: {"crc": 1234}}), "local header and the central directory disagree"


def local_flags_differ(m):
    return dict(members=m, local={KERNEL_AT: {"flags": 0x800}}), "local header and the central directory disagree"


def two_names_one_member(m):
    """A second central directory name for the kernel's local header: two members share its bytes."""
    return dict(members=m, central={1: {"offset": 0}}), "members overlapping member 'dense/bias.npy'"


def hidden_member():
    """A local header and data of a member the central directory does not list."""
    return build_zip([("hidden.npy", b"smuggled")]).split(b"PK\x01\x02")[0]


def data_before_the_first_member(m):
    return dict(members=m, before=hidden_member()), "data before its first member 'dense/kernel.npy'"


def data_prepended_offsets_unchanged(m):
    """Data before an unchanged zip (zipfile accepts it, shifting every offset by the data's length)."""
    return dict(members=m, before=hidden_member(), shift_offsets=False), "central directory .* does not end where"


def script_prepended(m):
    """A self-extracting stub before the zip: not even a zip's first bytes."""
    return dict(members=m, before=b"#!/bin/sh\n" * 10), "not a bundle"


def data_between_members(m):
    return dict(members=m, between={2: b"hidden"}), "unlisted data before member 'reference/x.npy'"


def data_after_the_last_member(m):
    return dict(members=m, after_members=b"hidden"), "unlisted data after its last member"


def data_inside_the_central_directory_area(m):
    return dict(members=m, after_cd=b"hidden"), "central directory .* does not end where its end record begins"


def data_after_the_end_record(m):
    return dict(members=m, after=b"hidden"), "does not end with the zip end record"


def zip_comment(m):
    return dict(members=m, end={"comment_len": 7}, after=b"comment"), "does not end with the zip end record"


def zip64_end_count_disagrees(m):
    return dict(members=m, zip64={"count": 6, "count_here": 6}), "disagree on the entry count"


def zip64_end_offset_disagrees(m):
    return dict(members=m, zip64={"cd_offset": 64}), "disagree on the central directory offset"


def zip64_end_with_sentinels_pointing_elsewhere(m):
    return dict(members=m, end={"cd_offset": 0xFFFFFFFF, "cd_size": 0xFFFFFFFF}, zip64={"cd_offset": 64}), \
        "central directory .* does not end where"


def zip64_locator_elsewhere(m):
    return dict(members=m, zip64={"at": 0}), "zip64 end record is not where its locator says"


def zip64_central_size_disagrees(m):
    """The central directory's 32-bit size says one thing and its zip64 field another."""
    n = len(m[KERNEL_AT][1])
    return dict(members=m, central={KERNEL_AT: {"extra": zip64_field(n + 64, n + 64)}}), \
        "zip64 sizes that do not match its 32-bit fields"


def zip64_central_sentinel_size_differs(m):
    n = len(m[KERNEL_AT][1])
    return dict(members=m, central={KERNEL_AT: {"size": 0xFFFFFFFF, "extra": zip64_field(n - 64, n - 64)}}), \
        "local header and the central directory disagree"


def zip64_local_size_disagrees(m):
    """Python's force_zip64 form (both sizes in the zip64 field) saying other than the 32-bit fields."""
    n = len(m[KERNEL_AT][1])
    return dict(members=m, local={KERNEL_AT: {"extra": zip64_field(n - 64, n - 64)}}), \
        "zip64 sizes that do not match its 32-bit fields"


def zip64_field_missing(m):
    return dict(members=m, central={KERNEL_AT: {"size": 0xFFFFFFFF}}), "zip64 sizes that do not match"


def damaged_extra_field(m):
    return dict(members=m, central={KERNEL_AT: {"extra": b"\x35\xd9\x40\x00abc"}}), "damaged zip extra field"


def compressed_member(m):
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(m[KERNEL_AT][1]) + packer.flush()
    crc = zlib.crc32(m[KERNEL_AT][1])
    over = {"method": 8, "csize": len(packed), "usize": len(m[KERNEL_AT][1]), "crc": crc}
    return dict(members=[(m[KERNEL_AT][0], packed)] + m[1:], local={KERNEL_AT: over}, central={KERNEL_AT: over}), \
        "member 'dense/kernel.npy' is compressed; bundle members are stored uncompressed"


def encrypted_member(m):
    return dict(members=m, local={KERNEL_AT: {"flags": 1}}, central={KERNEL_AT: {"flags": 1}}), \
        r"uses zip features bundles never use \(flags 0x1"


def data_descriptor_member(m):
    return dict(members=m, local={KERNEL_AT: {"flags": 8}}, central={KERNEL_AT: {"flags": 8}}), \
        r"uses zip features bundles never use \(flags 0x8"


def member_comment(m):
    return dict(members=m, central={KERNEL_AT: {"comment": b"hello"}}), "has a comment"


def non_utf8_name(m):
    return dict(members=m + [("x", b"")], local={5: {"name": b"\xff.npy", "flags": 0x800}},
                central={5: {"name": b"\xff.npy", "flags": 0x800}}), "member name is not valid UTF-8"


ZIP_CASES = [
    duplicate_manifest, duplicate_array, end_count_too_high, end_count_too_low, end_counts_disagree,
    local_name_differs, local_size_differs, local_crc_differs, local_flags_differ, two_names_one_member,
    data_before_the_first_member, data_prepended_offsets_unchanged, script_prepended, data_between_members,
    data_after_the_last_member,
    data_inside_the_central_directory_area, data_after_the_end_record, zip_comment, zip64_end_count_disagrees,
    zip64_end_offset_disagrees, zip64_end_with_sentinels_pointing_elsewhere, zip64_locator_elsewhere,
    zip64_central_size_disagrees, zip64_central_sentinel_size_differs, zip64_local_size_disagrees, zip64_field_missing,
    damaged_extra_field, compressed_member, encrypted_member, data_descriptor_member, member_comment, non_utf8_name,
]


@pytest.mark.parametrize("build", ZIP_CASES, ids=[c.__name__.replace("_", "-") for c in ZIP_CASES])
def test_ambiguous_zip_is_refused(tmp_path, build):
    spec, expected = build(sample_members(tmp_path))
    path = str(tmp_path / "hostile.npz")
    with open(path, "wb") as f:
        f.write(build_zip(**spec))
    for arrays in (True, False):
        message = refused(path, arrays)
        assert re.search(expected, message), message


@pytest.mark.parametrize("spec", [
    pytest.param({}, id="plain"),
    pytest.param({"zip64": {}}, id="with-zip64-end-records"),
    pytest.param({"zip64": {}, "end": {"count": 0xFFFF, "count_here": 0xFFFF, "cd_size": 0xFFFFFFFF,
                                       "cd_offset": 0xFFFFFFFF}}, id="zip64-end-records-with-sentinels"),
    pytest.param({"local": {KERNEL_AT: {"extra": struct.pack("<HH", 0xD935, 3) + b"\0\0\0"}}}, id="aligned-member"),
    pytest.param("python-force-zip64", id="python-force-zip64-local-fields"),
    pytest.param("sentinel-sizes", id="zip64-sizes-behind-sentinels"),
    pytest.param("sentinel-offset", id="zip64-offset-behind-a-sentinel"),
])
def test_unambiguous_zip_forms_are_read(tmp_path, spec):
    """The forms the writer and other zip writers use for the same content stay readable: the build_zip
    baseline (which proves the hostile cases differ only in what they name), zip64 end records (with
    the 32-bit fields exact or sentinels), an alignment extra field, Python's force_zip64 local fields,
    zip64 sizes and offsets behind 32-bit sentinels."""
    members = sample_members(tmp_path)
    n = len(members[KERNEL_AT][1])
    if spec == "python-force-zip64":
        spec = {"local": {KERNEL_AT: {"extra": zip64_field(n, n)}}}
    elif spec == "sentinel-sizes":
        spec = {"local": {KERNEL_AT: {"size": 0xFFFFFFFF, "extra": zip64_field(n, n)}},
                "central": {KERNEL_AT: {"size": 0xFFFFFFFF, "extra": zip64_field(n, n)}}}
    elif spec == "sentinel-offset":         # as zipfile writes a member that starts past 4 GiB
        spec = {"central": {1: {"offset": 0xFFFFFFFF, "extra": zip64_field(30 + len(members[0][0]) + n)}}}
    path = str(tmp_path / "fine.npz")
    with open(path, "wb") as f:
        f.write(build_zip(members, **spec))
    np.testing.assert_array_equal(read_bundle(path).arrays[KERNEL], sample_arrays()[KERNEL])


def test_h5_counterpart_of_a_duplicate_member(tmp_path):
    """HDF5 has no duplicate names; its way of showing one dataset under two names is a second hard link,
    refused above (h5-array-linked-twice). Here: a second name for the manifest."""
    path = write_sample(tmp_path, "h5")
    with h5py.File(path, "a") as f:
        f["manifest2.json"] = f[MANIFEST]
    assert "member 'manifest.json' is linked under 2 names" in refused(path) or \
        "member 'manifest2.json' is linked under 2 names" in refused(path)


# ============================================================================ hostile names in messages

EVIL = u"evil\n\x1b[31mimport_caffe: all good, exit 0\r\u202e" + "x" * 10000 + u"\u202e"


@pytest.mark.parametrize("container", ["npz", "h5"])
def test_a_hostile_member_name_is_escaped_and_elided(tmp_path, container):
    path = write_sample(tmp_path, container)
    ed = NpzEdit(path) if container == "npz" else H5Edit(path)
    if container == "npz":
        ed.put_raw(EVIL + ".npy", b"")
    else:
        ed.f.create_dataset("arrays/" + EVIL[:200], data=np.ones(2, dtype=np.float32))
    ed.save()
    message = refused(path)
    assert "undeclared member" in message and "'evil\\n\\x1b[31mimport_caffe: all good," in message


@pytest.mark.parametrize("container", ["npz", "h5"])
def test_a_hostile_file_name_is_escaped(tmp_path, container):
    path = write_sample(tmp_path, container)
    evil = str(tmp_path / ("a\nb\x1b[0m." + container))
    os.rename(path, evil)
    with open(evil, "r+b") as f:       # a damaged bundle under that name
        f.truncate(os.path.getsize(evil) - 3)
    with pytest.raises(BundleError) as info:
        read_bundle(evil)
    message = str(info.value)
    assert "a\\x0ab\\x1b[0m." + container in message and message.isprintable()


@pytest.mark.parametrize("container", ["npz", "h5"])
def test_a_long_hostile_manifest_value_is_bounded(tmp_path, container):
    """The last line of defence: whatever a validation message quotes, read_bundle's message is one line
    of bounded length."""
    path = write_sample(tmp_path, container)
    ed = NpzEdit(path) if container == "npz" else H5Edit(path)
    manifest = ed.manifest()
    manifest["nodes"][0]["source_type"] = EVIL * 20
    manifest["nodes"][0]["inputs"] = [EVIL * 20]
    ed.set_manifest(manifest)
    ed.save()
    refused(path)
