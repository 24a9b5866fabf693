"""The zip archive of an .npz bundle, read strictly from its bytes (zipfile is not used to read it).

A zip file says what it holds twice (the central directory at its end, and a local header before each
member) and different zip readers trust different copies, so an archive whose copies disagree can show
one reader other content than another. A bundle's archive is accepted only if it is unambiguous, as the
writer writes it: its members and its central directory tile the file exactly (no data before the first
member, between members, inside the central directory or after the end record; no overlapping members;
no comment), every name is listed once, every local header agrees with its central directory entry
(name, flags, method, CRC-32, sizes), the end record's counts agree with each other and with the central
directory, zip64 fields are used only where a 32-bit field says so (and then agree), members are stored
(not compressed), not encrypted and without data descriptors. Extra fields are skipped, as every zip
reader does (the writer pads members with one to align their data), once they parse as fields.
"""
import collections
import struct

from ..errors import BundleError
from ..messages import shown, where

MAX_CENTRAL_DIRECTORY = 64 << 20    # ~400,000 members of ~150 bytes (name and alignment padding)
UTF8_NAME = 0x800                  # the only flag the writer sets (for a non-ASCII name)
_END = struct.Struct("<4s4H2LH")                # zip spec 4.3.16: 22 bytes, at the very end of the file
_ZIP64_LOCATOR = struct.Struct("<4sLQL")        # 4.3.15: 20 bytes, just before the end record
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")        # 4.3.14: 56 bytes (no extensible data)
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")      # 4.3.12: 46 bytes + name + extra + comment
_LOCAL = struct.Struct("<4s2B4HL2L2H")          # 4.3.7: 30 bytes + name + extra
_SENTINEL16, _SENTINEL32 = 0xFFFF, 0xFFFFFFFF

Member = collections.namedtuple("Member", "name offset data_offset size crc")


def _fail(path, text):
    raise BundleError("%s: %s" % (where(path), text))


def read_at(f, offset, size):
    f.seek(offset)
    return f.read(size)


def read_layout(path, f, file_size):
    """The archive's members in central directory order, each a Member (name, where its local header
    and its data start, its size and CRC-32), once the whole archive passed the checks above."""
    end_at = file_size - _END.size
    tail = read_at(f, end_at, _END.size) if end_at >= 0 else b""
    if len(tail) != _END.size or tail[:4] != b"PK\x05\x06":
        _fail(path, "corrupt or truncated zip archive: it does not end with the zip end record (the file is "
                    "cut short, or has a comment or other data after the archive)")
    _, disk, cd_disk, count_here, count, cd_size, cd_offset, comment = _END.unpack(tail)
    if disk or cd_disk:
        _fail(path, "the zip archive claims to span several disks")
    if count_here != count:
        _fail(path, "the zip end record's entry counts disagree (%d on this disk, %d in all)" % (count_here, count))
    if comment:
        _fail(path, "corrupt or truncated zip archive: its end record declares a comment of %d bytes past the "
                    "end of the file" % comment)
    cd_end = end_at
    locator = read_at(f, end_at - _ZIP64_LOCATOR.size, _ZIP64_LOCATOR.size) if end_at >= 20 else b""
    if locator[:4] == b"PK\x06\x07":
        count, cd_size, cd_offset, cd_end = _zip64_end(path, f, locator, end_at, (count, cd_size, cd_offset))
    if cd_offset + cd_size != cd_end:
        _fail(path, "corrupt zip archive: its central directory (%d bytes at offset %d) does not end where its "
                    "end record begins (offset %d)" % (cd_size, cd_offset, cd_end))
    if cd_size > MAX_CENTRAL_DIRECTORY:
        _fail(path, "the zip central directory of %d bytes is too large (at most %d MiB)"
                    % (cd_size, MAX_CENTRAL_DIRECTORY >> 20))
    entries = _central_directory(path, read_at(f, cd_offset, cd_size), cd_size, count)
    return _check_local_headers(path, f, entries, cd_offset)


def _zip64_end(path, f, locator, end_at, plain):
    _, disk, at, disks = _ZIP64_LOCATOR.unpack(locator)
    if disk or disks != 1 or at + _ZIP64_END.size != end_at - _ZIP64_LOCATOR.size:
        _fail(path, "the zip64 end record is not where its locator says, just before it (or spans disks)")
    record = read_at(f, at, _ZIP64_END.size)
    (sig, rest, _, _, disk, cd_disk, count_here, count, cd_size, cd_offset) = _ZIP64_END.unpack(record)
    if sig != b"PK\x06\x06" or rest != _ZIP64_END.size - 12 or disk or cd_disk:
        _fail(path, "the zip64 end record is damaged or has extensible data, which bundles never have")
    if count_here != count:
        _fail(path, "the zip64 end record's entry counts disagree (%d on this disk, %d in all)" % (count_here, count))
    for name, value, wide, sentinel in zip(("entry count", "central directory size", "central directory offset"),
                                           plain, (count, cd_size, cd_offset), (_SENTINEL16, _SENTINEL32, _SENTINEL32)):
        if value != sentinel and value != wide:
            _fail(path, "the zip end record and the zip64 end record disagree on the %s (%d and %d)"
                        % (name, value, wide))
    return count, cd_size, cd_offset, at


def _extra_fields(path, raw, owner):
    """{header id: data} of a zip extra field, which must parse as (id, size, data) fields, each id once."""
    fields = {}
    pos = 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            _fail(path, "member %s has a damaged zip extra field" % shown(owner))
        kind, size = struct.unpack_from("<HH", raw, pos)
        if pos + 4 + size > len(raw) or kind in fields:
            _fail(path, "member %s has a damaged zip extra field" % shown(owner))
        fields[kind] = raw[pos + 4:pos + 4 + size]
        pos += 4 + size
    return fields


def _widened(path, name, extra, values):
    """values with each 32-bit sentinel replaced from the zip64 extra field. Its standard form holds
    exactly the fields a sentinel marks; the form Python's zipfile writes in a local header with
    force_zip64 holds both sizes although they fit, and is accepted when it says the same as the 32-bit
    fields. Anything else would read differently in different zip readers."""
    wide = extra.get(1)
    needed = [i for i, v in enumerate(values) if v == _SENTINEL32]
    if wide is None and not needed:
        return values
    if wide is None or len(wide) % 8:
        _fail(path, "member %s has zip64 sizes that do not match its 32-bit fields" % shown(name))
    got = struct.unpack("<%dQ" % (len(wide) // 8), wide)
    values = list(values)
    if len(got) == len(needed):
        for n, i in enumerate(needed):
            values[i] = got[n]
        return values
    if len(got) <= len(values) and all(i < len(got) for i in needed) and \
            all(values[i] in (_SENTINEL32, got[i]) for i in range(len(got))):
        return list(got) + values[len(got):]
    _fail(path, "member %s has zip64 sizes that do not match its 32-bit fields" % shown(name))


def _central_directory(path, raw, cd_size, count):
    if len(raw) != cd_size:
        _fail(path, "corrupt or truncated zip archive: its central directory is cut short")
    entries = []
    names = set()
    pos = 0
    while pos < len(raw):
        if len(entries) == count:
            _fail(path, "the zip central directory lists more members than its end record counts (%d)" % count)
        if pos + _CENTRAL.size > len(raw) or raw[pos:pos + 4] != b"PK\x01\x02":
            _fail(path, "corrupt zip archive: damaged central directory entry %d" % len(entries))
        (_, _, made_on, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len, comment_len, disk, _,
         external, offset) = _CENTRAL.unpack_from(raw, pos)
        start = pos + _CENTRAL.size
        pos = start + name_len + extra_len + comment_len
        if pos > len(raw):
            _fail(path, "corrupt zip archive: damaged central directory entry %d" % len(entries))
        raw_name = raw[start:start + name_len]
        name = _decoded(path, raw_name, flags)
        if name in names:
            _fail(path, "the zip archive lists member %s twice" % shown(name))
        names.add(name)
        if flags & ~UTF8_NAME:
            _fail(path, "member %s uses zip features bundles never use (flags %#x: encryption or a data "
                        "descriptor)" % (shown(name), flags))
        if method != 0:
            _fail(path, "member %s is compressed; bundle members are stored uncompressed" % shown(name))
        if _not_a_file(made_on, external):
            _fail(path, "member %s is marked as a symbolic link, a folder or another non-file (attributes %#x); "
                        "bundle members are plain files" % (shown(name), external))
        if disk or comment_len:
            _fail(path, "member %s has a comment or another disk, which bundles never have" % shown(name))
        extra = _extra_fields(path, raw[start + name_len:start + name_len + extra_len], name)
        usize, csize, offset = _widened(path, name, extra, (usize, csize, offset))
        if usize != csize:
            _fail(path, "stored member %s declares %d bytes and %d bytes" % (shown(name), usize, csize))
        entries.append((name, raw_name, flags, crc, usize, offset))
    if len(entries) != count:
        _fail(path, "the zip end record counts %d members, the central directory lists %d" % (count, len(entries)))
    return entries


def _not_a_file(made_on, external):
    """Whether a member's external attributes mark it as anything but a plain file: an MS-DOS folder bit, or
    (made on Unix, zip spec 4.4.2) a file type other than a regular file, such as the symbolic link that
    unzip would create. The bundle reader reads members as bytes either way; refusing them keeps the file
    meaning one thing to every tool."""
    if external & 0x10:
        return True
    kind = (external >> 16) & 0o170000
    return made_on == 3 and kind not in (0, 0o100000)


def _decoded(path, raw_name, flags):
    try:
        return raw_name.decode("utf-8" if flags & UTF8_NAME else "cp437")
    except UnicodeDecodeError:
        _fail(path, "a zip member name is not valid UTF-8: %s" % shown(raw_name))


def _check_local_headers(path, f, entries, cd_offset):
    """Members from their local headers, which must agree with the central directory and follow each
    other from the start of the file to the central directory without gap or overlap."""
    by_offset = sorted(entries, key=lambda e: e[5])
    data = {}
    expected = 0
    for name, raw_name, flags, crc, size, offset in by_offset:
        if offset != expected:
            _fail(path, "%s member %s (at offset %d, expected %d)" % (
                "the zip archive has data before its first" if not data and offset > expected else
                "the zip archive has unlisted data before" if offset > expected else
                "the zip archive has members overlapping", shown(name), offset, expected))
        local = read_at(f, offset, _LOCAL.size)
        if len(local) != _LOCAL.size or local[:4] != b"PK\x03\x04":
            _fail(path, "corrupt or truncated zip archive: member %s has no local header" % shown(name))
        _, _, _, l_flags, l_method, _, _, l_crc, l_csize, l_usize, name_len, extra_len = _LOCAL.unpack(local)
        head = f.read(name_len + extra_len)
        if len(head) != name_len + extra_len:
            _fail(path, "corrupt or truncated zip archive: member %s is cut short" % shown(name))
        if head[:name_len] != raw_name:
            _fail(path, "member %s is named %s in its local header: the zip's two copies disagree"
                        % (shown(name), shown(head[:name_len])))
        extra = _extra_fields(path, head[name_len:], name)
        l_usize, l_csize = _widened(path, name, extra, (l_usize, l_csize))
        if (l_flags, l_method, l_crc, l_csize, l_usize) != (flags, 0, crc, size, size):
            _fail(path, "member %s: its local header and the central directory disagree (flags, method, CRC-32 "
                        "or sizes)" % shown(name))
        data[name] = offset + _LOCAL.size + name_len + extra_len
        expected = data[name] + size
    if expected != cd_offset:
        _fail(path, "%s (its members end at offset %d, its central directory starts at %d)" % (
            "the zip archive has unlisted data after its last member" if expected < cd_offset else
            "corrupt zip archive: its last member overlaps the central directory", expected, cd_offset))
    return [Member(name, offset, data[name], size, crc) for name, _, _, crc, size, offset in entries]
