package io.grad4j.examples;

import io.grad4j.DType;
import io.grad4j.nn.Dropout;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Module;
import io.grad4j.nn.ReLU;
import io.grad4j.nn.Sequential;

import java.util.ArrayList;
import java.util.List;

/**
 * The command line's model: Linear + ReLU (+ Dropout) per hidden size, then Linear to the classes.
 * Layer i's weights come from seed + i, so train and gradcheck build the same network.
 */
record Mlp(Sequential model, List<Dropout> dropouts) {
    static Mlp build(int inputs, int[] hidden, int classes, long seed, DType dtype, double dropout) {
        List<Module> layers = new ArrayList<>();
        List<Dropout> dropouts = new ArrayList<>();
        int in = inputs;
        long layerSeed = seed;
        for (int h : hidden) {
            layers.add(new Linear(in, h, layerSeed++, dtype));
            layers.add(new ReLU());
            if (dropout > 0) {
                Dropout d = new Dropout(dropout, seed * 31 + layers.size());
                dropouts.add(d);
                layers.add(d);
            }
            in = h;
        }
        layers.add(new Linear(in, classes, layerSeed, dtype));
        return new Mlp(new Sequential(layers.toArray(Module[]::new)), List.copyOf(dropouts));
    }
}
