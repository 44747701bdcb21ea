#!/usr/bin/env python3
"""Non-neural baselines on the bundled digits split, for reading the network's accuracy against them.

    python3 scripts/digits-baselines.py [predictions.csv]

Prints the test accuracy of k-nearest-neighbours (k = 1, 3) and of an RBF kernel ridge classifier on the raw
pixels scaled to [0, 1]. Given a run folder's predictions.csv, also lists which test images the network and
the kernel classifier get wrong, and how many of those they share. Needs only numpy.
"""
import csv
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, "..", "Sources", "BayesNet", "Resources", "digits")


def idx(name):
    raw = open(os.path.join(DIGITS, name), "rb").read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw[4 + 4 * len(dims):], dtype=np.uint8).reshape(dims)


x_train = idx("train-images.idx3-ubyte").reshape(-1, 64) / 16.0
y_train = idx("train-labels.idx1-ubyte")
x_test = idx("test-images.idx3-ubyte").reshape(-1, 64) / 16.0
y_test = idx("test-labels.idx1-ubyte")
distances = ((x_test[:, None, :] - x_train[None, :, :]) ** 2).sum(-1)

for k in (1, 3):
    nearest = np.argsort(distances, axis=1)[:, :k]
    votes = np.array([np.bincount(y_train[row], minlength=10).argmax() for row in nearest])
    print(f"{k}-nearest-neighbours: accuracy {np.mean(votes == y_test):.4f}")

gamma, ridge = 0.1, 1e-3
train_distances = ((x_train[:, None, :] - x_train[None, :, :]) ** 2).sum(-1)
weights = np.linalg.solve(np.exp(-gamma * train_distances) + ridge * np.eye(len(x_train)), np.eye(10)[y_train])
kernel_labels = (np.exp(-gamma * distances) @ weights).argmax(1)
print(f"RBF kernel ridge (gamma {gamma}, ridge {ridge}): accuracy {np.mean(kernel_labels == y_test):.4f}")

if len(sys.argv) > 1:
    with open(sys.argv[1]) as f:
        rows = list(csv.DictReader(f))
    predicted = np.array([int(r["predicted"]) for r in rows])
    network_wrong = set(np.flatnonzero(predicted != y_test).tolist())
    kernel_wrong = set(np.flatnonzero(kernel_labels != y_test).tolist())
    print(f"network errors ({len(network_wrong)}): {sorted(network_wrong)}")
    print(f"kernel ridge errors ({len(kernel_wrong)}): {sorted(kernel_wrong)}")
    print(f"shared: {len(network_wrong & kernel_wrong)}")
