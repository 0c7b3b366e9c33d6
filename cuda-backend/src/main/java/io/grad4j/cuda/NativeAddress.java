package io.grad4j.cuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;

import java.lang.reflect.Method;

/**
 * The raw address behind a JCuda handle (a device pointer, a stream), for native libraries called
 * without JCuda. JCuda keeps it in protected accessors; JCuda sits on the class path, in the same
 * unnamed module as this class, so reflection may open them.
 */
final class NativeAddress {
    private static final Method NATIVE_POINTER;
    private static final Method BYTE_OFFSET;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredMethod("getNativePointer");
            NATIVE_POINTER.setAccessible(true);
            BYTE_OFFSET = Pointer.class.getDeclaredMethod("getByteOffset");
            BYTE_OFFSET.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError("cannot read JCuda's native addresses: " + e);
        }
    }

    private NativeAddress() {
    }

    /** The address a JCuda object stands for: a pointer's base plus its byte offset, a handle's value. */
    static long of(NativePointerObject p) {
        try {
            long base = (long) NATIVE_POINTER.invoke(p);
            return p instanceof Pointer ptr ? base + (long) BYTE_OFFSET.invoke(ptr) : base;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the native address of " + p + ": " + e, e);
        }
    }
}
