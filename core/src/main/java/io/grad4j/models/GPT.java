package io.grad4j.models;

import io.grad4j.DType;
import io.grad4j.Tensor;
import io.grad4j.autograd.Autograd;
import io.grad4j.autograd.NoGrad;
import io.grad4j.backend.Backends;
import io.grad4j.nn.Dropout;
import io.grad4j.nn.Embedding;
import io.grad4j.nn.Functional;
import io.grad4j.nn.LayerNorm;
import io.grad4j.nn.Linear;
import io.grad4j.nn.Losses;
import io.grad4j.nn.Module;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A GPT as nanoGPT's model.py builds it: token and position embeddings, pre-norm blocks of causal
 * multi-head self-attention and a GELU MLP (x + attn(ln_1(x)), then x + mlp(ln_2(x))), a final
 * LayerNorm and an output layer tied to the token embedding. Parameters carry nanoGPT's names
 * ({@code transformer.h.0.attn.c_attn.weight}, ...) and PyTorch's layouts, so
 * {@link #loadPyTorchStateDict} takes a state dict nanoGPT saved. Built only from public
 * operations and layers: embedding, layerNorm, Linear, split, scaledDotProductAttention, gelu.
 * Initialised as nanoGPT initialises: weights and embeddings N(0, 0.02), the residual
 * projections N(0, 0.02 / sqrt(2 layers)), biases 0, LayerNorms 1 and 0.
 */
public final class GPT extends Composite {
    private final GPTConfig config;
    private final Embedding wte;
    private final Embedding wpe;
    private final Dropout drop;
    private final List<Block> blocks = new ArrayList<>();
    private final LayerNorm lnF;

    public GPT(GPTConfig config, long seed) {
        this(config, seed, DType.FLOAT32);
    }

    public GPT(GPTConfig config, long seed, DType dtype) {
        if (config == null) {
            throw new IllegalArgumentException("GPT: config is null");
        }
        this.config = config;
        int c = config.width();
        long s = seed;
        this.wte = new Embedding(config.vocab(), c, s++, dtype);
        this.wpe = new Embedding(config.context(), c, s++, dtype);
        this.drop = new Dropout(config.dropout(), s++);
        for (int i = 0; i < config.layers(); i++) {
            blocks.add(new Block(config, s, dtype));
            s += 16;
        }
        this.lnF = new LayerNorm(c, config.bias(), dtype);
        Map<String, Module> h = new LinkedHashMap<>();
        for (int i = 0; i < blocks.size(); i++) {
            h.put(String.valueOf(i), blocks.get(i));
        }
        Map<String, Module> transformer = new LinkedHashMap<>();
        transformer.put("wte", wte);
        transformer.put("wpe", wpe);
        transformer.put("drop", drop);
        transformer.put("h", new Container(h));
        transformer.put("ln_f", lnF);
        children.put("transformer", new Container(transformer));
        children.put("lm_head", new TiedHead(wte));
        initialise(seed);
    }

    public GPTConfig config() {
        return config;
    }

    /** nanoGPT's _init_weights: N(0, 0.02) weights and embeddings, N(0, 0.02/sqrt(2 L)) for c_proj, zero biases. */
    private void initialise(long seed) {
        double projStd = 0.02 / Math.sqrt(2.0 * config.layers());
        long s = seed * 1_000_003L;
        try (NoGrad ignored = Autograd.noGrad()) {
            for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) {
                String name = e.getKey();
                Tensor p = e.getValue();
                if (name.contains(".ln_") || name.contains("ln_f")) {
                    continue; // LayerNorm: ones and zeros, as made
                }
                if (name.endsWith(".bias")) {
                    p.assign(Tensor.zeros(p.dtype(), p.shape()).to(p.backend()));
                    continue;
                }
                double std = name.endsWith("c_proj.weight") ? projStd : 0.02;
                try (Tensor r = Tensor.randn(p.dtype(), s++, p.shape()); Tensor scaled = r.mul(std)) {
                    p.assign(scaled.to(p.backend()));
                }
            }
        }
    }

    /** idx INT64 (or INT32) [B, T], T at most the context: logits [B, T, vocab]. */
    @Override
    public Tensor forward(Tensor idx) {
        if (idx == null || idx.rank() != 2 || idx.dtype().isFloatingPoint() || idx.dtype() == DType.BOOL) {
            throw new IllegalArgumentException("GPT.forward: idx must be an integer tensor [B, T], got "
                    + (idx == null ? "null" : idx.dtype() + " " + Arrays.toString(idx.shape())));
        }
        int t = idx.shape()[1];
        if (t > config.context()) {
            throw new IllegalArgumentException("GPT.forward: a sequence of " + t + " tokens is longer than the context of "
                    + config.context());
        }
        Tensor positions;
        try (var scope = Backends.use(idx.backend())) {
            positions = Tensor.arange(DType.INT64, 0, t);
        }
        Tensor x = drop.forward(wte.forward(idx).add(wpe.forward(positions)));
        for (Block b : blocks) {
            x = b.forward(x);
        }
        x = lnF.forward(x);
        return x.matmul(wte.weight().transpose()); // lm_head, tied to wte
    }

    /** The mean cross-entropy of forward(idx) against targets [B, T] (INT64 or INT32) over all B * T positions. */
    public Tensor loss(Tensor idx, Tensor targets) {
        Tensor logits = forward(idx);
        if (targets == null || !Arrays.equals(targets.shape(), idx.shape())) {
            throw new IllegalArgumentException("GPT.loss: targets must have idx's shape " + Arrays.toString(idx.shape())
                    + ", got " + (targets == null ? "null" : Arrays.toString(targets.shape())));
        }
        int n = idx.shape()[0] * idx.shape()[1];
        return Losses.crossEntropy(logits.reshape(n, config.vocab()), targets.reshape(n));
    }

    /**
     * Loads a state dict nanoGPT saved (its names, PyTorch's layouts): a torch.compile
     * "_orig_mod." prefix is dropped, the causal-mask buffers (attn.bias, attn.masked_bias) are
     * ignored, and lm_head.weight, tied to transformer.wte.weight, may be present or not (when
     * present it must equal wte's shape). Anything else missing, unexpected or mis-shaped is
     * refused by name, and nothing is loaded.
     */
    public void loadPyTorchStateDict(Map<String, Tensor> stateDict) {
        if (stateDict == null) {
            throw new IllegalArgumentException("loadPyTorchStateDict: the state dict is null");
        }
        Map<String, Tensor> cleaned = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : stateDict.entrySet()) {
            String name = e.getKey().startsWith("_orig_mod.") ? e.getKey().substring("_orig_mod.".length()) : e.getKey();
            if (name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias")) {
                continue; // nanoGPT's causal-mask buffer (c_attn's bias is "attn.c_attn.bias"), not a parameter
            }
            cleaned.put(name, e.getValue());
        }
        cleaned.putIfAbsent("lm_head.weight", cleaned.get("transformer.wte.weight"));
        if (cleaned.get("lm_head.weight") == null) {
            cleaned.remove("lm_head.weight");
        }
        loadStateDict(cleaned);
    }

    /**
     * Continues each row of idx [B, T] by {@code newTokens} tokens, sampling each from
     * softmax(logits of the last position / temperature), restricted to the topK most likely
     * (topK <= 0: all), the context cropped to its last {@code context} tokens; seeded, so a
     * seed gives the same text. Returns [B, T + newTokens] (INT64). Runs without gradients, in
     * evaluation mode, and restores the mode it found.
     */
    public Tensor generate(Tensor idx, int newTokens, double temperature, int topK, long seed) {
        if (newTokens < 0 || !(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("generate: needs newTokens >= 0 and a finite temperature > 0, got newTokens="
                    + newTokens + " temperature=" + temperature);
        }
        boolean wasTraining = drop.isTraining();
        eval();
        SplittableRandom random = new SplittableRandom(seed);
        int b = idx.shape()[0];
        long[] rows = idx.toLongArray();
        int length = idx.shape()[1];
        List<long[]> tokens = new ArrayList<>();
        for (int r = 0; r < b; r++) {
            tokens.add(Arrays.copyOfRange(rows, r * length, (r + 1) * length));
        }
        try (NoGrad ignored = Autograd.noGrad()) {
            for (int step = 0; step < newTokens; step++) {
                int t = Math.min(length, config.context());
                long[] window = new long[b * t];
                for (int r = 0; r < b; r++) {
                    System.arraycopy(tokens.get(r), length - t, window, r * t, t);
                }
                float[] last;
                try (var scope = Backends.use(idx.backend())) {
                    Tensor logits = forward(Tensor.of(window, b, t));
                    last = logits.select(1, t - 1).to(DType.FLOAT32).toFloatArray();
                }
                for (int r = 0; r < b; r++) {
                    long next = sample(Arrays.copyOfRange(last, r * config.vocab(), (r + 1) * config.vocab()),
                            temperature, topK, random);
                    long[] grown = Arrays.copyOf(tokens.get(r), length + 1);
                    grown[length] = next;
                    tokens.set(r, grown);
                }
                length++;
            }
        } finally {
            train(wasTraining);
        }
        long[] out = new long[b * length];
        for (int r = 0; r < b; r++) {
            System.arraycopy(tokens.get(r), 0, out, r * length, length);
        }
        try (var scope = Backends.use(idx.backend())) {
            return Tensor.of(out, b, length);
        }
    }

    /** One token from logits: divided by the temperature, cut to the top k, softmax, then a seeded draw. */
    private static long sample(float[] logits, double temperature, int topK, SplittableRandom random) {
        double[] z = new double[logits.length];
        for (int i = 0; i < z.length; i++) {
            z[i] = logits[i] / temperature;
        }
        if (topK > 0 && topK < z.length) {
            double[] sorted = z.clone();
            Arrays.sort(sorted);
            double kth = sorted[sorted.length - topK];
            for (int i = 0; i < z.length; i++) {
                if (z[i] < kth) {
                    z[i] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (int i = 0; i < z.length; i++) {
            z[i] = Math.exp(z[i] - max);
            sum += z[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < z.length; i++) {
            u -= z[i];
            if (u < 0) {
                return i;
            }
        }
        for (int i = z.length - 1; i >= 0; i--) {
            if (z[i] > 0) {
                return i;
            }
        }
        return 0;
    }

    /** A module that only names its children (nanoGPT's ModuleDict and ModuleList). */
    private static final class Container extends Composite {
        Container(Map<String, Module> named) {
            children.putAll(named);
        }

        @Override
        public Tensor forward(Tensor x) {
            throw new UnsupportedOperationException("a container of GPT's layers is not called by itself");
        }
    }

    /** lm_head: its weight is the token embedding's (named in the state dict, once among parameters). */
    private record TiedHead(Embedding wte) implements Module {
        @Override
        public Tensor forward(Tensor x) {
            return x.matmul(wte.weight().transpose());
        }

        @Override
        public List<Tensor> parameters() {
            return List.of(wte.weight());
        }

        @Override
        public Map<String, Tensor> localParameters() {
            return Map.of("weight", wte.weight());
        }
    }

    /** x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
    private static final class Block extends Composite {
        private final LayerNorm ln1;
        private final Attention attn;
        private final LayerNorm ln2;
        private final Mlp mlp;

        Block(GPTConfig c, long seed, DType dtype) {
            ln1 = new LayerNorm(c.width(), c.bias(), dtype);
            attn = new Attention(c, seed, dtype);
            ln2 = new LayerNorm(c.width(), c.bias(), dtype);
            mlp = new Mlp(c, seed + 8, dtype);
            children.put("ln_1", ln1);
            children.put("attn", attn);
            children.put("ln_2", ln2);
            children.put("mlp", mlp);
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor h = x.add(attn.forward(ln1.forward(x)));
            return h.add(mlp.forward(ln2.forward(h)));
        }

    }

    /** Causal self-attention: c_attn packs q, k, v along its output; heads split the width in order. */
    private static final class Attention extends Composite {
        private final GPTConfig config;
        private final Linear cAttn;
        private final Linear cProj;
        private final Dropout attnDropout;
        private final Dropout residDropout;
        private long calls;

        Attention(GPTConfig c, long seed, DType dtype) {
            this.config = c;
            cAttn = new Linear(c.width(), 3 * c.width(), seed, c.bias(), dtype);
            cProj = new Linear(c.width(), c.width(), seed + 1, c.bias(), dtype);
            attnDropout = new Dropout(c.dropout(), seed + 2);
            residDropout = new Dropout(c.dropout(), seed + 3);
            children.put("c_attn", cAttn);
            children.put("c_proj", cProj);
            children.put("attn_dropout", attnDropout);
            children.put("resid_dropout", residDropout);
        }

        @Override
        public Tensor forward(Tensor x) {
            int b = x.shape()[0];
            int t = x.shape()[1];
            int c = config.width();
            int h = config.heads();
            Tensor[] qkv = cAttn.forward(x).split(2, c, c, c);
            Tensor q = heads(qkv[0], b, t, h, c / h);
            Tensor k = heads(qkv[1], b, t, h, c / h);
            Tensor v = heads(qkv[2], b, t, h, c / h);
            double p = attnDropout.isTraining() ? config.dropout() : 0.0;
            Tensor y = Functional.scaledDotProductAttention(q, k, v, true, p, attnSeed());
            y = y.transpose(1, 2).reshape(b, t, c);
            return residDropout.forward(cProj.forward(y));
        }

        /** A fresh dropout seed per training call for the attention weights. */
        private long attnSeed() {
            return 0x2545F4914F6CDD1DL * (++calls) + config.layers();
        }

        /** [B, T, C] as [B, heads, T, C / heads]. */
        private static Tensor heads(Tensor x, int b, int t, int h, int d) {
            return x.reshape(b, t, h, d).transpose(1, 2);
        }

    }

    /** c_fc, GELU (erf form), c_proj, dropout. */
    private static final class Mlp extends Composite {
        private final Linear cFc;
        private final Linear cProj;
        private final Dropout dropout;

        Mlp(GPTConfig c, long seed, DType dtype) {
            cFc = new Linear(c.width(), 4 * c.width(), seed, c.bias(), dtype);
            cProj = new Linear(4 * c.width(), c.width(), seed + 1, c.bias(), dtype);
            dropout = new Dropout(c.dropout(), seed + 2);
            children.put("c_fc", cFc);
            children.put("c_proj", cProj);
            children.put("dropout", dropout);
        }

        @Override
        public Tensor forward(Tensor x) {
            return dropout.forward(cProj.forward(cFc.forward(x).gelu()));
        }

    }
}
