"""The .h5 container: an HDF5 file with a ``manifest.json`` byte dataset and ``arrays/<array key>``
float32 datasets, each stored contiguous in the file itself, as h5py writes them by default.

An HDF5 file can take data from elsewhere: external links and soft links, external raw storage (a
dataset's bytes in another file), virtual datasets (made of other datasets or files), and chunked,
compressed or filtered datasets (whose size is not what the file holds). The reader walks the whole file
with HDF5's low-level API first (no link is followed), refuses all of those from their creation
properties before any data is read, and reads datasets through the objects the walk opened, never by
path. The HDF5 library can crash on a corrupt file, so probe_in_child does the same walk and every read
in a forked child first; the manifest is parsed once, by the caller, after that."""
import os
import signal

import numpy as np

from .. import forked
from ..errors import BundleError
from .integrity import F32, same_members
from .manifest import MANIFEST_MEMBER, check_manifest_size
from ..messages import clip, corrupt, shown, where

H5_MAGIC = b"\x89HDF\r\n\x1a\n"
ARRAYS = "arrays"
MAX_OBJECTS = 1 << 20


def _fail(path, text):
    raise BundleError("%s: %s" % (where(path), text))


class Contents(object):
    """What the walk found: the manifest dataset (or 'group'), the array datasets by key, the empty
    groups under arrays/ by key, and the other top-level names."""

    def __init__(self):
        self.manifest = None
        self.arrays = {}
        self.empty_groups = []
        self.extra = []


def walk(path, f):
    """Contents of the open h5py file f, once every link is a hard link, every object a group or a
    dataset linked once and without attributes, and every dataset stored contiguous in the file."""
    from h5py import h5a, h5g, h5l, h5o
    root = h5g.open(f.id, b"/")
    if h5a.get_num_attrs(root):
        _fail(path, "the file's root group has attributes, which bundles never have")
    out = Contents()
    stack = [(root, "")]
    seen = 0
    while stack:
        group, prefix = stack.pop()
        names = list(group)
        if prefix.startswith(ARRAYS + "/") and prefix != ARRAYS + "/" and not names:
            out.empty_groups.append(prefix[len(ARRAYS) + 1:-1])
        for raw in names:
            seen += 1
            if seen > MAX_OBJECTS:
                _fail(path, "holds more than %d HDF5 objects" % MAX_OBJECTS)
            name = prefix + raw.decode("utf-8", "replace")
            kind = group.links.get_info(raw).type
            if kind != h5l.TYPE_HARD:
                _link_refused(path, group, raw, name, kind)
            obj = h5o.open(group, raw)
            info = h5o.get_info(obj)
            if info.rc != 1:
                _fail(path, "member %s is linked under %d names, which bundles never do" % (shown(name), info.rc))
            if h5a.get_num_attrs(obj):
                _fail(path, "member %s has attributes, which bundles never have" % shown(name))
            if info.type == h5o.TYPE_GROUP:
                stack.append((obj, name + "/"))
                if name == MANIFEST_MEMBER:
                    out.manifest = "group"
                elif not prefix and name != ARRAYS:
                    out.extra.append(name)
            elif info.type == h5o.TYPE_DATASET:
                _check_storage(path, name, obj)
                _place(out, name, obj)
            else:
                _fail(path, "member %s is an HDF5 object of type %d (a named datatype?), which bundles never have"
                            % (shown(name), info.type))
    return out


def _place(out, name, dataset):
    if name == MANIFEST_MEMBER:
        out.manifest = dataset
    elif name.startswith(ARRAYS + "/"):
        out.arrays[name[len(ARRAYS) + 1:]] = dataset
    elif "/" not in name:
        out.extra.append(name)      # (what lies deeper in an undeclared group goes with it)


def _link_refused(path, group, raw, name, kind):
    from h5py import h5l
    try:
        target = group.links.get_val(raw)
    except Exception:       # a user-defined link class: nothing to show
        target = None
    what = {h5l.TYPE_SOFT: "a soft link", h5l.TYPE_EXTERNAL: "an external link"}.get(kind, "a user-defined link")
    if isinstance(target, tuple):
        target = b":".join(target)
    _fail(path, "member %s is %s%s; a bundle never reads other files or follows links"
                % (shown(name), what, " (to %s)" % shown(target, 60) if target else ""))


def _check_storage(path, name, dataset):
    """A dataset stored as bundles are written, from its creation properties (nothing of it is read)."""
    from h5py import h5d
    plist = dataset.get_create_plist()
    layout = plist.get_layout()
    filters = [clip(plist.get_filter(i)[3].decode("ascii", "replace"), 20) for i in range(plist.get_nfilters())]
    if plist.get_external_count():
        how = "in %d other file(s) (HDF5 external storage)" % plist.get_external_count()
    elif layout == h5d.CONTIGUOUS and not filters:
        return
    elif layout == getattr(h5d, "VIRTUAL", -1):
        how = "as a virtual dataset (data from other datasets or files)"
    else:
        how = {h5d.CHUNKED: "chunked", h5d.COMPACT: "compact"}.get(layout, "with layout %d" % layout)
        how += " with filters (%s)" % ", ".join(filters) if filters else ""
    _fail(path, "member %s is stored %s; a bundle's datasets are contiguous, unfiltered, in this file "
                "(nothing was read)" % (shown(name), how))


def stored_in_full(dataset, file_size):
    """Every byte of the dataset's data present in the file: its storage size is that of its shape and
    dtype (a dataset never written would read as its fill value from no bytes at all)."""
    nbytes = dataset.dtype.itemsize * int(np.prod(dataset.shape, dtype=np.int64))
    if dataset.get_storage_size() != nbytes:
        return False
    offset = dataset.get_offset()
    return nbytes == 0 or (offset is not None and offset + nbytes <= file_size)


class H5Reader(object):
    def __init__(self, path):
        import h5py
        self.path = path
        self.f = h5py.File(path, "r")
        try:
            self.size = os.path.getsize(path)
            self.contents = walk(path, self.f)
        except BaseException:
            self.f.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def undeclared(self, declared):
        c = self.contents
        return [k for k in list(c.arrays) + c.empty_groups if k not in declared] + c.extra

    def manifest_bytes(self):
        from h5py import h5s, h5t
        ds = self.contents.manifest
        if ds is None:
            return None
        if isinstance(ds, str) or not ds.get_type().equal(h5t.STD_U8LE) or len(ds.shape) != 1:
            _fail(self.path, "the manifest dataset must be a 1-D uint8 byte string")
        check_manifest_size(self.path, ds.shape[0])
        if not stored_in_full(ds, self.size):
            _fail(self.path, "the manifest dataset is not stored contiguously in full, as bundles are written")
        out = np.empty(ds.shape, dtype=np.uint8)
        if out.size:
            ds.read(h5s.ALL, h5s.ALL, out)
        return out.tobytes()

    def read(self, key, spec):
        from h5py import h5s
        ds = self.contents.arrays.get(key)
        if ds is None:
            _fail(self.path, "array %s is declared in the manifest but missing" % shown(key))
        self.check_array(key, ds)
        if list(ds.shape) != spec["shape"]:
            _fail(self.path, "array %s has shape %s, the manifest declares %s"
                             % (shown(key), shown(list(ds.shape)), shown(spec["shape"])))
        out = np.empty(ds.shape, dtype=F32)
        if out.size:
            ds.read(h5s.ALL, h5s.ALL, out)
        return out

    def check_array(self, key, ds):
        from h5py import h5t
        if not ds.get_type().equal(h5t.IEEE_F32LE):
            try:
                found = clip(ds.dtype, 40)
            except Exception:   # a type numpy has no name for
                found = "an HDF5 type numpy cannot name"
            _fail(self.path, "array %s has dtype %s, expected float32" % (shown(key), found))
        if not stored_in_full(ds, self.size):
            _fail(self.path, "array %s is not stored contiguously in full, as bundles are written" % shown(key))


def probe(path, arrays):
    """In the child: the walk, the manifest's bytes (not parsed) and, with arrays, every float32 dataset
    under arrays/ read in full (one at a time): a superset of what the parent then reads."""
    try:
        with H5Reader(path) as src:
            src.manifest_bytes()
            if not arrays:
                return
            for key, ds in src.contents.arrays.items():
                try:
                    src.check_array(key, ds)
                except BundleError:     # never read by the parent either: it refuses the file
                    continue
                src.read(key, {"shape": list(ds.shape)})
    except BundleError:
        raise
    except Exception as exc:
        raise corrupt(path, exc)


def probe_in_child(path, arrays):
    """The HDF5 library can crash (SIGSEGV) on a corrupt file, or be left in a state that breaks it for
    the rest of the process, so an HDF5 bundle is probed in a forked child first: a child killed by a
    signal means a corrupt file, and a child that refuses the file reports its message."""
    if not forked.available():
        return
    result = forked.run_forked(lambda: probe(path, arrays))
    if result.signal is not None:
        try:
            name = signal.Signals(result.signal).name
        except ValueError:
            name = "signal %d" % result.signal
        _fail(path, "corrupt HDF5 file (the HDF5 library crashed reading it: %s)" % name)
    if result.exit_code != 0:
        if result.error_type == "BundleError" and result.message:
            raise BundleError(result.message)
        _fail(path, "the HDF5 file could not be read (exit status %d)" % result.exit_code)


# ----------------------------------------------------------------------------------------- writing

def write_h5(tmp, arrays, digests, manifest_text, shown_progress):
    import h5py
    with h5py.File(tmp, "w") as f:
        group = f.create_group(ARRAYS)
        for key, arr in arrays.items():
            digests.check()
            group.create_dataset(key, data=arr)
            shown_progress.advance(arr.nbytes)
        text = manifest_text(digests.wait())
        f.create_dataset(MANIFEST_MEMBER, data=np.frombuffer(text, dtype=np.uint8))
    return text


def verify_h5(tmp, text, table):
    """The HDF5 file just written passes the reader's walk, holds exactly the datasets written, each
    stored in full with the dtype and shape meant, and its manifest reads back byte for byte."""
    with H5Reader(tmp) as src:
        c = src.contents
        found = ([MANIFEST_MEMBER] if c.manifest is not None else []) + [ARRAYS + "/" + k for k in c.arrays]
        same_members(tmp, found + c.empty_groups + c.extra, [MANIFEST_MEMBER] + [ARRAYS + "/" + k for k in table])
        if src.manifest_bytes() != text:
            _fail(tmp, "the manifest reads back differently from what was written")
        for key, spec in table.items():
            ds = c.arrays[key]
            try:
                src.check_array(key, ds)
            except BundleError:
                ds = None
            if ds is None or list(ds.shape) != spec["shape"]:
                _fail(tmp, "array %s is not stored as written" % shown(key))
