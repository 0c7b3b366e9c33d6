package io.grad4j.data;

/** Examples with integer class labels, each example a fixed-size vector of features. */
public interface Dataset {
    int size();

    /** Number of features per example (784 for a 28x28 image). */
    int features();

    /**
     * Copies example i's features into dst at offset: all {@link #features()} of them (a data
     * loader reuses dst from batch to batch, so a value left unwritten would be a previous example's).
     */
    void copyFeatures(int i, float[] dst, int offset);

    int label(int i);
}
