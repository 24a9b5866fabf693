"""The export's floor (TF environment): Keras loads the model and writes its weights.
python bench/floor_tf.py MODEL.keras OUT.weights.h5"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

model = keras.saving.load_model(sys.argv[1], compile=False)
model.save_weights(sys.argv[2])
