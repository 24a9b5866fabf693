"""The README's manifest reference, generated from the op spec: every op with its inputs, attributes
(type, range, default) and arrays. export_tf/support_table.py writes it into README.md."""
from . import builtin_specs
from .activation import FUNCTIONS
from .fields import REQUIRED

BEGIN = "<!-- manifest-ops:begin -->"
END = "<!-- manifest-ops:end -->"


def _default(field):
    if field.default is REQUIRED:
        return "required"
    if field.default is None:
        return "null"
    if isinstance(field.default, bool):
        return "true" if field.default else "false"
    if isinstance(field.default, float):
        return "%.10g" % field.default
    return "%s" % (field.default,)


def _attrs(fields):
    return "<br>".join("`%s`: %s (%s)" % (key, field.describe(), _default(field))
                       for key, field in sorted(fields.items())) or "none"


def _arrays(spec):
    return "<br>".join("`%s` %s%s" % (role, decl.doc or "rank %s" % decl.rank,
                                      "" if decl.when is None else ", when carried")
                       for role, decl in sorted(spec.arrays.items())) or "none"


def table():
    lines = ["| op | family | inputs | attributes: type (default) | arrays (TF layout) | computes |",
             "|---|---|---|---|---|---|"]
    for name, spec in sorted(builtin_specs().items(), key=lambda item: (item[1].family, item[0])):
        lines.append("| %s | %s | %s | %s | %s | %s |" % (name, spec.family, spec.arity_text(), _attrs(spec.attrs),
                                                          _arrays(spec), spec.doc))
    return "\n".join(lines)


def functions():
    lines = ["| activation function | parameters: type (default) |", "|---|---|"]
    for name, fields in sorted(FUNCTIONS.items()):
        lines.append("| %s | %s |" % (name, _attrs(fields)))
    return "\n".join(lines)


def section():
    return "\n".join([BEGIN, table(), "",
                      "An activation (the `activation` op, and the `activation` attribute of conv and dense "
                      "nodes, null for none) is `{\"function\": name, parameters...}`:", "", functions(), END])
