"""One-line messages about untrusted input: what a bundle holds is quoted escaped and bounded.

A bundle's names and values reach the terminal and the report through BundleError messages, so every
value quoted from a bundle (a member name, a shape, a header, an exception's text about the file) is
shown on one line, with control and other non-printable characters escaped, and cut in the middle past
a bounded length. The file's own path is shown the same way (it may come from an attacker too)."""

from .errors import BundleError

MAX_VALUE = 80          # characters of one quoted value
MAX_PATH = 120          # characters of a file path (its end is kept: the file name)
MAX_MESSAGE = 275       # characters of a whole message: with a CLI's prefix, under 300
MAX_LINES = 200         # lines of a multi-line message (the unsupported-layer list)
MAX_LINE = 8000         # characters of one of its lines (the list of supported layers is one line)


def _escaped(text):
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append("\\x%02x" % ord(ch))
        elif ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append("\\U%08x" % ord(ch))
    return "".join(out)


def clip(text, limit=MAX_VALUE):
    """text on one line, escaped, cut in the middle to at most `limit` characters."""
    text = _escaped(str(text))
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head):]


def shown(value, limit=MAX_VALUE):
    """repr(value) as clip shows it: a name from a bundle, quoted, in a message."""
    return clip(repr(value), limit)


def where(path):
    """A file path for the start of a message: escaped, and only its last MAX_PATH characters."""
    text = _escaped(str(path))
    return text if len(text) <= MAX_PATH else "..." + text[len(text) - MAX_PATH + 3:]


def one_line(message):
    """A whole message on one line, escaped and bounded (the last line of defence: every message is
    built from where/shown/clip already, but the schema's own texts pass through here too)."""
    return clip(message, MAX_MESSAGE)


def corrupt(path, exc):
    """The BundleError for a library's own failure (zipfile, h5py, numpy) on a corrupt file."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return BundleError("%s: corrupt or truncated bundle (%s: %s)" % (where(path), type(exc).__name__, clip(text)))


def for_terminal(exc):
    """What a CLI prints for error `exc`: a malformed bundle's message on one line, as every message about
    untrusted input; any other message (the unsupported-layer list runs over several lines) line by line,
    each escaped and bounded, at most MAX_LINES of them."""
    if isinstance(exc, BundleError):
        return one_line(str(exc))
    lines = str(exc).split("\n")
    shown = [clip(line, MAX_LINE) for line in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        shown.append("... (%d more lines)" % (len(lines) - MAX_LINES))
    return "\n".join(shown)
