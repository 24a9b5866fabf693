"""How the exporters name things in a bundle: arrays as "<prefix>/<name>" with the characters the schema
allows, and every name made unique by a numeric suffix (used by the Keras and the graph front ends alike)."""
import re

_KEY_RE = re.compile(r"[^A-Za-z0-9_.:+\-/]")


def unique(base, taken):
    """`base`, or `base_1`, `base_2`, ...: the first not in the set `taken` (which it joins)."""
    name, k = base, 0
    while name in taken:
        k += 1
        name = "%s_%d" % (base, k)
    taken.add(name)
    return name


def array_key(prefix, name, taken):
    """A new key for array `name` under `prefix`, not in the set `taken` (which it joins)."""
    base = "%s/%s" % (prefix, _KEY_RE.sub("_", name).strip("/") or "x")
    return unique(re.sub(r"/+", "/", base), taken)
