package io.grad4j.cuda;

import io.grad4j.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;

import java.util.List;

/**
 * A training step (or any sequence of cuda work) recorded once with CUDA stream capture and
 * replayed with one {@code cuGraphLaunch}: a small-batch step is launch-bound (a few hundred
 * kernels of microseconds each, every launch costing host time), and a replay pays for one launch.
 * Opt-in; made by {@link CudaBackend#capture(Runnable)}.
 *
 * <p>What a replay does, exactly: first it copies again, from the same Java arrays, every host
 * array the step uploaded during the capture (the step's inputs: keep a static input tensor and
 * a static labels array outside the step, refill them, then replay), then it runs every kernel
 * and device copy of the step on the addresses they had during the capture. It follows that:
 * <ul>
 *   <li>tensors created in the step and kept past it (the loss, the logits) hold the results of
 *       the latest replay; read them after {@link #replay()}. The step itself cannot read values
 *       (downloads, {@code item()} and synchronisation are refused during a capture);</li>
 *   <li>scalars are part of the recording: the learning rate, momentum, anything computed on the
 *       host. Capture again after changing them. Optimizers that replace their state tensors or
 *       compute step-dependent scalars on the host (Adam, AdamW) cannot be replayed; SGD with or
 *       without momentum can, after one eager step has created its buffers;</li>
 *   <li>random numbers drawn on the host inside the step (dropout masks) would be uploaded from
 *       the same array at every replay, so the same mask would repeat: do not capture them.</li>
 * </ul>
 * The device blocks the step used belong to the graph (a private allocator pool) until
 * {@link #close()}; tensors kept past the step stay valid after close like any other tensor.
 */
public final class CudaGraph implements AutoCloseable {
    /**
     * A host array the step uploaded, copied again before every replay: float[] or double[] as
     * uploaded, or the int[] labels of a cross-entropy, checked against {@code labelLimit} classes
     * and converted to {@code dtype}. The target is the raw device block, not the step's storage:
     * the step's scope releases that storage when it ends, while the block stays the graph's
     * until {@link #close()}.
     */
    record HostInput(Object array, CUdeviceptr target, DType dtype, int labelLimit) {
    }

    private final CudaBackend backend;
    private final CUgraph graph;
    private final CUgraphExec exec;
    private final CachingAllocator.Pool<CUdeviceptr> pool;
    private final List<HostInput> inputs;
    private final int kernels;
    /** The buffers the step wrote in place while it was recorded: each replay writes them again. */
    private final io.grad4j.InPlaceWrites.Recording writes;
    private boolean closed;

    CudaGraph(CudaBackend backend, CUgraph graph, CUgraphExec exec, CachingAllocator.Pool<CUdeviceptr> pool,
              List<HostInput> inputs, int kernels, io.grad4j.InPlaceWrites.Recording writes) {
        this.backend = backend;
        this.graph = graph;
        this.exec = exec;
        this.pool = pool;
        this.inputs = List.copyOf(inputs);
        this.kernels = kernels;
        this.writes = writes;
    }

    /**
     * Copies the host inputs again, then runs the recorded work on the backend's stream
     * (asynchronously). The tensors the step wrote in place (parameters, optimizer state) count
     * one more write each, as an eager step's would: a backward over a graph built before the
     * replay that saved one of them is then refused instead of using the replay's new values.
     */
    public void replay() {
        backend.replay(this);
        writes.repeat();
    }

    /** Kernel launches recorded (each replay runs them all with one graph launch). */
    public int recordedLaunches() {
        return kernels;
    }

    /** Host arrays copied again before each replay. */
    public int hostInputs() {
        return inputs.size();
    }

    List<HostInput> inputs() {
        return inputs;
    }

    CUgraph graph() {
        return graph;
    }

    CUgraphExec exec() {
        return exec;
    }

    CachingAllocator.Pool<CUdeviceptr> pool() {
        return pool;
    }

    boolean isClosed() {
        return closed;
    }

    /** Destroys the graph (after queued replays finish) and returns its blocks to the allocator. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            backend.destroy(this);
        }
    }
}
