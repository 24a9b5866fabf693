"""Bundles: one self-contained file of named float32 arrays (TF layout) plus a JSON manifest.

Two containers with the same content:

* ``.npz`` — a zip archive (stored, uncompressed) with ``manifest.json`` and one ``<array key>.npy``
  member per array, so ``numpy.load(bundle)["conv1/kernel"]`` works for a curious human (npz.py, its
  zip layout read strictly by ziplayout.py).
* ``.h5`` — an HDF5 file with a ``manifest.json`` byte dataset and ``arrays/<array key>`` datasets (h5.py).

Bundles are untrusted input. Reading never unpickles (object arrays are refused from their header, before
any data is read), never reads another file (HDF5 links, external storage and virtual datasets are
refused), accepts only containers as the writer writes them (an unambiguous zip of stored members;
contiguous, unfiltered HDF5 datasets), refuses members the manifest does not declare, parses the manifest
and every .npy header within bounds (manifest.py, npz.py), checks every array's header against the
declared dtype and shape before allocating, verifies each sha256 and refuses NaN/Inf (integrity.py).
Every refusal is a BundleError of one bounded line naming the file and the member or field
(messages.py). The HDF5 library can crash on a corrupt file, so an .h5 bundle is probed in a forked child
first (where fork exists). Writing goes to a temporary file in the target folder that is checked with
the reader's own checks and renamed into place only when complete (api.py).
"""
from .api import Bundle, container_of, read_bundle, write_bundle
from .h5 import H5_MAGIC
from .integrity import sha256_of
from .manifest import MANIFEST_MEMBER, MAX_MANIFEST_BYTES
from .npz import NPZ_MAGIC

__all__ = ["Bundle", "H5_MAGIC", "MANIFEST_MEMBER", "MAX_MANIFEST_BYTES", "NPZ_MAGIC", "container_of",
           "read_bundle", "sha256_of", "write_bundle"]
