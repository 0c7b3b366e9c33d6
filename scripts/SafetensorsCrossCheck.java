// Manual cross-check with an independent reader, see docs/checkpoints.md.
// Writes args[0] with grad4j; if args[1] is given, loads that file (written by safetensors_crosscheck.py) and prints it.
import io.grad4j.*;
import io.grad4j.checkpoint.*;
import java.nio.file.*;
import java.util.*;
public class SafetensorsCrossCheck {
    public static void main(String[] a) throws Exception {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("w", Tensor.of(new float[] {1f, -0f, Float.MIN_VALUE, Float.NaN, 3.25f, -7f}, 2, 3));
        m.put("s", Tensor.scalar(Math.PI));
        m.put("e", Tensor.zeros(DType.FLOAT32, 0, 4));
        Safetensors.save(Path.of(a[0]), m, Map.of("epoch", "3", "note", "ü\"x"));
        // a file written by python (numpy + json per spec), read back here
        if (a.length > 1) {
            try (var l = Safetensors.load(Path.of(a[1]))) {
                for (var e : l.tensors().entrySet()) {
                    System.out.println(e.getKey() + " " + e.getValue().dtype() + " " + Arrays.toString(e.getValue().shape()) + " " + Arrays.toString(e.getValue().toDoubleArray()));
                }
                System.out.println(l.metadata());
            }
        }
    }
}
