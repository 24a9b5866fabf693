"""report.html: written next to report.json by every conversion, self-contained, one table row per compared
tensor, the per-layer plot, the inputs Caffe expects, and every name from the (untrusted) bundle escaped."""
import html
import os
import re

import keras

from conftest import assert_parity, convert, randomize

EVIL = '<script>alert("x")<\\script>&'


def test_report_html_of_a_conversion(tmp_path):
    inp = keras.Input((6, 6, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name=EVIL)(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(5, name="logits")(x)
    model = randomize(keras.Model(inp, out, name="html_model"))
    report = assert_parity(convert(model, tmp_path))
    path = os.path.join(str(tmp_path), "caffe", "report.html")
    text = open(path, encoding="utf-8").read()
    # self-contained: no script, nothing loaded from elsewhere
    assert "<script" not in text.lower() and "src=" not in text and "href=" not in text
    assert html.escape(EVIL, quote=True) in text
    # one table row per compared tensor, in network order, with its status class and its numbers
    body = text.split('<table class="layers">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr class="s-([a-z-]+)"><td>(\d+)</td><td>(.*?)</td>', body)
    assert [int(r[1]) for r in rows] == list(range(1, len(report["layers"]) + 1))
    for (status, _, cell), layer in zip(rows, report["layers"]):
        assert status == layer["status"].replace(" ", "-")
        assert cell.startswith(html.escape(layer["layer"], quote=True))
        if layer["max_rel"] is not None:
            assert "%.2e" % layer["max_rel"] in body
    # the plot: one point per compared tensor, each titled with its (escaped) layer name
    svg = text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count("<circle") == sum(1 for r in report["layers"] if r["status"] != "not compared")
    assert "%s (Conv2D" % html.escape(EVIL, quote=True) in svg
    # what Caffe expects: NCHW with the reference value range, and no preprocessing added
    rng = report["inputs"][0]["reference_range"]
    assert rng["min"] < rng["mean"] < rng["max"]
    assert "N &times; 3 &times; 6 &times; 6" in text and "NCHW" in text and "no RGB/BGR swap" in text
    assert "parity: OK" in text
