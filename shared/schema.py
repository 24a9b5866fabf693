"""The bundle manifest: its one definition and its one validator.

The exporter calls ``validate_manifest`` before writing a bundle and the importer after reading one,
so both sides agree on exactly one format. Everything is checked: types, names, shapes, the graph
(topological order, no dangling or duplicate tensors) and the declared array sizes, before any array
data is read. Messages name the field (``nodes[12].inputs[0]``), what was expected and what was found.

Every node is also checked against its op's spec (shared/opspec: arity, every attribute, the arrays
and their shapes relative to the inputs, the declared output shapes), so a malformed node is refused here,
naming the node and the field, before anything is planned.

Manifest, format version 2 (all shapes exclude the batch dimension; arrays are in TF layout)::

    {
      "format": "tf2caffe-bundle", "format_version": 2,
      "producer": {"name": str, "version": str, "tensorflow": str, "keras": str},
      "source": {"path": str, "sha256": str, "format": str},
      "model_name": str,
      "inputs":  [{"name": str, "tensor": str, "shape": [int], "dtype": "float32"}],
      "outputs": [{"name": str, "tensor": str, "shape": [int], "dtype": "float32"}],
      "tensors": {tensor: {"shape": [int], "dtype": "float32"}},
      "nodes": [{"name": str, "op": str, "source_type": str, "inputs": [tensor],
                 "outputs": [tensor], "attrs": {...}, "arrays": {role: array_key}}],
      "arrays": {array_key: {"shape": [int], "dtype": str, "sha256": str}},
      "reference": {"batch": int, "inputs": {tensor: array_key}, "outputs": {tensor: array_key},
                    "activations": {tensor: array_key},
                    "preactivations": {node name: array_key},   # optional: values before a fused activation
                    # optional: how the reference inputs were made, and what values each input expects
                    "inputs_made": "generated" | "given", "seed": int or null,
                    "input_domains": {input tensor: {"kind": "ids" | "pixels" | "real", "low": number or
                                      null, "high": number or null, "reason": str}}}
    }

An input domain (export_tf/domains.py): "ids" are integers in [low, high) (an input that reaches an
Embedding: 0 and its input_dim), "pixels" values in [low, high] (0 and 255), "real" any (low and high
null). Bundles without these fields (written before them) are read as before.

Version 2 writes every attribute of a node explicitly, defaults resolved by the exporter. Version 1
(before the op spec) could leave attributes with a default out: such a bundle is read with the spec's
defaults filled in (``upgrade``), then checked like any other.
"""
import re

from . import opspec
from .errors import BundleError
from .messages import clip
from .opspec.fields import element_count  # noqa: F401  (part of the schema's API)

FORMAT_NAME = "tf2caffe-bundle"
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)

ALLOWED_DTYPES = ("float32",)
MAX_NAME_LENGTH = 256
MAX_RANK = 8
MAX_ARRAY_ELEMENTS = 1 << 34          # 64 Gi elements: declared sizes beyond this are refused outright
MAX_TOTAL_BYTES = 1 << 40             # 1 TiB in all
# Far above any real model (NASNetLarge: about 1,000 layers), and what the importer handles within 1 GB
# (a 50,000-node chain: 0.5 GB, 11 s; the per-node cost is the Caffe layer and its report row)
MAX_NODES = 50000
# Beyond NODES_FLOOR nodes, a bundle needs ARRAY_BYTES_PER_NODE bytes of arrays per node (weights and
# reference data it carries): a 20,000-node chain of a 2 kB model is refused, any real model passes.
NODES_FLOOR = 5000
ARRAY_BYTES_PER_NODE = 1024
ARRAY_KEY_RE = re.compile(r"^[A-Za-z0-9_.:+\-]+(/[A-Za-z0-9_.:+\-]+)*\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")  # \Z: "$" would also match before a final newline
# Declared work: the activations a bundle declares (batch x every tensor, float32) may reach the larger of
# this floor and this many bytes per byte of arrays it actually carries (weights and reference data), so
# a small file cannot make the importer allocate gigabytes. Real models declare at most a few times
# their arrays' size (VGG19 at batch 2: 0.2x; a weightless net's stored reference inputs bound it too).
MAX_WORK_FLOOR = 256 << 20
WORK_PER_ARRAY_BYTE = 64

_FIELDS = {
    "": {"format", "format_version", "producer", "source", "model_name", "inputs", "outputs", "tensors",
         "nodes", "arrays", "reference"},
    "producer": {"name", "version", "tensorflow", "keras"},
    "source": {"path", "sha256", "format"},
    "entry": {"name", "tensor", "shape", "dtype"},
    "tensor": {"shape", "dtype"},
    "array": {"shape", "dtype", "sha256"},
    "node": {"name", "op", "source_type", "inputs", "outputs", "attrs", "arrays"},
    "reference": {"batch", "inputs", "outputs", "activations", "preactivations", "inputs_made", "seed",
                  "input_domains"},
    "input_domain": {"kind", "low", "high", "reason"},
}
INPUTS_MADE = ("generated", "given")
DOMAIN_KINDS = ("ids", "pixels", "real")
MAX_ID = 1 << 31              # an Embedding's input_dim is an int32

_TOP_FIELDS = {
    "format": str, "format_version": int, "producer": dict, "source": dict, "model_name": str,
    "inputs": list, "outputs": list, "tensors": dict, "nodes": list, "arrays": dict, "reference": dict,
}


def _fail(where, message):
    raise BundleError("manifest field '%s': %s" % (clip(where), message))


def _type_name(value):
    return "null" if value is None else type(value).__name__


def _need(obj, key, kind, where):
    if not isinstance(obj, dict):
        _fail(where, "expected an object, found %s" % _type_name(obj))
    if key not in obj:
        _fail("%s.%s" % (where, key) if where else key, "missing")
    value = obj[key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        _fail("%s.%s" % (where, key) if where else key,
              "expected %s, found %s" % (kind.__name__, _type_name(value)))
    return value


def check_name(value, where):
    """A name or other text a bundle shows the user: non-empty, of bounded length, and printable (no
    control characters, terminal escapes, line separators or bidirectional overrides that could forge
    or reorder what a terminal or report shows)."""
    if not isinstance(value, str):
        _fail(where, "expected a string, found %s" % _type_name(value))
    if not value or len(value) > MAX_NAME_LENGTH:
        _fail(where, "name must have 1 to %d characters, found %d" % (MAX_NAME_LENGTH, len(value)))
    if not value.isprintable():
        _fail(where, "name %s contains control characters or other non-printable ones" % clip(repr(value), 40))
    return value


def _known_fields(obj, kind, where):
    """Every key of `obj` is one the format defines (unused data has no place in a bundle)."""
    extra = sorted(set(obj) - _FIELDS[kind]) if isinstance(obj, dict) else []
    if extra:
        _fail("%s.%s" % (where, extra[0]) if where else extra[0], "unknown field (this format has %s)"
              % ", ".join(sorted(_FIELDS[kind])))


def check_array_key(value, where):
    check_name(value, where)
    if not ARRAY_KEY_RE.match(value):
        _fail(where, "array key %r may hold only letters, digits, '_.:+-' and '/' separators" % value[:40])
    return value


def check_shape(value, where, allow_empty=True):
    if not isinstance(value, list):
        _fail(where, "expected a list of dimensions, found %s" % _type_name(value))
    if len(value) > MAX_RANK or (not value and not allow_empty):
        _fail(where, "rank %d is outside 1..%d" % (len(value), MAX_RANK))
    count = 1
    for i, dim in enumerate(value):
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            _fail("%s[%d]" % (where, i), "expected a positive integer dimension, found %r" % (dim,))
        count *= dim
        if count > MAX_ARRAY_ELEMENTS:
            _fail(where, "declared shape %r is too large (over %d elements)" % (value, MAX_ARRAY_ELEMENTS))
    return value


def _check_work(batch, tensors, nodes, array_bytes):
    """The activations the net would hold (batch x every declared tensor, plus what a lowering holds beyond
    them: an attention's products, opspec.held) stay within what the arrays the bundle carries justify
    (MAX_WORK_FLOOR, WORK_PER_ARRAY_BYTE): checked before anything is allocated, since the op spec makes
    every tensor's declared shape the one its op computes."""
    values = sum(element_count(spec["shape"]) for spec in tensors.values())
    values += sum(opspec.held(node, [tensors[t]["shape"] for t in node["inputs"]]) for node in nodes)
    work = batch * values * 4
    budget = max(MAX_WORK_FLOOR, WORK_PER_ARRAY_BYTE * array_bytes)
    if work > budget:
        _fail("reference.batch", "batch %d over the declared tensors needs %d bytes of activations, more than "
              "the %d this bundle's %d bytes of arrays allow" % (batch, work, budget, array_bytes))


def _weights_are_not_reference_data(nodes, ref):
    """An array is a node's weights or TF's reference data, never both: the exporter keeps them apart, and
    a bundle that uses TF's values as weights would be compared against itself."""
    reference = set()
    for part in ("inputs", "outputs", "activations", "preactivations"):
        found = ref.get(part, {})
        if isinstance(found, dict):
            reference.update(k for k in found.values() if isinstance(k, str))
    for i, node in enumerate(nodes):
        for role, key in sorted(node["arrays"].items()):
            if key in reference:
                _fail("nodes[%d].arrays.%s" % (i, role), "array %s is also reference data" % clip(repr(key)))


def validate_manifest(manifest):
    """Validate a manifest dict in full. Raises BundleError; returns the manifest unchanged."""
    if not isinstance(manifest, dict):
        raise BundleError("manifest: expected a JSON object, found %s" % _type_name(manifest))
    fmt = manifest.get("format")
    if fmt != FORMAT_NAME:
        _fail("format", "expected %r, found %r" % (FORMAT_NAME, fmt))
    version = manifest.get("format_version")
    if version not in READ_VERSIONS:
        _fail("format_version", "this importer reads versions %s, found %r; convert with a matching "
              "tf2caffe version" % (" and ".join(str(v) for v in READ_VERSIONS), version))
    for key, kind in _TOP_FIELDS.items():
        _need(manifest, key, kind, "")
    _known_fields(manifest, "", "")
    for part in ("producer", "source"):
        _known_fields(manifest[part], part, part)
        for key in sorted(_FIELDS[part]):
            check_name(_need(manifest[part], key, str, part), "%s.%s" % (part, key))
    if not SHA256_RE.match(manifest["source"]["sha256"]):
        _fail("source.sha256", "expected 64 lowercase hex digits")
    check_name(manifest["model_name"], "model_name")

    arrays = manifest["arrays"]
    total = 0
    for key, spec in arrays.items():
        where = "arrays[%s]" % key
        check_array_key(key, where)
        _known_fields(spec, "array", where)
        shape = check_shape(_need(spec, "shape", list, where), where + ".shape")
        dtype = _need(spec, "dtype", str, where)
        if dtype not in ALLOWED_DTYPES:
            _fail(where + ".dtype", "expected one of %s, found %r" % (", ".join(ALLOWED_DTYPES), dtype))
        if not SHA256_RE.match(_need(spec, "sha256", str, where)):
            _fail(where + ".sha256", "expected 64 lowercase hex digits")
        total += element_count(shape) * 4
    if total > MAX_TOTAL_BYTES:
        _fail("arrays", "declared arrays total %d bytes, over the %d limit" % (total, MAX_TOTAL_BYTES))

    tensors = manifest["tensors"]
    for name, spec in tensors.items():
        where = "tensors[%s]" % name
        check_name(name, where)
        _known_fields(spec, "tensor", where)
        check_shape(_need(spec, "shape", list, where), where + ".shape")
        if _need(spec, "dtype", str, where) not in ALLOWED_DTYPES:
            _fail(where + ".dtype", "expected float32, found %r" % spec["dtype"])

    defined = set()
    for field in ("inputs", "outputs"):
        entries = manifest[field]
        if not entries:
            _fail(field, "a model needs at least one entry")
        seen = set()
        for i, entry in enumerate(entries):
            where = "%s[%d]" % (field, i)
            check_name(_need(entry, "name", str, where), where + ".name")
            _known_fields(entry, "entry", where)
            tensor = check_name(_need(entry, "tensor", str, where), where + ".tensor")
            check_shape(_need(entry, "shape", list, where), where + ".shape")
            if _need(entry, "dtype", str, where) not in ALLOWED_DTYPES:
                _fail(where + ".dtype", "expected float32, found %r" % entry["dtype"])
            if tensor not in tensors:
                _fail(where + ".tensor", "tensor %r is not declared in 'tensors'" % tensor)
            if tensors[tensor]["shape"] != entry["shape"]:
                _fail(where + ".shape", "%r differs from tensor %r's shape %r"
                      % (entry["shape"], tensor, tensors[tensor]["shape"]))
            if entry["name"] in seen:
                _fail(where + ".name", "duplicate %s name %r" % (field[:-1], entry["name"]))
            seen.add(entry["name"])
            if field == "inputs":
                defined.add(tensor)

    nodes = manifest["nodes"]
    if len(nodes) > max(NODES_FLOOR, min(MAX_NODES, total // ARRAY_BYTES_PER_NODE)):
        _fail("nodes", "%d nodes is over the limit for a bundle of %d bytes of arrays (%d nodes, and one per "
              "%d bytes of arrays up to %d)" % (len(nodes), total, NODES_FLOOR, ARRAY_BYTES_PER_NODE, MAX_NODES))
    node_names = set()
    for i, node in enumerate(nodes):
        where = "nodes[%d]" % i
        name = check_name(_need(node, "name", str, where), where + ".name")
        if name in node_names:
            _fail(where + ".name", "duplicate node name %r" % name)
        node_names.add(name)
        check_name(_need(node, "op", str, where), where + ".op")
        check_name(_need(node, "source_type", str, where), where + ".source_type")
        _known_fields(node, "node", where)
        _need(node, "attrs", dict, where)
        for j, tensor in enumerate(_need(node, "inputs", list, where)):
            check_name(tensor, "%s.inputs[%d]" % (where, j))
            if tensor not in defined:
                _fail("%s.inputs[%d]" % (where, j), "tensor %r is not produced by an input or an earlier "
                      "node (dangling input, or the graph has a cycle)" % tensor)
        outs = _need(node, "outputs", list, where)
        if not outs:
            _fail(where + ".outputs", "a node needs at least one output")
        for j, tensor in enumerate(outs):
            check_name(tensor, "%s.outputs[%d]" % (where, j))
            if tensor in defined:
                _fail("%s.outputs[%d]" % (where, j), "tensor %r is produced twice" % tensor)
            if tensor not in tensors:
                _fail("%s.outputs[%d]" % (where, j), "tensor %r is not declared in 'tensors'" % tensor)
            defined.add(tensor)
        for role, key in _need(node, "arrays", dict, where).items():
            check_name(role, "%s.arrays" % where)
            if not isinstance(key, str) or key not in arrays:
                _fail("%s.arrays.%s" % (where, role), "array %r is not declared in 'arrays'" % (key,))
        if version == 1:
            opspec.fill_defaults(node)
        opspec.check_node(node, [tensors[t]["shape"] for t in node["inputs"]],
                          [tensors[t]["shape"] for t in outs],
                          dict((role, arrays[key]["shape"]) for role, key in node["arrays"].items()), where)
    for i, entry in enumerate(manifest["outputs"]):
        if entry["tensor"] not in defined:
            _fail("outputs[%d].tensor" % i, "tensor %r is produced by no node" % entry["tensor"])

    ref = manifest["reference"]
    batch = _need(ref, "batch", int, "reference")
    _known_fields(ref, "reference", "reference")
    if batch < 1:
        _fail("reference.batch", "expected a positive batch size, found %d" % batch)
    _check_work(batch, tensors, nodes, total)
    for part in ("inputs", "outputs", "activations"):
        for tensor, key in _need(ref, part, dict, "reference").items():
            where = "reference.%s[%s]" % (part, tensor)
            if tensor not in tensors:
                _fail(where, "tensor %r is not declared in 'tensors'" % tensor)
            if not isinstance(key, str) or key not in arrays:
                _fail(where, "array %r is not declared in 'arrays'" % (key,))
            expected = [batch] + tensors[tensor]["shape"]
            if arrays[key]["shape"] != expected:
                _fail(where, "array %r has shape %r, expected %r" % (key, arrays[key]["shape"], expected))
    _weights_are_not_reference_data(nodes, ref)
    node_outputs = dict((n["name"], n["outputs"][0]) for n in nodes)
    preacts = ref.get("preactivations", {})
    if not isinstance(preacts, dict):
        _fail("reference.preactivations", "expected an object, found %s" % _type_name(preacts))
    for node_name, key in preacts.items():
        where = "reference.preactivations[%s]" % node_name
        if node_name not in node_outputs:
            _fail(where, "node %r does not exist" % node_name)
        if not isinstance(key, str) or key not in arrays:
            _fail(where, "array %r is not declared in 'arrays'" % (key,))
        expected = [batch] + tensors[node_outputs[node_name]]["shape"]
        if arrays[key]["shape"] != expected:
            _fail(where, "array %r has shape %r, expected %r" % (key, arrays[key]["shape"], expected))
    for part in ("inputs", "outputs"):
        for entry in manifest[part]:
            if ref[part] and entry["tensor"] not in ref[part]:
                _fail("reference.%s" % part, "no reference array for %r" % entry["tensor"])
    _check_inputs_made(ref, set(entry["tensor"] for entry in manifest["inputs"]))
    return manifest


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and abs(value) != float("inf")


def _check_inputs_made(ref, model_inputs):
    """reference.inputs_made, seed and input_domains: optional (bundles before them are valid)."""
    if "inputs_made" in ref and ref["inputs_made"] not in INPUTS_MADE:
        _fail("reference.inputs_made", "expected one of %s, found %s"
              % (", ".join(INPUTS_MADE), clip(repr(ref["inputs_made"]))))
    seed = ref.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        _fail("reference.seed", "expected a non-negative integer or null, found %s" % clip(repr(seed)))
    found = ref.get("input_domains", {})
    if not isinstance(found, dict):
        _fail("reference.input_domains", "expected an object, found %s" % _type_name(found))
    for tensor, domain in found.items():
        where = "reference.input_domains[%s]" % tensor
        if tensor not in model_inputs:
            _fail(where, "tensor %s is not a model input" % clip(repr(tensor)))
        if not isinstance(domain, dict):
            _fail(where, "expected an object, found %s" % _type_name(domain))
        _known_fields(domain, "input_domain", where)
        kind = _need(domain, "kind", str, where)
        if kind not in DOMAIN_KINDS:
            _fail(where + ".kind", "expected one of %s, found %s" % (", ".join(DOMAIN_KINDS), clip(repr(kind))))
        check_name(_need(domain, "reason", str, where), where + ".reason")
        low, high = domain.get("low", "missing"), domain.get("high", "missing")
        if kind == "real":
            if low is not None or high is not None:
                _fail(where, "a real input has no range: low and high are null")
        elif kind == "ids":
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) \
                    or not 0 <= low < high <= MAX_ID:
                _fail(where, "ids need integers 0 <= low < high <= %d, found %s and %s"
                      % (MAX_ID, clip(repr(low)), clip(repr(high))))
        elif not (_number(low) and _number(high) and low < high):
            _fail(where, "pixel values need numbers low < high, found %s and %s" % (clip(repr(low)), clip(repr(high))))
