"""
===================================================
Out-of-core learning: stream a CSV into partial_fit
===================================================

A file too large for memory is read in chunks with pandas
(``read_csv(chunksize=...)``) and each chunk is given to
:meth:`skgd.GDClassifier.partial_fit`, which runs one epoch over it and keeps the whole
training state (coefficients, Adam moments, step counter ``t_``) for the next chunk.
Only one chunk is in memory at a time.

The CSV is made here, in a temporary folder, from the handwritten digits bundled with
scikit-learn: every training image is written many times, each time with another
stroke intensity and pixel noise (and sometimes shifted by a pixel), which gives a stream of ~20,000 realistic rows (a few
MB). The original test images are never written to the stream: they measure the
held-out accuracy after every chunk. scikit-learn's ``SGDClassifier`` gets the same
chunks for comparison.

The pixels are read as float32 and stay float32 through training (no upcast copy).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: write files, never open windows
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

from skgd import GDClassifier

# Under sphinx-gallery sys.argv[0] is this file, so the figure lands next to it.
OUT_DIR = Path(os.environ.get("SKGD_EXAMPLES_OUT") or Path(sys.argv[0]).resolve().parent)
COPIES = 16  # noisy, shifted copies of each training image in the stream
CHUNK_ROWS = 2000
rng = np.random.default_rng(0)

digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images, digits.target, test_size=0.3, random_state=0, stratify=digits.target
)
COLUMNS = [f"pixel_{i}" for i in range(64)]
CLASSES = np.arange(10)


# %%
# Write a large CSV, one block at a time
# --------------------------------------
# Each block is a full shuffled pass over the training images, shifted and noised.
# Writing block by block keeps memory flat however many copies are written.

def perturbed_copy(images):
    """Vary the stroke intensity of each image, add pixel noise, and shift one image
    in ten by one pixel (a linear model cannot learn translations, so not more)."""
    out = images * rng.uniform(0.8, 1.2, size=(images.shape[0], 1, 1))
    padded = np.pad(out, ((0, 0), (1, 1), (1, 1)))
    for i in np.flatnonzero(rng.random(images.shape[0]) < 0.1):
        dy, dx = rng.integers(-1, 2, size=2)
        out[i] = padded[i, 1 + dy:9 + dy, 1 + dx:9 + dx]
    out += rng.normal(0.0, 1.0, size=out.shape)
    return np.clip(np.rint(out), 0, 16).astype(np.int8)


tmp = tempfile.TemporaryDirectory()
csv_path = Path(tmp.name) / "digits_stream.csv"
for copy in range(COPIES):
    order = rng.permutation(X_train.shape[0])
    block = pd.DataFrame(perturbed_copy(X_train[order]).reshape(-1, 64), columns=COLUMNS)
    block["label"] = y_train[order]
    block.to_csv(csv_path, mode="a", header=copy == 0, index=False)
n_rows = COPIES * X_train.shape[0]
print(f"Wrote {n_rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB, to {csv_path.name}")

# The held-out images, scaled like the stream (pixels are 0..16, so divide by 16:
# a streaming model cannot fit a scaler on data it has not seen yet).
X_test_df = pd.DataFrame(X_test.reshape(-1, 64) / 16.0, columns=COLUMNS).astype(np.float32)

# %%
# Stream it into partial_fit
# --------------------------
# ``classes`` must list every label on the first call, since the first chunk might
# miss some. DataFrames go straight in: the feature names are recorded and checked.

gd = GDClassifier(random_state=0)  # the defaults: Adam, eta0=0.01, batch_size=32
sgd = SGDClassifier(loss="log_loss", random_state=0)
rows_seen, acc_gd, acc_sgd, time_gd, time_sgd = [], [], [], 0.0, 0.0
dtypes = {c: np.float32 for c in COLUMNS} | {"label": np.int64}
for chunk in pd.read_csv(csv_path, chunksize=CHUNK_ROWS, dtype=dtypes):
    X_chunk = chunk[COLUMNS] / np.float32(16.0)
    y_chunk = chunk["label"].to_numpy()

    tic = time.perf_counter()
    gd.partial_fit(X_chunk, y_chunk, classes=CLASSES)
    time_gd += time.perf_counter() - tic
    tic = time.perf_counter()
    sgd.partial_fit(X_chunk, y_chunk, classes=CLASSES)
    time_sgd += time.perf_counter() - tic

    rows_seen.append((rows_seen[-1] if rows_seen else 0) + len(chunk))
    acc_gd.append(gd.score(X_test_df, y_test))
    acc_sgd.append(sgd.score(X_test_df, y_test))
    print(f"rows {rows_seen[-1]:>6}: held-out accuracy skgd {acc_gd[-1]:.4f}, "
          f"SGDClassifier {acc_sgd[-1]:.4f}; objective on the chunk {gd.loss_curve_[-1]:.4f}")
tmp.cleanup()

print(f"\n{gd.n_iter_} partial_fit calls, {gd.t_} Adam updates; "
      f"coef_ dtype {gd.coef_.dtype} (training ran on float32 chunks)")
print(f"Total partial_fit time: skgd {time_gd:.2f} s, SGDClassifier {time_sgd:.2f} s "
      "(skgd's first call includes loading or compiling its Numba kernels)")

# %%
# Learning curves
# ---------------
# ``loss_curve_`` gains one entry per ``partial_fit`` call: the objective over that
# chunk during its epoch, which is a held-out estimate too, since the model had not
# seen the chunk's (perturbed) rows before.

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
ax0.plot(rows_seen, acc_gd, "o-", label="skgd GDClassifier (adam)")
ax0.plot(rows_seen, acc_sgd, "s-", label="sklearn SGDClassifier (log_loss)")
ax0.set_xlabel("rows streamed")
ax0.set_ylabel("held-out accuracy")
ax0.set_title("Accuracy on unseen digits after each chunk")
ax0.legend()
ax1.plot(rows_seen, gd.loss_curve_, "o-")
ax1.set_xlabel("rows streamed")
ax1.set_ylabel("objective over the chunk")
ax1.set_title("GDClassifier.loss_curve_ (one entry per chunk)")
fig.tight_layout()
OUT_DIR.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT_DIR / "plot_partial_fit_csv.png", dpi=100)
print(f"Figure saved to {OUT_DIR / 'plot_partial_fit_csv.png'}")

assert gd.n_iter_ == len(rows_seen) and acc_gd[-1] > 0.9, acc_gd
