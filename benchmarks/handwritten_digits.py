"""Hand-written QKeras + tfmot training of the digits MLP, in the style of the hls4ml tutorial
(part 4, quantization, and part 7, pruning): the reference `benchmarks/train_throughput.py`
compares qapc's generated train.py against.

The same model and data as specs/digits_qap.qap with a tfmot ConstantSparsity schedule
(the spec `train_throughput.py` writes): 8-bit input quantizer, QDense 64→32→32→10 with
6-bit weights and biases, 6-bit quantized ReLUs, softmax; scikit-learn's digits, test 20%,
validation 20% of the rest, standard scaling, seed 7; Adam 3e-3, batch 64.

    python benchmarks/handwritten_digits.py [--epochs N] [--out DIR]

Prints one line per epoch (`epoch N/M ...`) and writes DIR/handwritten_metrics.json.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=40)
parser.add_argument("--out", default=".")
args = parser.parse_args()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from qkeras.qlayers import QActivation, QDense  # noqa: E402
from qkeras.quantizers import quantized_bits, quantized_relu  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from tensorflow.keras.callbacks import EarlyStopping, LambdaCallback  # noqa: E402
from tensorflow.keras.layers import Activation  # noqa: E402
from tensorflow.keras.models import Sequential  # noqa: E402
from tensorflow.keras.optimizers import Adam  # noqa: E402
from tensorflow.keras.utils import to_categorical  # noqa: E402
from tensorflow_model_optimization.python.core.sparsity.keras import prune, pruning_callbacks, pruning_schedule  # noqa: E402
from tensorflow_model_optimization.sparsity.keras import strip_pruning  # noqa: E402

seed = 7
np.random.seed(seed)
tf.random.set_seed(seed)
tf.keras.utils.set_random_seed(seed)
tf.config.experimental.enable_op_determinism()

## Load the data
digits = load_digits()
X, y = digits.data.astype("float32"), digits.target
X_train_val, X_test, y_train_val, y_test = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
X_train, X_val, y_train, y_val = train_test_split(X_train_val, y_train_val, test_size=0.2, random_state=seed, stratify=y_train_val)
scaler = StandardScaler().fit(X_train)
X_train, X_val, X_test = (scaler.transform(a).astype("float32") for a in (X_train, X_val, X_test))
Y_train, Y_val, Y_test = (to_categorical(a, 10) for a in (y_train, y_val, y_test))
print(f"n_train {len(X_train)}", flush=True)

## Construct a model with quantized layers
model = Sequential()
model.add(QActivation(quantized_bits(8, 2, keep_negative=1, alpha=1), input_shape=(64,), name="input_q"))
model.add(QDense(32, name="fc1", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1)))
model.add(QActivation(activation=quantized_relu(6, 2), name="fc1_relu"))
model.add(QDense(32, name="fc2", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1)))
model.add(QActivation(activation=quantized_relu(6, 2), name="fc2_relu"))
model.add(QDense(10, name="out", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1)))
model.add(Activation(activation="softmax", name="out_softmax"))

## Prune: 80% sparsity from step 90, updated every 18 steps (one epoch)
pruning_params = {"pruning_schedule": pruning_schedule.ConstantSparsity(0.80, begin_step=90, frequency=18)}
model = prune.prune_low_magnitude(model, **pruning_params)

## Train
model.compile(optimizer=Adam(learning_rate=3e-3), loss=["categorical_crossentropy"], metrics=["accuracy"])
callbacks = [
    EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True, start_from_epoch=6),
    pruning_callbacks.UpdatePruningStep(),
    LambdaCallback(
        on_epoch_end=lambda epoch, logs: print(f"epoch {epoch + 1}/{args.epochs} loss {logs['loss']:.4f} val_accuracy {logs['val_accuracy']:.4f}", flush=True)
    ),
]
start = time.time()
history = model.fit(X_train, Y_train, batch_size=64, epochs=args.epochs, validation_data=(X_val, Y_val), shuffle=True, verbose=0, callbacks=callbacks)
train_time = time.time() - start
model = strip_pruning(model)

## Check accuracy and sparsity
model.compile(optimizer=Adam(learning_rate=3e-3), loss=["categorical_crossentropy"], metrics=["accuracy"])
accuracy = float(np.mean(np.argmax(model.predict(X_test, verbose=0), axis=1) == y_test))
kernels = [model.get_layer(n).get_weights()[0] for n in ("fc1", "fc2", "out")]
sparsity = sum(int((k == 0).sum()) for k in kernels) / sum(k.size for k in kernels)
metrics = {"accuracy": accuracy, "sparsity": sparsity, "epochs": len(history.history["loss"]), "fit_time_s": train_time, "n_train": len(X_train)}
with open(os.path.join(args.out, "handwritten_metrics.json"), "w") as f:
    json.dump(metrics, f, indent=2)
print(f"accuracy {accuracy:.4f} sparsity {sparsity:.3f}", flush=True)
