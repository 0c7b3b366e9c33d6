package io.grad4j.optim;

import io.grad4j.Tensor;

import java.util.ArrayList;
import java.util.List;

/** What every optimizer here shares: its parameters (checked once), a settable learning rate, zeroGrad. */
abstract class ParameterOptimizer implements Optimizer {
    final String name;
    final List<Tensor> params;
    double lr;

    ParameterOptimizer(String name, List<Tensor> params, double lr) {
        this.name = name;
        OptimizerState.checkParams(name, params);
        this.params = new ArrayList<>(params);
        this.lr = lr;
    }

    @Override
    public void zeroGrad() {
        for (Tensor p : params) {
            p.zeroGrad();
        }
    }

    @Override
    public double learningRate() {
        return lr;
    }

    @Override
    public void setLearningRate(double lr) {
        OptimizerState.checkLearningRate(name, lr);
        this.lr = lr;
    }
}
