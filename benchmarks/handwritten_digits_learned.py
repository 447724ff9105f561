"""Hand-written HGQ2 (Keras 3, JAX) training of the digits MLP with learned bit widths, as someone fluent in
HGQ2 would write it: the reference `benchmarks/train_throughput.py --dialect hgq2 --learned` compares qapc's
generated train.py against.

The same model and data as the spec `train_throughput.py --learned` writes (specs/digits_qap.qap's types with
learned weights): an 8-bit input quantizer, QDense 64→32→32→10 whose weights and biases learn their widths
from fixed<6,1> (trainable KBI quantizers, one width per weight) against their EBOPs with beta 1e-5, each
with an input quantizer of its own for the EBOPs; 6-bit relu quantizers, a lookup-table softmax (QSoftmax);
scikit-learn's digits, test 20%, validation 20% of the rest, standard scaling, seed 7; Adam 3e-3, batch 64,
no early stopping. After training: the weights on their grids and HGQ2's trace_minmax for the EBOPs.

    KERAS_BACKEND=jax python benchmarks/handwritten_digits_learned.py [--epochs N] [--out DIR]

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
from hgq.utils import trace_minmax  # noqa: E402
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


## Quantizers: fixed widths for the data, learned ones (a width per weight) for the weights and biases
def q(signed, width, integer, place="datalane", round_mode="RND_CONV"):
    return QuantizerConfig(
        "kbi", place, k0=int(signed), b0=width - int(signed), i0=integer - int(signed),
        round_mode=round_mode, overflow_mode="SAT", heterogeneous_axis=(), trainable=False,
    )  # fmt: skip


def learned(place):
    return QuantizerConfig("kbi", place, k0=1, b0=5, i0=0, round_mode="RND_CONV", overflow_mode="SAT_SYM", homogeneous_axis=(), trainable=True)


def dense(units, iq, name):
    return QDense(units, kq_conf=learned("weight"), bq_conf=learned("bias"), iq_conf=iq, enable_iq=True, enable_ebops=True, beta0=1e-5, name=name)


## Construct the model
with LayerConfigScope(enable_ebops=False, enable_iq=False):
    inputs = keras.Input((64,), name="inputs")
    x = Quantizer(q(True, 8, 3), name="input_q")(inputs)
    x = dense(32, q(True, 8, 3), "fc1")(x)
    x = Quantizer(q(False, 6, 2), name="fc1_relu")(x)
    x = dense(32, q(False, 6, 2), "fc2")(x)
    x = Quantizer(q(False, 6, 2), name="fc2_relu")(x)
    x = dense(10, q(False, 6, 2), "out")(x)
    outputs = QSoftmax(
        exp_iq_conf=q(False, 12, 3, round_mode="TRN"), exp_oq_conf=q(False, 18, 1, round_mode="RND"),
        inv_iq_conf=q(False, 12, 5, round_mode="TRN"), inv_oq_conf=q(False, 18, 1, round_mode="RND"),
        name="out_softmax",
    )(x)  # fmt: skip
model = keras.Model(inputs, outputs)

## Train
model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="categorical_crossentropy", metrics=["accuracy"])
callbacks = [
    keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: print(f"epoch {epoch + 1}/{args.epochs} loss {logs['loss']:.4f} val_accuracy {logs['val_accuracy']:.4f}", flush=True)
    ),
]
start = time.time()
history = model.fit(X_train, Y_train, batch_size=64, epochs=args.epochs, validation_data=(X_val, Y_val), shuffle=True, verbose=0, callbacks=callbacks)
train_time = time.time() - start

## Weights on their learned grids, EBOPs, accuracy
for name in ("fc1", "fc2", "out"):
    layer = model.get_layer(name)
    layer.kernel.assign(np.asarray(layer.qkernel))
    layer.bias.assign(np.asarray(layer.qbias))
ebops = trace_minmax(model, X_train, batch_size=64)
accuracy = float(np.mean(np.argmax(model.predict(X_test, verbose=0), axis=1) == y_test))
kernels = [model.get_layer(n).kernel.numpy() for n in ("fc1", "fc2", "out")]
sparsity = sum(int((k == 0).sum()) for k in kernels) / sum(k.size for k in kernels)
metrics = {"accuracy": accuracy, "sparsity": sparsity, "ebops": float(ebops), "epochs": len(history.history["loss"]), "fit_time_s": train_time, "n_train": len(X_train)}
with open(os.path.join(args.out, "handwritten_metrics.json"), "w") as f:
    json.dump(metrics, f, indent=2)
print(f"accuracy {accuracy:.4f} sparsity {sparsity:.3f} ebops {ebops}", flush=True)
