"""How the exporters name arrays in a bundle: "<prefix>/<name>" with the characters the schema allows,
made unique by a numeric suffix (used by the Keras and the graph front ends alike)."""
import re

_KEY_RE = re.compile(r"[^A-Za-z0-9_.:+\-/]")


def array_key(prefix, name, taken):
    """A new key for array `name` under `prefix`, not in the set `taken` (which it joins)."""
    base = "%s/%s" % (prefix, _KEY_RE.sub("_", name).strip("/") or "x")
    base = re.sub(r"/+", "/", base)
    key, k = base, 0
    while key in taken:
        k += 1
        key = "%s_%d" % (base, k)
    taken.add(key)
    return key
