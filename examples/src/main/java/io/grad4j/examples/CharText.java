package io.grad4j.examples;

import io.grad4j.Tensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A text as nanoGPT's shakespeare_char prepare.py makes it: the vocabulary is the sorted distinct
 * characters, each character its index, the first 90% for training and the rest for validation.
 * Batches are nanoGPT's get_batch: random windows of context + 1 tokens, x the first context and y
 * the same shifted by one.
 */
final class CharText {
    final String vocabulary;
    final int[] train;
    final int[] val;

    private CharText(String vocabulary, int[] train, int[] val) {
        this.vocabulary = vocabulary;
        this.train = train;
        this.val = val;
    }

    static CharText read(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        TreeSet<Integer> chars = new TreeSet<>();
        text.codePoints().forEach(chars::add);
        StringBuilder vocab = new StringBuilder();
        chars.forEach(vocab::appendCodePoint);
        return of(text, vocab.toString());
    }

    /** The text encoded with a given vocabulary (a checkpoint's), refusing characters outside it. */
    static CharText of(String text, String vocabulary) {
        int[] codes = encode(text, vocabulary);
        int n = (int) (codes.length * 0.9);
        int[] train = java.util.Arrays.copyOfRange(codes, 0, n);
        int[] val = java.util.Arrays.copyOfRange(codes, n, codes.length);
        return new CharText(vocabulary, train, val);
    }

    static int[] encode(String text, String vocabulary) {
        int[] index = new int[vocabulary.codePoints().max().orElse(0) + 1];
        java.util.Arrays.fill(index, -1);
        int[] cps = vocabulary.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            index[cps[i]] = i;
        }
        return text.codePoints().map(c -> {
            if (c >= index.length || index[c] < 0) {
                throw new IllegalArgumentException("the character '" + Character.toString(c) + "' (U+"
                        + Integer.toHexString(c).toUpperCase() + ") is not in the model's vocabulary of "
                        + cps.length + " characters");
            }
            return index[c];
        }).toArray();
    }

    static String decode(long[] tokens, String vocabulary) {
        int[] cps = vocabulary.codePoints().toArray();
        StringBuilder sb = new StringBuilder();
        for (long t : tokens) {
            sb.appendCodePoint(cps[(int) t]);
        }
        return sb.toString();
    }

    int vocabSize() {
        return (int) vocabulary.codePoints().count();
    }

    /** x and y [batch, context] (INT64) from random windows of {@code data}, drawn from {@code random}. */
    static Tensor[] batch(int[] data, int batch, int context, SplittableRandom random) {
        if (data.length <= context) {
            throw new IllegalArgumentException("a split of " + data.length + " characters is too short for a context of "
                    + context);
        }
        long[] x = new long[batch * context];
        long[] y = new long[batch * context];
        for (int b = 0; b < batch; b++) {
            int start = random.nextInt(data.length - context);
            for (int t = 0; t < context; t++) {
                x[b * context + t] = data[start + t];
                y[b * context + t] = data[start + t + 1];
            }
        }
        return new Tensor[] {Tensor.of(x, batch, context), Tensor.of(y, batch, context)};
    }
}
