#!/usr/bin/env python3
"""Writes the grad4j-vs-PyTorch table into docs/benchmarks.md.

usage: report.py JMH_JSON PYTORCH_JSON BENCHMARKS_MD COMMIT COMMANDS
The section between '<!-- compare:start -->' and '<!-- compare:end -->' is replaced; the rest of
the file (the history of changes that mattered) is kept.
"""
import datetime
import json
import os
import platform
import subprocess
import sys


def jmh_scores(path):
    scores = {}
    for r in json.load(open(path)):
        name = r["benchmark"].rsplit(".", 2)
        key = name[-2] + "." + name[-1]
        params = r.get("params", {})
        unit = r["primaryMetric"]["scoreUnit"]
        score = r["primaryMetric"]["score"]
        err = r["primaryMetric"].get("scoreError", float("nan"))
        scores[(key, tuple(sorted(params.items())))] = (score, err, unit)
    return scores


def pick(scores, key, **params):
    for (k, p), v in scores.items():
        d = dict(p)
        if k == key and all(d.get(a) == str(b) for a, b in params.items()):
            return v
    return None


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    jmh, peer_path, md, commit, commands = sys.argv[1:6]
    s = jmh_scores(jmh)
    p = json.load(open(peer_path))
    rows = []

    def lower_is_better(label, ours, theirs, unit, target):
        if ours is None or theirs is None:
            rows.append((label, "n/a", "n/a", "n/a", target, "not measured"))
            return
        ratio = ours / theirs
        limit = float(target.split()[-1].rstrip("x"))
        rows.append((label, "%.3f %s" % (ours, unit), "%.3f %s" % (theirs, unit), "%.2fx" % ratio, target,
                     "met" if ratio <= limit else "NOT met"))

    def higher_is_better(label, ours, theirs, unit, target):
        if ours is None or theirs is None:
            rows.append((label, "n/a", "n/a", "n/a", target, "not measured"))
            return
        ratio = ours / theirs
        if target is None:
            rows.append((label, "%.1f %s" % (ours, unit), "%.1f %s" % (theirs, unit), "%.2fx" % ratio, "-", ""))
            return
        limit = float(target.split()[-1].rstrip("x"))
        rows.append((label, "%.1f %s" % (ours, unit), "%.1f %s" % (theirs, unit), "%.2fx" % ratio, target,
                     "met" if ratio >= limit else "NOT met"))

    for batch in (128, 1024):
        v = pick(s, "MlpTrainStepBenchmark.trainStep", backend="cpu", batch=batch)
        lower_is_better("MLP train step, batch %d (time)" % batch, v and v[0], p.get("mlp_train_step_ms_batch%d" % batch),
                        "ms", "time ratio <= 1.0x")
    for n in (256, 1024, 2048):
        v = pick(s, "MatmulBenchmark.matmul", backend="cpu", n=n)
        ours = 2 * n ** 3 / (v[0] * 1e-6) / 1e9 if v else None
        higher_is_better("matmul n=%d (GFLOP/s)" % n, ours, p.get("matmul_gflops_n%d" % n), "GFLOP/s",
                         "throughput ratio >= 0.95x")
    size = 16 * 1024 * 1024
    v = pick(s, "ElementwiseBenchmark.tanhForward", backend="cpu")
    higher_is_better("tanh forward, 16M floats (GB/s)", v and 8 * size / (v[0] * 1e-3) / 1e9, p.get("tanh_forward_gbs"),
                     "GB/s", "throughput ratio >= 1.0x")
    v = pick(s, "ElementwiseBenchmark.tanhBackward", backend="cpu")
    higher_is_better("tanh backward, 16M floats (GB/s)", v and 12 * size / (v[0] * 1e-3) / 1e9, p.get("tanh_backward_gbs"),
                     "GB/s", None)
    v = pick(s, "OpOverheadBenchmark.addWithoutAutograd", backend="cpu")
    lower_is_better("tiny add, no autograd (per op)", v and v[0], p.get("tiny_add_us"), "us", "time ratio <= 1.0x")
    v = pick(s, "OpOverheadBenchmark.addWithAutogradAndBackward", backend="cpu")
    lower_is_better("tiny add, autograd + backward (per op)", v and v[0], p.get("tiny_add_autograd_us"), "us",
                    "time ratio <= 1.0x")

    for name, label in (("sgd", "SGD"), ("momentum", "SGD with momentum"), ("adam", "Adam"), ("adamw", "AdamW")):
        v = pick(s, "OptimizerStepBenchmark.step", backend="cpu", optimizer=name)
        lower_is_better("optimizer step, %s, MLP parameters (time)" % label, v and v[0],
                        p.get("optimizer_step_us_%s" % name), "us", "time ratio <= 1.0x")

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    lines = ["<!-- compare:start -->", "## Latest comparison (benchmarks/compare.sh)", "",
             "- Date: %s UTC" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"),
             "- Commit: `%s`" % commit,
             "- Machine: %s, %d cores visible, %s" % (cpu_model(), os.cpu_count(), platform.platform()),
             "- grad4j: %s, backend cpu; PyTorch %s (%s threads, BLAS: %s)" % (java, p.get("torch"), p.get("threads"), p.get("blas")),
             "- Commands: `%s`" % commands, "",
             "| workload | grad4j | PyTorch | grad4j / PyTorch | target | |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append("| %s |" % " | ".join(r))
    lines += ["", "Times are JMH averages (grad4j) and medians (PyTorch); throughput ratios are grad4j over PyTorch.",
              "<!-- compare:end -->"]
    block = "\n".join(lines) + "\n"
    text = open(md).read() if os.path.exists(md) else "# Benchmarks\n\n"
    if "<!-- compare:start -->" in text:
        head, rest = text.split("<!-- compare:start -->", 1)
        tail = rest.split("<!-- compare:end -->", 1)[1].lstrip("\n")
        text = head + block + "\n" + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    open(md, "w").write(text)
    print(block)


if __name__ == "__main__":
    main()
