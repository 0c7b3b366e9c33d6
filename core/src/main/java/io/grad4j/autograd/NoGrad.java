package io.grad4j.autograd;

/** A try-with-resources scope; see {@link Autograd#noGrad()}. Closing it throws nothing. */
public interface NoGrad extends AutoCloseable {
    @Override
    void close();
}
