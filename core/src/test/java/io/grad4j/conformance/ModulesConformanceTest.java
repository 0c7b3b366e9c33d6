package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.nn.BatchNorm2d;
import io.grad4j.nn.Conv2d;
import io.grad4j.nn.Dropout;
import io.grad4j.nn.Embedding;
import io.grad4j.nn.Flatten;
import io.grad4j.nn.GELU;
import io.grad4j.nn.LayerNorm;
import io.grad4j.nn.Linear;
import io.grad4j.nn.MaxPool2d;
import io.grad4j.nn.Module;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.AdamW;
import io.grad4j.optim.Optimizers;
import io.grad4j.optim.ParamGroup;
import io.grad4j.optim.WarmupCosineLR;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Modules as PyTorch's: state dict names and order (buffers included), loading with refusals that
 * name the entries, training mode passed to children, tied weights named once, and the optimizer
 * pieces of real models (AdamW parameter groups, gradient-norm clipping, warm-up cosine schedule).
 */
public abstract class ModulesConformanceTest extends BackendTestBase {

    private static Sequential cnn(long seed) {
        return new Sequential(new Conv2d(1, 4, 3, 1, 1, seed), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2, 2),
                new Flatten(), new Linear(4 * 3 * 3, 5, seed + 1), new GELU(), new Linear(5, 3, seed + 2));
    }

    @Test
    void stateDictNamesAreTorchs() {
        Sequential m = cnn(1);
        assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                "1.num_batches_tracked", "5.weight", "5.bias", "7.weight", "7.bias"), new ArrayList<>(m.stateDict().keySet()));
        assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias", "7.weight", "7.bias"),
                new ArrayList<>(m.namedParameters().keySet()));
        assertEquals(m.parameters(), new ArrayList<>(m.namedParameters().values()));
        assertArrayEquals(new int[] {4, 1, 3, 3}, m.stateDict().get("0.weight").shape());
        assertEquals(DType.INT64, m.stateDict().get("1.num_batches_tracked").dtype());
        assertEquals(List.of("weight", "bias"), new ArrayList<>(new LayerNorm(3, true).namedParameters().keySet()));
        assertEquals(List.of("weight"), new ArrayList<>(new LayerNorm(3, false).namedParameters().keySet()));
        assertEquals(List.of("weight"), new ArrayList<>(new Embedding(5, 2, 1).namedParameters().keySet()));
    }

    @Test
    void loadStateDictCopiesEverythingAndRefusesWhatDoesNotFit() {
        Sequential a = cnn(1);
        Sequential b = cnn(2);
        Tensor x = Tensor.randn(DType.FLOAT32, 3, 2, 1, 6, 6);
        a.forward(x); // moves a's running statistics and its batch count
        b.loadStateDict(a.stateDict());
        a.eval();
        b.eval();
        assertArrayEquals(a.forward(x).toDoubleArray(), b.forward(x).toDoubleArray());
        assertEquals(1L, b.stateDict().get("1.num_batches_tracked").toLongArray()[0]);

        Map<String, Tensor> bad = new LinkedHashMap<>(a.stateDict());
        bad.remove("1.running_var");
        bad.put("9.weight", Tensor.zeros(DType.FLOAT32, 1));
        bad.put("7.bias", Tensor.zeros(DType.FLOAT32, 4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(bad));
        assertTrue(e.getMessage().contains("1.running_var") && e.getMessage().contains("9.weight")
                && e.getMessage().contains("7.bias"), e.getMessage());
        Sequential c = cnn(3);
        double[] before = c.stateDict().get("0.weight").toDoubleArray();
        assertThrows(IllegalArgumentException.class, () -> c.loadStateDict(bad));
        assertArrayEquals(before, c.stateDict().get("0.weight").toDoubleArray(), "nothing loaded");
    }

    /**
     * A state dict PyTorch wrote (scripts/fixtures/state_dict_fixture.py: the same CNN trained 3
     * steps, so BatchNorm's running statistics and batch count moved) loads into the architecture
     * built with grad4j, and evaluation gives PyTorch's output.
     */
    @Test
    void aStateDictSavedByPyTorchLoadsAndGivesItsOutput() throws java.io.IOException {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("cnn_state", ".safetensors");
        try (java.io.InputStream in = getClass().getResourceAsStream("/io/grad4j/fixtures/cnn_state_torch.safetensors")) {
            java.nio.file.Files.copy(in, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        try (io.grad4j.checkpoint.Safetensors.Loaded loaded = io.grad4j.checkpoint.Safetensors.load(file)) {
            Map<String, Tensor> state = new LinkedHashMap<>(loaded.tensors());
            Tensor input = state.remove("input");
            Tensor expected = state.remove("expected_output");
            assertEquals(loaded.metadata().get("state_dict_keys"), String.join(",", state.keySet()));
            Sequential m = cnn(99);
            m.loadStateDict(state);
            m.eval();
            assertArrayEquals(expected.toDoubleArray(), m.forward(input).toDoubleArray(), 2e-6);
            assertEquals(3L, m.stateDict().get("1.num_batches_tracked").toLongArray()[0]);
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    @Test
    void trainingModeReachesEveryLayer() {
        Dropout dropout = new Dropout(0.5, 7);
        BatchNorm2d norm = new BatchNorm2d(2);
        Sequential m = new Sequential(norm, new Sequential(dropout));
        Tensor x = Tensor.randn(DType.FLOAT32, 4, 3, 2, 2, 2);
        m.eval();
        assertFalse(dropout.isTraining());
        double[] evalOut = m.forward(x).toDoubleArray();
        assertArrayEquals(evalOut, m.forward(x).toDoubleArray(), "evaluation is deterministic");
        assertArrayEquals(new double[] {0, 0}, norm.runningMean().toDoubleArray(), "evaluation tracks nothing");
        m.train(true);
        assertTrue(dropout.isTraining());
        m.forward(x);
        assertFalse(norm.runningMean().toDoubleArray()[0] == 0, "training updates the running mean");
    }

    /** A layer written against the old interface: it overrides train() and eval(), not train(boolean). */
    private static final class OldStyleLayer implements Module {
        boolean training = true;

        @Override
        public Tensor forward(Tensor x) {
            return x;
        }

        @Override
        public List<Tensor> parameters() {
            return List.of();
        }

        @Override
        public void train() {
            training = true;
        }

        @Override
        public void eval() {
            training = false;
        }
    }

    @Test
    void containersStillReachLayersThatOverrideTrainAndEval() {
        OldStyleLayer old = new OldStyleLayer();
        Sequential m = new Sequential(new Sequential(old));
        m.eval();
        assertFalse(old.training);
        m.train(true);
        assertTrue(old.training);
    }

    /** A module whose output layer shares the embedding's weight, as GPT ties lm_head to wte. */
    private record Tied(Embedding embedding) implements Module {
        @Override
        public Tensor forward(Tensor x) {
            return embedding.forward(x).matmul(embedding.weight().transpose());
        }

        @Override
        public List<Tensor> parameters() {
            return List.of(embedding.weight());
        }

        @Override
        public Map<String, Tensor> localParameters() {
            return Map.of();
        }

        @Override
        public Map<String, Module> children() {
            Map<String, Module> c = new LinkedHashMap<>();
            c.put("wte", embedding);
            c.put("lm_head", new Module() {
                @Override
                public Tensor forward(Tensor x) {
                    return x;
                }

                @Override
                public List<Tensor> parameters() {
                    return List.of(embedding.weight());
                }

                @Override
                public Map<String, Tensor> localParameters() {
                    return Map.of("weight", embedding.weight());
                }
            });
            return c;
        }
    }

    @Test
    void tiedWeightsAreNamedOnceAsParametersAndUnderEveryNameInTheStateDict() {
        Tied m = new Tied(new Embedding(6, 3, 1));
        assertEquals(List.of("wte.weight"), new ArrayList<>(m.namedParameters().keySet()));
        assertEquals(List.of("wte.weight", "lm_head.weight"), new ArrayList<>(m.stateDict().keySet()));
        assertSame(m.stateDict().get("wte.weight"), m.stateDict().get("lm_head.weight"));
    }

    @Test
    void adamWGroupsDecayOnlyTheirParameters() {
        Tensor w1 = Tensor.randn(DType.FLOAT64, 1, 3, 2).requiresGrad(true);
        Tensor b1 = Tensor.randn(DType.FLOAT64, 2, 2).requiresGrad(true);
        Tensor w2 = w1.detach().contiguous().requiresGrad(true);
        Tensor b2 = b1.detach().contiguous().requiresGrad(true);
        AdamW grouped = new AdamW(List.of(new ParamGroup(List.of(w1), 0.1), new ParamGroup(List.of(b1), 0.0)),
                1e-2, 0.9, 0.99, 1e-8);
        AdamW decayed = new AdamW(List.of(w2), 1e-2, 0.9, 0.99, 1e-8, 0.1);
        AdamW plain = new AdamW(List.of(b2), 1e-2, 0.9, 0.99, 1e-8, 0.0);
        for (int step = 0; step < 3; step++) {
            for (Tensor[] pair : new Tensor[][] {{w1, b1}, {w2, b2}}) {
                pair[0].zeroGrad();
                pair[1].zeroGrad();
                pair[0].mul(pair[0]).sum().add(pair[1].pow(3).sum()).backward();
            }
            grouped.step();
            decayed.step();
            plain.step();
        }
        assertArrayEquals(w2.toDoubleArray(), w1.toDoubleArray(), 0.0);
        assertArrayEquals(b2.toDoubleArray(), b1.toDoubleArray(), 0.0);
        assertEquals(6, grouped.state().size(), "step, exp_avg, exp_avg_sq for each of the two parameters");
    }

    @Test
    void clipGradNormScalesToTheLimitAndReturnsTheNormBefore() {
        Tensor a = Tensor.of(new double[] {3, 0}, 2).requiresGrad(true);
        Tensor b = Tensor.of(new double[] {4}, 1).requiresGrad(true);
        Tensor unused = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        a.mul(a).sum().mul(0.5).add(b.mul(b).sum().mul(0.5)).backward(); // grads = values: norm 5
        Tensor norm = Optimizers.clipGradNorm(List.of(a, b, unused), 1.0);
        assertEquals(0, norm.rank());
        assertEquals(5.0, norm.item(), 1e-12);
        double scale = 1.0 / (5.0 + 1e-6);
        assertArrayEquals(new double[] {3 * scale, 0}, a.grad().toDoubleArray(), 1e-12);
        assertArrayEquals(new double[] {4 * scale}, b.grad().toDoubleArray(), 1e-12);
        Tensor small = Optimizers.clipGradNorm(List.of(a, b), 10.0); // below the limit: unchanged
        assertEquals(1.0, small.item(), 1e-6);
        assertArrayEquals(new double[] {3 * scale, 0}, a.grad().toDoubleArray(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Optimizers.clipGradNorm(List.of(a), 0));
    }

    @Test
    void warmupCosineIsNanoGptsSchedule() {
        WarmupCosineLR s = new WarmupCosineLR(1e-3, 100, 5000, 1e-4);
        assertEquals(1e-3 * 1 / 101, s.lr(0), 1e-18);
        assertEquals(1e-3 * 100 / 101, s.lr(99), 1e-18);
        assertEquals(1e-3, s.lr(100), 1e-18);
        assertEquals(1e-4 + 0.5 * (1 + Math.cos(Math.PI * 0.5)) * (1e-3 - 1e-4), s.lr(2550), 1e-15);
        assertEquals(1e-4, s.lr(5000), 1e-18);
        assertEquals(1e-4, s.lr(9000), 0);
        assertThrows(IllegalArgumentException.class, () -> new WarmupCosineLR(1e-3, 10, 10, 1e-4));
        assertThrows(IllegalArgumentException.class, () -> s.lr(-1));
    }

    @Test
    void layersComputeWhatTheirFunctionsDo() {
        Tensor x = Tensor.randn(DType.FLOAT32, 5, 2, 3, 4);
        LayerNorm ln = new LayerNorm(4, true);
        double[] y = ln.forward(x).toDoubleArray();
        for (int r = 0; r < 6; r++) { // each row normalised: mean 0, variance 1 (weight 1, bias 0)
            double mean = 0;
            double sq = 0;
            for (int i = 0; i < 4; i++) {
                mean += y[r * 4 + i] / 4;
                sq += y[r * 4 + i] * y[r * 4 + i] / 4;
            }
            assertEquals(0, mean, 1e-5);
            assertEquals(1, sq, 1e-3);
        }
        Embedding emb = new Embedding(7, 3, 1);
        assertArrayEquals(new int[] {2, 2, 3}, emb.forward(Tensor.of(new long[] {6, 0, 6, 1}, 2, 2)).shape());
        assertArrayEquals(new int[] {2, 12}, new Flatten().forward(x).shape());
        assertArrayEquals(x.gelu().toDoubleArray(), new GELU().forward(x).toDoubleArray());
    }
}
