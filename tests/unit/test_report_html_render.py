"""report.html rendering on its own (no TF, no Caffe): escaping, colour classes, approximations."""
import html

from import_caffe import report_html

EVIL = '"><img src=x onerror=alert(1)>'


def _report(**extra):
    rows = [
        {"layer": EVIL, "type": "Conv2D", "caffe_layers": [EVIL, EVIL + "/bias"], "shape": [4, 4, 2],
         "max_abs": 1e-7, "max_rel": 2e-8, "tolerance": 1e-4, "status": "ok", "output": False},
        {"layer": "gelu", "type": "Activation<b>", "caffe_layers": ["gelu"], "shape": [8], "max_abs": 0.0,
         "max_rel": 0.0, "tolerance": 1e-4, "status": "ok", "output": False},
        {"layer": "bad", "type": "Dense", "caffe_layers": ["bad"], "shape": [3], "max_abs": 0.5, "max_rel": 0.1,
         "tolerance": 1e-4, "status": "inaccurate", "output": True, "argmax_agree": 1, "argmax_total": 2},
        {"layer": "skipped", "type": "Dropout", "caffe_layers": [], "shape": [3], "max_abs": None,
         "max_rel": None, "status": "not compared", "output": False},
    ]
    report = {"model": EVIL, "summary": {"status": "inaccurate", "first_divergence": "bad",
                                         "outputs_max_rel": 0.1, "layers_compared": 3},
              "batch": 2, "source": {"path": EVIL, "format": "keras"},
              "producer": {"name": "p", "version": "1", "tensorflow": "2", "keras": "3"}, "target": "t",
              "layers": rows, "outputs": rows[2:3], "notes": {EVIL: "a <note>"},
              "inputs": [{"name": EVIL, "caffe_shape": ["N", 2, 6, 6], "tf_shape": ["N", 6, 6, 2],
                          "layout": "NCHW", "reference_range": {"min": -1.5, "mean": 0.0, "max": 2.5}}],
              "tolerances": {"default": {"rel": 1e-4, "reason": "round-off"}}, "files": {}}
    report.update(extra)
    return report


def test_every_name_is_escaped():
    text = report_html.render(_report(approximations=[{"layer": EVIL, "op": "gelu", "max_abs": 1e-6}]))
    assert EVIL not in text and "<img" not in text and "<note>" not in text and "Activation<b>" not in text
    assert html.escape(EVIL, quote=True) in text


def test_rows_are_colour_coded_in_order():
    text = report_html.render(_report())
    for cls in ('<tr class="s-ok"><td>1<', '<tr class="s-ok"><td>2<', '<tr class="s-inaccurate"><td>3<',
                '<tr class="s-not-compared"><td>4<'):
        assert cls in text
    assert "first layer that diverges: bad" in text and "parity: INACCURATE" in text
    assert text.count("<circle") == 3     # the tensor that was not compared has no point
    assert "argmax agrees on 1/2" in text


def test_approximations_are_listed():
    text = report_html.render(_report(approximations=[{"layer": "gelu", "type": "Activation", "method": "tanh form",
                                                       "max_abs": 3e-7, "max_rel": 2e-7, "input_max_abs": 0.0,
                                                       "extra": "x"}]))
    assert "<td>gelu</td><td>Activation</td><td>tanh form</td><td>3.00e-07</td><td>2.00e-07</td>" in text
    assert "extra: x" in text
    assert "None: every layer is lowered exactly" in report_html.render(_report(approximations=[]))
    assert "does not record approximations" in report_html.render(_report())


def test_manual_section_lists_matches_and_differences():
    manual = {"matched": [{"tf_layer": EVIL, "caffe_layers": ["bn1", "scale1"]}],
              "param_differences": ["bn1.batch_norm_param.eps: TF's layer gives 0.001, yours has <1e-05>"],
              "layers_without_weights": ["data", "relu1"]}
    text = report_html.render(_report(manual=manual))
    assert "<td>%s</td><td>bn1, scale1</td>" % html.escape(EVIL, quote=True) in text
    assert "<li>bn1.batch_norm_param.eps: TF&#x27;s layer gives 0.001, yours has &lt;1e-05&gt;</li>" in text
    assert "Your layers without weights: data, relu1" in text
