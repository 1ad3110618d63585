#!/usr/bin/python3
"""Writes tests/golden/transforms/{manifest.txt,data.bin}: what torchvision 0.14 and
Pillow 9.4 make of a few test images, which tests/transforms_test.cpp compares
hone::io's transforms against, byte for byte.

Run from anywhere with Debian's python (torch 1.13, torchvision 0.14, Pillow 9.4):
    /usr/bin/python3 tools/golden/transforms_golden.py

The input images are not stored: both sides draw them from pattern() below, an integer
formula (a smooth gradient per channel, a checkerboard of hard edges, hashed noise, a
white and a black corner), and the manifest keeps an FNV-1a hash of each so a drift
between this formula and the C++ copy shows as a clear failure. Outputs are stored raw,
little-endian (uint8 HWC for geometry, float32 CHW for ToTensor+Normalize) in data.bin at
the offset the manifest gives. The full-size evaluation pipeline (Resize(256) ->
CenterCrop(224)) is stored as a hash of its float32 bytes only, to keep the files small;
the same code path is stored in full at Resize(48) -> CenterCrop(40). Two 1 x 256 images
hold every 8-bit level (levels_rgb: pixel x is (x, 255 - x, 7x mod 256); levels_grey: x),
so the normalisation table is checked exhaustively; this script also asserts torchvision's
ToTensor + Normalize equals (uint8 / 255 - mean) / std in float32, operation for operation.

Manifest lines (whitespace separated; '#' starts a comment):
    image  NAME H W C SEED HASH      (SEED: pattern()'s; 0 for the two levels images)
    case   NAME OP IMAGE A B C D E F OUT_H OUT_W OUT_C DTYPE OFFSET NBYTES HASH
OP and its arguments A..F (unused ones are 0):
    resize        A=height B=width                       PIL img.resize((B, A), BILINEAR)
    resized_crop  A=top B=left C=height D=width E,F=size F.resized_crop(img, A, B, C, D, [E, F])
    center_crop   A=height B=width                       F.center_crop(img, [A, B])
    hflip                                                F.hflip(img)
    gray                                                 img.convert("L")
    eval          A=resize B=crop                        Resize(A), CenterCrop(B), ToTensor, Normalize
    normalize                                            ToTensor, Normalize (the image holds every level)
NBYTES = 0 means only HASH (FNV-1a 64 of the output bytes) is stored. Normalize uses
ImageNet's mean/std on RGB and GREY_MEAN/GREY_STD on grey images.
"""
import os

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F

RGB_MEAN, RGB_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
GREY_MEAN, GREY_STD = [0.449], [0.226]

OUT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden",
                                        "transforms"))


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def pattern(h, w, c, seed):
    """uint8 [h, w, c]; tests/transforms_test.cpp's make_pattern() is the same formula."""
    y, x = np.meshgrid(np.arange(h, dtype=np.uint64), np.arange(w, dtype=np.uint64), indexing="ij")
    mask = np.uint64(0xFFFFFFFF)
    planes = []
    for ch in range(c):
        k = 2 if c == 1 else ch  # a grey image takes the diagonal gradient
        v = (x * np.uint64(0x9E3779B1) + y * np.uint64(0x85EBCA77) + np.uint64(k * 0xC2B2AE3D)
             + np.uint64(seed * 0x27D4EB2F)) & mask
        v ^= v >> np.uint64(15)
        v = (v * np.uint64(0x2C1B3C6D)) & mask
        v ^= v >> np.uint64(12)
        noise = v & np.uint64(31)
        if k == 0:
            smooth = x * np.uint64(255) // np.uint64(max(w - 1, 1))
        elif k == 1:
            smooth = y * np.uint64(255) // np.uint64(max(h - 1, 1))
        else:
            smooth = (x + y) * np.uint64(255) // np.uint64(max(w + h - 2, 1))
        edges = ((x // np.uint64(23) + y // np.uint64(17)) % np.uint64(2)) * np.uint64(24)
        p = smooth * np.uint64(3) // np.uint64(4) + noise + edges
        p[(x < w // 8) & (y < h // 8)] = 255
        p[(x >= w - w // 8) & (y >= h - h // 8)] = 0
        planes.append(p.astype(np.uint8))
    return np.stack(planes, axis=-1)


# name: (height, width, channels, seed)
IMAGES = {
    "rgb_a": (375, 500, 3, 1),
    "rgb_b": (333, 250, 3, 2),
    "rgb_c": (61, 97, 3, 3),
    "grey": (120, 77, 1, 4),
}

CASES = [  # (name, op, image, args[6]) ; every resize direction, odd sizes, one-axis resizes
    ("a_down", "resize", "rgb_a", [37, 53]),
    ("a_mixed", "resize", "rgb_a", [380, 20]),        # height up a little, width down 25x
    ("b_down", "resize", "rgb_b", [59, 47]),
    ("b_tiny", "resize", "rgb_b", [7, 5]),
    ("b_one", "resize", "rgb_b", [1, 1]),
    ("c_up", "resize", "rgb_c", [83, 131]),
    ("c_width_only", "resize", "rgb_c", [61, 40]),    # PIL skips the vertical pass
    ("c_height_only", "resize", "rgb_c", [29, 97]),   # PIL skips the horizontal pass
    ("c_up_down", "resize", "rgb_c", [150, 7]),
    ("c_same", "resize", "rgb_c", [61, 97]),
    ("g_mixed", "resize", "grey", [45, 163]),
    ("g_width_only", "resize", "grey", [120, 50]),
    ("g_height_only", "resize", "grey", [31, 77]),
    ("a_resized_crop", "resized_crop", "rgb_a", [37, 61, 201, 299, 56, 56]),
    ("b_resized_crop_up", "resized_crop", "rgb_b", [10, 20, 100, 50, 56, 56]),
    ("c_resized_crop_edge", "resized_crop", "rgb_c", [0, 50, 61, 47, 19, 23]),
    ("g_resized_crop", "resized_crop", "grey", [5, 3, 50, 60, 33, 41]),
    ("c_hflip", "hflip", "rgb_c", []),
    ("g_hflip", "hflip", "grey", []),
    ("c_center_pad_odd", "center_crop", "rgb_c", [64, 100]),   # pads 1 before, 2 after
    ("c_center_pad_h", "center_crop", "rgb_c", [70, 50]),      # pads rows, crops columns
    ("g_center_pad", "center_crop", "grey", [130, 90]),
    ("g_center_half_even", "center_crop", "grey", [103, 60]),  # (120-103)/2 = 8.5 rounds to 8
    ("a_center_half_even", "center_crop", "rgb_a", [50, 101]),  # 162.5 rounds to 162, 199.5 to 200
    ("c_gray", "gray", "rgb_c", []),
    ("a_eval_small", "eval", "rgb_a", [48, 40]),
    ("b_eval_small", "eval", "rgb_b", [48, 40]),
    ("c_eval_small", "eval", "rgb_c", [48, 40]),
    ("g_eval_small", "eval", "grey", [48, 40]),
    ("a_eval_full", "eval", "rgb_a", [256, 224]),
    ("b_eval_full", "eval", "rgb_b", [256, 224]),
    ("c_eval_full", "eval", "rgb_c", [256, 224]),
    ("g_eval_full", "eval", "grey", [256, 224]),
    ("levels_rgb", "normalize", "levels_rgb", []),
    ("levels_grey", "normalize", "levels_grey", []),
]
# Stored as a hash only (large, or easy to tell apart when wrong).
HASH_ONLY = {"a_eval_full", "b_eval_full", "c_eval_full", "g_eval_full", "c_same", "c_hflip"}


def to_pil(a):
    return Image.fromarray(a[:, :, 0], "L") if a.shape[2] == 1 else Image.fromarray(a, "RGB")


def pil_bytes(img):
    a = np.asarray(img, dtype=np.uint8)
    return (a[:, :, None] if a.ndim == 2 else a), a.tobytes()


def run_case(op, img, channels, args):
    if op == "resize":
        return pil_bytes(img.resize((args[1], args[0]), Image.BILINEAR))
    if op == "resized_crop":
        return pil_bytes(F.resized_crop(img, args[0], args[1], args[2], args[3], [args[4], args[5]]))
    if op == "center_crop":
        return pil_bytes(F.center_crop(img, [args[0], args[1]]))
    if op == "hflip":
        return pil_bytes(F.hflip(img))
    if op == "gray":
        return pil_bytes(img.convert("L"))
    if op in ("eval", "normalize"):
        mean, std = (RGB_MEAN, RGB_STD) if channels == 3 else (GREY_MEAN, GREY_STD)
        steps = [T.Resize(args[0]), T.CenterCrop(args[1])] if op == "eval" else []
        out = T.Compose(steps + [T.ToTensor(), T.Normalize(mean, std)])(img).numpy().astype("<f4")
        if op == "normalize":  # ToTensor + Normalize must be plain float32 IEEE ops, in this order
            a = np.asarray(img, dtype=np.uint8).reshape(img.size[1], img.size[0], channels).transpose(2, 0, 1)
            ref = (a.astype(np.float32) / np.float32(255) - np.array(mean, np.float32)[:, None, None]) \
                / np.array(std, np.float32)[:, None, None]
            assert np.array_equal(ref.view(np.uint32), out.view(np.uint32)), \
                "torchvision's ToTensor + Normalize is not (x / 255 - mean) / std in float32"
        return out.transpose(1, 2, 0), out.tobytes()
    raise ValueError(op)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    images = {}
    lines = ["# Made by tools/golden/transforms_golden.py (torchvision %s, Pillow %s, torch %s); see its docstring."
             % (torchvision.__version__, PIL.__version__, torch.__version__)]
    for name, (h, w, c, seed) in IMAGES.items():
        a = pattern(h, w, c, seed)
        images[name] = a
        lines.append("image %s %d %d %d %d %016x" % (name, h, w, c, seed, fnv1a64(a.tobytes())))
    # Every 8-bit level once, for the normalisation table (not patterns: written here, 1 x 256).
    levels = np.arange(256, dtype=np.uint8)
    images["levels_rgb"] = np.stack([levels, levels[::-1], (levels * 7) % 256], -1)[None].astype(np.uint8)
    images["levels_grey"] = levels[None, :, None]
    for name in ("levels_rgb", "levels_grey"):
        a = images[name]
        lines.append("image %s %d %d %d 0 %016x" % (name, a.shape[0], a.shape[1], a.shape[2], fnv1a64(a.tobytes())))

    blob = bytearray()
    for name, op, image, args in CASES:
        args = list(args) + [0] * (6 - len(args))
        a = images[image]
        out, data = run_case(op, to_pil(a), a.shape[2], args)
        dtype = "f32" if op in ("eval", "normalize") else "u8"
        offset, nbytes = len(blob), len(data)
        if name in HASH_ONLY:
            offset, nbytes = 0, 0
        else:
            blob += data
        lines.append("case %s %s %s %s %d %d %d %s %d %d %016x" % (
            name, op, image, " ".join(str(v) for v in args), out.shape[0], out.shape[1], out.shape[2], dtype,
            offset, nbytes, fnv1a64(data)))
    with open(os.path.join(OUT_DIR, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(OUT_DIR, "data.bin"), "wb") as f:
        f.write(bytes(blob))
    for line in lines[1:]:
        print(line)
    print("wrote %s (%d lines) and data.bin (%d bytes)" % (os.path.join(OUT_DIR, "manifest.txt"), len(lines),
                                                          len(blob)))


if __name__ == "__main__":
    main()
