package io.grad4j.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A failed replace leaves the previous file and no temporary file behind. */
class AtomicFilesTest {
    @TempDir
    Path dir;

    private static AtomicFiles.Contents bytes(String s) {
        return ch -> ch.write(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)));
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void replacesTheFileAndLeavesNothingElse() throws IOException {
        Path f = dir.resolve("model.safetensors");
        AtomicFiles.replace(f, bytes("first"));
        assertEquals("first", Files.readString(f));
        AtomicFiles.replace(f, bytes("second, longer"));
        assertEquals("second, longer", Files.readString(f));
        AtomicFiles.replace(f, bytes("3"));
        assertEquals("3", Files.readString(f));
        assertEquals(List.of("model.safetensors"), listing());
    }

    @Test
    void failureWhileWritingKeepsThePreviousFileAndRemovesTheTemporary() throws IOException {
        Path f = dir.resolve("model.safetensors");
        Files.writeString(f, "previous");
        IllegalStateException boom = new IllegalStateException("tensor closed");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> AtomicFiles.replace(f, ch -> {
            ch.write(ByteBuffer.wrap("partial new contents".getBytes(StandardCharsets.UTF_8)));
            throw boom;
        }));
        assertSame(boom, thrown);
        assertEquals("previous", Files.readString(f));
        assertEquals(List.of("model.safetensors"), listing());

        IOException io = new IOException("disk full");
        assertSame(io, assertThrows(IOException.class, () -> AtomicFiles.replace(f, ch -> {
            throw io;
        })));
        assertEquals("previous", Files.readString(f));
        assertEquals(List.of("model.safetensors"), listing());
    }

    @Test
    void failureWithoutAPreviousFileCreatesNothing() throws IOException {
        Path f = dir.resolve("new.safetensors");
        assertThrows(IllegalStateException.class, () -> AtomicFiles.replace(f, ch -> {
            throw new IllegalStateException("no");
        }));
        assertFalse(Files.exists(f));
        assertEquals(List.of(), listing());
    }

    @Test
    void failedRenameKeepsTheTargetAndRemovesTheTemporary() throws IOException {
        Path target = dir.resolve("occupied");
        Files.createDirectory(target);
        Files.writeString(target.resolve("keep.txt"), "keep");
        assertThrows(IOException.class, () -> AtomicFiles.replace(target, bytes("x")));
        assertEquals("keep", Files.readString(target.resolve("keep.txt")));
        assertEquals(List.of("occupied"), listing());
    }

    @Test
    void writesExactlyTheBytesGiven() throws IOException {
        Path f = dir.resolve("b.bin");
        byte[] data = new byte[3 << 20];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31 + 7);
        }
        AtomicFiles.replace(f, ch -> {
            ByteBuffer b = ByteBuffer.wrap(data);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        });
        assertArrayEquals(data, Files.readAllBytes(f));
    }
}
