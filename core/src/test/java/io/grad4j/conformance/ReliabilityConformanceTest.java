package io.grad4j.conformance;

import io.grad4j.DType;
import io.grad4j.InPlaceWrites;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.CustomFunction;
import io.grad4j.autograd.JacobianMode;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.MatmulShape;
import io.grad4j.backend.Storage;
import io.grad4j.checkpoint.Checkpoint;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;
import io.grad4j.optim.Adam;
import io.grad4j.optim.Optimizer;
import io.grad4j.optim.SGD;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 23 on a backend: a backward that would read a saved tensor changed in place since the
 * forward pass is refused (PyTorch's version counter), while normal training (steps after
 * backward, accumulation, retained graphs without writes) is not; element counts that overflow are
 * refused with the shape, before anything is allocated or handed to native code.
 */
public abstract class ReliabilityConformanceTest extends BackendTestBase {
    @TempDir
    Path dir;

    private static IllegalStateException assertModifiedInPlace(Runnable backward, String... mentions) {
        IllegalStateException e = assertThrows(IllegalStateException.class, backward::run, String.join(" ", mentions));
        assertTrue(e.getMessage().contains("modified by an in-place operation"), e.getMessage());
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), "should mention '" + m + "': " + e.getMessage());
        }
        return e;
    }

    // ------------------------------------------------------------------ the version counter

    /** What a backend that replays recorded work (CUDA graphs) relies on: each written buffer counted again per repeat. */
    @Test
    void aRecordingOfInPlaceWritesCountsEachWrittenBufferOncePerRepeat() {
        Tensor a = Tensor.of(new double[] {1, 2}, 2);
        Tensor b = Tensor.of(new double[] {3, 4}, 2);
        Tensor untouched = Tensor.of(new double[] {5, 6}, 2);
        InPlaceWrites.Recording r = InPlaceWrites.record();
        assertThrows(IllegalStateException.class, InPlaceWrites::record, "recordings do not nest");
        assertThrows(IllegalStateException.class, r::repeat, "repeat waits for stop");
        a.assign(b);
        a.assign(b); // the same buffer twice: one buffer
        b.reshape(1, 2).assign(Tensor.of(new double[] {7, 8}, 1, 2)); // a view shares its buffer's count
        r.stop();
        r.stop(); // idempotent
        assertEquals(2, r.buffers());
        int va = a.version();
        int vb = b.version();
        int vu = untouched.version();
        r.repeat();
        r.repeat();
        assertEquals(va + 2, a.version());
        assertEquals(vb + 2, b.version());
        assertEquals(vu, untouched.version());
        a.assign(untouched); // after stop: counted, not recorded
        assertEquals(2, r.buffers());
        // and a backward over a graph that saved a repeated buffer is refused
        Tensor w = Tensor.of(new double[] {1, 1}, 2).requiresGrad(true);
        Tensor y = w.mul(a).sum();
        r.repeat();
        assertModifiedInPlace(y::backward, "mul");
    }

    /** The first reproduction: x changed after w*x used it; the gradient would be [100, 100]. */
    @Test
    void assigningASavedInputBeforeBackwardIsRefused() {
        Tensor w = Tensor.of(new double[] {1, 1}, 2).requiresGrad(true);
        Tensor x = Tensor.of(new double[] {2, 3}, 2);
        Tensor y = w.mul(x).sum();
        x.assign(Tensor.of(new double[] {100, 100}, 2));
        assertModifiedInPlace(y::backward, "'mul'", "input 1", "version 1", "expected version 0");
        assertEquals(null, w.grad(), "nothing was accumulated");
    }

    /** The second: w changed under noGrad (what an optimizer step or Checkpoint.loadInto does); the gradient would be [20]. */
    @Test
    void assigningASavedParameterUnderNoGradIsRefused() {
        Tensor w = Tensor.of(new double[] {2}, 1).requiresGrad(true);
        Tensor y = w.mul(w).sum();
        try (NoGrad ignored = Autograd.noGrad()) {
            w.assign(Tensor.of(new double[] {10}, 1));
        }
        assertModifiedInPlace(y::backward, "'mul'", "input 0");
    }

    /**
     * Every operation that reads a saved value in backward checks it; each case names its
     * operation. Operations whose derivative is written with their output (exp, tanh, softmax...)
     * save the output, the others their input, as in PyTorch.
     */
    @Test
    void everyOperationThatSavesATensorChecksIt() {
        record Case(String op, Function<Tensor, Tensor> f, boolean savesOutput) {
        }
        List<Case> cases = List.of(
                new Case("div", w -> Tensor.of(new double[] {1, 2, 3, 4}, 2, 2).div(w), false),
                new Case("div", w -> w.div(w.mul(1.0)), true), // b requires grad: y is saved too
                // a product's gradient for one factor reads the other: w @ w reads w either way
                new Case("matmul", w -> w.matmul(w), false),
                new Case("matmulAdd", w -> w.matmulAdd(w, Tensor.of(new double[] {1, 1}, 2)), false),
                new Case("log", Tensor::log, false),
                new Case("relu", Tensor::relu, false),
                new Case("pow", w -> w.pow(3), false),
                new Case("abs", Tensor::abs, false),
                new Case("max", w -> w.max(1, false), false),
                new Case("crossEntropyMean", w -> w.crossEntropy(new int[] {0, 1}), false),
                new Case("crossEntropy", w -> w.crossEntropyPerRow(new int[] {1, 0}), false),
                new Case("exp", Tensor::exp, true),
                new Case("sqrt", Tensor::sqrt, true),
                new Case("tanh", Tensor::tanh, true),
                new Case("sigmoid", Tensor::sigmoid, true),
                new Case("softmax", w -> w.softmax(1), true),
                new Case("logSoftmax", w -> w.logSoftmax(1), true),
                new Case("max", w -> w.max(1, true), true));
        for (Case c : cases) {
            Tensor w = Tensor.of(new double[] {0.5, 1.5, 2.5, 3.5}, 2, 2).requiresGrad(true);
            Tensor out = c.f().apply(w);
            Tensor y = out.sum();
            Tensor changed = c.savesOutput() ? out : w;
            try (NoGrad ignored = Autograd.noGrad()) {
                changed.updateInPlace(1.0, 0.25, Tensor.ones(DType.FLOAT64, changed.shape()));
            }
            assertModifiedInPlace(y::backward, "'" + c.op() + "'");
        }
    }

    /**
     * Which factor a product saves: the one the other's gradient reads. With distinct operands,
     * writing the constant factor (read for the parameter's gradient) is refused, while writing
     * the parameter itself is not (no gradient is taken for the constant, so nothing reads w).
     */
    @Test
    void aProductSavesTheFactorTheOtherGradientReadsAndOnlyThat() {
        Tensor bias = Tensor.of(new double[] {1, 1}, 2);
        record Product(String op, java.util.function.BiFunction<Tensor, Tensor, Tensor> f) {
        }
        for (Product p : List.of(new Product("mul", Tensor::mul), new Product("matmul", Tensor::matmul),
                new Product("matmul", (w, c) -> c.matmul(w)), new Product("matmulAdd", (w, c) -> c.matmulAdd(w, bias)))) {
            Tensor w = Tensor.of(new double[] {0.5, 1.5, 2.5, 3.5}, 2, 2).requiresGrad(true);
            Tensor c = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2);
            Tensor y = p.f().apply(w, c).sum();
            try (NoGrad ignored = Autograd.noGrad()) {
                c.updateInPlace(1.0, 0.25, Tensor.ones(DType.FLOAT64, 2, 2));
            }
            assertModifiedInPlace(y::backward, "'" + p.op() + "'");

            Tensor w2 = Tensor.of(new double[] {0.5, 1.5, 2.5, 3.5}, 2, 2).requiresGrad(true);
            Tensor c2 = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2);
            Tensor y2 = p.f().apply(w2, c2).sum();
            try (NoGrad ignored = Autograd.noGrad()) {
                w2.updateInPlace(1.0, 0.25, Tensor.ones(DType.FLOAT64, 2, 2)); // not saved: c2 needs no gradient
            }
            y2.backward();
            assertTrue(w2.grad() != null, p.op());
        }
    }

    /** exp saves its output, not its input: writing the input after exp is allowed, as in PyTorch. */
    @Test
    void writingTheInputOfAnOperationThatSavedItsOutputIsAllowed() {
        Tensor w = Tensor.of(new double[] {0.5, 1.5}, 2).requiresGrad(true);
        Tensor x = w.mul(1.0); // a non-leaf copy to write into
        Tensor y = x.exp().sum();
        double[] expected = x.exp().toDoubleArray();
        try (NoGrad ignored = Autograd.noGrad()) {
            x.assign(Tensor.of(new double[] {9, 9}, 2));
        }
        y.backward();
        assertArrayEquals(expected, w.grad().toDoubleArray(), 1e-12, "d/dw sum(exp(w)) = exp(w) at the forward values");
    }

    /** exp saves its output: a write into the output (through a view) is caught as well. */
    @Test
    void aWriteIntoASavedOutputThroughAViewIsRefused() {
        Tensor w = Tensor.of(new double[] {0.5, 1.5}, 2).requiresGrad(true);
        Tensor e = w.exp();
        Tensor y = e.sum();
        try (NoGrad ignored = Autograd.noGrad()) {
            e.reshape(1, 2).detach().assign(Tensor.of(new double[] {7, 7}, 1, 2));
        }
        assertModifiedInPlace(y::backward, "'exp'", "its output");
    }

    /** A user-defined function's backward gets its inputs and output, so all of them are checked. */
    @Test
    void customFunctionsCheckTheirInputsAndOutput() {
        CustomFunction square = new CustomFunction() {
            @Override
            public Tensor forward(Tensor... in) {
                return in[0].mul(in[0]);
            }

            @Override
            public Tensor[] backward(Tensor[] in, Tensor out, Tensor g) {
                return new Tensor[] {g.mul(in[0]).mul(2)};
            }
        };
        Tensor w = Tensor.of(new double[] {3}, 1).requiresGrad(true);
        Tensor y = Autograd.apply(square, w).sum();
        try (NoGrad ignored = Autograd.noGrad()) {
            w.assign(Tensor.of(new double[] {5}, 1));
        }
        assertModifiedInPlace(y::backward, "input 0");
    }

    /** Operands whose values backward does not read may change, as in PyTorch: add's gradient is 1 whatever they hold. */
    @Test
    void writesIntoTensorsBackwardDoesNotReadAreAllowed() {
        Tensor w = Tensor.of(new double[] {1, 1}, 2).requiresGrad(true);
        Tensor x = Tensor.of(new double[] {2, 3}, 2);
        Tensor y = w.add(x).mul(3.0).sum();
        x.assign(Tensor.of(new double[] {100, 100}, 2));
        y.backward();
        assertArrayEquals(new double[] {3, 3}, w.grad().toDoubleArray());
        // mul by a constant operand that needs no gradient does not save the parameter
        Tensor v = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        Tensor c = Tensor.of(new double[] {4, 5}, 2);
        Tensor z = v.mul(c).sum();
        try (NoGrad ignored = Autograd.noGrad()) {
            v.assign(Tensor.of(new double[] {9, 9}, 2));
        }
        z.backward();
        assertArrayEquals(new double[] {4, 5}, v.grad().toDoubleArray());
    }

    /** Every in-place path counts, inside noGrad too, and views share the count. */
    @Test
    void everyInPlaceWriteBumpsTheVersionOfTheStorage() throws Exception {
        Tensor w = Tensor.zeros(DType.FLOAT64, 2, 2).requiresGrad(true);
        Tensor view = w.reshape(4).detach();
        assertEquals(0, w.version());
        try (NoGrad ignored = Autograd.noGrad()) {
            w.assign(Tensor.ones(DType.FLOAT64, 2, 2));
            assertEquals(1, w.version());
            w.updateInPlace(1.0, 1.0, Tensor.ones(DType.FLOAT64, 2, 2));
            assertEquals(2, view.version(), "a view shares its base's count");
            io.grad4j.ForeachUpdates.axpby(1.0, 1.0, List.of(view), List.of(Tensor.ones(DType.FLOAT64, 4)));
            assertEquals(3, w.version());
        }
        w.mul(w).sum().backward();
        int gradVersion = w.grad().version();
        w.mul(w).sum().backward(); // accumulates into the gradient in place
        assertTrue(w.grad().version() > gradVersion, "accumulating into a gradient counts");
        gradVersion = w.grad().version();
        w.zeroGrad();
        assertTrue(w.grad().version() > gradVersion, "zeroGrad counts");
        int before = w.version();
        new SGD(List.of(w), 0.1).step();
        assertTrue(w.version() > before, "an SGD step counts");
        before = w.version();
        new Adam(List.of(w), 0.1, 0.9, 0.999, 1e-8, 0.0).step();
        assertTrue(w.version() > before, "an Adam step counts");
        Map<String, Tensor> named = Checkpoint.named(List.of("w"), List.of(w));
        Path file = dir.resolve("w.safetensors");
        Checkpoint.save(file, named, Map.of());
        before = w.version();
        Checkpoint.loadInto(file, named);
        assertTrue(w.version() > before, "Checkpoint.loadInto counts");
    }

    /** A retained graph walked again after an optimizer step would mix old activations with new weights. */
    @Test
    void aRetainedGraphAfterAnOptimizerStepIsRefused() {
        Tensor w = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        Tensor y = w.mul(w).sum();
        y.backward(Tensor.scalar(1.0), true);
        y.backward(Tensor.scalar(1.0), true); // no write in between: fine
        assertArrayEquals(new double[] {4, 8}, w.grad().toDoubleArray());
        new SGD(List.of(w), 0.1).step();
        assertModifiedInPlace(() -> y.backward(Tensor.scalar(1.0), true), "'mul'");
    }

    /** Training as the examples do it (zeroGrad, forward, backward, step), with accumulation over two batches, is not disturbed. */
    @Test
    void normalTrainingAndGradientAccumulationStillWork() {
        Sequential net = new Sequential(new Linear(3, 4, 7), new ReLU(), new Linear(4, 2, 8));
        Optimizer sgd = new SGD(net.parameters(), 0.1, 0.9, 0.01);
        Tensor x = Tensor.randn(DType.FLOAT32, 5, 6, 3);
        int[] labels = {0, 1, 1, 0, 1, 0};
        double first = Double.NaN;
        double last = Double.NaN;
        for (int step = 0; step < 20; step++) {
            sgd.zeroGrad();
            Tensor loss = Losses.crossEntropy(net.forward(x), labels);
            loss.backward();
            Losses.crossEntropy(net.forward(x), labels).backward(); // a second micro-batch, accumulated
            sgd.step();
            last = loss.item();
            if (step == 0) {
                first = last;
            }
        }
        assertTrue(last < first, "the loss fell: " + first + " -> " + last);
    }

    // ------------------------------------------------------------------ overflow-checked element counts

    /** The third reproduction: 2^24 * 2^20 * 2^20 wraps to 0 in a long; it must be refused, naming the shape. */
    @Test
    void shapesWhoseElementCountOverflowsAreRefused() {
        List<Supplier<Tensor>> creations = List.of(
                () -> Tensor.zeros(DType.FLOAT32, 1 << 24, 1 << 20, 1 << 20),
                () -> Tensor.ones(DType.FLOAT64, 1 << 24, 1 << 20, 1 << 20),
                () -> Tensor.randn(DType.FLOAT32, 1, 1 << 24, 1 << 20, 1 << 20),
                () -> Tensor.rand(DType.FLOAT32, 1, 1 << 24, 1 << 20, 1 << 20),
                () -> Tensor.of(new float[0], 1 << 24, 1 << 20, 1 << 20),
                () -> Tensor.of(new double[0], 1 << 16, 1 << 16, 1 << 16, 1 << 16));
        for (Supplier<Tensor> c : creations) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, c::get);
            assertTrue(e.getMessage().contains("more than a tensor can") && e.getMessage().contains("2^50"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(DType.FLOAT32, 1 << 24, 1 << 20, 1 << 20));
        assertTrue(e.getMessage().contains("[16777216, 1048576, 1048576]"), e.getMessage());
        assertTrue(e.getMessage().contains("18446744073709551616"), "the true count: " + e.getMessage());
        // an empty axis makes an empty tensor, however large the others
        assertEquals(0, Tensor.zeros(DType.FLOAT32, 0, 1 << 30, 1 << 30).numel());
    }

    @Test
    void reshapeAndMatmulResultsThatOverflowAreRefused() {
        Tensor empty = Tensor.zeros(DType.FLOAT32, 0);
        IllegalArgumentException reshape = assertThrows(IllegalArgumentException.class,
                () -> empty.reshape(1 << 24, 1 << 20, 1 << 20, 0).reshape(1 << 24, 1 << 20, 1 << 20));
        assertTrue(reshape.getMessage().contains("reshape"), reshape.getMessage());
        IllegalArgumentException inferred = assertThrows(IllegalArgumentException.class,
                () -> empty.reshape(1 << 24, 1 << 20, 1 << 20, -1));
        assertTrue(inferred.getMessage().contains("reshape"), inferred.getMessage());
        // broadcasting: BroadcastShapeTest (operands small enough for a test make no overflowing result)
        // a product of two empty operands whose result would hold 2^52 elements
        Tensor a = Tensor.zeros(DType.FLOAT32, 1 << 26, 0);
        Tensor b = Tensor.zeros(DType.FLOAT32, 0, 1 << 26);
        IllegalArgumentException product = assertThrows(IllegalArgumentException.class, () -> a.matmul(b));
        assertTrue(product.getMessage().contains("matmul") && product.getMessage().contains("[67108864, 67108864]"),
                product.getMessage());
    }

    /** The backend checks the sizes a matmul would hand to BLAS, cuBLAS or a kernel against its buffers. */
    @Test
    void aMatmulWhoseSizesExceedItsBuffersIsRefusedByTheBackend() {
        for (DType dtype : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Storage small = backend().allocate(dtype, 4);
            Storage out = backend().allocate(dtype, 4);
            try {
                MatmulShape huge = new MatmulShape(1, 1 << 20, 1 << 20, 1 << 20, false, false, 0, 0);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> backend().matmul(small, small, out, huge));
                assertTrue(e.getMessage().contains("matmul"), e.getMessage());
                MatmulShape tooLong = new MatmulShape(1, 2, 2, 3, false, false, 0, 0); // A 2x3 and B 3x2 from 4 elements
                IllegalArgumentException inputs = assertThrows(IllegalArgumentException.class,
                        () -> backend().matmul(small, small, out, tooLong));
                assertTrue(inputs.getMessage().contains("A holds 4 elements"), inputs.getMessage());
                MatmulShape strided = new MatmulShape(3, 1, 1, 1, false, false, 2, 0); // batch 3 reaches element 4 of A
                Storage three = backend().allocate(dtype, 3);
                IllegalArgumentException batch = assertThrows(IllegalArgumentException.class,
                        () -> backend().matmul(small, small, three, strided));
                assertTrue(batch.getMessage().contains("A"), batch.getMessage());
                three.release();
            } finally {
                small.release();
                out.release();
            }
        }
    }

    /** A 50,000-element Jacobian is 2.5e9 doubles: refused before any backward pass, with both sizes and the limit. */
    @Test
    void aJacobianTooLargeForTheHostNamesItsSizes() {
        Tensor x = Tensor.zeros(DType.FLOAT64, 50_000);
        for (JacobianMode mode : JacobianMode.values()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Autograd.jacobian(t -> t.mul(2.0), x, mode));
            assertTrue(e.getMessage().contains("50000 outputs x 50000 inputs"), e.getMessage());
            assertTrue(e.getMessage().contains("2500000000") && e.getMessage().contains(Integer.toString(Integer.MAX_VALUE - 8)),
                    e.getMessage());
        }
    }
}
