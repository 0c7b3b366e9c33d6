package io.grad4j.data;

/** Examples with integer class labels, each example a fixed-size vector of features. */
public interface Dataset {
    int size();

    /** Number of features per example (784 for a 28x28 image). */
    int features();

    /** Copies example i's features into dst at offset. */
    void copyFeatures(int i, float[] dst, int offset);

    int label(int i);
}
