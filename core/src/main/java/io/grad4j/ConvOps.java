package io.grad4j;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BinaryOp;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * im2col and its adjoint col2im (PyTorch's F.unfold and F.fold for 2-D images): the data movement
 * of convolution and pooling, two strided copies forward and kh x kw strided additions backward,
 * with no backend method of their own.
 * <pre>
 *   im2col: cols[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh*sh + i*dh, ow*sw + j*dw]
 *   VJP:    x_grad = col2im(g)   (each column entry added back where it was read; overlaps sum)
 *   JVP:    y_dot = im2col(x_dot)
 * </pre>
 * Both are linear and each is the other's VJP, so gradients of gradients come for free.
 */
final class ConvOps {
    private ConvOps() {
    }

    /** The geometry of one call: input [N, C, H, W], kernel, stride, padding, dilation, output OH x OW. */
    record Geometry(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
        int paddedH() {
            return h + 2 * ph;
        }

        int paddedW() {
            return w + 2 * pw;
        }

        int[] colsShape() {
            return new int[] {n, c * kh * kw, oh * ow};
        }

        /** Whether no input position is read by two (kernel tap, output) pairs: then col2im is one strided copy. */
        boolean disjoint() {
            return (kh == 1 || sh >= dh * (kh - 1) + 1) && (kw == 1 || sw >= dw * (kw - 1) + 1);
        }
    }

    static Tensor im2col(Tensor x, int kh, int kw, int[] stride, int[] padding, int[] dilation) {
        x.requireFloatingPoint("im2col");
        int[] s = x.shapeInternal();
        if (s.length != 4) {
            throw new IllegalArgumentException("im2col: the input must be [N, C, H, W], got " + Arrays.toString(s));
        }
        pair("stride", stride, 1);
        pair("padding", padding, 0);
        pair("dilation", dilation, 1);
        if (kh < 1 || kw < 1) {
            throw new IllegalArgumentException("im2col: the kernel must be at least 1x1, got " + kh + "x" + kw);
        }
        int extentH = dilation[0] * (kh - 1) + 1;
        int extentW = dilation[1] * (kw - 1) + 1;
        int paddedH = s[2] + 2 * padding[0];
        int paddedW = s[3] + 2 * padding[1];
        if (paddedH < extentH || paddedW < extentW) {
            throw new IllegalArgumentException("im2col: a kernel spanning " + extentH + "x" + extentW + " does not fit the"
                    + " padded input of " + paddedH + "x" + paddedW + " (input " + Arrays.toString(s) + ")");
        }
        Geometry g = new Geometry(s[0], s[1], s[2], s[3], kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0],
                dilation[1], (paddedH - extentH) / stride[0] + 1, (paddedW - extentW) / stride[1] + 1);
        Tensor.checkShape("im2col", g.colsShape());
        Tensor y = im2colRaw(x, g);
        return Graph.record("im2col", y, x,
                gr -> new Tensor[] {col2imRaw(gr, g)},
                t -> im2colRaw(t[0], g))
                .withRule(gr -> new Tensor[] {col2im(gr, g)});
    }

    /** {@link #col2imRaw} as a differentiable operation (im2col's gradient, differentiated again). */
    private static Tensor col2im(Tensor cols, Geometry g) {
        Tensor y = col2imRaw(cols, g);
        return Graph.record("col2im", y, cols,
                h -> new Tensor[] {im2colRaw(h, g)},
                t -> col2imRaw(t[0], g))
                .withRule(h -> new Tensor[] {im2col(h, g.kh(), g.kw(), new int[] {g.sh(), g.sw()},
                        new int[] {g.ph(), g.pw()}, new int[] {g.dh(), g.dw()})});
    }

    /** Zero-pads x (one strided copy into a zeroed buffer), then one strided copy of the patch view into columns. */
    private static Tensor im2colRaw(Tensor x, Geometry g) {
        Backend backend = x.backendInternal();
        int hp = g.paddedH();
        int wp = g.paddedW();
        Tensor padded;
        if (g.ph() == 0 && g.pw() == 0) {
            padded = x.denseRaw();
        } else {
            padded = Tensor.zeros(backend, x.dtypeInternal(), new int[] {g.n(), g.c(), hp, wp});
            long[] ps = BroadcastShape.contiguousStrides(padded.shapeInternal());
            backend.stridedCopy(x.storageOfView(), x.offsetInternal(), x.stridesInternal(), padded.storage(),
                    g.ph() * ps[2] + g.pw(), ps, x.shapeInternal());
        }
        Tensor cols = Tensor.empty(backend, x.dtypeInternal(), g.colsShape());
        int[] patchShape = {g.n(), g.c(), g.kh(), g.kw(), g.oh(), g.ow()};
        long plane = (long) hp * wp;
        long[] read = {g.c() * plane, plane, (long) g.dh() * wp, g.dw(), (long) g.sh() * wp, g.sw()};
        backend.stridedCopy(padded.storage(), 0, read, cols.storage(), 0, BroadcastShape.contiguousStrides(patchShape),
                patchShape);
        padded.closeIfCopyOf(x);
        Reference.reachabilityFence(x);
        return cols;
    }

    /**
     * The columns added back into a zero image [N, C, H, W]: one strided copy when no two entries
     * share an input position (pooling with stride >= kernel), else one strided addition per
     * kernel tap (kh x kw passes, each writing distinct positions); the padding is cut off last.
     */
    private static Tensor col2imRaw(Tensor cols, Geometry g) {
        Backend backend = cols.backendInternal();
        Tensor c = cols.denseRaw();
        int hp = g.paddedH();
        int wp = g.paddedW();
        int[] paddedShape = {g.n(), g.c(), hp, wp};
        Tensor padded = Tensor.zeros(backend, cols.dtypeInternal(), paddedShape);
        long plane = (long) hp * wp;
        long taps = (long) g.kh() * g.kw();
        long l = (long) g.oh() * g.ow();
        if (g.disjoint()) {
            int[] patchShape = {g.n(), g.c(), g.kh(), g.kw(), g.oh(), g.ow()};
            long[] write = {g.c() * plane, plane, (long) g.dh() * wp, g.dw(), (long) g.sh() * wp, g.sw()};
            backend.stridedCopy(c.storage(), 0, BroadcastShape.contiguousStrides(patchShape), padded.storage(), 0, write,
                    patchShape);
        } else {
            int[] tapShape = {g.n(), g.c(), g.oh(), g.ow()};
            long[] dst = {g.c() * plane, plane, (long) g.sh() * wp, g.sw()};
            long[] src = {g.c() * taps * l, taps * l, g.ow(), 1};
            for (int i = 0; i < g.kh(); i++) {
                for (int j = 0; j < g.kw(); j++) {
                    long at = (long) i * g.dh() * wp + (long) j * g.dw();
                    Tensor slot = padded.viewOf(tapShape, dst, at);
                    Tensor tap = c.viewOf(tapShape, src, (i * (long) g.kw() + j) * l);
                    Tensor sum = ArithmeticOps.raw(BinaryOp.ADD, slot, tap, tapShape);
                    backend.stridedCopy(sum.storage(), 0, BroadcastShape.contiguousStrides(tapShape), padded.storage(), at,
                            dst, tapShape);
                    sum.close();
                    slot.close();
                    tap.close();
                }
            }
        }
        c.closeIfCopyOf(cols);
        Reference.reachabilityFence(cols);
        if (g.ph() == 0 && g.pw() == 0) {
            return padded;
        }
        long[] ps = BroadcastShape.contiguousStrides(paddedShape);
        Tensor interior = padded.viewOf(new int[] {g.n(), g.c(), g.h(), g.w()}, ps, g.ph() * ps[2] + g.pw());
        Tensor out = ViewOps.copyRaw(interior);
        interior.close();
        padded.close();
        return out;
    }

    private static void pair(String what, int[] v, int min) {
        if (v == null || v.length != 2 || v[0] < min || v[1] < min) {
            throw new IllegalArgumentException("im2col: " + what + " must be two values >= " + min + ", got "
                    + (v == null ? "null" : Arrays.toString(v)));
        }
    }
}
