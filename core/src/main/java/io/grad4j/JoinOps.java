package io.grad4j;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * cat, stack and split, on the strided copy and narrow views: no backend method of their own.
 * <pre>
 *   cat:   y = [x_0 | x_1 | ...] along an axis     x_k_grad = g.narrow(axis, offset_k, size_k)
 *   stack: cat of the inputs, each unsqueezed at the axis
 *   split: views y_k = x.narrow(axis, offset_k, size_k)   (narrow's own rules)
 * </pre>
 */
final class JoinOps {
    private JoinOps() {
    }

    static Tensor cat(int axis, Tensor... tensors) {
        if (tensors == null || tensors.length == 0) {
            throw new IllegalArgumentException("cat: needs at least one tensor");
        }
        Tensor first = tensors[0];
        if (first == null) {
            throw new IllegalArgumentException("cat: tensor 0 is null");
        }
        first.checkOpen();
        int rank = first.shapeInternal().length;
        if (rank == 0) {
            throw new IllegalArgumentException("cat: tensor 0 is a scalar (rank 0); scalars have no axis to join along"
                    + " (unsqueeze them, or use stack)");
        }
        int ax = first.normalizeAxis("cat", axis);
        int[] shape = first.shapeInternal().clone();
        long total = 0;
        for (int k = 0; k < tensors.length; k++) {
            Tensor t = tensors[k];
            if (t == null) {
                throw new IllegalArgumentException("cat: tensor " + k + " is null");
            }
            Tensor.checkCompatible("cat", first, t);
            int[] s = t.shapeInternal();
            boolean fits = s.length == rank;
            for (int d = 0; fits && d < rank; d++) {
                fits = d == ax || s[d] == shape[d];
            }
            if (!fits) {
                throw new IllegalArgumentException("cat: tensor " + k + " has shape " + Arrays.toString(s)
                        + " but tensor 0 " + Arrays.toString(first.shapeInternal()) + "; all must match except on axis "
                        + ax);
            }
            total += s[ax];
        }
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cat: the joined axis would hold " + total + " elements, more than "
                    + Integer.MAX_VALUE);
        }
        shape[ax] = (int) total;
        Tensor.checkShape("cat", shape);
        Tensor y = catRaw(ax, shape, tensors);
        int[] sizes = new int[tensors.length];
        for (int k = 0; k < tensors.length; k++) {
            sizes[k] = tensors[k].shapeInternal()[ax];
        }
        Tensor recorded = Graph.record("cat", y, tensors.clone(),
                g -> {
                    Tensor[] grads = new Tensor[sizes.length];
                    long offset = 0;
                    for (int k = 0; k < sizes.length; k++) {
                        grads[k] = ViewOps.copyRaw(ViewOps.narrowRaw(g, ax, offset, sizes[k]));
                        offset += sizes[k];
                    }
                    return grads;
                },
                t -> catRaw(ax, shape, t));
        return recorded.gradFn() == null ? recorded : recorded.withRule(g -> {
            Tensor[] grads = new Tensor[sizes.length];
            long offset = 0;
            for (int k = 0; k < sizes.length; k++) {
                grads[k] = g.narrow(ax, offset, sizes[k]);
                offset += sizes[k];
            }
            return grads;
        });
    }

    /** The joined tensor without history: one strided copy per input into its slot of the output. */
    private static Tensor catRaw(int axis, int[] shape, Tensor[] tensors) {
        Tensor first = tensors[0];
        Tensor out = Tensor.empty(first.backendInternal(), first.dtypeInternal(), shape.clone());
        long offset = 0;
        for (Tensor t : tensors) {
            int size = t.shapeInternal()[axis];
            Tensor slot = ViewOps.narrowRaw(out, axis, offset, size);
            first.backendInternal().stridedCopy(t.storageOfView(), t.offsetInternal(), t.stridesInternal(),
                    out.storage(), slot.offsetInternal(), slot.stridesInternal(), t.shapeInternal());
            slot.close();
            Reference.reachabilityFence(t);
            offset += size;
        }
        return out;
    }

    static Tensor stack(int axis, Tensor... tensors) {
        if (tensors == null || tensors.length == 0) {
            throw new IllegalArgumentException("stack: needs at least one tensor");
        }
        Tensor[] expanded = new Tensor[tensors.length];
        for (int k = 0; k < tensors.length; k++) {
            if (tensors[k] == null) {
                throw new IllegalArgumentException("stack: tensor " + k + " is null");
            }
            tensors[k].checkOpen();
            if (!Arrays.equals(tensors[k].shapeInternal(), tensors[0].shapeInternal())) {
                throw new IllegalArgumentException("stack: tensor " + k + " has shape "
                        + Arrays.toString(tensors[k].shapeInternal()) + " but tensor 0 "
                        + Arrays.toString(tensors[0].shapeInternal()) + "; stack needs equal shapes");
            }
            expanded[k] = tensors[k].unsqueeze(axis); // checks the axis against rank + 1
        }
        return cat(axis, expanded); // an axis of rank + 1, as unsqueeze took it
    }

    static Tensor[] split(Tensor x, int axis, int... sizes) {
        x.checkOpen();
        int ax = x.normalizeAxis("split", axis);
        if (sizes == null || sizes.length == 0) {
            throw new IllegalArgumentException("split: needs at least one section size");
        }
        long sum = 0;
        for (int s : sizes) {
            if (s < 0) {
                throw new IllegalArgumentException("split: a negative section size in " + Arrays.toString(sizes));
            }
            sum += s;
        }
        if (sum != x.shapeInternal()[ax]) {
            throw new IllegalArgumentException("split: the sections " + Arrays.toString(sizes) + " sum to " + sum
                    + " but axis " + ax + " of shape " + Arrays.toString(x.shapeInternal()) + " has " + x.shapeInternal()[ax]);
        }
        Tensor[] parts = new Tensor[sizes.length];
        long offset = 0;
        for (int k = 0; k < sizes.length; k++) {
            parts[k] = x.narrow(ax, offset, sizes[k]);
            offset += sizes[k];
        }
        return parts;
    }
}
