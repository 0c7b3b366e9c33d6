#!/usr/bin/env python3
"""PyTorch peer of grad4j's JMH benchmarks: the same workloads, printed as one JSON object.

  python3 pytorch_bench.py [--device cpu|cuda] [--threads 2] [--quick]

Workloads (FLOAT32): the 784-512-256-10 ReLU MLP train step (forward, cross-entropy, backward,
SGD lr 0.1) at batch 128 and 1024; n x n matmul for n = 256, 1024, 2048; tanh forward and the
fused tanh backward (aten.tanh_backward) on 16M floats; c = a + b on 100-element tensors without
and with autograd (100 adds summed and backpropagated). Times are medians of repeated runs after
warm-up; on cuda every timed region ends with torch.cuda.synchronize().
"""
import argparse
import json
import statistics
import time

import torch


def timed(fn, sync, repeats, inner=1, warmup=3):
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batches", default="128,1024", help="MLP batch sizes")
    ap.add_argument("--sizes", default="256,1024,2048", help="matmul sizes n")
    ap.add_argument("--elements", type=int, default=16 * 1024 * 1024, help="tanh tensor size")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    reps = 5 if args.quick else 20
    out = {"torch": torch.__version__, "device": args.device, "threads": torch.get_num_threads()}
    if dev.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(0)
        torch.backends.cuda.matmul.allow_tf32 = False
        src = torch.empty(256 * 1024 * 1024, dtype=torch.float32, device=dev)
        dst = torch.empty_like(src)
        t = timed(lambda: dst.copy_(src), sync, reps)
        out["d2d_copy_gbs"] = 2 * src.numel() * 4 / t / 1e9
        del src, dst
    else:
        out["blas"] = torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0] if "BLAS_INFO=" in torch.__config__.show() else "?"

    g = torch.Generator(device="cpu").manual_seed(1)
    for batch in [int(v) for v in args.batches.split(",")]:
        model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                    torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x = torch.rand(batch, 784, generator=g).to(dev)
        y = torch.randint(0, 10, (batch,), generator=g).to(dev)

        def step():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()
        out["mlp_train_step_ms_batch%d" % batch] = 1e3 * timed(step, sync, reps * 2, inner=5)

    for n in [int(v) for v in args.sizes.split(",")]:
        a = torch.randn(n, n, generator=g).to(dev)
        b = torch.randn(n, n, generator=g).to(dev)
        t = timed(lambda: a @ b, sync, reps, inner=3 if n >= 1024 else 20)
        out["matmul_us_n%d" % n] = 1e6 * t
        out["matmul_gflops_n%d" % n] = 2 * n ** 3 / t / 1e9

    size = args.elements
    out["tanh_elements"] = size
    x = (torch.rand(size, generator=g) * 8 - 4).to(dev)
    gy = x.clone()
    yv = torch.tanh(x)
    res = torch.empty_like(x)
    tf = timed(lambda: torch.tanh(x, out=res), sync, reps)
    tb = timed(lambda: torch.ops.aten.tanh_backward(gy, yv), sync, reps)
    out["tanh_forward_ms"] = 1e3 * tf
    out["tanh_forward_gbs"] = 8 * size / tf / 1e9
    out["tanh_backward_ms"] = 1e3 * tb
    out["tanh_backward_gbs"] = 12 * size / tb / 1e9

    a = torch.rand(100, generator=g).to(dev)
    b = torch.rand(100, generator=g).to(dev)

    def adds():
        c = None
        for _ in range(100):
            c = a + b
        return c
    out["tiny_add_us"] = 1e6 * timed(adds, sync, reps * 10) / 100
    leaf = torch.rand(100, generator=g).to(dev).requires_grad_(True)

    def adds_grad():
        acc = leaf + b
        for _ in range(99):
            acc = acc + b
        acc.sum().backward()
        leaf.grad = None
        return acc
    out["tiny_add_autograd_us"] = 1e6 * timed(adds_grad, sync, reps * 10) / 100
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
