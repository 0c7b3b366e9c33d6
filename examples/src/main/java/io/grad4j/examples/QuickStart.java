package io.grad4j.examples;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.GradCheck;

import java.util.Arrays;

/** The README's first program: tensors, a matrix product, a gradient, a Jacobian, a gradcheck. */
public final class QuickStart {
    private QuickStart() {
    }

    public static void main(String[] args) {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[] {5, 6, 7, 8}, 2, 2);
        System.out.println("a @ b = " + Arrays.toString(a.matmul(b).toFloatArray()));

        // forward, then backward: y = sum(tanh(W x)), dy/dW
        Tensor w = Tensor.of(new double[] {0.5, -1, 2, 0.25}, 2, 2).requiresGrad(true);
        Tensor x = Tensor.of(new double[] {1, 2}, 2);
        Tensor y = w.matmul(x).tanh().sum();
        y.backward();
        System.out.printf("y = %.6f%n", y.item());
        System.out.println("dy/dW = " + Arrays.toString(round(w.grad().toDoubleArray())));

        // the Jacobian of an elementwise function is diagonal: diag(1 - tanh(z)^2)
        Tensor z = Tensor.of(new double[] {0, 1, -2}, 3);
        System.out.println("J tanh = " + Arrays.toString(round(Autograd.jacobian(Tensor::tanh, z).toDoubleArray())));

        // numeric check of the analytic gradient with central differences
        GradCheck.Result r = GradCheck.check(in -> in[0].matmul(x).tanh().sum(), w.detach());
        System.out.println(r.passed() ? "gradcheck passed" : r.report());
        System.out.println(Tensor.randn(DType.FLOAT32, 42, 3));
    }

    private static double[] round(double[] v) {
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = Math.round(v[i] * 1e6) / 1e6;
        }
        return r;
    }
}
