"""Hand-written Brevitas (PyTorch) training of the digits MLP, as someone fluent in Brevitas would write it:
the reference `benchmarks/train_throughput.py --dialect brevitas` compares qapc's generated train.py against.

The same model and data as specs/digits_qap.qap with 80% constant sparsity from step 90, updated every
18 steps (the spec `train_throughput.py` writes): an 8-bit input quantizer, QuantLinear 64→32→32→10 with
6-bit weights and biases, 6-bit QuantReLU, all with constant power-of-two scales; the softmax in the loss;
scikit-learn's digits, test 20%, validation 20% of the rest, standard scaling, seed 7; Adam 3e-3, batch 64;
torch.nn.utils.prune masks recomputed by magnitude on the update steps.

    python benchmarks/handwritten_digits_brevitas.py [--epochs N] [--out DIR]

Prints one line per epoch (`epoch N/M ...`) and writes DIR/handwritten_metrics.json.
"""

import argparse
import copy
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=40)
parser.add_argument("--out", default=".")
args = parser.parse_args()

import brevitas.nn as qnn  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from brevitas.inject.enum import ScalingImplType  # noqa: E402
from brevitas.quant.fixed_point import (  # noqa: E402
    Int8ActPerTensorFixedPoint,
    Int8BiasPerTensorFixedPointInternalScaling,
    Int8WeightPerTensorFixedPoint,
    Uint8ActPerTensorFixedPoint,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

seed = 7
torch.manual_seed(seed)
torch.set_num_threads(1)

## Load the data
digits = load_digits()
X, y = digits.data.astype("float32"), digits.target
X_train_val, X_test, y_train_val, y_test = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
X_train, X_val, y_train, y_val = train_test_split(X_train_val, y_train_val, test_size=0.2, random_state=seed, stratify=y_train_val)
scaler = StandardScaler().fit(X_train)
X_train, X_val, X_test = (torch.from_numpy(scaler.transform(a).astype("float32")) for a in (X_train, X_val, X_test))
y_train, y_val = torch.from_numpy(y_train), torch.from_numpy(y_val)
print(f"n_train {len(X_train)}", flush=True)

## Quantizers with constant power-of-two scales: fixed<6,1> weights and biases, fixed<8,3> input, ufixed<6,2> relu
const = dict(scaling_impl_type=ScalingImplType.CONST)
W6 = Int8WeightPerTensorFixedPoint.let(bit_width=6, narrow_range=False, scaling_init=1.0, **const)
B6 = Int8BiasPerTensorFixedPointInternalScaling.let(bit_width=6, narrow_range=False, scaling_init=1.0, **const)
IN8 = Int8ActPerTensorFixedPoint.let(bit_width=8, scaling_init=4.0, **const)
RELU6 = Uint8ActPerTensorFixedPoint.let(bit_width=6, scaling_init=4.0, **const)

model = nn.Sequential(
    qnn.QuantIdentity(act_quant=IN8, return_quant_tensor=True),
    qnn.QuantLinear(64, 32, bias=True, weight_quant=W6, bias_quant=B6, return_quant_tensor=True),
    qnn.QuantReLU(act_quant=RELU6, return_quant_tensor=True),
    qnn.QuantLinear(32, 32, bias=True, weight_quant=W6, bias_quant=B6, return_quant_tensor=True),
    qnn.QuantReLU(act_quant=RELU6, return_quant_tensor=True),
    qnn.QuantLinear(32, 10, bias=True, weight_quant=W6, bias_quant=B6),
)
pruned = [model[1], model[3], model[5]]
for m in pruned:
    prune.identity(m, "weight")


## Prune: 80% of each weight from step 90, masks updated every 18 steps
def update_masks(sparsity):
    with torch.no_grad():
        for m in pruned:
            a = m.weight.abs().flatten()
            keep = max(round(a.numel() * (1 - sparsity)), 1)
            m.weight_mask.copy_((m.weight.abs() >= torch.sort(a, descending=True).values[keep - 1]).float())


## Train
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
generator = torch.Generator().manual_seed(seed)
step, best, best_state, waited, epochs = 0, float("inf"), None, 0, 0
start = time.time()
for epoch in range(args.epochs):
    model.train()
    for idx in torch.randperm(len(X_train), generator=generator).split(64):
        step += 1
        if step >= 90 and (step - 90) % 18 == 0:
            update_masks(0.80)
        optimizer.zero_grad()
        loss = loss_fn(model(X_train[idx]), y_train[idx])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_logits = model(X_val)
        val_loss = loss_fn(val_logits, y_val).item()
        val_accuracy = (val_logits.argmax(1) == y_val).float().mean().item()
    epochs += 1
    print(f"epoch {epoch + 1}/{args.epochs} loss {loss.item():.4f} val_accuracy {val_accuracy:.4f}", flush=True)
    if epoch + 1 >= 6:  # early stopping once the schedule has reached its target
        if val_loss < best:
            best, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= 10:
                break
if best_state is not None:
    model.load_state_dict(best_state)
train_time = time.time() - start
for m in pruned:
    prune.remove(m, "weight")

## Check accuracy and sparsity
model.eval()
with torch.no_grad():
    accuracy = float(np.mean(model(X_test).argmax(1).numpy() == y_test))
weights = [m.weight.detach().numpy() for m in pruned]
sparsity = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
metrics = {"accuracy": accuracy, "sparsity": sparsity, "epochs": epochs, "fit_time_s": train_time, "n_train": len(X_train)}
with open(os.path.join(args.out, "handwritten_metrics.json"), "w") as f:
    json.dump(metrics, f, indent=2)
print(f"accuracy {accuracy:.4f} sparsity {sparsity:.3f}", flush=True)
