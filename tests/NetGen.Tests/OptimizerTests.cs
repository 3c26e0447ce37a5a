namespace NetGen.Tests;

/// <summary>
/// Each optimizer against an independent double-precision implementation of PyTorch's
/// update rule (documented, or for AMSGrad, computed), written here from the formulas; convergence on a convex problem;
/// zero allocation per step.
/// </summary>
public class OptimizerTests
{
    private const int Count = 37; // several vectors and a scalar tail
    private const int Steps = 6;

    /// <summary>A double-precision reference optimizer: state per parameter, one step at a time.</summary>
    internal abstract class ReferenceRule
    {
        public abstract void Step(double[] p, double[] g, int t);
    }

    private sealed class SgdRule(double lr, double mu, double tau, double wd, bool nesterov) : ReferenceRule
    {
        private readonly double[] _b = new double[Count];

        public override void Step(double[] p, double[] grad, int t)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double g = grad[i] + (wd * p[i]);
                if (mu != 0)
                {
                    _b[i] = t > 1 ? (mu * _b[i]) + ((1 - tau) * g) : g;
                    g = nesterov ? g + (mu * _b[i]) : _b[i];
                }

                p[i] -= lr * g;
            }
        }
    }

    private sealed class AdagradRule(double lr, double decay, double wd, double init, double eps) : ReferenceRule
    {
        private readonly double[] _s = Enumerable.Repeat(init, Count).ToArray();

        public override void Step(double[] p, double[] grad, int t)
        {
            double clr = lr / (1 + ((t - 1) * decay));
            for (int i = 0; i < p.Length; i++)
            {
                double g = grad[i] + (wd * p[i]);
                _s[i] += g * g;
                p[i] -= clr * g / (Math.Sqrt(_s[i]) + eps);
            }
        }
    }

    private sealed class RmsPropRule(double lr, double alpha, double eps, double wd, double mu, bool centered) : ReferenceRule
    {
        private readonly double[] _v = new double[Count], _a = new double[Count], _b = new double[Count];

        public override void Step(double[] p, double[] grad, int t)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double g = grad[i] + (wd * p[i]);
                _v[i] = (alpha * _v[i]) + ((1 - alpha) * g * g);
                double v = _v[i];
                if (centered)
                {
                    _a[i] = (alpha * _a[i]) + ((1 - alpha) * g);
                    v -= _a[i] * _a[i];
                }

                if (mu > 0)
                {
                    _b[i] = (mu * _b[i]) + (g / (Math.Sqrt(v) + eps));
                    p[i] -= lr * _b[i];
                }
                else
                {
                    p[i] -= lr * g / (Math.Sqrt(v) + eps);
                }
            }
        }
    }

    private sealed class AdamRule(double lr, double b1, double b2, double eps, double wd, bool amsgrad, bool decoupled) : ReferenceRule
    {
        private readonly double[] _m = new double[Count], _v = new double[Count], _vMax = new double[Count];

        public override void Step(double[] p, double[] grad, int t)
        {
            for (int i = 0; i < p.Length; i++)
            {
                double g = grad[i];
                if (decoupled)
                {
                    p[i] -= lr * wd * p[i];
                }
                else
                {
                    g += wd * p[i];
                }

                _m[i] = (b1 * _m[i]) + ((1 - b1) * g);
                _v[i] = (b2 * _v[i]) + ((1 - b2) * g * g);
                double mHat = _m[i] / (1 - Math.Pow(b1, t));
                double vHat = _v[i] / (1 - Math.Pow(b2, t));
                if (amsgrad)
                {
                    // What torch.optim.Adam computes (not its documentation's max of v̂): the maximum
                    // of the raw v, bias-corrected afterwards.
                    _vMax[i] = Math.Max(_vMax[i], _v[i]);
                    vHat = _vMax[i] / (1 - Math.Pow(b2, t));
                }

                p[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
            }
        }
    }

    public static TheoryData<string> Cases => new()
    {
        "sgd", "sgd wd", "momentum", "momentum dampening wd", "nesterov wd",
        "adagrad", "adagrad decay wd init",
        "rmsprop", "rmsprop centered", "rmsprop momentum wd", "rmsprop centered momentum",
        "adam", "adam wd", "adam amsgrad", "adamw", "adamw amsgrad",
    };

    internal static (IOptimizer Optimizer, ReferenceRule Reference) Create(string name) => name switch
    {
        "sgd" => (new Sgd(0.1f), new SgdRule(0.1, 0, 0, 0, false)),
        "sgd wd" => (new Sgd(0.1f, weightDecay: 0.01f), new SgdRule(0.1, 0, 0, 0.01, false)),
        "momentum" => (new Sgd(0.1f, momentum: 0.9f), new SgdRule(0.1, 0.9, 0, 0, false)),
        "momentum dampening wd" => (new Sgd(0.05f, momentum: 0.8f, dampening: 0.3f, weightDecay: 0.02f), new SgdRule(0.05, 0.8, 0.3, 0.02, false)),
        "nesterov wd" => (new Sgd(0.05f, momentum: 0.9f, weightDecay: 0.01f, nesterov: true), new SgdRule(0.05, 0.9, 0, 0.01, true)),
        "adagrad" => (new Adagrad(), new AdagradRule(0.01, 0, 0, 0, 1e-10)),
        "adagrad decay wd init" => (new Adagrad(0.1f, learningRateDecay: 0.05f, weightDecay: 0.01f, initialAccumulatorValue: 0.1f, epsilon: 1e-6f), new AdagradRule(0.1, 0.05, 0.01, 0.1, 1e-6)),
        "rmsprop" => (new RmsProp(), new RmsPropRule(0.01, 0.99, 1e-8, 0, 0, false)),
        "rmsprop centered" => (new RmsProp(0.01f, centered: true), new RmsPropRule(0.01, 0.99, 1e-8, 0, 0, true)),
        "rmsprop momentum wd" => (new RmsProp(0.01f, alpha: 0.9f, weightDecay: 0.01f, momentum: 0.5f), new RmsPropRule(0.01, 0.9, 1e-8, 0.01, 0.5, false)),
        "rmsprop centered momentum" => (new RmsProp(0.005f, momentum: 0.9f, centered: true), new RmsPropRule(0.005, 0.99, 1e-8, 0, 0.9, true)),
        "adam" => (new Adam(), new AdamRule(1e-3, 0.9, 0.999, 1e-8, 0, false, false)),
        "adam wd" => (new Adam(0.01f, weightDecay: 0.1f), new AdamRule(0.01, 0.9, 0.999, 1e-8, 0.1, false, false)),
        "adam amsgrad" => (new Adam(0.01f, beta1: 0.8f, beta2: 0.99f, amsgrad: true), new AdamRule(0.01, 0.8, 0.99, 1e-8, 0, true, false)),
        "adamw" => (new AdamW(), new AdamRule(1e-3, 0.9, 0.999, 1e-8, 0.01, false, true)),
        "adamw amsgrad" => (new AdamW(0.01f, weightDecay: 0.1f, amsgrad: true), new AdamRule(0.01, 0.9, 0.999, 1e-8, 0.1, true, true)),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Fact]
    public void AmsGrad_keeps_the_maximum_of_the_raw_second_moment_as_PyTorch_does()
    {
        // One parameter, gradients 1 then 0, lr 0.1, betas 0.9/0.99. Step 1: m = 0.1, v = 0.01,
        // m̂ = 1, v̂ = 1, p = -0.1. Step 2: m = 0.09, v = 0.0099; PyTorch keeps max(v) = 0.01, so
        // v̂ = 0.01 / 0.0199 and p = -0.1 - 0.1 * (0.09 / 0.19) / sqrt(0.01 / 0.0199) = -0.16682.
        // The documented max of v̂ (1 from step 1) would give -0.1 - 0.1 * 0.47368 = -0.14737.
        // The parameter is the ninth of nine, so the vector loop and the scalar tail both run.
        foreach (int at in new[] { 0, 8 })
        {
            var adam = new Adam(0.1f, beta1: 0.9f, beta2: 0.99f, epsilon: 1e-12f, amsgrad: true);
            var p = new float[9];
            var g = new float[9];
            g[at] = 1f;
            adam.Step(p, g);
            Assert.Equal(-0.1f, p[at], 1e-6f);
            g[at] = 0f;
            adam.Step(p, g);
            double expected = -0.1 - (0.1 * (0.09 / 0.19) / Math.Sqrt(0.01 / 0.0199));
            Assert.Equal(expected, p[at], 1e-6);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Steps_match_the_documented_update_rule_in_double_precision(string name)
    {
        var (optimizer, reference) = Create(name);
        float[] p = Reference.RandomFloats(Count, 1, scale: 2f);
        double[] expected = Reference.ToDouble(p);
        for (int t = 1; t <= Steps; t++)
        {
            // Gradients of varying sign and size, some exactly zero, a few large.
            float[] g = Reference.RandomFloats(Count, 100 + t, scale: t % 2 == 0 ? 3f : 0.5f);
            g[t] = 0f;
            g[Count - t] = 40f;
            optimizer.Step(p, g);
            reference.Step(expected, Reference.ToDouble(g), t);
            for (int i = 0; i < Count; i++)
            {
                double error = Math.Abs(p[i] - expected[i]);
                Assert.True(error <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"{name}, step {t}, parameter {i}: expected {expected[i]:G9}, got {p[i]:G9}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_optimizer_minimises_a_convex_quadratic(string name)
    {
        // f(θ) = ½ Σ aᵢ (θᵢ − cᵢ)², with curvatures from 0.5 to 2: minimum at c.
        var (optimizer, _) = Create(name);
        optimizer.LearningRate = name.StartsWith("sgd", StringComparison.Ordinal) || name.StartsWith("momentum", StringComparison.Ordinal) || name.StartsWith("nesterov", StringComparison.Ordinal)
            ? 0.1f
            : name.StartsWith("adagrad", StringComparison.Ordinal) ? 0.5f : 0.05f;
        const int n = 10;
        var theta = new float[n];
        var grad = new float[n];
        float[] c = Reference.RandomFloats(n, 7, scale: 1f);
        float F()
        {
            float f = 0;
            for (int i = 0; i < n; i++)
            {
                float a = 0.5f + (1.5f * i / (n - 1));
                f += 0.5f * a * (theta[i] - c[i]) * (theta[i] - c[i]);
            }

            return f;
        }

        float start = F();
        for (int step = 0; step < 2000; step++)
        {
            for (int i = 0; i < n; i++)
            {
                float a = 0.5f + (1.5f * i / (n - 1));
                grad[i] = a * (theta[i] - c[i]);
            }

            optimizer.Step(theta, grad);
        }

        // Weight decay moves the minimum towards zero; allow for it, but demand a large decrease.
        Assert.True(F() < start * (name.Contains("wd", StringComparison.Ordinal) || name.StartsWith("adamw", StringComparison.Ordinal) ? 0.05f : 1e-3f), $"{name}: f went from {start} to {F()}");
    }


    [Fact]
    public void Binding_is_once_per_parameter_count_and_bad_hyper_parameters_are_refused()
    {
        var adam = new Adam();
        adam.Bind(new FashionMlp(1));
        Assert.Equal(FashionMlp.ParameterCount, adam.ParameterCount);
        Assert.Throws<InvalidOperationException>(() => adam.Step(new float[3], new float[3]));
        Assert.Throws<ArgumentException>(() => adam.Step(new float[3], new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta1: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(learningRate: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(epsilon: 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1f, momentum: -0.1f));
        Assert.Throws<ArgumentException>(() => new Sgd(0.1f, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(weightDecay: -1f));
    }

    [Fact]
    public void Reset_forgets_the_state()
    {
        float[] p1 = Reference.RandomFloats(Count, 1), p2 = (float[])p1.Clone();
        float[] g = Reference.RandomFloats(Count, 2);
        var a = new Adam(0.01f);
        a.Step(p1, g);
        a.Step(p1, g);
        a.Reset();
        Assert.Equal(0, a.StepCount);
        var b = new Adam(0.01f);
        float[] q1 = (float[])p1.Clone();
        a.Step(p1, g);
        b.Step(q1, g);
        Assert.Equal(q1, p1);
        _ = p2;
    }

    [Theory]
    [InlineData("adamw")]
    [InlineData("sgd-momentum")]
    [InlineData("rmsprop-centered")]
    [InlineData("adagrad")]
    [InlineData("adam-amsgrad")]
    public void Parameter_groups_give_each_range_the_update_of_its_own_settings(string name)
    {
        // TinyGpt's layout: the matrices get decay 0.1, the vectors none, and (second variant) a
        // group may scale the learning rate. Updates are elementwise, so each range must equal what
        // an ungrouped optimizer with that range's settings does to it.
        IReadOnlyList<ParameterInfo> layout = new TinyGpt(1).ParameterLayout;
        IReadOnlyList<ParameterGroup> groups = ParameterGroup.DecayMatricesOnly(layout, 0.1f)
            .Select((g, k) => k == 1 ? g with { LearningRateScale = 0.5f } : g).ToList();
        Assert.Equal(TinyGpt.ParameterCount, groups.Sum(g => g.Length));
        Assert.Equal(0.1f, groups[0].WeightDecay);
        Assert.Equal(layout[0].Length + layout[1].Length, groups[0].Length); // wte and wpe merged
        Assert.Equal(0f, groups[1].WeightDecay); // ln_1 weight and bias

        float[] theta = Reference.RandomFloats(TinyGpt.ParameterCount, 60);
        var grouped = (Optimizer)Create(name, weightDecay: 0.3f);
        grouped.SetGroups(groups);
        float[] actual = (float[])theta.Clone();
        var expected = (float[])theta.Clone();
        var plain = groups.Select(g => (Group: g, Optimizer: (Optimizer)Create(name, weightDecay: g.WeightDecay ?? 0.3f), Copy: (float[])theta.Clone())).ToList();
        for (int step = 0; step < 4; step++)
        {
            float[] gradient = Reference.RandomFloats(theta.Length, 61 + step);
            grouped.Step(actual, gradient);
            foreach (var (group, optimizer, copy) in plain)
            {
                optimizer.LearningRate = grouped.LearningRate * group.LearningRateScale;
                optimizer.Step(copy, gradient);
                copy.AsSpan(group.Offset, group.Length).CopyTo(expected.AsSpan(group.Offset, group.Length));
            }
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void One_optimizer_for_two_networks_of_the_same_size_is_refused_before_anything_changes()
    {
        var a = new ThreeLayerNet(2, seed: 1);
        var b = new ThreeLayerNet(2, seed: 2);
        var adam = new Adam(0.01f);
        float[] x = Reference.RandomFloats(2 * ThreeLayerNet.InputSize, 3);
        int[] y = { 0, 1 };
        a.TrainStep(x, y, adam);
        float[] before = b.Parameters.ToArray();
        var e = Assert.Throws<InvalidOperationException>(() => b.TrainStep(x, y, adam));
        Assert.Equal("This Adam is bound to another network (ThreeLayerNet); its state (moment estimates, accumulators) belongs to that network's parameters, and these are another ThreeLayerNet's. Create one optimizer per network.", e.Message);
        Assert.Equal(before, b.Parameters.ToArray());
        Assert.Equal(1, adam.StepCount);
        a.TrainStep(x, y, adam); // the network it belongs to goes on
        Assert.Equal(2, adam.StepCount);
    }

    [Fact]
    public void Stepping_a_second_network_directly_is_refused_too()
    {
        // optimizer.Step(spans), never bound through TrainStep or a trainer: the first network's
        // buffer binds it; a second network of the same size is refused before anything changes.
        var a = new ThreeLayerNet(2, seed: 1);
        var b = new ThreeLayerNet(2, seed: 2);
        var sgd = new Sgd(0.1f, momentum: 0.9f);
        float[] x = Reference.RandomFloats(2 * ThreeLayerNet.InputSize, 3);
        int[] y = { 0, 1 };
        a.ComputeGradients(x, y);
        sgd.Step(a.Parameters, a.Gradients);
        b.ComputeGradients(x, y);
        float[] before = b.Parameters.ToArray();
        var e = Assert.Throws<InvalidOperationException>(() => sgd.Step(b.Parameters, b.Gradients));
        Assert.Contains("bound to another network (ThreeLayerNet)", e.Message);
        Assert.Equal(before, b.Parameters.ToArray());
        Assert.Equal(1, sgd.StepCount);
        Assert.Throws<InvalidOperationException>(() => b.TrainStep(x, y, sgd)); // and through TrainStep

        // Its own network goes on, through either door, after a garbage collection has moved things.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        sgd.Step(a.Parameters, a.Gradients);
        a.TrainStep(x, y, sgd);
        Assert.Equal(3, sgd.StepCount);

        // A buffer of the user's own (not a network's) is not checked: an optimizer per span works as before.
        var own = new Sgd(0.1f);
        own.Step(new float[a.Parameters.Length], new float[a.Parameters.Length]);
        own.Step(new float[a.Parameters.Length], new float[a.Parameters.Length]);
    }

    [Fact]
    public void A_bad_learning_rate_names_the_property()
    {
        var adam = new Adam();
        Assert.Equal("LearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = float.NaN).ParamName);
        Assert.Equal("LearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = -1f).ParamName);
        Assert.Equal(0.001f, adam.LearningRate);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-0.1f)).ParamName);
    }

    [Fact]
    public void Overlapping_parameter_groups_are_refused()
    {
        var adam = new Adam();
        var e = Assert.Throws<ArgumentException>(() => adam.SetGroups(new[] { new ParameterGroup(0, 10), new ParameterGroup(5, 10) }));
        Assert.Contains("[0, 10) and [5, 15)", e.Message);
        Assert.Empty(adam.Groups);
    }

    private static IOptimizer Create(string name, float weightDecay) => name switch
    {
        "adamw" => new AdamW(0.01f, weightDecay: weightDecay),
        "sgd-momentum" => new Sgd(0.01f, momentum: 0.9f, weightDecay: weightDecay),
        "rmsprop-centered" => new RmsProp(0.01f, momentum: 0.5f, centered: true, weightDecay: weightDecay),
        "adagrad" => new Adagrad(0.01f, weightDecay: weightDecay),
        "adam-amsgrad" => new Adam(0.01f, weightDecay: weightDecay, amsgrad: true),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
