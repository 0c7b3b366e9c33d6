package io.grad4j.examples;

import io.grad4j.Tensor;
import io.grad4j.TensorScope;
import io.grad4j.cuda.CudaBackend;
import io.grad4j.cuda.CudaGraph;
import io.grad4j.data.Batch;
import io.grad4j.nn.Module;
import io.grad4j.optim.Optimizer;

/**
 * {@code grad4j train --cuda-graph}: the training step recorded in a CUDA graph and replayed for
 * every full batch, so a step costs one launch instead of one per kernel. The graph reads a static
 * input tensor and a static labels array that each batch is copied into. It is recorded again at
 * the start of every epoch, since the learning rate (a recorded scalar) may change between epochs;
 * the first step of an epoch runs eagerly and is what is recorded. Batches of another size (the
 * last, partial one) run eagerly.
 */
final class GraphedStep implements AutoCloseable {
    private final CudaBackend cuda;
    private final Module model;
    private final Optimizer opt;
    private final int batch;
    private final Tensor x;
    private final int[] labels;
    private CudaGraph graph;
    /** The graph's loss and logits: rewritten by every replay, closed with the graph. */
    private Tensor[] graphOutputs;
    /** The eager step's loss and logits, closed at the next step. */
    private Tensor[] eagerOutputs;

    GraphedStep(CudaBackend cuda, Module model, Optimizer opt, Tensor firstFeatures) {
        this.cuda = cuda;
        this.model = model;
        this.opt = opt;
        this.batch = firstFeatures.shape()[0];
        this.x = Tensor.zeros(firstFeatures.dtype(), firstFeatures.shape()).persistent();
        this.labels = new int[batch];
    }

    /** Whether {@code b} has the recorded batch size. */
    boolean fits(Batch b) {
        return b.size() == batch;
    }

    /** Forgets the recording: the next step runs eagerly and is recorded anew (call when an epoch starts). */
    void newEpoch() {
        closeGraph();
    }

    /** One training step on {@code b}: {loss, logits}, valid until the next step. */
    Tensor[] step(Batch b) {
        try (Tensor f = b.features()) {
            x.assign(f);
        }
        System.arraycopy(b.labels(), 0, labels, 0, batch);
        closeAll(eagerOutputs);
        eagerOutputs = null;
        if (graph == null) {
            eagerOutputs = record(); // this batch's step, run now; creates lazy optimizer state outside the graph
            Tensor[] recorded = new Tensor[2];
            graph = cuda.capture(() -> System.arraycopy(record(), 0, recorded, 0, 2));
            graphOutputs = recorded;
            return eagerOutputs;
        }
        graph.replay();
        return graphOutputs;
    }

    /** The step on the static input; its loss and logits are this object's to close, not any caller scope's. */
    private Tensor[] record() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor[] lossAndLogits = TrainCommand.trainingStep(model, opt, x, labels);
            return new Tensor[] {lossAndLogits[0].persistent(), lossAndLogits[1].persistent()};
        }
    }

    private static void closeAll(Tensor[] tensors) {
        if (tensors != null) {
            for (Tensor t : tensors) {
                t.close();
            }
        }
    }

    private void closeGraph() {
        if (graph != null) {
            graph.close();
            graph = null;
            closeAll(graphOutputs);
            graphOutputs = null;
        }
    }

    @Override
    public void close() {
        closeGraph();
        closeAll(eagerOutputs);
        eagerOutputs = null;
        x.close();
    }
}
