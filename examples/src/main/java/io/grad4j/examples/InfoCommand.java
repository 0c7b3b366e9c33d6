package io.grad4j.examples;

import io.grad4j.backend.Backend;
import io.grad4j.backend.BackendProvider;
import io.grad4j.backend.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code grad4j info}: what this machine offers grad4j and what it would pick. */
@Command(name = "info", description = "Java version, backends (and why any is unavailable), the chosen backend.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--backend", description = "cpu, cuda or auto (default: grad4j.backend / GRAD4J_BACKEND / auto)")
    String backend;

    @Override
    public Integer call() {
        Grad4jCli.selectBackend(backend);
        System.out.println("java:      " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name")
                + ", " + Runtime.getRuntime().availableProcessors() + " processors, heap max "
                + (Runtime.getRuntime().maxMemory() >> 20) + " MiB)");
        System.out.println("backends:");
        for (BackendProvider p : Backends.providers()) {
            System.out.printf("  %-5s priority %3d  %s%n", p.name(), p.priority(),
                    p.isAvailable() ? "available" : "unavailable: " + p.unavailableReason());
        }
        try {
            Backend b = Backends.current();
            System.out.println("chosen:    " + b.name());
            System.out.println("device:    " + b.description());
            return 0;
        } catch (RuntimeException e) {
            System.out.println("chosen:    none - " + e.getMessage());
            return 2;
        }
    }
}
