/*
 * A stand-in for the driver's cuLaunchKernel, for NativeKernelLauncherTest: it records what the
 * Java side passed (handles, grid, block, and the bytes behind each kernelParams pointer, as many
 * as the test says each argument has) and returns the status the test asks for. Same C signature
 * as cuda.h's cuLaunchKernel, so a wrong FunctionDescriptor shows up as wrong recorded values.
 */
#include <string.h>

#define FAKE_MAX_ARGS 32
#define FAKE_MAX_BYTES 64

void *fake_function;
void *fake_stream;
void *fake_extra;
unsigned fake_grid[3];
unsigned fake_block[3];
unsigned fake_shared;
int fake_calls;
int fake_result;
int fake_param_sizes[FAKE_MAX_ARGS];                 /* set by the test; 0 ends the list */
unsigned char fake_param_bytes[FAKE_MAX_ARGS][FAKE_MAX_BYTES];

int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void *stream, void **params, void **extra) {
    fake_function = f;
    fake_stream = stream;
    fake_extra = extra;
    fake_grid[0] = gx; fake_grid[1] = gy; fake_grid[2] = gz;
    fake_block[0] = bx; fake_block[1] = by; fake_block[2] = bz;
    fake_shared = shared;
    for (int i = 0; i < FAKE_MAX_ARGS && fake_param_sizes[i] > 0; i++) {
        memcpy(fake_param_bytes[i], params[i], (size_t) fake_param_sizes[i]);
    }
    fake_calls++;
    return fake_result;
}
