"""TF's inference time of one batch (TF environment): the model's own predict_on_batch on the inputs of
INPUTS.npy on THREADS threads (TF's intra- and inter-op pools), after warm-up, median of at least RUNS
calls taking SECONDS in all; writes TF's output to OUT.npy and prints its figures as one JSON line.
python bench/forward_tf.py MODEL.keras INPUTS.npy OUT.npy RUNS SECONDS THREADS"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def main(path, inputs, out, runs, seconds, threads):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    model = keras.saving.load_model(path, compile=False)
    x = np.load(inputs)
    for _ in range(2):                      # warm-up: tracing and the first allocations
        y = model.predict_on_batch(x)
    times = []
    while len(times) < runs or sum(times) < seconds:
        start = time.perf_counter()
        y = model.predict_on_batch(x)
        times.append(time.perf_counter() - start)
    np.save(out, np.asarray(y, np.float32))
    print(json.dumps({"median_s": float(np.median(times)), "min_s": min(times), "runs": len(times)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
