package io.grad4j.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import org.junit.jupiter.api.Test;

class ParallelLoopsTest {
    /** Four threads, shared from 2 elements per thread up: small loops exercise every path. */
    private static final ParallelLoops loops = new ParallelLoops(4);

    @Test
    void everyIndexRunsExactlyOnceInAlignedChunks() {
        for (long align : new long[] {1, 7, ParallelLoops.CHUNK_ALIGN}) {
            for (long n : new long[] {0, 1, 7, 1023, 1024, 1025, 4096, 5000, 65_537, 1_000_003}) {
                checkCoverage(n, align);
            }
        }
    }

    private static void checkCoverage(long n, long align) {
        AtomicIntegerArray hits = new AtomicIntegerArray((int) n);
        List<long[]> ranges = java.util.Collections.synchronizedList(new ArrayList<>());
        loops.forRange(n, 2, align, (from, to) -> {
            ranges.add(new long[] {from, to});
            for (long i = from; i < to; i++) {
                hits.incrementAndGet((int) i);
            }
        });
        for (int i = 0; i < n; i++) {
            assertEquals(1, hits.get(i), "n=" + n + ", align " + align + ": index " + i);
        }
        for (long[] r : ranges) {
            assertTrue(r[0] < r[1], "n=" + n + ": empty range " + r[0] + ".." + r[1]);
            assertEquals(0, r[0] % align, "n=" + n + ", align " + align + ": range starts at " + r[0]);
        }
    }

    @Test
    void shortLoopsRunOnTheCallingThreadInOnePiece() {
        List<String> seen = new ArrayList<>();
        loops.forRange(ParallelLoops.MIN_ELEMENTS_PER_THREAD * 2 - 1,
                (from, to) -> seen.add(Thread.currentThread().getName() + " " + from + ".." + to));
        assertEquals(List.of(Thread.currentThread().getName() + " 0.." + (ParallelLoops.MIN_ELEMENTS_PER_THREAD * 2 - 1)), seen);
    }

    @Test
    void helpersTakeChunksOfALongLoop() {
        // each chunk sleeps, so the caller cannot finish all of them before a helper wakes; a few
        // tries, since a helper still waking from an earlier loop cannot be claimed
        Set<String> threads = ConcurrentHashMap.newKeySet();
        for (int attempt = 0; attempt < 5 && threads.size() < 2; attempt++) {
            threads.clear();
            loops.forRange(16 * 1024, 2, ParallelLoops.CHUNK_ALIGN, (from, to) -> {
                threads.add(Thread.currentThread().getName());
                sleep(5);
            });
        }
        assertTrue(threads.size() > 1, "only " + threads + " ran chunks");
        assertTrue(threads.stream().anyMatch(t -> t.startsWith("grad4j-cpu-")), threads.toString());
    }

    @Test
    void aFailingChunkIsRethrownAfterTheOthersEndAndTheLoopsStayUsable() {
        AtomicInteger running = new AtomicInteger();
        IllegalStateException boom = new IllegalStateException("the chunk holding 4096 failed");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> loops.forRange(64 * 1024, 2, ParallelLoops.CHUNK_ALIGN, (from, to) -> {
            running.incrementAndGet();
            try {
                sleep(2);
                if (from <= 4096 && 4096 < to) {
                    throw boom;
                }
            } finally {
                running.decrementAndGet();
            }
        }));
        assertSame(boom, thrown);
        assertEquals(0, running.get(), "a chunk was still running when the caller saw the failure");
        AssertionError error = new AssertionError("an Error passes as it is");
        assertSame(error, assertThrows(AssertionError.class, () -> loops.forRange(64 * 1024, 2, ParallelLoops.CHUNK_ALIGN, (from, to) -> {
            throw error;
        })));
        AtomicIntegerArray hits = new AtomicIntegerArray(100_000);
        loops.forRange(100_000, 2, ParallelLoops.CHUNK_ALIGN, (from, to) -> {
            for (long i = from; i < to; i++) {
                hits.incrementAndGet((int) i);
            }
        });
        for (int i = 0; i < 100_000; i++) {
            assertEquals(1, hits.get(i), "after the failures, index " + i);
        }
    }

    @Test
    void laterFailuresRideAlongAsSuppressedAndTheCallerIsNamed() {
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> loops.forRange(64 * 1024, 2,
                ParallelLoops.CHUNK_ALIGN, (from, to) -> {
                    throw new IllegalStateException("chunk from " + from);
                }));
        List<String> suppressed = java.util.Arrays.stream(thrown.getSuppressed()).map(Throwable::getMessage).toList();
        assertTrue(suppressed.contains("rethrown by " + Thread.currentThread().getName() + " after its parallel loop"),
                suppressed.toString());
        // a chunk that starts after the first failure is skipped; those running beside it are kept
        assertTrue(suppressed.stream().allMatch(m -> m.startsWith("chunk from ") || m.startsWith("rethrown by ")),
                suppressed.toString());
    }

    @Test
    void anInterruptedCallerFinishesItsLoopAndKeepsTheInterrupt() {
        AtomicIntegerArray hits = new AtomicIntegerArray(100_000);
        Thread.currentThread().interrupt();
        try {
            loops.forRange(100_000, 2, ParallelLoops.CHUNK_ALIGN, (from, to) -> {
                sleepQuietly(1);
                for (long i = from; i < to; i++) {
                    hits.incrementAndGet((int) i);
                }
            });
            assertTrue(Thread.currentThread().isInterrupted(), "the caller's interrupt was lost");
        } finally {
            Thread.interrupted();
        }
        for (int i = 0; i < 100_000; i++) {
            assertEquals(1, hits.get(i), "index " + i);
        }
    }

    @Test
    void concurrentCallersEachGetTheirWholeLoop() throws Exception {
        int callers = 6;
        int rounds = 200;
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int c = 0; c < callers; c++) {
            int seed = c;
            Thread t = new Thread(() -> {
                try {
                    start.await();
                    for (int r = 0; r < rounds; r++) {
                        int n = 3000 + 997 * ((seed * rounds + r) % 50);
                        float[] y = new float[n];
                        loops.forRange(n, 2, ParallelLoops.CHUNK_ALIGN, (from, to) -> {
                            for (int i = (int) from; i < to; i++) {
                                y[i] += i + seed;
                            }
                        });
                        for (int i = 0; i < n; i++) {
                            if (y[i] != i + seed) {
                                throw new AssertionError("caller " + seed + " round " + r + " index " + i + ": " + y[i]);
                            }
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            threads.add(t);
            t.start();
        }
        start.countDown();
        for (Thread t : threads) {
            t.join(60_000);
            assertFalse(t.isAlive(), "a caller is still inside its loops after a minute: " + t.getName());
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void oneThreadRunsEverythingOnTheCaller() {
        ParallelLoops serial = new ParallelLoops(1);
        List<String> seen = new ArrayList<>();
        serial.forRange(1 << 20, 1, 1, (from, to) -> seen.add(Thread.currentThread().getName() + " " + from + ".." + to));
        assertEquals(List.of(Thread.currentThread().getName() + " 0.." + (1 << 20)), seen);
    }

    @Test
    void badSettingsAreRefusedByName() {
        assertEquals(3, ParallelLoops.parseThreads(" 3 ", 2));
        assertEquals(2, ParallelLoops.parseThreads(null, 2));
        assertEquals(2, ParallelLoops.parseThreads("", 2));
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> ParallelLoops.parseThreads("0", 2));
        assertTrue(zero.getMessage().contains("grad4j.cpu.threads must be 1 to 256, got 0"), zero.getMessage());
        IllegalArgumentException many = assertThrows(IllegalArgumentException.class, () -> ParallelLoops.parseThreads("300", 2));
        assertTrue(many.getMessage().contains("grad4j.cpu.threads must be 1 to 256, got 300"), many.getMessage());
        IllegalArgumentException word = assertThrows(IllegalArgumentException.class, () -> ParallelLoops.parseThreads("two", 2));
        assertTrue(word.getMessage().contains("grad4j.cpu.threads must be a whole number, got 'two'"), word.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ParallelLoops(0));
        assertThrows(IllegalArgumentException.class, () -> new ParallelLoops(257));
        assertThrows(IllegalArgumentException.class, () -> loops.forRange(-1, (from, to) -> { }));
        IllegalArgumentException align = assertThrows(IllegalArgumentException.class, () -> loops.forRange(10, 1, 0, (from, to) -> { }));
        assertTrue(align.getMessage().contains("alignment must be at least 1, got 0"), align.getMessage());
    }

    @Test
    void piecesCoverEveryArrayOnceAndNeverCrossOne() {
        int[] sizes = {0, 5000, 0, 0, 1, 70_000, 3, 0, 131_072, 0};
        int[][] hits = new int[sizes.length][];
        for (int i = 0; i < sizes.length; i++) {
            hits[i] = new int[sizes[i]];
        }
        PairRanges.forEachPiece(loops, sizes, (index, from, to) -> {
            assertTrue(0 <= from && from < to && to <= sizes[index], "piece " + index + " " + from + ".." + to);
            synchronized (hits) {
                for (int k = from; k < to; k++) {
                    hits[index][k]++;
                }
            }
        });
        for (int i = 0; i < sizes.length; i++) {
            for (int k = 0; k < sizes[i]; k++) {
                assertEquals(1, hits[i][k], "array " + i + " element " + k);
            }
        }
        PairRanges.forEachPiece(loops, new int[0], (index, from, to) -> {
            throw new AssertionError("no arrays, no pieces");
        });
        long[] starts = {0, 0, 10, 10, 20};
        assertEquals(1, PairRanges.containing(starts, 0));
        assertEquals(1, PairRanges.containing(starts, 9));
        assertEquals(3, PairRanges.containing(starts, 10));
        assertEquals(3, PairRanges.containing(starts, 19));
    }

    /** Sleeps without touching the interrupt flag (an interrupted sleep is cut short, not reported). */
    private static void sleepQuietly(long millis) {
        long until = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
