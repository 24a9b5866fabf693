"""The hidden staging folder an import writes into before its files get their final names, and the
stem those names are made of (file_stem).

Its name carries this machine's name and the process id, `.tf2caffe-<host>-<pid>-<random>`, so a later
import into the same folder can tell a folder left behind by a killed import (same machine, process
gone) from one in use, and removes the former. Folders of other machines are left alone.
"""
import hashlib
import os
import re
import shutil
import socket
import tempfile

PREFIX = ".tf2caffe-"


def _host():
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname() or "host")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(out_dir):
    """Remove the staging folders in out_dir of this machine's imports that no longer run."""
    pattern = re.compile(re.escape(PREFIX + _host()) + r"-(\d+)-")
    for name in os.listdir(out_dir):
        match = pattern.match(name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)


def make(out_dir):
    """A new staging folder in out_dir (after sweeping the leftovers of killed imports)."""
    sweep(out_dir)
    return tempfile.mkdtemp(prefix="%s%s-%d-" % (PREFIX, _host(), os.getpid()), dir=out_dir)


# The longest name an import gives a file is <stem>.caffemodel.h5; a file name holds at most 255 bytes
# (ext4, XFS, btrfs, tmpfs), so a stem is kept within 255 - 14 bytes.
LONGEST_SUFFIX = ".caffemodel.h5"
MAX_STEM = 255 - len(LONGEST_SUFFIX)
_DIGEST = 16        # hex digits of the name's sha256 that end a shortened stem


def file_stem(name, log=None, limit=MAX_STEM):
    """The stem of the output files for `name` (a model name from the bundle, or your prototxt's):
    only [A-Za-z0-9_.-] (anything else becomes '_', so the stem is ASCII: one byte a character), no
    leading dot, never empty. A stem longer than MAX_STEM is cut and ends in '-' and a digest of the
    whole name, so two long names that share their beginning still get different files (said to `log`).
    limit: another bound than MAX_STEM."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "model"
    if len(stem) <= limit:
        return stem
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    keep = limit - _DIGEST - 1
    if log is not None:
        log("a name of %d characters is too long for a file name: the files are named after its first %d and "
            "a digest of it (...-%s)" % (len(name), keep, digest))
    return "%s-%s" % (stem[:keep], digest)


# --keep-on-failure: the model files of a conversion that failed verification are published under names
# that say so, <stem>.failed-verification.prototxt and the like (never a verified conversion's names)
FAILED_MARK = ".failed-verification"
_SUFFIXES = (".caffemodel.h5", ".caffemodel", ".prototxt")


def failed_name(name):
    """The name `name` (an output file: <stem> + one of _SUFFIXES) gets when its conversion failed
    verification; within 255 bytes (the stem shortened as file_stem shortens it)."""
    suffix = next((s for s in _SUFFIXES if name.endswith(s)), os.path.splitext(name)[1])
    stem = name[:len(name) - len(suffix)] if suffix else name
    return file_stem(stem, limit=255 - len(FAILED_MARK) - len(suffix)) + FAILED_MARK + suffix
