package io.grad4j.nn;

import io.grad4j.DType;
import io.grad4j.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Batch normalisation of [N, C, H, W] per channel, PyTorch's nn.BatchNorm2d(C) (momentum 0.1, eps
 * 1e-5): weight (ones) and bias (zeros) trained; running_mean (zeros), running_var (ones) and
 * num_batches_tracked (INT64) as buffers in the state dict. Training mode normalises by the
 * batch's statistics and updates the running ones; evaluation mode uses the running ones.
 */
public final class BatchNorm2d implements Module {
    public static final double MOMENTUM = 0.1;
    public static final double EPS = 1e-5;
    private final Tensor weight;
    private final Tensor bias;
    private final Tensor runningMean;
    private final Tensor runningVar;
    private final Tensor batchesTracked;
    private boolean training = true;

    public BatchNorm2d(int channels) {
        this(channels, DType.FLOAT32);
    }

    public BatchNorm2d(int channels, DType dtype) {
        if (channels <= 0) {
            throw new IllegalArgumentException("BatchNorm2d needs channels > 0, got " + channels);
        }
        this.weight = Tensor.ones(dtype, channels).requiresGrad(true);
        this.bias = Tensor.zeros(dtype, channels).requiresGrad(true);
        this.runningMean = Tensor.zeros(dtype, channels);
        this.runningVar = Tensor.ones(dtype, channels);
        this.batchesTracked = Tensor.zeros(DType.INT64);
    }

    public Tensor runningMean() {
        return runningMean;
    }

    public Tensor runningVar() {
        return runningVar;
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() != 4) {
            throw new IllegalArgumentException("BatchNorm2d: input must be [N, C, H, W], got " + java.util.Arrays.toString(x.shape()));
        }
        Tensor y = Functional.batchNorm(x, runningMean, runningVar, weight, bias, training, MOMENTUM, EPS);
        if (training) {
            try (Tensor next = batchesTracked.to(DType.FLOAT64).add(1).to(DType.INT64)) {
                batchesTracked.assign(next);
            }
        }
        return y;
    }

    @Override
    public void train(boolean on) {
        training = on;
    }

    @Override
    public List<Tensor> parameters() {
        return List.of(weight, bias);
    }

    @Override
    public Map<String, Tensor> localParameters() {
        return Linear.orderedMap("weight", weight, "bias", bias);
    }

    @Override
    public Map<String, Tensor> localBuffers() {
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        buffers.put("running_mean", runningMean);
        buffers.put("running_var", runningVar);
        buffers.put("num_batches_tracked", batchesTracked);
        return buffers;
    }
}
