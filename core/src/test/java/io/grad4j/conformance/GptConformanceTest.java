package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.checkpoint.Safetensors;
import io.grad4j.models.GPT;
import io.grad4j.models.GPTConfig;
import io.grad4j.optim.AdamW;
import io.grad4j.optim.ParamGroup;
import org.junit.jupiter.api.Test;

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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The GPT against PyTorch, as llm.c's test_gpt2 checks GPT-2: a tiny nanoGPT (2 layers, 2 heads,
 * width 32, context 16, vocab 65, biases, no dropout) written by scripts/fixtures/gpt_fixture.py
 * with its weights, a batch, the logits, the loss, every parameter's gradient and the losses of
 * 10 AdamW steps (lr 1e-3, betas 0.9/0.99, weight decay 0.1 on matrices only); in FLOAT32 grad4j
 * must match each within 1e-4.
 */
public abstract class GptConformanceTest extends BackendTestBase {
    private static final double TOLERANCE = 1e-4;

    private static Map<String, Tensor> fixture(Map<String, String> metadata) throws IOException {
        Path file = Files.createTempFile("gpt_tiny", ".safetensors");
        try (InputStream in = GptConformanceTest.class.getResourceAsStream("/io/grad4j/fixtures/gpt_tiny_torch.safetensors")) {
            assertNotNull(in, "gpt_tiny_torch.safetensors is missing from the test classpath");
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        }
        try (Safetensors.Loaded loaded = Safetensors.load(file)) {
            Map<String, Tensor> kept = new LinkedHashMap<>();
            loaded.tensors().forEach((k, v) -> kept.put(k, v.detach().contiguous()));
            metadata.putAll(loaded.metadata());
            return kept;
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void assertClose(String what, Tensor expected, Tensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] want = expected.toDoubleArray();
        double[] got = actual.toDoubleArray();
        double worst = 0;
        int at = -1;
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
        if (!(worst <= TOLERANCE)) {
            fail(what + ": largest difference " + worst + " at " + at + " (grad4j " + got[at] + ", PyTorch " + want[at] + ")");
        }
    }

    @Test
    void logitsLossGradientsAndTenAdamWStepsMatchPyTorch() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        Map<String, Tensor> f = fixture(meta);
        assertEquals("vocab=65;context=16;layers=2;heads=2;width=32;dropout=0.0;bias=true", meta.get("config"));
        GPT gpt = new GPT(new GPTConfig(65, 16, 2, 2, 32, 0.0, true), 1234);
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (String name : meta.get("parameters").split(",")) {
            weights.put(name, f.get(name));
        }
        gpt.loadPyTorchStateDict(weights);
        assertEquals(List.of(meta.get("parameters").split(",")), new ArrayList<>(gpt.namedParameters().keySet()),
                "nanoGPT's parameter names, in its order, the tied lm_head once");

        Tensor idx = f.get("idx");
        Tensor targets = f.get("targets");
        assertClose("logits", f.get("logits"), gpt.forward(idx));
        Tensor loss = gpt.loss(idx, targets);
        assertClose("loss", f.get("loss"), loss);
        loss.backward();
        for (Map.Entry<String, Tensor> p : gpt.namedParameters().entrySet()) {
            assertClose("grad." + p.getKey(), f.get("grad." + p.getKey()), p.getValue().grad());
        }

        // ten AdamW steps from the same weights on the same batch, decay on matrices only (nanoGPT's groups)
        GPT fresh = new GPT(new GPTConfig(65, 16, 2, 2, 32, 0.0, true), 99);
        fresh.loadPyTorchStateDict(weights);
        List<Tensor> decay = new ArrayList<>();
        List<Tensor> noDecay = new ArrayList<>();
        for (Tensor p : fresh.parameters()) {
            (p.rank() >= 2 ? decay : noDecay).add(p);
        }
        AdamW opt = new AdamW(List.of(new ParamGroup(decay, 0.1), new ParamGroup(noDecay, 0.0)), 1e-3, 0.9, 0.99, 1e-8);
        double[] expected = f.get("losses").toDoubleArray();
        double[] got = new double[expected.length];
        for (int step = 0; step < expected.length; step++) {
            opt.zeroGrad();
            Tensor l = fresh.loss(idx, targets);
            got[step] = l.item();
            l.backward();
            opt.step();
        }
        assertArrayEquals(expected, got, TOLERANCE, "losses of 10 AdamW steps");
        assertTrue(got[9] < got[0] - 0.05, "the loss falls: " + java.util.Arrays.toString(got));
    }

    @Test
    void nanoGptCheckpointsLoadWithTheirPrefixAndBuffers() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        Map<String, Tensor> f = fixture(meta);
        Map<String, Tensor> saved = new LinkedHashMap<>();
        for (String name : meta.get("parameters").split(",")) {
            saved.put("_orig_mod." + name, f.get(name)); // torch.compile's prefix
        }
        saved.put("_orig_mod.lm_head.weight", f.get("transformer.wte.weight"));
        saved.put("_orig_mod.transformer.h.0.attn.bias", Tensor.ones(DType.FLOAT32, 1, 1, 16, 16)); // the mask buffer
        GPT gpt = new GPT(new GPTConfig(65, 16, 2, 2, 32, 0.0, true), 7);
        gpt.loadPyTorchStateDict(saved);
        assertClose("logits", f.get("logits"), gpt.forward(f.get("idx")));
        Map<String, Tensor> missing = new LinkedHashMap<>(saved);
        missing.remove("_orig_mod.transformer.ln_f.bias");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpt.loadPyTorchStateDict(missing));
        assertTrue(e.getMessage().contains("transformer.ln_f.bias"), e.getMessage());
        // generation: the context is cropped, the result seeded
        Tensor prompt = Tensor.of(new long[] {1, 2, 3}, 1, 3);
        Tensor a = gpt.generate(prompt, 20, 0.8, 5, 42);
        assertArrayEquals(new int[] {1, 23}, a.shape());
        assertArrayEquals(a.toLongArray(), gpt.generate(prompt, 20, 0.8, 5, 42).toLongArray());
        assertThrows(IllegalArgumentException.class, () -> gpt.forward(Tensor.zeros(DType.INT64, 1, 17)));
    }
}
