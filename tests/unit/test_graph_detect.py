"""The graph front end's pure parts (no TensorFlow): format detection from the path, the --inputs /
--outputs syntax, and the manifest names made from TF op names."""
import os

import pytest

from export_tf.graphdef.detect import detect_format
from export_tf.graphdef.names import NameTable, clean_name, parse_inputs, parse_outputs, tensor_name
from shared.errors import UsageError
from shared.schema import MAX_NAME_LENGTH


def touch(path, text=""):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_keras_and_graph_files(tmp_path):
    for name in ("m.keras", "m.h5", "m.HDF5"):
        path = touch(str(tmp_path / name))
        assert detect_format(path) == ("keras", path)
    for name in ("frozen.pb", "frozen.pbtxt"):
        path = touch(str(tmp_path / name))
        assert detect_format(path) == ("graphdef", path)


def test_saved_model_directory_or_its_file(tmp_path):
    folder = str(tmp_path / "sm")
    pb = touch(os.path.join(folder, "saved_model.pb"))
    assert detect_format(folder) == ("savedmodel", folder)
    assert detect_format(pb) == ("savedmodel", folder)


def test_checkpoint_by_meta_prefix_index_data_or_folder(tmp_path):
    prefix = str(tmp_path / "ck" / "model.ckpt-100")
    for suffix in (".meta", ".index", ".data-00000-of-00001"):
        touch(prefix + suffix)
    touch(str(tmp_path / "ck" / "checkpoint"), 'model_checkpoint_path: "model.ckpt-100"\n'
                                             'all_model_checkpoint_paths: "model.ckpt-100"\n')
    for path in (prefix, prefix + ".meta", prefix + ".index", prefix + ".data-00000-of-00001",
                 str(tmp_path / "ck")):
        assert detect_format(path) == ("checkpoint", prefix), path


def test_checkpoint_folder_that_was_moved(tmp_path):
    """The state file may hold the absolute prefix of the folder the checkpoint was written in."""
    prefix = str(tmp_path / "moved" / "vgg.ckpt")
    touch(prefix + ".meta")
    touch(prefix + ".index")
    touch(str(tmp_path / "moved" / "checkpoint"), 'model_checkpoint_path: "/elsewhere/vgg.ckpt"\n')
    assert detect_format(str(tmp_path / "moved")) == ("checkpoint", prefix)


@pytest.mark.parametrize("setup, message", [
    (lambda d: os.path.join(d, "missing.pb"), "no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: touch(os.path.join(d, "model.txt")), "unknown model format"),
    (lambda d: touch(os.path.join(d, "w.ckpt.index")), "without its graph"),
    (lambda d: touch(os.path.join(d, "g.ckpt.meta")), "without its weights"),
    (lambda d: os.path.dirname(touch(os.path.join(d, "c", "checkpoint"), "nothing\n")), "names no"),
], ids=["missing", "plain_directory", "unknown_suffix", "no_meta", "no_index", "empty_state_file"])
def test_refusals_say_what_was_expected(tmp_path, setup, message):
    with pytest.raises(UsageError) as info:
        detect_format(setup(str(tmp_path)))
    assert message in str(info.value)


def test_inputs_and_outputs_syntax():
    specs = parse_inputs("images:112x112x3,mask:1,z:0:4")
    assert [(s.tensor, s.shape) for s in specs] == [("images:0", [112, 112, 3]), ("mask:1", None), ("z:0", [4])]
    assert parse_outputs("prob,fc8/BiasAdd:0") == ["prob:0", "fc8/BiasAdd:0"]
    assert tensor_name("^ctrl") is None


@pytest.mark.parametrize("text", ["images:0x3", "a,,b", "a:b:c:d", "", "a,a", "a:b"])
def test_bad_inputs_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_inputs(text)


def test_names_from_tf_ops():
    assert clean_name("StatefulPartitionedCall/sequential/conv1/Conv2D") == "sequential/conv1/Conv2D"
    assert clean_name("a b(c)") == "a_b_c_"
    long = "scope/" * 80 + "Conv2D"
    assert len(clean_name(long)) <= MAX_NAME_LENGTH and clean_name(long) != clean_name(long + "_1")
    table = NameTable()
    assert table.tensor("conv/BiasAdd:0") == "conv/BiasAdd" == table.get("conv/BiasAdd")
    assert table.tensor("split:1") == "split:1"
    assert table.get("x y") == "x_y" and table.get("x_y") == "x_y_1"     # unique after cleaning
    assert table.unique("output_0") == "output_0" and table.unique("output_0") == "output_0_1"


def test_readme_lists_every_graph_op():
    """The README's list of TF ops the graph front end converts is the registry's (no TF needed)."""
    from export_tf.graphdef.lower import supported_ops
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "README.md")) as f:
        text = f.read()
    listed = text.split("<!-- graph-ops:begin -->")[1].split("<!-- graph-ops:end -->")[0]
    assert [op.strip() for op in listed.split(",")] == sorted(supported_ops())
