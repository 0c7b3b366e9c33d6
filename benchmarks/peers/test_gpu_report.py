#!/usr/bin/env python3
"""Tests of gpu_report.py on the synthetic inputs in testdata/ (fake-*.json: shaped like JMH's
and pytorch_bench.py's output, numbers made up for the test, not measurements).

  python3 -m unittest discover -s benchmarks/peers -p 'test_*.py'
"""
import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpu_report  # noqa: E402


def data(name):
    return os.path.join(HERE, "testdata", name)


FULL = ["--jmh", data("fake-jmh-elementwise.json"), "--jmh", data("fake-jmh-matmul.json"),
        "--jmh", data("fake-jmh-mlp-overhead.json"), "--jmh-tf32", data("fake-jmh-matmul-tf32.json"),
        "--torch", data("fake-pytorch-cuda.json"), "--log", data("fake-jmh.log")]


def run(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = gpu_report.main(argv)
    return rc, buf.getvalue()


def row(text, first_cell):
    for line in text.splitlines():
        if line.startswith("| %s |" % first_cell):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError("no row %r in:\n%s" % (first_cell, text))


def run_without_jvm_args(fake, dropped, argv_before):
    """Runs the report with a copy of testdata/fake whose results lack the JVM arguments containing
    dropped, passed after argv_before (the option naming it)."""
    with tempfile.TemporaryDirectory() as d:
        with open(data(fake)) as f:
            entries = json.load(f)
        for e in entries:
            e["jvmArgs"] = [a for a in e["jvmArgs"] if dropped not in a]
        path = os.path.join(d, fake)
        with open(path, "w") as f:
            json.dump(entries, f)
        return run(argv_before + [path])


class GpuReportTest(unittest.TestCase):
    def test_gemm_ratio_is_tflops_over_cublas_and_judged_at_70_percent(self):
        rc, text = run(FULL)
        self.assertEqual(0, rc)
        # 2 * 1024^3 flops in 100 us = 21.47 TFLOP/s against 30.0: 72%, met
        self.assertEqual(["n=1024 NN", "21.5", "30.0", "72%", ">= 70%", "MET"], row(text, "n=1024 NN"))
        # 110 us: 19.52 against 29.0: 67%, not met
        self.assertEqual(["n=1024 NT", "19.5", "29.0", "67%", ">= 70%", "**NOT MET**"], row(text, "n=1024 NT"))
        self.assertEqual("**NOT MET**", row(text, "n=8192 TN")[5])

    def test_optimizer_step_rows_compare_with_pytorch(self):
        rc, text = run(FULL)
        self.assertEqual(0, rc)
        part = text.split("Optimizer step over", 1)[1]
        # 40 us against PyTorch's 80 us
        self.assertEqual("0.50x", row(part, "Adam")[3])
        self.assertEqual("0.80x", row(part, "SGD")[3])

    def test_launch_path_rows_compare_the_default_with_jcudas_launch(self):
        rc, text = run(FULL + ["--jmh-jcuda-launch", data("fake-jmh-jcuda-launch.json")])
        self.assertEqual(0, rc)
        launch = text.split("Kernel launch path", 1)[1]
        # default 5.0 us against JCuda's 10.0 us; MLP 0.697 ms against 1.0 ms
        self.assertEqual(["tiny add, no autograd (us)", "5.000", "10.000", "0.50x"],
                         [c.split(" +/-")[0] for c in row(launch, "tiny add, no autograd (us)")])
        self.assertEqual("0.70x", row(launch, "MLP step, batch 128 (ms)")[3])
        self.assertNotIn("lack -Dgrad4j.cuda.launcher=jcuda", text)
        rc, without = run(FULL)
        self.assertNotIn("Kernel launch path", without)

    def test_cublas_rows_compare_time_with_pytorch_at_five_percent(self):
        rc, text = run(FULL + ["--jmh-cublas", data("fake-jmh-matmul-cublas.json")])
        self.assertEqual(0, rc)
        cublas = text.split("through cuBLAS", 1)[1].split("TF32 GEMM", 1)[0]
        # 292 us for 4 calls = 73 us against PyTorch's 30 TFLOP/s (71.6 us): 1.020x, met
        self.assertEqual(["n=1024 NN", "29.4", "30.0", "1.020x", "<= 1.05x", "MET"], row(cublas, "n=1024 NN"))
        # 3000 us against 50 TFLOP/s (2748.8 us): 1.091x, not met
        self.assertEqual(["n=4096 NN", "45.8", "50.0", "1.091x", "<= 1.05x", "**NOT MET**"], row(cublas, "n=4096 NN"))
        self.assertNotIn("lack -Dgrad4j.cuda.gemm=cublas", text)

    def test_cublas_tf32_rows_compare_with_pytorch_tf32_and_the_builtin_tf32_kernel(self):
        rc, text = run(FULL + ["--jmh-cublas-tf32", data("fake-jmh-matmul-cublas-tf32.json")])
        self.assertEqual(0, rc)
        section = text.split("TF32 matmul through cuBLAS", 1)[1].split("Elementwise", 1)[0]
        # 85.9 us for 4 calls = 21.47 us: 100 TFLOP/s, PyTorch's TF32 100: 1.000x; the builtin TF32 run's 42.9: 2.33x
        self.assertEqual(["n=1024 NN", "100.0", "100.0", "1.000x", "2.33x"], row(section, "n=1024 NN"))
        # 3000 us / 4 = 750 us: 183.3 TFLOP/s against 200: 1.091x the time
        self.assertEqual(["n=4096 NN", "183.3", "200.0", "1.091x", "1.87x"], row(section, "n=4096 NN"))
        self.assertNotIn("n=8192 NN", section)  # not in the run: no row
        self.assertNotIn("cuBLAS TF32 JMH run's JVM arguments lack", text)
        _, flagged = run_without_jvm_args("fake-jmh-matmul-cublas-tf32.json", "tf32", FULL + ["--jmh-cublas-tf32"])
        self.assertIn("NOTE: the cuBLAS TF32 JMH run's JVM arguments lack -Dgrad4j.cuda.gemm=cublas or "
                      "-Dgrad4j.cuda.tf32=true", flagged)
        self.assertNotIn("TF32 matmul through cuBLAS", run(FULL)[1])

    def test_mlp_rows_for_the_cublas_engine_are_judged_like_the_builtin_ones(self):
        rc, text = run(FULL + ["--jmh-mlp-cublas", data("fake-jmh-mlp-cublas.json")])
        self.assertEqual(0, rc)
        mlp = text.split("MLP 784-512-256-10 train step", 1)[1].split("Tiny op", 1)[0]
        # 0.500 ms against PyTorch's 1.2524: 0.40x, met; 1.5631 against 1.3025: 1.20x, not met
        self.assertEqual(["batch 128, cuBLAS engine", "0.500", "1.252", "0.40x", "<= 1.0x", "MET"],
                         row(mlp, "batch 128, cuBLAS engine"))
        self.assertEqual(["batch 8192, cuBLAS engine", "1.563", "1.302", "1.20x", "<= 1.0x", "**NOT MET**"],
                         row(mlp, "batch 8192, cuBLAS engine"))
        self.assertNotIn("cuBLAS MLP JMH run's JVM arguments lack", text)
        self.assertNotIn("cuBLAS engine", run(FULL)[1])

    def test_no_cublas_section_without_a_cublas_run(self):
        _, text = run(FULL)
        self.assertNotIn("through cuBLAS", text)

    def test_tf32_rows_come_from_the_tf32_run_and_missing_ones_say_so(self):
        _, text = run(FULL)
        tf32 = text.split("TF32 GEMM", 1)[1].split("Elementwise", 1)[0]
        # 50 us: 42.95 TFLOP/s against 100; twice the fp32 run's 21.47
        self.assertEqual(["n=1024 NN", "42.9 +/-2%", "100.0", "43%", "2.00x"], row(tf32, "n=1024 NN"))
        self.assertEqual(["n=8192 NN", "n/a", "210.0", "n/a", "n/a"], row(tf32, "n=8192 NN"))
        self.assertIn("TF32 run grad4j.cuda.tf32=true", text)

    def test_bandwidth_is_judged_against_the_faster_copy(self):
        _, text = run(FULL)
        # grad4j copy: 8 * 64M bytes in 0.130 ms = 4130 GB/s; PyTorch's 4147 is the reference
        self.assertIn("grad4j `Backend.copy` 4130 GB/s and PyTorch `copy_` 4147 GB/s: PyTorch copy_", text)
        # 8 * 64M bytes in 0.197 ms = 2725 GB/s: 66% of 4147
        self.assertEqual(["tanh forward 64M floats", "2725 +/-1%", "4147", "66%", ">= 80%", "**NOT MET**",
                          "3827", "0.71x"], row(text, "tanh forward 64M floats"))
        # 12 bytes per element: 3355 GB/s, 81%
        self.assertEqual("81%", row(text, "tanh backward 64M floats")[3])
        # (8 * 64M + 4 * 1024) bytes in 0.150 ms = 3579 GB/s
        self.assertEqual(["3579 +/-1%", "4147", "86%", ">= 80%", "MET"], row(text, "broadcast add 64M floats")[1:6])

    def test_mlp_is_a_time_ratio_judged_at_one(self):
        _, text = run(FULL)
        self.assertEqual(["batch 128", "0.697 +/-7%", "1.252", "0.56x", "<= 1.0x", "MET"], row(text, "batch 128"))
        self.assertEqual(["5.45x", "<= 1.0x", "**NOT MET**"], row(text, "batch 8192")[3:])
        self.assertEqual(["no autograd", "5.00 +/-2%", "7.46", "0.67x"], row(text, "no autograd"))

    def test_summary_counts_every_judged_row_and_quotes_the_backend(self):
        _, text = run(FULL)
        # met: GEMM 1024 NN and 4096 NN, tanh backward, broadcast add, MLP 128
        self.assertIn("Issue #7 targets: 5 of 14 measured met.", text)
        self.assertIn("- grad4j backend: cuda: device 0 FAKE GPU, matmul engine builtin", text)
        self.assertNotIn("NOTE", text)

    def test_out_file_holds_the_printed_markdown(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.md")
            _, text = run(FULL + ["--out", path])
            with open(path) as f:
                self.assertEqual(text, f.read())

    def test_missing_results_are_not_measured_never_guessed(self):
        rc, text = run(["--torch", data("fake-pytorch-cuda.json"), "--jmh", data("no-such-file.json")])
        self.assertEqual(0, rc)
        self.assertEqual("not measured", row(text, "n=1024 NN")[5])
        self.assertEqual("n/a", row(text, "n=1024 NN")[1])
        self.assertIn("Issue #7 targets: 0 of 0 measured met; 14 not measured.", text)
        self.assertIn("NOTE: JMH results", text)

    def test_no_input_at_all_is_an_error(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc, _ = run(["--jmh", data("no-such-file.json")])
        self.assertEqual(2, rc)
        self.assertIn("nothing to report", err.getvalue())

    def test_a_tf32_run_without_the_property_is_flagged(self):
        _, text = run_without_jvm_args("fake-jmh-matmul-tf32.json", "tf32",
                                       ["--torch", data("fake-pytorch-cuda.json"), "--jmh-tf32"])
        self.assertIn("NOTE: the TF32 JMH run's JVM arguments lack -Dgrad4j.cuda.tf32=true", text)

    def test_a_tf32_run_no_faster_than_fp32_is_flagged(self):
        with tempfile.TemporaryDirectory() as d:
            with open(data("fake-jmh-matmul.json")) as f:
                entries = json.load(f)
            for e in entries:
                e["jvmArgs"] = e["jvmArgs"] + ["-Dgrad4j.cuda.tf32=true"]
            path = os.path.join(d, "tf32.json")
            with open(path, "w") as f:
                json.dump(entries, f)
            _, text = run(["--jmh", data("fake-jmh-matmul.json"), "--jmh-tf32", path])
        self.assertEqual("1.00x", row(text.split("TF32 GEMM", 1)[1], "n=4096 NN")[4])
        self.assertIn("NOTE: the TF32 run is at most 1.00x the fp32 run at n >= 4096", text)

    def test_scores_are_divided_by_calls_and_no_calls_param_means_one(self):
        _, text = run(FULL)
        self.assertIn("operations per synchronize: grad4j 4, PyTorch 4", text)
        with tempfile.TemporaryDirectory() as d:
            with open(data("fake-jmh-matmul.json")) as f:
                entries = json.load(f)
            for e in entries:  # the fixture runs 4 GEMMs per invocation; the same GEMM time, one per invocation
                del e["params"]["calls"]
                e["primaryMetric"]["score"] /= 4
            path = os.path.join(d, "one-call.json")
            with open(path, "w") as f:
                json.dump(entries, f)
            _, text = run(["--jmh", path, "--torch", data("fake-pytorch-cuda.json")])
        self.assertEqual(["n=1024 NN", "21.5", "30.0", "72%", ">= 70%", "MET"], row(text, "n=1024 NN"))
        self.assertIn("operations per synchronize: grad4j 1,", text)

    def test_time_units_are_converted(self):
        entry = {"benchmark": "io.grad4j.bench.X.y", "primaryMetric": {"score": 2500.0, "scoreError": "NaN",
                                                                        "scoreUnit": "ns/op"}}
        r = gpu_report.Result(entry)
        self.assertAlmostEqual(2.5e-6, r.seconds)
        entry["primaryMetric"]["scoreUnit"] = "ops/s"
        with self.assertRaises(ValueError):
            gpu_report.Result(entry)


    def test_end_to_end_compares_final_accuracy_and_later_epochs(self):
        rc, text = run(["--train-cuda", data("fake-train-cuda.csv"), "--train-cpu", data("fake-train-cpu.csv")])
        self.assertEqual(0, rc)
        # final accuracies 0.9520 and 0.9575: 0.55 points apart, over the 0.5 target
        self.assertEqual(["cuda", "4", "0.9520", "0.1500", "1.500", "0.110"], row(text, "cuda"))
        self.assertEqual(["cpu, same machine", "4", "0.9575", "0.1500", "0.400", "0.210"], row(text, "cpu, same machine"))
        self.assertIn("0.55 points apart, target <= 0.5: **NOT MET**", text)
        rc, text = run(["--train-cuda", data("fake-train-cpu.csv"), "--train-cpu", data("fake-train-cpu.csv")])
        self.assertIn("0.00 points apart, target <= 0.5: MET", text)

    def test_end_to_end_without_a_cpu_run_is_not_measured(self):
        rc, text = run(["--train-cuda", data("fake-train-cuda.csv"), "--train-cpu", data("missing.csv")])
        self.assertEqual(0, rc)
        self.assertEqual(["cpu, same machine", "not measured", "", "", "", ""], row(text, "cpu, same machine"))
        self.assertIn("n/a points apart, target <= 0.5: not measured", text)
        self.assertIn("training metrics", text)

if __name__ == "__main__":
    unittest.main()
