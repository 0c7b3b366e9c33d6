package io.grad4j.cuda;

/**
 * What the cuda backend has asked of the device since it was created: kernel launches, waits for
 * the stream, and host-device copies with their bytes. A training step's cost on a GPU is mostly
 * these counts (each launch costs microseconds of host time, each wait drains the pipeline), so
 * the difference of two snapshots divided by the steps between them is the profile that
 * {@code grad4j train --verbose} prints.
 */
public record DeviceActivity(long launches, long synchronizations, long uploads, long uploadBytes, long downloads,
                             long downloadBytes) {

    /** This snapshot minus an earlier one. */
    public DeviceActivity since(DeviceActivity earlier) {
        return new DeviceActivity(launches - earlier.launches, synchronizations - earlier.synchronizations,
                uploads - earlier.uploads, uploadBytes - earlier.uploadBytes, downloads - earlier.downloads,
                downloadBytes - earlier.downloadBytes);
    }

    /** One line of per-step averages over {@code steps} steps. */
    public String perStep(long steps) {
        double s = Math.max(1, steps);
        return String.format(java.util.Locale.ROOT,
                "per step: %.1f kernel launches, %.2f stream waits, %.2f uploads (%.1f KiB), %.2f downloads (%.1f KiB)",
                launches / s, synchronizations / s, uploads / s, uploadBytes / s / 1024, downloads / s, downloadBytes / s / 1024);
    }
}
