"""The export command's last resort (both Pythons; TensorFlow is never imported: the exporter is replaced):
an exception no part of the converter expected is status 1 in one escaped line that says how to get the
traceback, and with TF2CAFFE_DEBUG=1 the traceback itself."""
import sys
import types

import pytest

from export_tf import cli


@pytest.fixture
def broken_exporter(monkeypatch, tmp_path):
    fake = types.ModuleType("export_tf.exporter")

    def export(*args, **kwargs):
        raise RuntimeError("boom\nsecond line \x1b[31m")
    fake.export = export
    monkeypatch.setitem(sys.modules, "export_tf.exporter", fake)
    model = tmp_path / "m.keras"
    model.write_bytes(b"not a model")
    return [str(model), "-o", str(tmp_path / "b.npz"), "-q"]


def test_an_unexpected_exception_is_status_1_in_one_line(broken_exporter, monkeypatch, capsys):
    monkeypatch.delenv("TF2CAFFE_DEBUG", raising=False)
    assert cli.main(broken_exporter) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "\x1b" not in err, repr(err)
    assert err.startswith("export_tf: internal error: RuntimeError: boom (set TF2CAFFE_DEBUG=1"), err


def test_tf2caffe_debug_gives_the_traceback(broken_exporter, monkeypatch):
    monkeypatch.setenv("TF2CAFFE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(broken_exporter)
