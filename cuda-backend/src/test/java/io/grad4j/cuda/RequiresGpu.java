package io.grad4j.cuda;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a test class only where {@link CudaProbe} finds a usable GPU; elsewhere the class is
 * reported as skipped with the probe's one-line reason (what gpu-check.sh looks for).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresGpu.Condition.class)
@interface RequiresGpu {
    final class Condition implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            CudaProbe.Result probe = CudaProbe.result();
            return probe.available()
                    ? ConditionEvaluationResult.enabled("CUDA GPU: " + probe.deviceName())
                    : ConditionEvaluationResult.disabled("no usable CUDA GPU here: " + probe.reason());
        }
    }
}
