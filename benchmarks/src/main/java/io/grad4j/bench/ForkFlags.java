package io.grad4j.bench;

/** The JVM flags every benchmark fork gets (constants, so {@code @Fork(jvmArgsAppend = ...)} can name them). */
final class ForkFlags {
    private ForkFlags() {
    }

    /** The backends' native code: OpenBLAS through FFM, JCuda's JNI libraries (README, "JVM flags"). */
    static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

    /** JMH 1.37's own Utils calls sun.misc.Unsafe, which JDK 24+ warns about in every fork. */
    static final String JMH_UNSAFE = "--sun-misc-unsafe-memory-access=allow";
}
