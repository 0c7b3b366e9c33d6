package io.grad4j.nn;

import io.grad4j.Tensor;

import java.util.List;

/** The largest value of each kernel x kernel window, windows stride apart: PyTorch's nn.MaxPool2d(kernel, stride). */
public final class MaxPool2d implements Module {
    private final int kernel;
    private final int stride;

    public MaxPool2d(int kernel, int stride) {
        if (kernel <= 0 || stride <= 0) {
            throw new IllegalArgumentException("MaxPool2d needs kernel > 0 and stride > 0, got kernel=" + kernel
                    + " stride=" + stride);
        }
        this.kernel = kernel;
        this.stride = stride;
    }

    @Override
    public Tensor forward(Tensor x) {
        return Functional.maxPool2d(x, kernel, stride);
    }

    @Override
    public List<Tensor> parameters() {
        return List.of();
    }
}
