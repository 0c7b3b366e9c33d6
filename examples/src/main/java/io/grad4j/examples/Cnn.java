package io.grad4j.examples;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.nn.Conv2d;
import io.grad4j.nn.Dropout;
import io.grad4j.nn.Flatten;
import io.grad4j.nn.Linear;
import io.grad4j.nn.MaxPool2d;
import io.grad4j.nn.Module;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;

import java.util.List;

/**
 * The command line's CNN for 28x28 digits (--model cnn): conv(1->32, 3x3, pad 1)-ReLU-maxpool 2-
 * conv(32->64, 3x3, pad 1)-ReLU-maxpool 2-Flatten-Linear(3136->128)-ReLU-Dropout-Linear(128->10),
 * PyTorch's classic MNIST example. Its first layer turns the loader's flat [N, 784] rows into
 * [N, 1, 28, 28] images, as a PyTorch script's {@code x.view(-1, 1, 28, 28)} would. Layer i draws
 * from seed + i; the state dict names are PyTorch's for the same Sequential ("1.weight", ...).
 */
record Cnn(Sequential model, List<Dropout> dropouts) {
    static final int SIDE = 28;

    static Cnn build(int features, long seed, DType dtype, double dropout) {
        if (features != SIDE * SIDE) {
            throw new IllegalArgumentException("--model cnn takes 28x28 images (784 features), the data has " + features
                    + " features per example");
        }
        Dropout drop = new Dropout(dropout, seed * 31 + 11);
        Sequential model = new Sequential(
                new Images(),
                new Conv2d(1, 32, 3, 1, 1, seed, dtype), new ReLU(), new MaxPool2d(2, 2),
                new Conv2d(32, 64, 3, 1, 1, seed + 1, dtype), new ReLU(), new MaxPool2d(2, 2),
                new Flatten(),
                new Linear(64 * 7 * 7, 128, seed + 2, dtype), new ReLU(), drop,
                new Linear(128, 10, seed + 3, dtype));
        return new Cnn(model, List.of(drop));
    }

    /** [N, 784] rows as [N, 1, 28, 28] images (a view: no copy). */
    static final class Images implements Module {
        @Override
        public Tensor forward(Tensor x) {
            return x.reshape(x.shape()[0], 1, SIDE, SIDE);
        }

        @Override
        public List<Tensor> parameters() {
            return List.of();
        }
    }
}
