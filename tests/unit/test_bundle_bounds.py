"""Bounded parsing (issue 18 class 4): the manifest's size, its number of JSON values and the length of
every number in it, and every .npy header's size, numbers and nesting are checked before they are
parsed or converted, so a small bundle cannot make the reader work for minutes or allocate gigabytes;
the .h5 manifest is parsed once (not in the forked child and again in the parent)."""
import json
import os
import re
import struct
import time

import numpy as np
import pytest

from shared.bundle import manifest as manifest_module
from shared.bundle import npz as npz_module
from shared.bundle import read_bundle

from test_bundle import KERNEL, NpzEdit, edit, refused, sample_arrays, write_sample

CONTAINERS = [pytest.param("npz", id="npz"), pytest.param("h5", id="h5")]
FAST = 10       # seconds: each refusal below takes well under one


def with_manifest_text(tmp_path, container, change):
    """The sample bundle with its manifest's text replaced by change(text) (nothing else changes)."""
    path = write_sample(tmp_path, container)
    ed = edit(path)
    ed.set_manifest_bytes(change(json.dumps(ed.manifest()).encode("utf-8")))
    ed.save()
    return path


def quickly_refused(path):
    started = time.time()
    message = refused(path)
    assert time.time() - started < FAST, message
    return message


# ============================================================================ the manifest

@pytest.mark.parametrize("container", CONTAINERS)
def test_a_manifest_over_the_byte_bound_is_refused_before_it_is_read(tmp_path, container):
    """64 MiB and a byte of valid JSON (whitespace): refused from its declared size."""
    pad = manifest_module.MAX_MANIFEST_BYTES
    path = with_manifest_text(tmp_path, container, lambda text: text[:-1] + b" " * pad + b"}")
    message = quickly_refused(path)
    assert "manifest.json of" in message and "is too large (at most 64 MiB)" in message


@pytest.mark.parametrize("container", CONTAINERS)
def test_a_manifest_of_too_many_values_is_refused_before_it_is_parsed(tmp_path, container):
    """12 MB of "{}," would take 1.6 GB once parsed: refused from a count of its separators."""
    n = manifest_module.MAX_MANIFEST_VALUES
    path = with_manifest_text(tmp_path, container, lambda text: text[:-1] + b', "padding": [' + b"{}," * n + b"{}]}")
    assert "JSON values, more than the %d a manifest may hold" % n in quickly_refused(path)


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("number, expected", [
    pytest.param(b"1" * 3000000, "holds an integer of 3000000 digits (at most 30)", id="int-3-million-digits"),
    pytest.param(b"-" + b"7" * 31, "holds an integer of 31 digits (at most 30)", id="int-31-digits"),
    pytest.param(b"0." + b"0" * 1000000 + b"1", "holds a number of 1000003 characters (at most 40)",
                 id="float-a-million-digits"),
    pytest.param(b"1" * 30 + b"e" + b"9" * 12, "holds a number of 43 characters", id="float-long-exponent"),
    pytest.param(b"1e99999999", r"holds NaN or Infinity (1e99999999)", id="float-overflowing"),
])
def test_numbers_are_bounded_before_conversion(tmp_path, container, number, expected):
    """Python 3.9 has no limit on int-string conversion: a 3-million-digit integer took minutes."""
    path = with_manifest_text(tmp_path, container,
                              lambda text: text.replace(b'"batch": 3', b'"batch": ' + number))
    message = quickly_refused(path)
    assert expected in message
    if "digits" in expected or "characters" in expected:
        assert re.search(r" at byte \d+$", message), message


@pytest.mark.parametrize("container", CONTAINERS)
def test_thirty_digits_parse_and_reach_the_schema(tmp_path, container):
    path = with_manifest_text(tmp_path, container, lambda text: text.replace(b'"batch": 3', b'"batch": ' + b"9" * 30))
    assert "manifest field" in quickly_refused(path)      # the schema's word on it


@pytest.mark.parametrize("container", CONTAINERS)
def test_duplicate_keys_are_refused(tmp_path, container):
    """Another JSON reader might keep the first of two values where Python keeps the last."""
    path = with_manifest_text(tmp_path, container, lambda text: text[:-1] + b', "model_name": "other"}')
    assert "holds the key 'model_name' twice in one object" in quickly_refused(path)


@pytest.mark.parametrize("container", CONTAINERS)
def test_the_manifest_is_parsed_once(tmp_path, container, monkeypatch):
    """An .h5 bundle is probed in a forked child and read again in the parent: the child reads the
    manifest's bytes but does not parse them. Every parse, in either process, leaves a line in a file."""
    log = str(tmp_path / "parses")

    class CountingJson(object):
        dumps = staticmethod(json.dumps)

        @staticmethod
        def loads(*args, **kwargs):
            with open(log, "a") as f:
                f.write("%d\n" % os.getpid())
            return json.loads(*args, **kwargs)
    path = write_sample(tmp_path, container)
    monkeypatch.setattr(manifest_module, "json", CountingJson)
    read_bundle(path)
    with open(log) as f:
        assert len(f.read().split()) == 1


# ============================================================================ .npy headers

def npy_member(header_text, version=(1, 0), data=b""):
    """A .npy member with exactly this header text (no padding added)."""
    text = header_text.encode("latin1")
    size = struct.pack("<H" if version == (1, 0) else "<I", len(text))
    return b"\x93NUMPY" + bytes(bytearray(version)) + size + text + data


def kernel_header(shape="(16, 4)"):
    return "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape


@pytest.mark.parametrize("member, expected", [
    pytest.param(npy_member(kernel_header("(%s, 4)" % ("1" * 3000000)), (2, 0)),
                 r"has a .npy header of \d+ bytes \(at most 4096\)", id="header-3-million-digits"),
    pytest.param(npy_member(kernel_header() + " " * 65000 + "\n"), r"has a .npy header of \d+ bytes", id="header-64k"),
    pytest.param(npy_member(kernel_header("(%s, 4)" % ("1" * 31))), "numbers over 30 digits", id="header-31-digits"),
    pytest.param(npy_member(kernel_header("(" * 9 + "16, 4" + ")" * 9)), "nested too deep", id="header-nested"),
    pytest.param(npy_member(kernel_header() + "\n\x1b[31m" + "\n"),
                 r"has a damaged .npy header .*\(16, 4\), }\\n\\x1b\[31m",
                 id="header-with-control-characters"),
    pytest.param(npy_member("__import__('os').system('touch PWNED')\n"), "has an unreadable .npy header",
                 id="header-code"),
    pytest.param(npy_member("{'descr': '<f4', 'fortran_order': False, 'shape': (16, 4), 'x': [1e999], }\n"),
                 "has an unreadable .npy header", id="header-extra-key"),
    pytest.param(npy_member(kernel_header(), (3, 0)), r"uses unsupported .npy version \(3, 0\)", id="version-3"),
    pytest.param(b"\x93NUMPY\x01", "is not a .npy array", id="cut-in-the-magic"),
    pytest.param(npy_member(kernel_header())[:40], r"is truncated \(its .npy header runs past", id="cut-in-the-header"),
])
def test_npy_headers_are_bounded_before_numpy_parses_them(tmp_path, member, expected):
    """A 3-million-digit number in a header took 294 s and 1.1 GB in the first round."""
    path = write_sample(tmp_path, "npz")
    ed = NpzEdit(path)
    ed.put_raw(KERNEL + ".npy", member)
    ed.save()
    message = quickly_refused(path)
    assert "array 'dense/kernel'" in message and re.search(expected, message), message
    assert not os.path.exists("PWNED")


def test_a_header_at_the_bound_is_read(tmp_path):
    """A version 2.0 header of exactly MAX_NPY_HEADER bytes (padding, as numpy pads) is fine."""
    path = write_sample(tmp_path, "npz")
    ed = NpzEdit(path)
    header = kernel_header()
    pad = npz_module.MAX_NPY_HEADER - len(header) - 1
    ed.put_raw(KERNEL + ".npy", npy_member(header + " " * pad + "\n", (2, 0), sample_arrays()[KERNEL].tobytes()))
    ed.save()
    np.testing.assert_array_equal(read_bundle(path).arrays[KERNEL], sample_arrays()[KERNEL])
