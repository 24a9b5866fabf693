"""Integrity of a bundle's arrays: one block-wise pass computes an array's sha256 and checks that every
value is finite, for writing (worker threads beside the writer) and for reading (beside the reader)."""
import hashlib
import mmap
import os

import numpy as np

from ..errors import BundleError
from ..messages import shown, where

F32 = np.dtype("<f4")
CHUNK = 4 << 20
HASHERS = max(1, min(2, (os.cpu_count() or 2) - 1))    # the writing thread keeps a core busy too
CHECKERS = 2


def sha256_of(array):
    data = np.ascontiguousarray(array)
    return hashlib.sha256(memoryview(data).cast("B")).hexdigest()


def scan(arr):
    """(sha256_of(arr), whether every value is finite) in one pass over its bytes, a block at a time (each
    block is checked while the hash has it in the cache); stops at the first NaN or Inf (digest None)."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    digest = hashlib.sha256()
    step = CHUNK // F32.itemsize
    for start in range(0, flat.size, step):
        block = flat[start:start + step]
        digest.update(memoryview(block).cast("B"))
        if not np.isfinite(block).all():
            return None, False
    return digest.hexdigest(), True


def digest(key, arr):
    """sha256_of(arr), and a BundleError if it holds a NaN or Inf."""
    found, finite = scan(arr)
    if not finite:
        raise BundleError("array %s holds NaN or Inf values; refusing to write it" % shown(key))
    return found


class Digests(object):
    """digest() of every array, computed by worker threads while the writer writes them (in the same
    order). check() raises the first failure among those done (the writer stops early), wait() waits for
    all and returns {key: sha256}. Leaving the block cancels what has not started and waits for the rest."""

    def __init__(self, arrays):
        from concurrent.futures import ThreadPoolExecutor
        self.pool = ThreadPoolExecutor(HASHERS)
        self.futures = [(key, self.pool.submit(digest, key, arr)) for key, arr in arrays.items()]

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


def same_members(tmp, found, written):
    """The members found in a file just written (names) are exactly those written, each once."""
    missing = sorted(set(written) - set(found))
    extra = sorted(set(found) - set(written))
    if missing or extra or len(found) != len(set(found)):
        raise BundleError("%s: %s" % (where(tmp), "member %s written is missing" % shown(missing[0]) if missing else
                                      "holds a member %s not written" % shown(extra[0]) if extra else
                                      "lists a member twice"))


def checked(path, key, spec, arr):
    """arr, once its shape, sha256 and finiteness match what the manifest declares for it."""
    if list(arr.shape) != spec["shape"]:
        raise BundleError("%s: array %s has shape %s, the manifest declares %s"
                          % (where(path), shown(key), shown(list(arr.shape)), shown(spec["shape"])))
    found, finite = scan(arr)
    if not finite:
        found = sha256_of(arr)      # a corrupt file, or NaN/Inf in an intact one: the message says which
    if found != spec["sha256"]:
        raise BundleError("%s: array %s fails its sha256 check (the file is corrupt or was modified)"
                          % (where(path), shown(key)))
    if not finite:
        raise BundleError("%s: array %s holds NaN or Inf values" % (where(path), shown(key)))
    return arr


def checked_and_unpaged(path, key, spec, arr):
    """checked(), then a mapped array's pages leave this process's memory (they stay in the page cache,
    and come back from there when the array is next read): checking a bundle does not leave a copy of
    it resident beside what the conversion builds."""
    checked(path, key, spec, arr)
    base = arr
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None and hasattr(base, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            base.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass
    return arr


def read_checked(path, src, declared, loaded, shown_progress):
    """Read every declared array from src into `loaded`, each checked (checked_and_unpaged) by a worker
    thread while the next one is read: hashing and the finiteness check release the GIL, so reading
    and checking overlap."""
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(CHECKERS)
    pending = []
    try:
        for key, spec in declared.items():
            arr = src.read(key, spec)
            loaded[key] = arr
            pending.append(pool.submit(checked_and_unpaged, path, key, spec, arr))
            while pending and (pending[0].done() or len(pending) > 2 * CHECKERS):
                shown_progress.advance(pending.pop(0).result().nbytes)   # re-raises the first failure in order
        for future in pending:
            shown_progress.advance(future.result().nbytes)
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
