"""The kinds of value an op attribute may hold, each with its own check.

A field validates one untrusted value and returns it (``check(value) -> value``), or raises
``FieldError(message)`` saying what was expected and what was found; the caller adds where.
``default`` is what the exporter writes when a handler leaves the attribute out (``REQUIRED``: no
default, the handler must give it) and what a version-1 bundle, written before every attribute was
explicit, is read with.
"""
import math

MAX_INT = (1 << 31) - 1      # Caffe's layer parameters are 32-bit
MAX_WINDOW = 1 << 16         # kernel sizes, strides, dilations and pads of one axis
MAX_RANK = 8
MAX_FLOAT = 3.4e38           # what a float32 holds
MAX_LIST = 1 << 16           # per-channel vectors and lists of coefficients


class FieldError(ValueError):
    """An attribute value does not fit its field (the message says expected vs found)."""


class _Required(object):
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()


def show(value):
    """A short, one-line rendering of an untrusted value for a message."""
    text = repr(value)
    text = "".join(c if c.isprintable() else "\\x%02x" % (ord(c) & 0xff) for c in text)
    return text if len(text) <= 60 else text[:57] + "..."


def element_count(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and
            (isinstance(value, int) or math.isfinite(value)) and abs(value) <= MAX_FLOAT)


class Field(object):
    kind = "value"

    def __init__(self, default=REQUIRED, doc=""):
        self.default = default
        self.doc = doc

    @property
    def required(self):
        return self.default is REQUIRED

    def check(self, value):
        raise NotImplementedError

    def complete(self, value):
        """The value as the exporter writes it (a nested object gets its own defaults)."""
        return self.check(value)

    def upgrade(self, value):
        """A version-1 value as version 2 writes it (unchecked: check() follows)."""
        return value

    def describe(self):
        """The field's type and range, for the README's manifest reference."""
        return self.kind


class Int(Field):
    def __init__(self, lo, hi=MAX_INT, **kw):
        Field.__init__(self, **kw)
        self.lo, self.hi = lo, hi

    def check(self, value):
        if not is_int(value) or not self.lo <= value <= self.hi:
            raise FieldError("expected an integer in %d..%d, found %s" % (self.lo, self.hi, show(value)))
        return value

    def describe(self):
        return "int %d..%d" % (self.lo, self.hi)


class Ints(Field):
    """A list of `count` integers in lo..hi (count None: 1 to MAX_RANK of them)."""

    def __init__(self, count, lo, hi=MAX_WINDOW, nullable=False, **kw):
        Field.__init__(self, **kw)
        self.count, self.lo, self.hi, self.nullable = count, lo, hi, nullable

    def check(self, value):
        if value is None and self.nullable:
            return value
        ok = isinstance(value, list) and (len(value) == self.count if self.count is not None
                                          else 1 <= len(value) <= MAX_RANK)
        if not ok or not all(is_int(v) and self.lo <= v <= self.hi for v in value):
            count = self.count if self.count is not None else "1 to %d" % MAX_RANK
            raise FieldError("expected %s integers in %d..%d, found %s" % (count, self.lo, self.hi, show(value)))
        return value

    def describe(self):
        return "[int %d..%d] x %s%s" % (self.lo, self.hi, self.count if self.count is not None else "1..%d" % MAX_RANK,
                                        " or null" if self.nullable else "")


class Number(Field):
    def __init__(self, lo=None, nullable=False, **kw):
        Field.__init__(self, **kw)
        self.lo, self.nullable = lo, nullable

    def check(self, value):
        if value is None and self.nullable:
            return value
        if not is_number(value) or (self.lo is not None and value < self.lo):
            raise FieldError("expected a finite number%s%s, found %s" % (
                "" if self.lo is None else " >= %g" % self.lo, " or null" if self.nullable else "", show(value)))
        return value

    def describe(self):
        return "number" + ("" if self.lo is None else " >= %g" % self.lo) + (" or null" if self.nullable else "")


class Numbers(Field):
    """A non-empty list of finite numbers (per-channel constants, coefficients)."""

    def check(self, value):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST or not all(is_number(v) for v in value):
            raise FieldError("expected a list of 1 to %d finite numbers, found %s" % (MAX_LIST, show(value)))
        return value

    def describe(self):
        return "[number]"


class Bool(Field):
    kind = "bool"

    def check(self, value):
        if not isinstance(value, bool):
            raise FieldError("expected true or false, found %s" % show(value))
        return value


class Enum(Field):
    def __init__(self, *choices, **kw):
        self.label = kw.pop("label", None)      # what the README calls a long list of choices
        Field.__init__(self, **kw)
        self.choices = choices

    def check(self, value):
        if not isinstance(value, str) or value not in self.choices:
            raise FieldError("expected one of %s, found %s" % (", ".join(repr(c) for c in self.choices), show(value)))
        return value

    def describe(self):
        return self.label or "one of " + ", ".join('"%s"' % c for c in self.choices)


class Axes(Field):
    """An axis counted with the batch axis, negative from the end (-1: the last), or a list of them."""

    def check(self, value):
        axes = value if isinstance(value, list) else [value]
        if not 1 <= len(axes) <= MAX_RANK or not all(is_int(a) and -MAX_RANK <= a <= MAX_RANK for a in axes) \
                or len(set(axes)) != len(axes):
            raise FieldError("expected an axis in %d..%d or a list of distinct ones, found %s"
                             % (-MAX_RANK, MAX_RANK, show(value)))
        return value

    def describe(self):
        return "axis or [axis]"


class Nested(Field):
    """An object with fields of its own, chosen by the value of one key (a fused activation: its
    parameters depend on its function). table: {value of key: {attr: Field}}."""

    def __init__(self, key, table, kind, nullable=False, **kw):
        Field.__init__(self, **kw)
        self.key, self.table, self.kind, self.nullable = key, table, kind, nullable

    def _fields(self, value):
        if not isinstance(value, dict):
            raise FieldError("expected an object%s, found %s" % (" or null" if self.nullable else "", show(value)))
        choice = value.get(self.key)
        if not isinstance(choice, str) or choice not in self.table:
            raise FieldError("%s: expected one of %s, found %s" % (self.key, ", ".join(sorted(self.table)),
                                                                   show(choice)))
        return self.table[choice]

    def check(self, value):
        if value is None and self.nullable:
            return value
        fields = self._fields(value)
        for key in sorted(set(value) - set(fields) - set([self.key])):
            raise FieldError("%s: no such parameter of %s %r" % (key, self.key, value[self.key]))
        for key, field in sorted(fields.items()):
            if key not in value:
                raise FieldError("%s: missing" % key)
            try:
                field.check(value[key])
            except FieldError as exc:
                raise FieldError("%s: %s" % (key, exc))
        return value

    def complete(self, value):
        if value is None and self.nullable:
            return value
        fields = self._fields(value)
        out = {self.key: value[self.key]}
        for key in value:
            if key != self.key and key not in fields:
                raise FieldError("%s: no such parameter of %s %r" % (key, self.key, value[self.key]))
        for key, field in fields.items():
            if key not in value and field.required:
                raise FieldError("%s: required" % key)
            out[key] = field.complete(value[key] if key in value else field.default)
        return out

    def upgrade(self, value):
        if isinstance(value, dict) and isinstance(value.get(self.key), str):
            value = dict(value)
            for key, field in self.table.get(value[self.key], {}).items():
                if key not in value and not field.required:
                    value[key] = field.default
        return value

    def describe(self):
        return self.kind + (" or null" if self.nullable else "")
