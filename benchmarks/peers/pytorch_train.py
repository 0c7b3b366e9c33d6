#!/usr/bin/env python3
"""PyTorch peer of `grad4j train`: the same model, data, hyper-parameters and loop, so seconds per
epoch and accuracy can be compared on the same machine.

  python3 pytorch_train.py [--device cpu|cuda] [--model mlp|cnn] [--epochs 12] [--batch 64] [--lr 0.05]
                           [--momentum 0.9] [--hidden 256,128] [--data DIR] [--threads 2]

Model: Linear(784,h1) ReLU ... Linear(hk,10), PyTorch default initialisation; SGD with momentum;
or, with --model cnn, `grad4j train --model cnn`'s network and recipe: conv(1->32,3x3,pad 1)-ReLU-
maxpool2-conv(32->64,3x3,pad 1)-ReLU-maxpool2-Flatten-Linear(3136->128)-ReLU-Dropout(0.25)-
Linear(128->10), weight decay 5e-4, cosine annealing per epoch over 10 epochs;
cross-entropy; the shipped digits (data/digits, IDX .gz) shuffled every epoch; test accuracy
after every epoch. Prints one line per epoch and a last line in grad4j's format:
final: epochs=E test_accuracy=A train_loss=L seconds=S backend=pytorch-DEVICE
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32) / 255.0
    if magic == 2049:
        return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)
    raise SystemExit("%s: unknown IDX magic %d" % (path, magic))


def find(d, name):
    for candidate in (os.path.join(d, name), os.path.join(d, name + ".gz")):
        if os.path.exists(candidate):
            return candidate
    raise SystemExit("missing %s[.gz] in %s" % (name, d))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    ap.add_argument("--epochs", type=int, default=None, help="12 for mlp, 10 for cnn")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "data", "digits"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cnn = args.model == "cnn"
    if args.epochs is None:
        args.epochs = 10 if cnn else 12
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    xtr = torch.from_numpy(read_idx(find(args.data, "train-images-idx3-ubyte"))).to(dev)
    ytr = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte"))).to(dev)
    xte = torch.from_numpy(read_idx(find(args.data, "t10k-images-idx3-ubyte"))).to(dev)
    yte = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte"))).to(dev)

    nn = torch.nn
    if cnn:
        model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                              nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                              nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.25),
                              nn.Linear(128, 10)).to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=5e-4)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    else:
        layers, width = [], xtr.shape[1]
        for h in [int(v) for v in args.hidden.split(",") if v]:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 10))
        model = nn.Sequential(*layers).to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
        schedule = None
    name = "pytorch-" + dev.type
    print("training %s on %s (torch %s): %d train / %d test, batch %d, lr %s, momentum %s, %d epochs"
          % (args.model.upper(), name, torch.__version__, len(xtr), len(xte), args.batch, args.lr, args.momentum,
             args.epochs))
    start = time.perf_counter()
    loss_avg, acc = float("nan"), float("nan")
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(xtr), generator=gen).to(dev)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(xtr), args.batch):
            idx = order[i:i + args.batch]
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad()
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
        if schedule is not None:
            schedule.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        sync()
        loss_avg = total / seen
        print("epoch %d/%d  loss %.4f  train_acc %.4f  test_acc %.4f  %.2fs"
              % (epoch, args.epochs, loss_avg, correct / seen, acc, time.perf_counter() - t0))
    print("final: epochs=%d test_accuracy=%.4f train_loss=%.4f seconds=%.1f backend=%s"
          % (args.epochs, acc, loss_avg, time.perf_counter() - start, name))


if __name__ == "__main__":
    main()
