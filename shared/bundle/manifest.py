"""The manifest's JSON: strict, bounded parsing of untrusted bytes, and the text the writer writes.

Bounds, each checked before the work it bounds:

* MAX_MANIFEST_BYTES, 64 MiB. A manifest costs about 650 bytes per layer (its node, tensor, array and
  reference entries, as written with indent=1): the largest real models have a few thousand layers,
  a graph lowered op by op some tens of thousands, i.e. a few MB to ~20 MB; 64 MiB leaves room for
  ~100,000 layers and takes about a second to parse.
* MAX_MANIFEST_VALUES, 4 million JSON values (counted from the ',', ':', '[' and '{' bytes, before
  parsing). Python holds a parsed JSON value in 30-230 bytes, so 64 MiB of "[{},{},...]" would take
  1.6 GB: the count bounds a parsed manifest to ~0.5 GB whatever its shape. Real manifests hold one
  value per ~13 bytes, so the two bounds meet at about the same number of layers.
* MAX_INT_DIGITS (30) digits for an integer and MAX_FLOAT_CHARS (40) characters for a float, checked on
  the text before it is converted (Python 3.9 converts a 3-million-digit integer in minutes); NaN and
  Infinity, which JSON does not allow, are refused; duplicate keys in an object (another JSON reader
  might keep the first where Python keeps the last) are refused.
"""
import json

from ..errors import BundleError
from ..schema import validate_manifest
from ..messages import clip, shown, where

MANIFEST_MEMBER = "manifest.json"
MAX_MANIFEST_BYTES = 64 << 20
MAX_MANIFEST_VALUES = 4 << 20
MAX_INT_DIGITS = 30
MAX_FLOAT_CHARS = 40


class _Refused(ValueError):
    def __init__(self, message, number=None):
        ValueError.__init__(self, message)
        self.number = number        # the number's text, to say where it is


class _NonFinite(_Refused):
    pass


def _int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused("an integer of %d digits (at most %d): %s"
                       % (len(text.lstrip("-")), MAX_INT_DIGITS, clip(text, 24)), text)
    return int(text)


def _float(text):
    if len(text) > MAX_FLOAT_CHARS:
        raise _Refused("a number of %d characters (at most %d): %s" % (len(text), MAX_FLOAT_CHARS, clip(text, 24)),
                       text)
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise _NonFinite(text)
    return value


def _constant(name):
    raise _NonFinite(name)


def _object(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _Refused("the key %s twice in one object" % shown(twice))
    return out


def parse_manifest(path, raw):
    """The manifest from its raw bytes: bounded, strict JSON, then validate_manifest."""
    if raw is None:
        raise BundleError("%s: has no %s member; not a tf2caffe bundle" % (where(path), MANIFEST_MEMBER))
    check_manifest_size(path, len(raw))
    values = sum(raw.count(c) for c in (b",", b":", b"[", b"{"))
    if values > MAX_MANIFEST_VALUES:
        raise BundleError("%s: %s holds about %d JSON values, more than the %d a manifest may hold"
                          % (where(path), MANIFEST_MEMBER, values, MAX_MANIFEST_VALUES))
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_int=_int, parse_float=_float, parse_constant=_constant,
                              object_pairs_hook=_object)
    except _NonFinite as exc:
        raise BundleError("%s: the manifest holds NaN or Infinity (%s), which JSON does not allow"
                          % (where(path), clip(exc, 40)))
    except _Refused as exc:
        at = raw.find(exc.number[:64].encode("ascii")) if exc.number else -1
        raise BundleError("%s: %s holds %s%s"
                          % (where(path), MANIFEST_MEMBER, exc, " at byte %d" % at if at >= 0 else ""))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError("%s: the manifest is not valid JSON (%s)" % (where(path), clip(exc)))
    problem = text_problem(manifest)
    if problem:
        raise BundleError("%s: the manifest %s" % (where(path), problem))
    try:
        return validate_manifest(manifest)
    except BundleError as exc:
        raise BundleError("%s: %s" % (where(path), exc))


def check_manifest_size(path, nbytes):
    """Refuse a manifest of nbytes before it is read."""
    if nbytes > MAX_MANIFEST_BYTES:
        raise BundleError("%s: %s of %d bytes is too large (at most %d MiB)"
                          % (where(path), MANIFEST_MEMBER, nbytes, MAX_MANIFEST_BYTES >> 20))


def text_problem(manifest):
    """What makes a parsed manifest unfit to be written back as strict UTF-8 JSON (NaN or Infinity, a lone
    surrogate such as JSON's "\\ud800" in some string), or None. Names end up in files and protobufs."""
    try:
        json.dumps(manifest, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds text that is not valid Unicode (a lone surrogate)"
    except ValueError as exc:
        return "holds NaN or Infinity, which JSON does not allow (%s)" % clip(exc)
    return None


def manifest_text(manifest):
    """The bytes the writer writes for a manifest."""
    return json.dumps(manifest, indent=1, sort_keys=False).encode("utf-8")
