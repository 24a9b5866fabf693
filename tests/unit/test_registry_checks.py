"""Every importer op validates its untrusted attributes: either a rule in attrs.RULES or a check
registered beside its handler (attrs.no_attrs for an op that reads none)."""
from import_caffe import attrs
from import_caffe.registry import all_handlers


def test_every_op_has_an_attribute_check():
    missing = sorted(op for op, h in all_handlers().items()
                     if op not in attrs.RULES and op not in attrs.MERGES and h.check is None)
    assert not missing, "ops without an attribute check (register(op, check=...)): %s" % missing


def test_arity_is_declared():
    for op, h in all_handlers().items():
        assert h.inputs == "many" or (isinstance(h.inputs, int) and h.inputs >= 1), op
