package io.grad4j.models;

import io.grad4j.Tensor;
import io.grad4j.nn.Module;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A layer made of named children and no parameters of its own: its parameters are theirs, in order. */
abstract class Composite implements Module {
    /** Filled by the subclass's constructor, in PyTorch's registration order. */
    final Map<String, Module> children = new LinkedHashMap<>();

    @Override
    public List<Tensor> parameters() {
        return List.copyOf(namedParameters().values());
    }

    @Override
    public Map<String, Tensor> localParameters() {
        return Map.of();
    }

    @Override
    public Map<String, Module> children() {
        return children;
    }
}
