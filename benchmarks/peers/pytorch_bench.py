#!/usr/bin/env python3
"""PyTorch peer of grad4j's JMH benchmarks: the same workloads, printed as one JSON object.

  python3 pytorch_bench.py [--device cpu|cuda] [--threads 2] [--quick] [--out FILE]
                           [--batches 128,1024] [--sizes 256,1024,2048] [--layouts NN[,NT,TN]]
                           [--tf32] [--elements N] [--bandwidth] [--broadcast-cols 1024] [--calls C]

Workloads (FLOAT32), each with the JSON keys it writes:
- the 784-512-256-10 ReLU MLP train step (forward, cross-entropy, backward, SGD lr 0.1, loss read
  back): mlp_train_step_ms_batch<B>;
- n x n matmul with TF32 off (cuBLAS's fp32 SGEMM on cuda) per layout, NN = a @ b, NT = a @ b.t(),
  TN = a.t() @ b (.t() is a view: cuBLAS gets a transpose flag, nothing is copied):
  matmul_<layout>_us_n<N>, matmul_<layout>_gflops_n<N> (2 n^3 / time), and for NN also the older
  names matmul_us_n<N>, matmul_gflops_n<N>; with --tf32 (cuda) the same with TF32 tensor cores
  allowed: matmul_tf32_<layout>_us_n<N>, matmul_tf32_<layout>_gflops_n<N>; matmul_fp32_setting and
  matmul_tf32_setting say what was set;
- tanh forward and the fused tanh backward (aten.tanh_backward) on --elements floats:
  tanh_forward_ms/_gbs (8 bytes per element), tanh_backward_ms/_gbs (12);
- with --bandwidth (always on cuda): the device copy y.copy_(x) of --elements floats, copy_ms and
  copy_gbs (8 bytes per element: read + write), and the broadcast add x + bias with x
  [elements / cols, cols] and bias [cols] into a preallocated output, broadcast_add_ms and
  broadcast_add_gbs (8 bytes per element + 4 per bias element);
- c = a + b on 100-element tensors without and with autograd (100 adds summed and
  backpropagated): tiny_add_us, tiny_add_autograd_us (per add).
Times are medians of repeated runs after warm-up, per operation; on cuda every timed region ends
with torch.cuda.synchronize(). --calls C times C matmuls (n >= 1024) or C memory-bound operations
per region, as grad4j's JMH benchmarks do with -p calls=C; without it a region holds 3 matmuls
(20 below n = 1024) or one memory-bound operation. calls is written to the JSON.
--out also writes the JSON to FILE (stdout may carry warnings).
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


def set_tf32(enabled):
    """Allows or forbids TF32 in fp32 matmuls; returns what was set, for the JSON."""
    m = torch.backends.cuda.matmul
    if hasattr(m, "fp32_precision"):  # torch >= 2.9; allow_tf32 still works there but warns
        try:
            m.fp32_precision = "tf32" if enabled else "ieee"
            return "torch.backends.cuda.matmul.fp32_precision=%s" % m.fp32_precision
        except (RuntimeError, ValueError, TypeError):
            pass
    m.allow_tf32 = enabled
    return "torch.backends.cuda.matmul.allow_tf32=%s" % m.allow_tf32


def operands(layout, a, b):
    """The PyTorch expression of each layout, on views only."""
    return {"NN": lambda: a @ b, "NT": lambda: a @ b.t(), "TN": lambda: a.t() @ b, "TT": lambda: a.t() @ b.t()}[layout]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batches", default="128,1024", help="MLP batch sizes")
    ap.add_argument("--sizes", default="256,1024,2048", help="matmul sizes n")
    ap.add_argument("--layouts", default="NN", help="matmul layouts, of NN, NT, TN, TT")
    ap.add_argument("--tf32", action="store_true", help="also time matmul with TF32 allowed (cuda)")
    ap.add_argument("--elements", type=int, default=16 * 1024 * 1024, help="elementwise tensor size")
    ap.add_argument("--bandwidth", action="store_true", help="copy and broadcast add (always on cuda)")
    ap.add_argument("--broadcast-cols", type=int, default=1024, help="row length of the broadcast add")
    ap.add_argument("--calls", type=int, help="operations per synchronized region (matmul n >= 1024, "
                    "memory-bound ops)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    layouts = [v.strip().upper() for v in args.layouts.split(",") if v.strip()]
    for layout in layouts:
        if layout not in ("NN", "NT", "TN", "TT"):
            ap.error("--layouts: unknown layout %r (use NN, NT, TN, TT)" % layout)
    if args.calls is not None and args.calls < 1:
        ap.error("--calls must be at least 1, got %d" % args.calls)
    if args.elements % args.broadcast_cols:
        ap.error("--elements %d must be a multiple of --broadcast-cols %d" % (args.elements, args.broadcast_cols))
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    reps = 5 if args.quick else 20
    out = {"torch": torch.__version__, "device": args.device, "threads": torch.get_num_threads()}
    if args.calls:
        out["calls"] = args.calls
    memory_calls = args.calls or 1
    if cuda:
        out["gpu"] = torch.cuda.get_device_name(0)
        out["matmul_fp32_setting"] = set_tf32(False)
    else:
        config = torch.__config__.show()
        out["blas"] = config.split("BLAS_INFO=")[-1].split(",")[0] if "BLAS_INFO=" in config else "?"

    g = torch.Generator(device="cpu").manual_seed(1)
    for batch in [int(v) for v in args.batches.split(",") if v]:
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

    # one optimizer step over the same MLP's parameters, gradients from one backward kept fixed
    # (grad4j: OptimizerStepBenchmark)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(dev)
    x = torch.rand(128, 784, generator=g).to(dev)
    y = torch.randint(0, 10, (128,), generator=g).to(dev)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    for name, make in (("sgd", lambda ps: torch.optim.SGD(ps, lr=1e-3)),
                       ("momentum", lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9)),
                       ("adam", lambda ps: torch.optim.Adam(ps, lr=1e-4)),
                       ("adamw", lambda ps: torch.optim.AdamW(ps, lr=1e-4))):
        opt = make(model.parameters())
        out["optimizer_step_us_%s" % name] = 1e6 * timed(opt.step, sync, reps * 2, inner=20)
    del model, x, y

    precisions = [("", False)] + ([("tf32_", True)] if args.tf32 and cuda else [])
    for n in [int(v) for v in args.sizes.split(",") if v]:
        a = torch.randn(n, n, generator=g).to(dev)
        b = torch.randn(n, n, generator=g).to(dev)
        for prefix, tf32 in precisions:
            if cuda:
                setting = set_tf32(tf32)
                if tf32:
                    out["matmul_tf32_setting"] = setting
            for layout in layouts:
                t = timed(operands(layout, a, b), sync, reps, inner=(args.calls or 3) if n >= 1024 else 20)
                key = "%s%s" % (prefix, layout.lower())
                out["matmul_%s_us_n%d" % (key, n)] = 1e6 * t
                out["matmul_%s_gflops_n%d" % (key, n)] = 2 * n ** 3 / t / 1e9
                if key == "nn":
                    out["matmul_us_n%d" % n] = 1e6 * t
                    out["matmul_gflops_n%d" % n] = 2 * n ** 3 / t / 1e9
        if cuda:
            set_tf32(False)
        del a, b

    size = args.elements
    x = (torch.rand(size, generator=g) * 8 - 4).to(dev)
    res = torch.empty_like(x)
    if args.bandwidth or cuda:
        cols = args.broadcast_cols
        rows = size // cols
        t = timed(lambda: res.copy_(x), sync, reps * 4, inner=memory_calls)
        out["copy_elements"] = size
        out["copy_ms"] = 1e3 * t
        out["copy_gbs"] = 8 * size / t / 1e9
        xm = x.view(rows, cols)
        bias = x[:cols].clone()
        rm = res.view(rows, cols)
        t = timed(lambda: torch.add(xm, bias, out=rm), sync, reps * 4, inner=memory_calls)
        out["broadcast_add_rows"] = rows
        out["broadcast_add_cols"] = cols
        out["broadcast_add_ms"] = 1e3 * t
        out["broadcast_add_gbs"] = (8 * size + 4 * cols) / t / 1e9

    out["tanh_elements"] = size
    gy = x.clone()
    yv = torch.tanh(x)
    tf = timed(lambda: torch.tanh(x, out=res), sync, reps * (4 if cuda else 1), inner=memory_calls)
    tb = timed(lambda: torch.ops.aten.tanh_backward(gy, yv), sync, reps * (4 if cuda else 1), inner=memory_calls)
    out["tanh_forward_ms"] = 1e3 * tf
    out["tanh_forward_gbs"] = 8 * size / tf / 1e9
    out["tanh_backward_ms"] = 1e3 * tb
    out["tanh_backward_gbs"] = 12 * size / tb / 1e9
    del x, res, gy, yv

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
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
