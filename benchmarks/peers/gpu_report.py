#!/usr/bin/env python3
"""Issue #7 (CUDA performance) tables from one gpu-check run: grad4j's JMH results on cuda beside
pytorch_bench.py's on the same GPU, as markdown ready for docs/gpu-results.md.

  gpu_report.py --jmh JMH_JSON [--jmh JMH_JSON ...] [--jmh-tf32 JMH_JSON] [--jmh-cublas JMH_JSON]
                [--jmh-cublas-tf32 JMH_JSON] [--jmh-mlp-cublas JMH_JSON] --torch PYTORCH_JSON
                [--log JMH_LOG ...] [--out REPORT_MD]

--jmh takes the JMH result files of the default run (merged; scripts/gpu-check.sh splits it in
three so that a timeout loses one part only), --jmh-tf32 the matmul run with
-Dgrad4j.cuda.tf32=true, --log the JMH logs, from which the backend lines the benchmarks print
("grad4j backend: ...", naming the GEMM engine) are quoted. Missing files or results give
"not measured" rows, never a guess. Exit status 0 when a table was written (whether or not the
targets are met), 2 when no input could be read.

Targets (issue #7), each row's verdict MET or NOT MET:
- fp32 GEMM, n = 1024/4096/8192, NN/NT/TN: grad4j TFLOP/s >= 0.70 x cuBLAS SGEMM as PyTorch runs
  it with TF32 off (2 n^3 flops per product);
- TF32 GEMM (opt-in): reported beside PyTorch with TF32 allowed, no target; so is TF32 through
  cuBLAS (--jmh-cublas-tf32), beside PyTorch's TF32 and grad4j's builtin TF32 kernel;
- tanh forward, tanh backward, broadcast add: GB/s >= 0.80 x the device-to-device copy bandwidth,
  the higher of grad4j's Backend.copy and PyTorch's y.copy_(x) (bytes per element: copy and tanh
  forward 8, tanh backward 12, broadcast add 8 plus 4 per bias element; see ElementwiseBenchmark);
- MLP 784-512-256-10 train step, each batch: grad4j time <= 1.0 x PyTorch eager (the builtin
  kernels, eager and CUDA graph; with --jmh-mlp-cublas also the cuBLAS engine, the default where
  cuBLAS loads);
- tiny op (c = a + b, 100 elements, per op): reported, no target;
- end to end (--train-cuda, --train-cpu: `grad4j train`'s metrics.csv on each backend, same machine):
  cuda's final test accuracy within 0.5 points (10 of the 2,000 test digits) of cpu's; seconds per
  epoch (the median from epoch 2 on, the first pays for loading and compiling) reported beside.
"""
import argparse
import json
import math
import os
import re
import sys

GEMM_TARGET = 0.70
BANDWIDTH_TARGET = 0.80
MLP_TARGET = 1.0
CUBLAS_OVERHEAD_TARGET = 1.05
ACCURACY_POINTS_TARGET = 0.5
SECONDS = {"s/op": 1.0, "ms/op": 1e-3, "us/op": 1e-6, "\u00b5s/op": 1e-6, "ns/op": 1e-9}


class Result:
    """One JMH result: mean seconds per operation and its 99.9% error (NaN when unknown). A
    benchmark with a "calls" param runs that many operations per invocation: the score is divided
    by it."""

    def __init__(self, entry):
        metric = entry["primaryMetric"]
        unit = metric["scoreUnit"]
        if unit not in SECONDS:
            raise ValueError("%s: unit %r is not a time per operation (run JMH in AverageTime mode)"
                             % (entry["benchmark"], unit))
        self.params = entry.get("params", {})
        per_op = SECONDS[unit] / int(self.params.get("calls", 1))
        self.seconds = float(metric["score"]) * per_op
        self.error = float(metric.get("scoreError", "NaN")) * per_op
        self.jvm_args = entry.get("jvmArgs", [])

    def relative_error(self):
        return self.error / self.seconds if self.seconds > 0 and not math.isnan(self.error) else float("nan")


def load_jmh(paths, notes):
    """{(Class.method, frozenset of params): Result} from every readable file."""
    results = {}
    for path in paths:
        try:
            with open(path) as f:
                entries = json.load(f)
        except (OSError, ValueError) as e:
            notes.append("JMH results %s not read: %s" % (path, e))
            continue
        for entry in entries:
            name = ".".join(entry["benchmark"].rsplit(".", 2)[-2:])
            results[(name, frozenset(entry.get("params", {}).items()))] = Result(entry)
    return results


def pick(results, name, **params):
    want = {k: str(v) for k, v in params.items()}
    for (n, p), r in sorted(results.items(), key=lambda kv: sorted(kv[0][1])):
        if n == name and all(dict(p).get(k) == v for k, v in want.items()):
            return r
    return None


def backend_lines(paths):
    seen = []
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    m = re.search(r"grad4j backend: (.*)", line)
                    if m and m.group(1).strip() not in seen:
                        seen.append(m.group(1).strip())
        except OSError:
            pass
    return seen


def jvm_property(results, name):
    values = set()
    for r in results.values():
        for arg in r.jvm_args:
            if arg.startswith("-D%s=" % name):
                values.add(arg.split("=", 1)[1])
    return ", ".join(sorted(values)) if values else None


def last_jvm_property(result, name):
    """The value a JVM sees: the last -Dname= among its arguments (an appended one overrides an inherited one)."""
    value = None
    for arg in result.jvm_args:
        if arg.startswith("-D%s=" % name):
            value = arg.split("=", 1)[1]
    return value


def rows_through_cublas(results, torch, torch_prefix, be, sizes, layouts, extra):
    """One row per measured (n, layout) of a matmul run through cuBLAS: grad4j's TFLOP/s, PyTorch's
    (its keys start with torch_prefix), grad4j's time over PyTorch's, then extra(r, n, layout, mine,
    time_ratio)'s cells. Sizes or layouts the run did not measure get no row."""
    rows = []
    for n in sizes:
        for layout in layouts:
            r = pick(results, "MatmulBenchmark.matmul", backend=be, n=n, layout=layout)
            if r is None:
                continue
            mine = gemm_tflops(r, n)
            theirs = torch.get("%s%s_gflops_n%d" % (torch_prefix, layout.lower(), n))
            theirs = theirs / 1e3 if theirs is not None else None
            time_ratio = ratio_of(theirs, mine)  # our time / their time = their rate / our rate
            rows.append(["n=%d %s" % (n, layout), with_error(fmt(mine), r), fmt(theirs),
                         "n/a" if time_ratio is None else "%.3fx" % time_ratio]
                        + extra(n, layout, mine, time_ratio))
    return rows


def fmt(value, digits=1):
    return "n/a" if value is None else "%.*f" % (digits, value)


def with_error(text, result):
    if result is None:
        return text
    rel = result.relative_error()
    return text if math.isnan(rel) else "%s +/-%.0f%%" % (text, 100 * rel)


class Report:
    def __init__(self):
        self.lines = []
        self.met = 0
        self.judged = 0
        self.unmeasured = 0

    def verdict(self, ratio, target, higher_is_better):
        if ratio is None:
            self.unmeasured += 1
            return "not measured"
        self.judged += 1
        ok = ratio >= target if higher_is_better else ratio <= target
        self.met += ok
        return "MET" if ok else "**NOT MET**"

    def table(self, header, rows):
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + " --- |" * len(header))
        for row in rows:
            self.lines.append("| " + " | ".join(row) + " |")
        self.lines.append("")


def ratio_of(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def gemm_tflops(result, n):
    return 2.0 * n ** 3 / result.seconds / 1e12 if result is not None else None


def read_training(path, notes):
    """grad4j train's metrics.csv as a list of dicts of floats, or None (with a note) when unreadable."""
    if not path:
        return None
    try:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
        header = lines[0].split(",")
        rows = [dict(zip(header, (float(v) for v in line.split(",")))) for line in lines[1:]]
        if not rows or "test_accuracy" not in header or "seconds" not in header:
            raise ValueError("no epochs, or no test_accuracy and seconds columns")
        return rows
    except (OSError, ValueError, IndexError) as e:
        notes.append("training metrics %s not read: %s" % (path, e))
        return None


def median(values):
    v = sorted(values)
    if not v:
        return None
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jmh", action="append", default=[], help="JMH JSON of the default cuda run (repeatable)")
    ap.add_argument("--jmh-tf32", action="append", default=[], help="JMH JSON of the TF32 matmul run")
    ap.add_argument("--jmh-cublas", action="append", default=[],
                    help="JMH JSON of the matmul run through cuBLAS (-Dgrad4j.cuda.gemm=cublas)")
    ap.add_argument("--jmh-mlp-cublas", action="append", default=[],
                    help="JMH JSON of the MLP step with the cuBLAS engine (-Dgrad4j.cuda.gemm=cublas)")
    ap.add_argument("--jmh-cublas-tf32", action="append", default=[],
                    help="JMH JSON of the matmul run through cuBLAS with TF32 math "
                         "(-Dgrad4j.cuda.gemm=cublas -Dgrad4j.cuda.tf32=true)")
    ap.add_argument("--jmh-jcuda-launch", action="append", default=[],
                    help="JMH JSON of the tiny op and MLP run with JCuda's launch path (-Dgrad4j.cuda.launcher=jcuda)")
    ap.add_argument("--torch", help="pytorch_bench.py JSON from the same GPU")
    ap.add_argument("--log", action="append", default=[], help="JMH logs, for the backend description lines")
    ap.add_argument("--sizes", default="1024,4096,8192")
    ap.add_argument("--layouts", default="NN,NT,TN")
    ap.add_argument("--batches", default="128,8192")
    ap.add_argument("--backend", default="cuda", help="the JMH backend param to report")
    ap.add_argument("--train-cuda", help="metrics.csv of `grad4j train --backend cuda` (defaults)")
    ap.add_argument("--train-cpu", help="metrics.csv of `grad4j train --backend cpu` on the same machine")
    ap.add_argument("--train-reference", help="metrics.csv of a cpu run elsewhere (runs/latest, the build machine)")
    ap.add_argument("--out", help="also write the markdown here")
    args = ap.parse_args(argv)
    notes = []
    ours = load_jmh(args.jmh, notes)
    tf32 = load_jmh(args.jmh_tf32, notes)
    cublas = load_jmh(args.jmh_cublas, notes)
    cublas_tf32 = load_jmh(args.jmh_cublas_tf32, notes)
    mlp_cublas = load_jmh(args.jmh_mlp_cublas, notes)
    jcuda_launch = load_jmh(args.jmh_jcuda_launch, notes)
    torch = {}
    if args.torch:
        try:
            with open(args.torch) as f:
                torch = json.load(f)
        except (OSError, ValueError) as e:
            notes.append("PyTorch results %s not read: %s" % (args.torch, e))
    runs = [(label, read_training(path, notes)) for label, path in
            (("cuda", args.train_cuda), ("cpu, same machine", args.train_cpu),
             ("cpu, runs/latest (build machine)", args.train_reference)) if path]
    if not ours and not tf32 and not torch and not any(r for _, r in runs):
        sys.stderr.write("gpu_report: nothing to report: %s\n" % "; ".join(notes or ["no input given"]))
        return 2
    be = args.backend
    sizes = [int(v) for v in args.sizes.split(",") if v]
    layouts = [v.strip().upper() for v in args.layouts.split(",") if v.strip()]
    batches = [int(v) for v in args.batches.split(",") if v]
    rep = Report()
    out = rep.lines

    out.append("### Issue #7 targets: grad4j (%s) beside PyTorch %s on %s"
               % (be, torch.get("torch", "(not run)"), torch.get("gpu", "(GPU unknown: no PyTorch results)")))
    out.append("")
    for line in backend_lines(args.log):
        out.append("- grad4j backend: %s" % line)
    out.append("- grad4j JVM settings: default run grad4j.cuda.gemm=%s, grad4j.cuda.tf32=%s; TF32 run "
               "grad4j.cuda.tf32=%s" % (jvm_property(ours, "grad4j.cuda.gemm") or "(unset)",
                                         jvm_property(ours, "grad4j.cuda.tf32") or "(unset)",
                                         jvm_property(tf32, "grad4j.cuda.tf32") or "(no run)" if tf32 else "(no run)"))
    out.append("- PyTorch: fp32 runs with `%s`; TF32 runs with `%s`"
               % (torch.get("matmul_fp32_setting", "?"), torch.get("matmul_tf32_setting", "(not run)")))
    calls = sorted({r.params.get("calls", "1") for (name, _), r in list(ours.items()) + list(tf32.items())
                    if name.startswith(("MatmulBenchmark", "ElementwiseBenchmark"))})
    out.append("- operations per synchronize: grad4j %s, PyTorch %s (matmul and memory-bound ops)"
               % ("/".join(calls) or "?", torch.get("calls", "default (3 matmuls, 1 memory-bound op)")))
    if tf32 and jvm_property(tf32, "grad4j.cuda.tf32") != "true":
        notes.append("the TF32 JMH run's JVM arguments lack -Dgrad4j.cuda.tf32=true: its rows are fp32")
    out.append("")

    # GEMM fp32
    out.append("**fp32 GEMM vs cuBLAS SGEMM (PyTorch, TF32 off)**, target grad4j >= %.0f%%:" % (100 * GEMM_TARGET))
    out.append("")
    rows = []
    for n in sizes:
        for layout in layouts:
            r = pick(ours, "MatmulBenchmark.matmul", backend=be, n=n, layout=layout)
            mine = gemm_tflops(r, n)
            theirs = torch.get("matmul_%s_gflops_n%d" % (layout.lower(), n))
            theirs = theirs / 1e3 if theirs is not None else None
            ratio = ratio_of(mine, theirs)
            rows.append(["n=%d %s" % (n, layout), with_error(fmt(mine), r), fmt(theirs),
                         "n/a" if ratio is None else "%.0f%%" % (100 * ratio), ">= %.0f%%" % (100 * GEMM_TARGET),
                         rep.verdict(ratio, GEMM_TARGET, True)])
    rep.table(["GEMM", "grad4j TFLOP/s", "cuBLAS TFLOP/s", "grad4j / cuBLAS", "target", "verdict"], rows)

    # matmul through cuBLAS: what the framework adds over raw cuBLAS (PyTorch calls the same library)
    if cublas:
        out.append("**fp32 matmul through cuBLAS (`-Dgrad4j.cuda.gemm=cublas`) vs PyTorch's cuBLAS SGEMM (TF32 off)**, "
                   "target: grad4j adds < %.0f%% (time <= %.2fx):" % (100 * (CUBLAS_OVERHEAD_TARGET - 1), CUBLAS_OVERHEAD_TARGET))
        out.append("")
        rows = rows_through_cublas(cublas, torch, "matmul_", be, sizes, layouts, lambda n, layout, mine, time_ratio: [
            "<= %.2fx" % CUBLAS_OVERHEAD_TARGET, rep.verdict(time_ratio, CUBLAS_OVERHEAD_TARGET, False)])
        rep.table(["GEMM", "grad4j via cuBLAS TFLOP/s", "PyTorch TFLOP/s", "grad4j time / PyTorch", "target",
                   "verdict"], rows)
        if any(last_jvm_property(r, "grad4j.cuda.gemm") != "cublas" for r in cublas.values()):
            notes.append("the cuBLAS JMH run's JVM arguments lack -Dgrad4j.cuda.gemm=cublas")

    # GEMM TF32
    out.append("**TF32 GEMM (opt-in, `-Dgrad4j.cuda.tf32=true`) vs PyTorch with TF32 allowed**, reported (no target):")
    out.append("")
    rows = []
    speedups = []
    for n in sizes:
        for layout in layouts:
            r = pick(tf32, "MatmulBenchmark.matmul", backend=be, n=n, layout=layout)
            mine = gemm_tflops(r, n)
            fp32 = gemm_tflops(pick(ours, "MatmulBenchmark.matmul", backend=be, n=n, layout=layout), n)
            theirs = torch.get("matmul_tf32_%s_gflops_n%d" % (layout.lower(), n))
            theirs = theirs / 1e3 if theirs is not None else None
            ratio = ratio_of(mine, theirs)
            speedup = ratio_of(mine, fp32)
            if speedup is not None and n >= 4096:
                speedups.append(speedup)
            rows.append(["n=%d %s" % (n, layout), with_error(fmt(mine), r), fmt(theirs),
                         "n/a" if ratio is None else "%.0f%%" % (100 * ratio),
                         "n/a" if speedup is None else "%.2fx" % speedup])
    rep.table(["GEMM", "grad4j TF32 TFLOP/s", "PyTorch TF32 TFLOP/s", "grad4j / PyTorch", "grad4j TF32 / fp32"],
              rows)
    if speedups and max(speedups) < 1.2:
        notes.append("the TF32 run is at most %.2fx the fp32 run at n >= 4096: the backend may not have used "
                     "TF32 (check the grad4j backend lines above)" % max(speedups))

    # TF32 through cuBLAS: the fast TF32 path where cuBLAS is installed (the builtin kernel uses WMMA)
    if cublas_tf32:
        out.append("**TF32 matmul through cuBLAS (`-Dgrad4j.cuda.gemm=cublas -Dgrad4j.cuda.tf32=true`) vs PyTorch "
                   "with TF32 allowed**, reported (no target):")
        out.append("")
        def versus_builtin_tf32(n, layout, mine, time_ratio):
            builtin = gemm_tflops(pick(tf32, "MatmulBenchmark.matmul", backend=be, n=n, layout=layout), n)
            speedup = ratio_of(mine, builtin)
            return ["n/a" if speedup is None else "%.2fx" % speedup]
        rows = rows_through_cublas(cublas_tf32, torch, "matmul_tf32_", be, sizes, layouts, versus_builtin_tf32)
        rep.table(["GEMM", "grad4j via cuBLAS TF32 TFLOP/s", "PyTorch TF32 TFLOP/s", "grad4j time / PyTorch",
                   "cuBLAS TF32 / builtin TF32"], rows)
        if any(last_jvm_property(r, "grad4j.cuda.gemm") != "cublas" or last_jvm_property(r, "grad4j.cuda.tf32") != "true"
               for r in cublas_tf32.values()):
            notes.append("the cuBLAS TF32 JMH run's JVM arguments lack -Dgrad4j.cuda.gemm=cublas or -Dgrad4j.cuda.tf32=true")

    # bandwidth
    copy = pick(ours, "ElementwiseBenchmark.copy", backend=be)
    our_copy = 8.0 * int(copy.params["size"]) / copy.seconds / 1e9 if copy else None
    torch_copy = torch.get("copy_gbs")
    candidates = [(v, who) for v, who in ((our_copy, "grad4j Backend.copy"), (torch_copy, "PyTorch copy_"))
                  if v is not None]
    reference, reference_name = max(candidates) if candidates else (None, None)
    out.append("**Elementwise bandwidth vs device-to-device copy**, target >= %.0f%% of the copy bandwidth "
               "(the higher of grad4j `Backend.copy` %s GB/s and PyTorch `copy_` %s GB/s: %s):"
               % (100 * BANDWIDTH_TARGET, fmt(our_copy, 0), fmt(torch_copy, 0), reference_name or "none measured"))
    out.append("")
    rows = []
    for label, method, key, bytes_of in (
            ("tanh forward", "tanhForward", "tanh_forward_gbs", lambda p: 8 * int(p["size"])),
            ("tanh backward", "tanhBackward", "tanh_backward_gbs", lambda p: 12 * int(p["size"])),
            ("broadcast add", "broadcastAdd", "broadcast_add_gbs", lambda p: 8 * int(p["size"]) + 4 * int(p["cols"]))):
        r = pick(ours, "ElementwiseBenchmark." + method, backend=be)
        mine = bytes_of(r.params) / r.seconds / 1e9 if r else None
        size = ("%dM floats" % (int(r.params["size"]) // (1 << 20))) if r else ""
        ratio = ratio_of(mine, reference)
        theirs = torch.get(key)
        rows.append(["%s %s" % (label, size), with_error(fmt(mine, 0), r), fmt(reference, 0),
                     "n/a" if ratio is None else "%.0f%%" % (100 * ratio), ">= %.0f%%" % (100 * BANDWIDTH_TARGET),
                     rep.verdict(ratio, BANDWIDTH_TARGET, True), fmt(theirs, 0),
                     "n/a" if ratio_of(mine, theirs) is None else "%.2fx" % ratio_of(mine, theirs)])
    rep.table(["op", "grad4j GB/s", "copy GB/s", "grad4j / copy", "target", "verdict", "PyTorch GB/s",
               "grad4j / PyTorch"], rows)

    # MLP
    out.append("**MLP 784-512-256-10 train step** (forward, cross-entropy, backward, SGD), target grad4j time "
               "<= %.1fx PyTorch eager:" % MLP_TARGET)
    out.append("")
    rows = []
    for batch in batches:
        # eager steps, then the opt-in CUDA graph replay of the same step (graph=true)
        for graph, label in (("false", "batch %d" % batch), ("true", "batch %d, CUDA graph" % batch)):
            r = pick(ours, "MlpTrainStepBenchmark.trainStep", backend=be, batch=batch, graph=graph)
            if r is None and graph == "false":
                r = pick(ours, "MlpTrainStepBenchmark.trainStep", backend=be, batch=batch)  # runs before the param
            if r is None and graph == "true":
                continue
            mine = r.seconds * 1e3 if r else None
            theirs = torch.get("mlp_train_step_ms_batch%d" % batch)
            ratio = ratio_of(mine, theirs)
            rows.append([label, with_error(fmt(mine, 3), r), fmt(theirs, 3),
                         "n/a" if ratio is None else "%.2fx" % ratio, "<= %.1fx" % MLP_TARGET,
                         rep.verdict(ratio, MLP_TARGET, False)])
    # the same step with cuBLAS as the matrix engine: what grad4j.cuda.gemm=auto gives where cuBLAS loads
    for batch in batches:
        r = pick(mlp_cublas, "MlpTrainStepBenchmark.trainStep", backend=be, batch=batch, graph="false")
        if r is None:
            continue
        mine = r.seconds * 1e3
        theirs = torch.get("mlp_train_step_ms_batch%d" % batch)
        ratio = ratio_of(mine, theirs)
        rows.append(["batch %d, cuBLAS engine" % batch, with_error(fmt(mine, 3), r), fmt(theirs, 3),
                     "n/a" if ratio is None else "%.2fx" % ratio, "<= %.1fx" % MLP_TARGET,
                     rep.verdict(ratio, MLP_TARGET, False)])
    if any(last_jvm_property(r, "grad4j.cuda.gemm") != "cublas" for r in mlp_cublas.values()):
        notes.append("the cuBLAS MLP JMH run's JVM arguments lack -Dgrad4j.cuda.gemm=cublas")
    rep.table(["MLP step", "grad4j ms", "PyTorch ms", "grad4j / PyTorch", "target", "verdict"], rows)

    # tiny op
    out.append("**Tiny op** (c = a + b on 100 elements, per op, 100 ops then one synchronize), reported (no target):")
    out.append("")
    rows = []
    for label, method, key in (("no autograd", "addWithoutAutograd", "tiny_add_us"),
                               ("autograd + backward", "addWithAutogradAndBackward", "tiny_add_autograd_us")):
        r = pick(ours, "OpOverheadBenchmark." + method, backend=be)
        mine = r.seconds * 1e6 if r else None
        theirs = torch.get(key)
        ratio = ratio_of(mine, theirs)
        rows.append([label, with_error(fmt(mine, 2), r), fmt(theirs, 2), "n/a" if ratio is None else "%.2fx" % ratio])
    rep.table(["tiny add", "grad4j us/op", "PyTorch us/op", "grad4j / PyTorch"], rows)

    # optimizer steps (no target): the fused multi-tensor updates against PyTorch's defaults
    if any(name == "OptimizerStepBenchmark.step" for (name, _) in ours):
        out.append("**Optimizer step over the MLP's parameters** (gradients fixed, one step per call), reported (no target):")
        out.append("")
        rows = []
        for name, label in (("sgd", "SGD"), ("momentum", "SGD, momentum 0.9"), ("adam", "Adam"), ("adamw", "AdamW")):
            r = pick(ours, "OptimizerStepBenchmark.step", backend=be, optimizer=name)
            mine = r.seconds * 1e6 if r else None
            theirs = torch.get("optimizer_step_us_%s" % name)
            ratio = ratio_of(mine, theirs)
            rows.append([label, with_error(fmt(mine, 1), r), fmt(theirs, 1), "n/a" if ratio is None else "%.2fx" % ratio])
        rep.table(["optimizer", "grad4j us", "PyTorch us", "grad4j / PyTorch"], rows)

    # the kernel launch path: the default (cuLaunchKernel through the foreign-function API) against
    # JCuda's, on the launch-bound workloads
    if jcuda_launch:
        out.append("**Kernel launch path**: default (`cuLaunchKernel` through the foreign-function API) vs JCuda's "
                   "(`-Dgrad4j.cuda.launcher=jcuda`), reported (no target):")
        out.append("")
        rows = []
        for label, name, params, scale, unit in (
                ("tiny add, no autograd", "OpOverheadBenchmark.addWithoutAutograd", {}, 1e6, "us"),
                ("tiny add, autograd + backward", "OpOverheadBenchmark.addWithAutogradAndBackward", {}, 1e6, "us"),
                ("MLP step, batch 128", "MlpTrainStepBenchmark.trainStep", {"batch": 128, "graph": "false"}, 1e3, "ms")):
            default = pick(ours, name, backend=be, **params)
            if default is None and "graph" in params:
                default = pick(ours, name, backend=be, batch=params["batch"])
            jc = pick(jcuda_launch, name, backend=be, **params)
            if jc is None and "graph" in params:
                jc = pick(jcuda_launch, name, backend=be, batch=params["batch"])
            mine = default.seconds * scale if default else None
            theirs = jc.seconds * scale if jc else None
            ratio = ratio_of(mine, theirs)
            rows.append(["%s (%s)" % (label, unit), with_error(fmt(mine, 3), default), with_error(fmt(theirs, 3), jc),
                         "n/a" if ratio is None else "%.2fx" % ratio])
        rep.table(["workload", "default launch", "JCuda launch", "default / JCuda"], rows)
        if any(last_jvm_property(r, "grad4j.cuda.launcher") != "jcuda" for r in jcuda_launch.values()):
            notes.append("the JCuda-launch JMH run's JVM arguments lack -Dgrad4j.cuda.launcher=jcuda")

    # end to end: the command line's default training on cuda beside cpu
    if runs:
        out.append("**End to end: `grad4j train` (defaults) on cuda beside cpu**, target: cuda's final test accuracy "
                   "within %.1f points of cpu's on the same machine; seconds per epoch reported:" % ACCURACY_POINTS_TARGET)
        out.append("")
        rows = []
        by_label = dict(runs)
        for label, r in runs:
            if not r:
                rows.append([label, "not measured", "", "", "", ""])
                continue
            later = [e["seconds"] for e in r[1:]]
            rows.append([label, "%d" % len(r), "%.4f" % r[-1]["test_accuracy"], "%.4f" % r[-1]["train_loss"],
                         "%.3f" % r[0]["seconds"], fmt(median(later), 3) if later else "n/a"])
        rep.table(["run", "epochs", "final test accuracy", "final train loss", "epoch 1 s", "median s/epoch after"], rows)
        cuda_run, cpu_run = by_label.get("cuda"), by_label.get("cpu, same machine")
        gap = None
        if cuda_run and cpu_run:
            gap = 100 * abs(cuda_run[-1]["test_accuracy"] - cpu_run[-1]["test_accuracy"])
        verdict = rep.verdict(None if gap is None else gap, ACCURACY_POINTS_TARGET, False)
        out.append("cuda vs cpu test accuracy: %s points apart, target <= %.1f: %s"
                   % ("n/a" if gap is None else "%.2f" % gap, ACCURACY_POINTS_TARGET, verdict))
        out.append("")
        out.append("The cpu run on the GPU machine uses the matrix engine it finds there (gpu-check's bundle carries "
                   "no OpenBLAS: Java loops), so its seconds are not the cpu backend's best; GEMMs that sum in "
                   "another order also move the final accuracy by a few digits.")
        out.append("")

    out.append("Issue #7 targets: %d of %d measured met%s." % (
        rep.met, rep.judged, "; %d not measured" % rep.unmeasured if rep.unmeasured else ""))
    out.append("grad4j: JMH averages (+/- the 99.9% error JMH reports); PyTorch: medians of "
               "`pytorch_bench.py`, each timed region ending with `torch.cuda.synchronize()`.")
    for note in notes:
        out.append("- NOTE: %s" % note)
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
