package io.grad4j.examples;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code grad4j} command line. */
@Command(name = "grad4j", mixinStandardHelpOptions = true, versionProvider = Grad4jCli.BuildVersion.class,
        description = "GPU-accelerated tensors with automatic differentiation for Java.",
        subcommands = {TrainCommand.class, GptCommand.class, GradCheckCommand.class, InfoCommand.class})
public final class Grad4jCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        // one line per log record (the backend choice), not java.util.logging's two
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s: %5$s%6$s%n");
        }
        System.exit(commandLine().execute(args));
    }

    /**
     * The command line with its error policy: a failure the user can act on (unavailable backend,
     * unreadable data, bad values) prints one line naming the problem, not a stack trace; set
     * GRAD4J_DEBUG=1 for the trace.
     */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Grad4jCli());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("grad4j " + commandLine.getCommandName() + ": " + describe(e));
            if (System.getenv("GRAD4J_DEBUG") != null) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cli;
    }

    /** {@code grad4j --version}: the version the build wrote into build.properties, and the JVM's. */
    static final class BuildVersion implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws java.io.IOException {
            java.util.Properties build = new java.util.Properties();
            try (var in = Grad4jCli.class.getResourceAsStream("build.properties")) {
                if (in == null) {
                    throw new java.io.IOException("build.properties is missing from the grad4j jar; rebuild it with ./mvnw package");
                }
                build.load(in);
            }
            String version = build.getProperty("version", "");
            if (version.isBlank() || version.contains("${")) {
                throw new java.io.IOException("build.properties in the grad4j jar was not filled in by the build (version '"
                        + version + "'); rebuild with ./mvnw package rather than running the unfiltered sources");
            }
            return new String[] {"grad4j " + build.getProperty("version"),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")"};
        }
    }

    /**
     * The one line for a failure: its message when it says what was wrong. A NullPointerException's
     * text ("Cannot invoke ... because ... is null") describes grad4j's code, not the user's
     * input, so such a failure is reported as the bug it is.
     */
    static String describe(Exception e) {
        if (e instanceof NullPointerException || e instanceof ClassCastException) {
            return "internal error (" + e.getClass().getSimpleName() + "): this is a bug in grad4j, not in your input;"
                    + " please report it with the stack trace that GRAD4J_DEBUG=1 prints";
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** Applies --backend before anything touches {@link io.grad4j.backend.Backends}. */
    static void selectBackend(String backend) {
        if (backend != null && !backend.isBlank()) {
            System.setProperty(io.grad4j.backend.Backends.PROPERTY, backend);
        }
    }
}
