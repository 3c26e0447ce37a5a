namespace NetGen.Tests;

/// <summary>
/// At batches of up to four, TrainStep leaves the largest Dense weight's gradient (here the
/// 784-128-10 MLP's first, 100,352 values) to the optimizer, which computes it a block of rows at a
/// time where it applies it (<see cref="DeferredWeightGradient"/>). Nothing may tell the two apart:
/// the parameters and the optimizer's state take the same bits as ComputeGradients then Step, and
/// Gradients, when read, hold the same bits too, also after AccumulateGradients and ZeroGrad.
/// </summary>
public class DeferredGradientTests
{
    private static (float[] X, int[] Labels) Batch(int rows, int seed) =>
        (Reference.RandomFloats(rows * FashionMlp.InputSize, seed), Enumerable.Range(0, rows).Select(i => (i * 3 + seed) % 10).ToArray());

    [Theory]
    [MemberData(nameof(OptimizerTests.Cases), MemberType = typeof(OptimizerTests))]
    public void TrainStep_with_the_deferred_gradient_equals_ComputeGradients_then_Step(string name)
    {
        foreach (int rows in new[] { 1, 2, 4, 5 })
        {
            var fused = new FashionMlp(8, seed: 1);
            var plain = new FashionMlp(8, seed: 1);
            IOptimizer a = OptimizerTests.Create(name).Optimizer, b = OptimizerTests.Create(name).Optimizer;
            for (int step = 0; step < 4; step++)
            {
                var (x, labels) = Batch(rows, step + 1);
                float lossFused = fused.TrainStep(x, labels, a);
                Assert.Equal(rows <= 4 ? rows : 0, PendingRows(fused)); // deferred up to 4 rows, then not
                float lossPlain = plain.ComputeGradients(x, labels);
                b.Step(plain.Parameters, plain.Gradients);
                Assert.Equal(lossPlain, lossFused);
                Assert.Equal(plain.Parameters.ToArray(), fused.Parameters.ToArray());
                if (step % 2 == 1)
                {
                    // Read every other step: the deferred gradient written when read, left alone when not.
                    Assert.Equal(plain.Gradients.ToArray(), fused.Gradients.ToArray());
                }
            }

            foreach (var (stateA, stateB) in ((Optimizer)a).StateBuffers.Zip(((Optimizer)b).StateBuffers))
            {
                Assert.Equal(stateB.Value, stateA.Value);
            }

            Assert.Equal(plain.Gradients.ToArray(), fused.Gradients.ToArray());
        }
    }

    // The rows of the gradient that the last TrainStep deferred and Gradients has not written yet.
    private static int PendingRows(FashionMlp net)
    {
        var flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;
        object core = typeof(FashionMlp).GetField("__net", flags)!.GetValue(net)!;
        return (int)core.GetType().GetField("_deferredRows", flags)!.GetValue(core)!;
    }

    [Fact]
    public void Parameter_groups_that_cut_the_deferred_weight_mid_row_step_as_without_deferring()
    {
        // Groups with their own decay and rate begin and end inside rows of dense1.weight (784
        // columns, 100,352 values) and inside the optimizer's blocks of 6,272; the stretches between
        // them have the defaults; the last group runs on past the weight.
        ParameterGroup[] groups =
        {
            new(1000, 5000, WeightDecay: 0.2f),
            new(7000, 3000, WeightDecay: 0f, LearningRateScale: 0.5f),
            new(50000, 49000, WeightDecay: 0.05f, LearningRateScale: 2f),
            new(99500, 1500, WeightDecay: 0.3f), // from the weight's last rows into the biases
        };
        var fused = new FashionMlp(4, seed: 2);
        var plain = new FashionMlp(4, seed: 2);
        var a = new AdamW(0.01f, weightDecay: 0.1f, amsgrad: true);
        var b = new AdamW(0.01f, weightDecay: 0.1f, amsgrad: true);
        a.SetGroups(groups);
        b.SetGroups(groups);
        for (int step = 0; step < 3; step++)
        {
            var (x, labels) = Batch(step + 1, 10 + step);
            fused.TrainStep(x, labels, a);
            plain.ComputeGradients(x, labels);
            b.Step(plain.Parameters, plain.Gradients);
            Assert.Equal(plain.Parameters.ToArray(), fused.Parameters.ToArray());
        }

        Assert.Equal(plain.Gradients.ToArray(), fused.Gradients.ToArray());
    }

    [Fact]
    public void AccumulateGradients_after_a_deferred_step_adds_to_its_gradient_and_ZeroGrad_clears_it()
    {
        var fused = new FashionMlp(4, seed: 3);
        var plain = new FashionMlp(4, seed: 3);
        var (x1, y1) = Batch(2, 1);
        var (x2, y2) = Batch(3, 2);
        fused.TrainStep(x1, y1, new Sgd(0.1f));
        plain.TrainStep(x1, y1, new OutsideSgd(0.1f)); // not NetGen's own: never deferred
        Assert.Equal(2, PendingRows(fused));
        Assert.Equal(0, PendingRows(plain));
        Assert.Equal(plain.Parameters.ToArray(), fused.Parameters.ToArray());
        fused.AccumulateGradients(x2, y2);
        plain.AccumulateGradients(x2, y2);
        Assert.Equal(plain.Gradients.ToArray(), fused.Gradients.ToArray());

        fused.TrainStep(x1, y1, new Sgd(0.1f));
        fused.ZeroGrad();
        Assert.All(fused.Gradients.ToArray(), g => Assert.Equal(0f, g));

        // A step whose loss is not finite changes no parameter, and its gradient still reads as written.
        var nan = new FashionMlp(4, seed: 3);
        var reference = new FashionMlp(4, seed: 3);
        nan.Parameters[^1] = float.NaN; // dense2.bias
        reference.Parameters[^1] = float.NaN;
        float[] before = nan.Parameters.ToArray();
        Assert.Throws<NonFiniteLossException>(() => nan.TrainStep(x1, y1, new Adam()));
        reference.ComputeGradients(x1, y1);
        Assert.Equal(before, nan.Parameters.ToArray());
        Assert.Equal(reference.Gradients.ToArray(), nan.Gradients.ToArray());
    }

    [Fact]
    public void A_batch_split_across_threads_writes_its_gradient_as_before()
    {
        // Two rows on two threads: each shard writes and adds its own gradient; nothing is deferred.
        var split = new FashionMlp(4, seed: 4) { Threads = 2, MinSamplesPerThread = 1 };
        var plain = new FashionMlp(4, seed: 4) { Threads = 2, MinSamplesPerThread = 1 };
        var (x, labels) = Batch(2, 5);
        split.TrainStep(x, labels, new Adam(0.01f));
        Assert.Equal(0, PendingRows(split));
        plain.ComputeGradients(x, labels);
        new Adam(0.01f).Step(plain.Parameters, plain.Gradients);
        Assert.Equal(plain.Parameters.ToArray(), split.Parameters.ToArray());
    }

    [Fact]
    public void An_optimizer_derived_outside_NetGen_is_not_elementwise_and_refuses_a_deferred_gradient()
    {
        Assert.True(new Adam().IsElementwise);
        Assert.True(new AdamW().IsElementwise);
        Assert.True(new RmsProp().IsElementwise);
        var outside = new OutsideSgd(0.1f);
        Assert.False(outside.IsElementwise);
        float[] p = new float[20], g = new float[20], dy = new float[2], x = new float[10];
        var e = Assert.Throws<InvalidOperationException>(() => outside.Step(p, g, new DeferredWeightGradient(0, dy, x, 1, inFeatures: 10, outFeatures: 2)));
        Assert.Contains("OutsideSgd", e.Message, StringComparison.Ordinal);
        Assert.Equal(new float[20], p); // nothing changed
    }

    [Fact]
    public void A_deferred_gradient_checks_its_factors_and_its_place()
    {
        float[] dy = new float[6], x = new float[30];
        Assert.Equal("outputGradient", Assert.Throws<ArgumentException>(() => new DeferredWeightGradient(0, dy.AsSpan(0, 5), x, 3, 10, 2)).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => new DeferredWeightGradient(0, dy, x.AsSpan(1), 3, 10, 2)).ParamName);
        Assert.Equal("inFeatures", Assert.Throws<ArgumentOutOfRangeException>(() => new DeferredWeightGradient(0, new float[3 * 8193], new float[3], 3, 8193, 1)).ParamName);
        Assert.Equal("outFeatures", Assert.Throws<ArgumentOutOfRangeException>(() => new DeferredWeightGradient(0, default, default, 1, 8192, 300_000)).ParamName); // 2.46e9 values
        var sgd = new Sgd(0.1f);
        float[] p = new float[25];
        Assert.Equal("deferred", Assert.Throws<ArgumentException>(() => sgd.Step(p, new float[25], new DeferredWeightGradient(6, dy, x, 3, 10, 2))).ParamName);
        Assert.Equal(0, sgd.StepCount); // refused before the step
    }

    [Theory]
    [InlineData(300)] // 288 in 512-bit vectors, 8 in 256-bit, 4 in a 128-bit group
    [InlineData(301)] // and one value of separately rounded products
    [InlineData(7)] // 4 in a 128-bit group, 3 of products
    [InlineData(320)] // 20 512-bit vectors a row: Adam updates the block's rows in one loop (ApplyRows512)
    public void A_deferred_gradient_inside_a_buffer_updates_just_its_rows_as_the_written_gradient_would(int inFeatures)
    {
        // Rows of 9 000 columns would not fit a block: 1 to 8 192 columns only. 50 rows at offset 17, 13
        // parameters after them: blocks of whole rows (8 192 / 300 = 27, whole 8-row tiles: 24). SGD computes
        // each row's values where it applies them (UpdateDeferredRows), Adam at batch 1; RMSprop writes the block.
        foreach (int rows in new[] { 1, 2, 3 }) // 1 and 2: SGD's rows with their factors in registers
        {
            Deferred(rows, inFeatures);
        }
    }

    private static void Deferred(int rows, int inFeatures)
    {
        const int outFeatures = 50, offset = 17;
        int count = offset + (inFeatures * outFeatures) + 13;
        float[] x = Reference.RandomFloats(rows * inFeatures, 1), dy = Reference.RandomFloats(rows * outFeatures, 2);
        dy[0] = dy[outFeatures - 1] = 0f; // rows of zero products, -0 where x < 0 (the written product's are +0)
        for (int b = 1; b < rows; b++)
        {
            dy[b * outFeatures] = b % 2 == 0 ? 0f : -0f; // output 0's gradient 0 in every batch row: plain SGD skips its row
        }

        float[] g = Reference.RandomFloats(count, 4);
        Kernels.DenseBackward(default, g.AsSpan(offset, inFeatures * outFeatures), default, dy, x, default, rows, inFeatures, outFeatures, accumulate: false);
        float[] stale = (float[])g.Clone();
        stale.AsSpan(offset, inFeatures * outFeatures).Fill(float.NaN); // not read
        foreach (Func<Optimizer> create in new Func<Optimizer>[] { () => new Adam(0.01f), () => new Adam(0.01f, weightDecay: 0.1f), () => new AdamW(0.01f, amsgrad: true), () => new Sgd(0.01f, weightDecay: 0.1f), () => new Sgd(0.01f), () => new RmsProp(0.01f) })
        {
            float[] p1 = Reference.RandomFloats(count, 3), p2 = (float[])p1.Clone();
            Optimizer written = create(), deferred = create();
            for (int step = 0; step < 2; step++)
            {
                written.Step(p1, g);
                deferred.Step(p2, stale, new DeferredWeightGradient(offset, dy, x, rows, inFeatures, outFeatures));
            }

            Assert.Equal(p1, p2);
            foreach (var (a, b) in written.StateBuffers.Zip(deferred.StateBuffers, (a, b) => (a, b)))
            {
                Assert.Equal(a.Value, b.Value);
            }
        }
    }

    /// <summary>Plain SGD derived outside NetGen's assembly: for all NetGen knows, its Update looks at whole segments.</summary>
    private sealed class OutsideSgd(float learningRate) : Optimizer(learningRate, 0f)
    {
        protected override void AllocateState(int parameterCount)
        {
        }

        protected override void ClearState()
        {
        }

        protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t)
        {
            for (int i = 0; i < parameters.Length; i++)
            {
                parameters[i] -= segment.LearningRate * (gradients[i] + (0f * parameters[i]));
            }
        }
    }
}
