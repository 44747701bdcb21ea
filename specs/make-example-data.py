#!/usr/bin/env python3
"""Writes the small synthetic datasets that the sequence, volume and regression specs read.

Deterministic (fixed seeds), so re-running it reproduces the committed files byte for byte.
Needs numpy. Run from anywhere: python3 specs/make-example-data.py
"""
import os
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def sequences(n, rng):
    """3 classes of 128-step, 2-channel signals: sine, square and sawtooth waves with random
    frequency, phase and amplitude, the second channel a delayed copy, plus noise; stored as uint8."""
    t = np.arange(128) / 128.0
    x = np.zeros((n, 128, 2), dtype=np.float64)
    y = rng.integers(0, 3, size=n)
    for i in range(n):
        f = rng.uniform(2, 6)
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(0.5, 1.0)
        for c, delay in enumerate((0.0, rng.uniform(0.05, 0.2))):
            u = 2 * np.pi * f * (t - delay) + phase
            if y[i] == 0:
                wave = np.sin(u)
            elif y[i] == 1:
                wave = np.sign(np.sin(u))
            else:
                wave = 2 * ((u / (2 * np.pi)) % 1.0) - 1
            x[i, :, c] = amp * wave + rng.normal(0, 0.15, size=128)
    x = np.clip((x + 1.5) / 3.0 * 255, 0, 255).astype(np.uint8)
    return x, y.astype(np.int64)


def volumes(n, rng, size=12):
    """2 classes of size^3 single-channel volumes: a ball (0) or a cube (1) of random radius and
    centre, plus noise; stored as uint8."""
    g = np.arange(size) + 0.5
    zz, yy, xx = np.meshgrid(g, g, g, indexing="ij")
    x = np.zeros((n, size, size, size, 1), dtype=np.float64)
    y = rng.integers(0, 2, size=n)
    for i in range(n):
        r = rng.uniform(2.0, 4.0)
        c = rng.uniform(r, size - r, size=3)
        d = np.stack([zz - c[0], yy - c[1], xx - c[2]])
        inside = (np.sqrt((d ** 2).sum(0)) <= r) if y[i] == 0 else (np.abs(d).max(0) <= r * 0.8)
        x[i, ..., 0] = inside * rng.uniform(0.6, 1.0) + rng.normal(0, 0.1, size=inside.shape)
    x = np.clip(x * 255, 0, 255).astype(np.uint8)
    return x, y.astype(np.int64)


def regression(n, rng):
    """4 features in [-2, 2]; target sin(x0) + 0.5 x1 x2 - 0.3 x3 with noise of scale 0.1."""
    x = rng.uniform(-2, 2, size=(n, 4))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] - 0.3 * x[:, 3] + rng.normal(0, 0.1, size=n)
    return x, y


def write_csv(path, rows, header):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join("%.6f" % v for v in row) + "\n")


def main():
    for folder in ("sequences", "volumes", "regression"):
        os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    for split, n, seed in (("train", 600, 1), ("test", 150, 2)):
        x, y = sequences(n, np.random.default_rng(seed))
        np.save(os.path.join(HERE, "sequences", split + "-x.npy"), x)
        np.save(os.path.join(HERE, "sequences", split + "-y.npy"), y)
    for split, n, seed in (("train", 160, 3), ("test", 48, 4)):
        x, y = volumes(n, np.random.default_rng(seed))
        np.save(os.path.join(HERE, "volumes", split + "-x.npy"), x)
        np.save(os.path.join(HERE, "volumes", split + "-y.npy"), y)
    for split, n, seed in (("train", 1000, 5), ("test", 200, 6)):
        x, y = regression(n, np.random.default_rng(seed))
        write_csv(os.path.join(HERE, "regression", split + "-x.csv"), x, ["x0", "x1", "x2", "x3"])
        write_csv(os.path.join(HERE, "regression", split + "-y.csv"), y.reshape(-1, 1), ["y"])


if __name__ == "__main__":
    main()
