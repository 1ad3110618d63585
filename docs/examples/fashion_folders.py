#!/usr/bin/python3
"""Writes Fashion-MNIST classes as image folders (PNG, one subfolder per class) for
`hone finetune` and `hone search`, from Debian's dataset-fashion-mnist:

  /usr/bin/python3 docs/examples/fashion_folders.py OUT --classes 5-9 --train 100 --val 100

OUT/train/<class>/*.png and OUT/val/<class>/*.png; the first N images of each class in the
files' order (training images for train/, test images for val/)."""
import argparse, gzip, os
import numpy as np
from PIL import Image

NAMES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
ROOT = "/usr/share/datasets/fashion-mnist"


def load(kind):
    with gzip.open(f"{ROOT}/{kind}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{ROOT}/{kind}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--classes", default="5-9", help="first-last")
    p.add_argument("--train", type=int, default=100)
    p.add_argument("--val", type=int, default=100)
    a = p.parse_args()
    lo, hi = map(int, a.classes.split("-"))
    for split, kind, n in (("train", "train", a.train), ("val", "t10k", a.val)):
        images, labels = load(kind)
        for c in range(lo, hi + 1):
            d = os.path.join(a.out, split, NAMES[c])
            os.makedirs(d, exist_ok=True)
            for i, k in enumerate(np.flatnonzero(labels == c)[:n]):
                Image.fromarray(images[k], "L").save(os.path.join(d, f"{i:05d}.png"))
    print(f"wrote {a.out}/train and {a.out}/val: classes {lo}-{hi}, {a.train} + {a.val} per class")


if __name__ == "__main__":
    main()
