"""Acceptance: real keras.applications architectures (weights=None, random biases and BatchNorm
statistics) convert with every layer's own error within the parity bar and the argmax agreeing."""
import keras
import pytest

APPLICATIONS = {
    "VGG16": lambda: keras.applications.VGG16(weights=None),
    "ResNet50": lambda: keras.applications.ResNet50(weights=None),
    "MobileNetV2": lambda: keras.applications.MobileNetV2(weights=None),
    "InceptionV3": lambda: keras.applications.InceptionV3(weights=None),
    "DenseNet121": lambda: keras.applications.DenseNet121(weights=None),
    "MobileNetV3Small": lambda: keras.applications.MobileNetV3Small(input_shape=(224, 224, 3), weights=None),
    "Xception": lambda: keras.applications.Xception(weights=None),
    "EfficientNetB0": lambda: keras.applications.EfficientNetB0(weights=None),
    "NASNetMobile": lambda: keras.applications.NASNetMobile(weights=None),
}


@pytest.mark.parametrize("name", sorted(APPLICATIONS), ids=sorted(APPLICATIONS))
def test_application_parity(check, name):
    report = check(APPLICATIONS[name]())
    output = report["outputs"][0]
    print("%s: own error max %.2e, outputs drift %.2e, worst layer drift %.2e over %d layers, argmax %d/%d" % (
        name, report["summary"]["own_max_rel"], output["max_rel"],
        max(r["max_rel"] for r in report["layers"] if r["max_rel"] is not None),
        report["summary"]["layers_compared"], output["argmax_agree"], output["argmax_total"]))
