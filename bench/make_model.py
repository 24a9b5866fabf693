"""Build and save one benchmark model (TF environment): python bench/make_model.py NAME PATH [GB]."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build(name, gigabytes):
    import keras
    if name == "vgg16":
        return keras.applications.VGG16(weights=None)
    if name == "vgg19":
        return keras.applications.VGG19(weights=None)
    if name == "resnet50":
        return keras.applications.ResNet50(weights=None)
    if name == "big":
        # A few huge Dense layers: width w, three w x w kernels hold 3 * 4 * w * w bytes.
        width = int(((gigabytes * 1e9) / 12) ** 0.5) // 256 * 256
        inp = keras.Input((width,), name="x")
        x = inp
        for i in range(3):
            x = keras.layers.Dense(width, activation="relu" if i < 2 else None, name="dense%d" % i,
                                   kernel_initializer=keras.initializers.RandomNormal(stddev=width ** -0.5))(x)
        return keras.Model(inp, x, name="big")
    raise SystemExit("unknown model %r" % name)


def main():
    name, path = sys.argv[1], sys.argv[2]
    gigabytes = float(sys.argv[3]) if len(sys.argv) > 3 else 3.2
    model = build(name, gigabytes)
    model.save(path)
    params = model.count_params()
    print("%s %d %d" % (name, params, params * 4))


if __name__ == "__main__":
    main()
