package io.grad4j;

import io.grad4j.backend.Backend;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * Operations that move or relabel values without arithmetic (the views are in {@link ViewOps};
 * reshape is one where the layout allows). Each is linear, so its VJP is the
 * inverse movement applied to g and its JVP the same movement applied to the tangent:
 * <pre>
 *   reshape:        x_grad = reshape(g, x.shape)       y_dot = reshape(x_dot, y.shape)
 *   cast:           x_grad = cast(g, x.dtype)          y_dot = cast(x_dot, y.dtype)
 *   transfer:       x_grad = g moved back              y_dot = x_dot moved along
 * </pre>
 */
final class ShapeOps {
    private ShapeOps() {
    }

    static Tensor reshape(Tensor x, int[] requested) {
        x.checkOpen();
        int[] shape = resolveShape(x, requested);
        int[] xShape = x.shapeInternal();
        Tensor y = ViewOps.reshapeRaw(x, shape);
        return Graph.recordView("reshape", y, x,
                g -> new Tensor[] {ViewOps.reshapeRaw(g, xShape)},
                t -> ViewOps.reshapeRaw(t[0], shape))
                .withRule(g -> new Tensor[] {g.reshape(xShape)});
    }

    static Tensor transpose(Tensor x, int a, int b) {
        x.checkOpen();
        return ViewOps.transpose(x, a, b);
    }

    static Tensor cast(Tensor x, DType target) {
        x = x.forKernel();
        DType source = x.dtypeInternal();
        Tensor y = castRaw(x, target);
        if (!source.isFloatingPoint() || !target.isFloatingPoint()) {
            return y; // to or from an integer or BOOL dtype: no gradient flows (PyTorch's rule)
        }
        return Graph.record("cast", y, x,
                g -> new Tensor[] {castRaw(g, source)},
                t -> castRaw(t[0], target))
                .withRule(g -> new Tensor[] {g.to(source)});
    }

    static Tensor transfer(Tensor x, Backend target) {
        x = x.forKernel();
        Backend source = x.backendInternal();
        Tensor y = transferRaw(x, target);
        return Graph.record("transfer", y, x,
                g -> new Tensor[] {transferRaw(g, source)},
                t -> transferRaw(t[0], target))
                .withRule(g -> new Tensor[] {g.to(source)});
    }

    static Tensor castRaw(Tensor x, DType target) {
        Backend backend = x.backendInternal();
        Tensor out = Tensor.empty(backend, target, x.shapeInternal());
        backend.cast(x.storage(), out.storage());
        Reference.reachabilityFence(x);
        return out;
    }

    private static Tensor transferRaw(Tensor x, Backend target) {
        int[] shape = x.shapeInternal();
        return Tensor.wrap(target, shape, switch (x.dtypeInternal()) {
            case FLOAT64 -> target.upload(x.toDoubleArray());
            case FLOAT32 -> target.upload(x.toFloatArray());
            case INT32 -> target.upload(x.toIntArray());
            case INT64 -> target.upload(x.toLongArray());
            case BOOL -> target.upload(x.toBooleanArray());
        });
    }

    private static int[] resolveShape(Tensor x, int[] requested) {
        if (requested == null) {
            throw new IllegalArgumentException("reshape: shape is null");
        }
        int[] shape = requested.clone();
        int inferred = -1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == -1) {
                if (inferred >= 0) {
                    throw new IllegalArgumentException("reshape: only one axis may be -1, got " + Arrays.toString(requested));
                }
                inferred = i;
            } else if (shape[i] < 0) {
                throw new IllegalArgumentException("reshape: negative size in " + Arrays.toString(requested));
            }
        }
        int[] knownSizes = shape.clone();
        if (inferred >= 0) {
            knownSizes[inferred] = 1;
        }
        long known = io.grad4j.backend.ElementCount.of("reshape", knownSizes);
        long n = x.numelInternal();
        if (inferred >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException("reshape: cannot infer the -1 axis of " + Arrays.toString(requested)
                        + " for " + n + " elements (shape " + Arrays.toString(x.shapeInternal()) + ")");
            }
            if (n / known > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("reshape: the -1 axis of " + Arrays.toString(requested) + " would be "
                        + n / known + " long, more than an int dimension holds (shape " + Arrays.toString(x.shapeInternal()) + ")");
            }
            shape[inferred] = (int) (n / known);
        } else if (known != n) {
            throw new IllegalArgumentException("reshape: shape " + Arrays.toString(requested) + " holds " + known
                    + " elements but the tensor has " + n + " (shape " + Arrays.toString(x.shapeInternal()) + ")");
        }
        return shape;
    }
}
