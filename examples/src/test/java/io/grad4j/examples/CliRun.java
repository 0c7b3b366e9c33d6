package io.grad4j.examples;

import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

/** One in-process run of the grad4j command line: its exit code, what it printed and its error lines. */
record CliRun(int exit, String stdout, String stderr) {

    /** Runs {@code grad4j args...} in this JVM with the CLI's own error policy, capturing System.out. */
    static CliRun of(String... args) {
        StringWriter err = new StringWriter();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        int exit;
        try (PrintStream capture = new PrintStream(bytes, true)) {
            System.setOut(capture);
            CommandLine cli = Grad4jCli.commandLine();
            cli.setErr(new PrintWriter(err, true));
            exit = cli.execute(args);
        } finally {
            System.setOut(saved);
        }
        return new CliRun(exit, bytes.toString(), err.toString());
    }

    static CliRun of(List<String> args) {
        return of(args.toArray(String[]::new));
    }
}
