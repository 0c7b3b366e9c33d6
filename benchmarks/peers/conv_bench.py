#!/usr/bin/env python3
"""PyTorch peer of ConvBench.java: the same convolutions, forward and forward + backward, timed the
same way (median of --reps timings of --calls calls after warm-up), on cpu with --threads threads.

  python3 conv_bench.py [--threads 2] [--reps 7] [--calls 5]

Prints one line per case: `conv <name> fwd_us=<median> fwdbwd_us=<median>`.
"""
import argparse
import time

import torch

CASES = [  # name, N, C, H, W, O, k, stride, padding: the CNN's two convolutions at batch 64
    ("cnn1 64x1x28x28->32 k3 p1", 64, 1, 28, 28, 32, 3, 1, 1),
    ("cnn2 64x32x14x14->64 k3 p1", 64, 32, 14, 14, 64, 3, 1, 1),
    ("c64 32x64x28x28->64 k3 p1", 32, 64, 28, 28, 64, 3, 1, 1),
]


def median_us(fn, reps, calls):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls * 1e6)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--calls", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name, n, c, h, w, o, k, s, p in CASES:
        x = torch.randn(n, c, h, w)
        weight = torch.randn(o, c, k, k, requires_grad=True)
        bias = torch.randn(o, requires_grad=True)
        xg = x.clone().requires_grad_(True)

        def fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(x, weight, bias, s, p)

        def fwdbwd():
            y = torch.nn.functional.conv2d(xg, weight, bias, s, p)
            y.sum().backward()
            xg.grad = None
            weight.grad = None
            bias.grad = None

        print("conv %s fwd_us=%.0f fwdbwd_us=%.0f" % (name, median_us(fwd, args.reps, args.calls),
                                                       median_us(fwdbwd, args.reps, args.calls)), flush=True)


if __name__ == "__main__":
    main()
