package io.grad4j.models;

/**
 * A GPT's sizes, nanoGPT's GPTConfig: vocabulary, context (block_size), layers, heads, width
 * (n_embd, a multiple of heads), dropout probability, and whether Linear and LayerNorm layers have
 * biases.
 */
public record GPTConfig(int vocab, int context, int layers, int heads, int width, double dropout, boolean bias) {
    public GPTConfig {
        if (vocab < 1 || context < 1 || layers < 1 || heads < 1 || width < 1 || width % heads != 0) {
            throw new IllegalArgumentException("GPTConfig needs positive sizes and width divisible by heads, got vocab="
                    + vocab + " context=" + context + " layers=" + layers + " heads=" + heads + " width=" + width);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("GPTConfig: dropout must lie in [0, 1), got " + dropout);
        }
    }
}
