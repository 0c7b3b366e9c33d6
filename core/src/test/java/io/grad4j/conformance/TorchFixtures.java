package io.grad4j.conformance;

import io.grad4j.Tensor;
import io.grad4j.checkpoint.Safetensors;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Reference values written by PyTorch (scripts/fixtures/ops_fixtures.py, Debian's python3-torch,
 * float64): each case's inputs, outputs, an upstream tensor per floating output and the gradients
 * of sum(out * up), named {@code <case>.<role>}, with the case's operation and parameters in the
 * file's metadata. CI reads the committed files and needs no PyTorch.
 */
final class TorchFixtures {
    private TorchFixtures() {
    }

    /** Evaluates one case: its parameters (from the metadata) and inputs (by role) to its outputs. */
    interface Evaluator {
        Tensor[] evaluate(Map<String, String> params, Map<String, Tensor> inputs);
    }

    /**
     * Runs every case of a fixture file with the current backend and fails listing every case whose
     * outputs, gradients or updated inputs ({@code <role>_after}) differ from PyTorch's.
     */
    static void check(String resource, Evaluator evaluator, int expectedCases) throws IOException {
        Path file = Files.createTempFile("ops_torch", ".safetensors");
        try (InputStream in = TorchFixtures.class.getResourceAsStream(resource)) {
            assertNotNull(in, resource + " is missing from the test classpath");
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        }
        List<String> failures = new ArrayList<>();
        int cases = 0;
        try (Safetensors.Loaded loaded = Safetensors.load(file)) {
            for (Map.Entry<String, String> m : loaded.metadata().entrySet()) {
                if (!m.getValue().startsWith("op=")) {
                    continue; // generator, torch version
                }
                cases++;
                Map<String, String> params = new LinkedHashMap<>();
                for (String kv : m.getValue().split(";")) {
                    int eq = kv.indexOf('=');
                    params.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
                try {
                    checkCase(m.getKey(), params, loaded.tensors(), evaluator);
                } catch (AssertionError | RuntimeException e) {
                    failures.add(m.getKey() + " (" + m.getValue() + "): " + e);
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }
        assertEquals(expectedCases, cases, "cases in " + resource);
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases + " cases differ from PyTorch:\n"
                + String.join("\n", failures));
    }

    private static void checkCase(String name, Map<String, String> params, Map<String, Tensor> all, Evaluator evaluator) {
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        String prefix = name + ".";
        for (Map.Entry<String, Tensor> e : all.entrySet()) {
            if (!e.getKey().startsWith(prefix)) {
                continue;
            }
            String role = e.getKey().substring(prefix.length());
            if (!role.startsWith("out") && !role.startsWith("up") && !role.startsWith("grad.") && !role.endsWith("_after")) {
                Tensor t = e.getValue().detach().contiguous();
                inputs.put(role, all.containsKey(prefix + "grad." + role) ? t.requiresGrad(true) : t);
            }
        }
        Tensor[] outs = evaluator.evaluate(params, inputs);
        Tensor loss = null;
        for (int k = 0; k < outs.length; k++) {
            String suffix = outs.length == 1 && all.containsKey(prefix + "out") ? "" : String.valueOf(k);
            Tensor expected = all.get(prefix + "out" + suffix);
            assertNotNull(expected, name + ": no out" + suffix + " in the fixtures");
            assertArrayEquals(expected.shape(), outs[k].shape(), name + ": shape of out" + suffix);
            assertEquals(expected.dtype(), outs[k].dtype(), name + ": dtype of out" + suffix);
            assertValues(name + " out" + suffix, expected, outs[k]);
            Tensor up = all.get(prefix + "up" + suffix);
            if (up != null) {
                Tensor term = outs[k].mul(up).sum();
                loss = loss == null ? term : loss.add(term);
            }
        }
        for (Map.Entry<String, Tensor> in : inputs.entrySet()) { // inputs the operation updates in place
            Tensor after = all.get(prefix + in.getKey() + "_after");
            if (after != null) {
                assertValues(name + " " + in.getKey() + " after the call", after, in.getValue());
            }
        }
        if (loss == null) {
            return; // integer or bool outputs: no gradients
        }
        loss.backward();
        for (Map.Entry<String, Tensor> in : inputs.entrySet()) {
            Tensor expected = all.get(prefix + "grad." + in.getKey());
            if (expected == null) {
                continue;
            }
            Tensor got = in.getValue().grad();
            assertNotNull(got, name + ": no gradient for " + in.getKey());
            assertArrayEquals(expected.shape(), got.shape(), name + ": shape of grad." + in.getKey());
            assertValues(name + " grad." + in.getKey(), expected, got);
        }
    }

    /** The tolerance for float64 against PyTorch: |a - b| <= 1e-10 + 1e-8 |b|; integers and BOOL exactly. */
    static void assertValues(String what, Tensor expected, Tensor actual) {
        double[] want = expected.toDoubleArray();
        double[] got = actual.toDoubleArray();
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(got[i] - want[i]) <= 1e-10 + 1e-8 * Math.abs(want[i]))) {
                fail(what + "[" + i + "]: got " + got[i] + ", PyTorch " + want[i]);
            }
        }
    }

}
