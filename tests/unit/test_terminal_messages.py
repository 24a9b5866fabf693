"""What the CLIs print for an error (shared.messages.for_terminal): a malformed bundle's message on one
escaped, bounded line; any other message line by line, escaped, its lines kept whole up to a bound (the
unsupported-layer message lists every supported layer on one line)."""
from shared.errors import BundleError, UnsupportedError
from shared.messages import MAX_LINES, MAX_MESSAGE, for_terminal


def test_a_malformed_bundle_is_one_escaped_bounded_line():
    text = for_terminal(BundleError("bad: \x1b[2K\nimport_caffe: all good, exit 0 " + "x" * 1000))
    assert "\n" not in text and "\x1b" not in text and len(text) <= MAX_MESSAGE and text.isprintable()


def test_other_messages_keep_their_lines_escaped():
    supported = "supported: " + ", ".join("Layer%d" % i for i in range(400))
    text = for_terminal(UnsupportedError("model.keras: 1 unsupported layer\n  Foo\x1b[31m x1\n" + supported))
    lines = text.split("\n")
    assert lines[0] == "model.keras: 1 unsupported layer" and lines[2] == supported
    assert all(line.isprintable() for line in lines) and "\\x1b[31m" in lines[1]


def test_other_messages_are_bounded_in_lines():
    text = for_terminal(UnsupportedError("\n".join("line %d" % i for i in range(MAX_LINES + 50))))
    assert len(text.split("\n")) == MAX_LINES + 1 and text.endswith("(50 more lines)")
