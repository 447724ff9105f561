"""Hand-written HGQ2 (Keras 3, JAX) training of the digits MLP, as someone fluent in HGQ2 would write it:
the reference `benchmarks/train_throughput.py --dialect hgq2` compares qapc's generated train.py against.

The same model and data as specs/digits_qap.qap with 80% constant sparsity from step 90, updated every
18 steps (the spec `train_throughput.py` writes): an 8-bit input quantizer, QDense 64→32→32→10 with
6-bit weights and biases, 6-bit relu quantizers, a lookup-table softmax (QSoftmax); scikit-learn's digits, test 20%,
validation 20% of the rest, standard scaling, seed 7; Adam 3e-3, batch 64. Fixed-width quantizers
(no EBOPs) and tfmot's magnitude pruning written as a Keras callback (HGQ2 has no pruning API).

    KERAS_BACKEND=jax python benchmarks/handwritten_digits_hgq2.py [--epochs N] [--out DIR]

Prints one line per epoch (`epoch N/M ...`) and writes DIR/handwritten_metrics.json.
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=40)
parser.add_argument("--out", default=".")
args = parser.parse_args()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from hgq.config import LayerConfigScope  # noqa: E402
from hgq.layers import QDense, QSoftmax  # noqa: E402
from hgq.quantizer import Quantizer, QuantizerConfig  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

seed = 7
keras.utils.set_random_seed(seed)

## Load the data
digits = load_digits()
X, y = digits.data.astype("float32"), digits.target
X_train_val, X_test, y_train_val, y_test = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
X_train, X_val, y_train, y_val = train_test_split(X_train_val, y_train_val, test_size=0.2, random_state=seed, stratify=y_train_val)
scaler = StandardScaler().fit(X_train)
X_train, X_val, X_test = (scaler.transform(a).astype("float32") for a in (X_train, X_val, X_test))
Y_train, Y_val = (keras.utils.to_categorical(a, 10) for a in (y_train, y_val))
print(f"n_train {len(X_train)}", flush=True)


## Fixed-width quantizers: k0 sign bit, b0 bits without the sign, i0 integer bits without the sign
def q(signed, width, integer, place="datalane", round_mode="RND_CONV"):
    return QuantizerConfig(
        "kbi", place, k0=int(signed), b0=width - int(signed), i0=integer - int(signed),
        round_mode=round_mode, overflow_mode="SAT", heterogeneous_axis=(), trainable=False,
    )  # fmt: skip


## Construct the model
with LayerConfigScope(enable_ebops=False, enable_iq=False):
    inputs = keras.Input((64,), name="inputs")
    x = Quantizer(q(True, 8, 3), name="input_q")(inputs)
    x = QDense(32, kq_conf=q(True, 6, 1, "weight"), bq_conf=q(True, 6, 1, "bias"), name="fc1")(x)
    x = Quantizer(q(False, 6, 2), name="fc1_relu")(x)
    x = QDense(32, kq_conf=q(True, 6, 1, "weight"), bq_conf=q(True, 6, 1, "bias"), name="fc2")(x)
    x = Quantizer(q(False, 6, 2), name="fc2_relu")(x)
    x = QDense(10, kq_conf=q(True, 6, 1, "weight"), bq_conf=q(True, 6, 1, "bias"), name="out")(x)
    # softmax from lookup tables, so that hls4ml's firmware computes exactly what the model does
    outputs = QSoftmax(
        exp_iq_conf=q(False, 12, 3, round_mode="TRN"), exp_oq_conf=q(False, 18, 1, round_mode="RND"),
        inv_iq_conf=q(False, 12, 5, round_mode="TRN"), inv_oq_conf=q(False, 18, 1, round_mode="RND"),
        name="out_softmax",
    )(x)  # fmt: skip
model = keras.Model(inputs, outputs)


## Prune: 80% of each kernel from step 90, masks updated every 18 steps, applied before every step
class ConstantSparsity(keras.callbacks.Callback):
    def __init__(self, layers, sparsity, begin, frequency):
        super().__init__()
        self.names, self.sparsity, self.begin, self.frequency = layers, sparsity, begin, frequency
        self.step, self.masks = 0, None

    def on_train_batch_begin(self, batch, logs=None):
        self.step += 1
        kernels = [self.model.get_layer(n).kernel for n in self.names]
        if self.step >= self.begin and (self.step - self.begin) % self.frequency == 0:
            self.masks = []
            for k in kernels:
                a = np.abs(k.numpy())
                keep = max(round(a.size * (1 - self.sparsity)), 1)
                self.masks.append((a >= np.sort(a.ravel())[-keep]).astype("float32"))
        if self.masks is not None:
            for k, m in zip(kernels, self.masks):
                k.assign(k.numpy() * m)

    def on_epoch_end(self, epoch, logs=None):
        if self.masks is not None:
            for n, m in zip(self.names, self.masks):
                k = self.model.get_layer(n).kernel
                k.assign(k.numpy() * m)


## Train
model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="categorical_crossentropy", metrics=["accuracy"])
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True, start_from_epoch=6),
    ConstantSparsity(("fc1", "fc2", "out"), 0.80, begin=90, frequency=18),
    keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: print(f"epoch {epoch + 1}/{args.epochs} loss {logs['loss']:.4f} val_accuracy {logs['val_accuracy']:.4f}", flush=True)
    ),
]
start = time.time()
history = model.fit(X_train, Y_train, batch_size=64, epochs=args.epochs, validation_data=(X_val, Y_val), shuffle=True, verbose=0, callbacks=callbacks)
train_time = time.time() - start

## Check accuracy and sparsity
accuracy = float(np.mean(np.argmax(model.predict(X_test, verbose=0), axis=1) == y_test))
kernels = [model.get_layer(n).kernel.numpy() for n in ("fc1", "fc2", "out")]
sparsity = sum(int((k == 0).sum()) for k in kernels) / sum(k.size for k in kernels)
metrics = {"accuracy": accuracy, "sparsity": sparsity, "epochs": len(history.history["loss"]), "fit_time_s": train_time, "n_train": len(X_train)}
with open(os.path.join(args.out, "handwritten_metrics.json"), "w") as f:
    json.dump(metrics, f, indent=2)
print(f"accuracy {accuracy:.4f} sparsity {sparsity:.3f}", flush=True)
