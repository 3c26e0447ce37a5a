using NetGen.Training;

namespace NetGen.Tests;

/// <summary>
/// One product, or one optimizer step, split across the pool's threads has exactly the bits of the
/// same work on one thread, on every vector path (forced in turn: MatMul's collection, the switches
/// are process-wide); and a generated network whose batch is too small to split across its threads
/// splits its dense products and its optimizer step instead, with the bits of one thread.
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class SplitTests
{
    // m, n, k, how A·Bᵀ splits on 2 threads: by columns (n at least m, 32 columns a part) with and
    // without the dot products' remainder columns, and by rows (more rows than columns, a tail of rows).
    public static TheoryData<int, int, int, bool> TransposedShapes => new()
    {
        { 32, 128, 784, true },
        { 45, 70, 333, true },
        { 9, 130, 512, true },
        { 8, 128, 784, true }, // parts of 8 x 32 over 784 would take the dot products of few rows; the whole does not
        { 12, 96, 1000, true },
        { 256, 128, 784, false },
        { 203, 40, 257, false },
    };

    [Fact]
    public void A_product_of_few_rows_by_dot_products_is_not_split()
    {
        // 9 x 16 over 40,000: 5.8 million multiply-adds, worth 2 threads, but its parts would not take the dot products.
        // 16 rows (no dot products) split by rows.
        Assert.Equal((1, 1, false), MatMul.TransposedSplit(9, 16, 40_000, 2));
        Assert.Equal((2, 2, false), MatMul.TransposedSplit(16, 16, 40_000, 2));
    }

    [Theory]
    [MemberData(nameof(TransposedShapes))]
    public void A_split_product_of_A_and_B_transposed_has_the_bits_of_one_thread(int m, int n, int k, bool byColumns)
    {
        (int parts, int threads, bool columns) = MatMul.TransposedSplit(m, n, k, 2);
        Assert.Equal((2, byColumns), (threads, columns));
        Assert.True(parts >= 2);
        float[] a = Reference.RandomFloats(m * k, 1), b = Reference.RandomFloats(n * k, 2), c0 = Reference.RandomFloats(m * n, 3);
        VectorPaths.ForEach(this, path =>
        {
            foreach (bool accumulate in new[] { false, true })
            {
                float[] one = (float[])c0.Clone();
                MatMul.MultiplyTransposed(one, a, b, m, n, k, accumulate);
                foreach (int count in new[] { 2, 3, 4 })
                {
                    float[] split = (float[])c0.Clone();
                    int before = MatMul.t_splitProducts;
                    MatMul.MultiplyTransposed(split, a, b, m, n, k, accumulate, count);
                    Assert.Equal(before + 1, MatMul.t_splitProducts);
                    Assert.True(one.AsSpan().SequenceEqual(split), $"{m}x{n}x{k}, accumulate {accumulate}, {count} threads {path}");
                }
            }
        });
    }

    [Theory]
    [InlineData(32, 128, 784)]
    [InlineData(64, 96, 200)]
    [InlineData(32, 64, 9)]
    public void A_product_computed_through_its_transpose_has_the_same_bits(int m, int n, int k)
    {
        // A·Bᵀ with fewer rows in A than in B, whole tiles both ways, is computed as Cᵀ = B·Aᵀ (A packed, not B).
        float[] a = Reference.RandomFloats(m * k, 7), b = Reference.RandomFloats(n * k, 8), c0 = Reference.RandomFloats(m * n, 9);
        VectorPaths.ForEach(this, path =>
        {
            foreach (bool accumulate in new[] { false, true })
            {
                float[] swapped = (float[])c0.Clone(), direct = (float[])c0.Clone();
                MatMul.MultiplyTransposed(swapped, a, b, m, n, k, accumulate);
                try
                {
                    MatMul.SwapOperands = false;
                    MatMul.MultiplyTransposed(direct, a, b, m, n, k, accumulate);
                }
                finally
                {
                    MatMul.SwapOperands = true;
                }

                Assert.True(direct.AsSpan().SequenceEqual(swapped), $"{m}x{n}x{k}, accumulate {accumulate} {path}");
            }
        });
    }

    // m, n, k: the weight gradient's shape (A read transposed) and the input gradient's (A as it is),
    // with rows that are not a multiple of 8 and columns that are not of 32.
    public static TheoryData<int, int, int> RowShapes => new()
    {
        { 128, 784, 32 },
        { 77, 300, 50 },
        { 16, 1000, 40 },
    };

    [Theory]
    [MemberData(nameof(RowShapes))]
    public void A_split_product_of_A_or_A_transposed_and_B_has_the_bits_of_one_thread(int m, int n, int k)
    {
        Assert.Equal(2, MatMul.RowSplit(m, n, k, 2).Threads);
        float[] a = Reference.RandomFloats(m * k, 4), b = Reference.RandomFloats(k * n, 5), c0 = Reference.RandomFloats(m * n, 6);
        VectorPaths.ForEach(this, path =>
        {
            foreach ((int rowStride, int colStride) in new[] { (k, 1), (1, m) })
            {
                foreach (bool accumulate in new[] { false, true })
                {
                    float[] one = (float[])c0.Clone();
                    MatMul.Multiply(one, a, rowStride, colStride, b, m, n, k, accumulate);
                    foreach (int threads in new[] { 2, 3 })
                    {
                        float[] split = (float[])c0.Clone();
                        int before = MatMul.t_splitProducts;
                        MatMul.Multiply(split, a, rowStride, colStride, b, m, n, k, accumulate, threads);
                        Assert.Equal(before + 1, MatMul.t_splitProducts);
                        Assert.True(one.AsSpan().SequenceEqual(split), $"{m}x{n}x{k}, strides ({rowStride}, {colStride}), accumulate {accumulate}, {threads} threads {path}");
                    }
                }
            }
        });
    }

    [Fact]
    public void A_product_is_split_only_into_parts_worth_a_thread()
    {
        // 2^18 multiply-adds a thread at least; up to 4 parts a thread, of 8 rows or 32 columns at least.
        Assert.Equal(1, MatMul.TransposedSplit(32, 128, 63, 2).Threads); // 258,048: one thread's worth
        Assert.Equal((4, 2, true), MatMul.TransposedSplit(32, 128, 128, 2)); // four blocks of 32 columns
        Assert.Equal((4, 4, true), MatMul.TransposedSplit(32, 128, 784, 8));
        Assert.Equal((2, 2, false), MatMul.TransposedSplit(256, 128, 784, 2)); // rows: a block a thread
        Assert.Equal((8, 2, true), MatMul.TransposedSplit(1, 6768, 128, 2)); // one row (a matrix-vector product): by columns
        Assert.Equal(1, MatMul.TransposedSplit(7, 31, 100_000, 2).Threads); // neither 8 rows nor 32 columns a part
        Assert.Equal((1, 1), MatMul.RowSplit(15, 10000, 100, 2)); // fewer than 2 x 8 rows
        Assert.Equal((1, 1), MatMul.RowSplit(128, 784, 1, 2)); // a batch of 1: 100,352
        Assert.Equal((12, 3), MatMul.RowSplit(128, 784, 32, 3));
        Assert.Equal((2, 2), MatMul.RowSplit(16, 1000, 40, 2));

        // Too small: the one-thread product, with no hand-off.
        float[] c = new float[32 * 128];
        int before = MatMul.t_splitProducts;
        MatMul.MultiplyTransposed(c, new float[32 * 63], new float[128 * 63], 32, 128, 63, accumulate: false, threads: 2);
        MatMul.Multiply(c, new float[32], 1, 32, new float[128], 32, 128, 1, accumulate: false, threads: 2);
        Assert.Equal(before, MatMul.t_splitProducts);
    }

    [Fact]
    public void A_split_product_checks_its_arguments_before_any_part_runs()
    {
        float[] c = new float[128 * 784], a = new float[128 * 32], b = new float[32 * 784];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Multiply(c, a, 1, 128, b, 128, 784, 32, accumulate: false, threads: 0));
        Assert.Equal("threads", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.MultiplyTransposed(c, a, b, 32, 128, 32, accumulate: false, threads: Workers.MaxThreads + 1));
        var short_ = Assert.Throws<ArgumentException>(() => MatMul.Multiply(c, a, 1, 128, b.AsSpan(1), 128, 784, 32, accumulate: false, threads: 2));
        Assert.Equal("b", short_.ParamName);
        short_ = Assert.Throws<ArgumentException>(() => MatMul.MultiplyTransposed(c.AsSpan(0, 100), a, b, 32, 128, 784, accumulate: false, threads: 2));
        Assert.Equal("a", short_.ParamName); // a holds 32 x 128 values, not 32 x 784
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(OptimizerTests.Cases), MemberType = typeof(OptimizerTests))]
    public void A_split_optimizer_step_has_the_bits_of_one_thread(string name)
    {
        // 100,003 parameters (3 parts of 2^15 at most), two groups that the parts cut.
        const int count = 100_003;
        float[] start = Reference.RandomFloats(count, 31, scale: 2f);
        var groups = new[] { new ParameterGroup(10_000, 30_001, WeightDecay: 0.2f), new ParameterGroup(60_000, 35_000, LearningRateScale: 0.5f) };
        float[][] Run(int threads)
        {
            var (created, _) = OptimizerTests.Create(name);
            var optimizer = (Optimizer)created;
            optimizer.SetGroups(groups);
            float[] p = (float[])start.Clone();
            for (int step = 0; step < 3; step++)
            {
                optimizer.Step(p, Reference.RandomFloats(count, 32 + step), threads);
            }

            return optimizer.StateBuffers.Select(s => s.Value).Prepend(p).ToArray();
        }

        Assert.Equal(3, new Sgd(0.1f).StepParts(count, 4));
        float[][] one = Run(1);
        foreach (int threads in new[] { 2, 3 })
        {
            float[][] split = Run(threads);
            Assert.Equal(one.Length, split.Length);
            for (int i = 0; i < one.Length; i++)
            {
                Assert.True(one[i].AsSpan().SequenceEqual(split[i]), $"{name}, {threads} threads: buffer {i} differs");
            }
        }
    }

    [Fact]
    public void An_optimizer_derived_outside_NetGen_steps_on_the_calling_thread()
    {
        var outside = new HalfStep();
        Assert.Equal(1, outside.StepParts(100_000, 4));
        float[] p = Enumerable.Repeat(1f, 100_000).ToArray(), g = Enumerable.Repeat(2f, 100_000).ToArray();
        outside.Step(p, g, threads: 4);
        Assert.Equal(1, outside.Calls); // the whole buffer in one call: its rule may look at all of it
        Assert.All(p, v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => outside.Step(p, g, threads: 0));
    }

    [Fact]
    public void A_single_sequence_has_its_products_split_with_the_bits_of_one_thread()
    {
        // One sample of a GPT (32 positions): MinSamplesPerThread is 1, but one sample cannot be split,
        // so Threads = 2 splits the dense layers' products over the sequence's rows.
        var random = new SeededRandom(12);
        int[] tokens = Enumerable.Range(0, WideGpt.InputSize).Select(_ => random.NextInt(40)).ToArray();
        int[] targets = Enumerable.Range(0, WideGpt.InputSize).Select(_ => random.NextInt(40)).ToArray();
        var one = new WideGpt(1, seed: 3);
        var two = new WideGpt(1, seed: 3) { Threads = 2 };
        var adamOne = new AdamW(0.01f);
        var adamTwo = new AdamW(0.01f);
        for (int step = 0; step < 2; step++)
        {
            float a = one.TrainStep(tokens, targets, adamOne);
            int before = MatMul.t_splitProducts;
            float b = two.TrainStep(tokens, targets, adamTwo);
            Assert.True(MatMul.t_splitProducts > before, "no product was split");
            Assert.Equal(a, b);
        }

        Assert.True(one.Parameters.SequenceEqual(two.Parameters));
        Assert.True(one.Gradients.SequenceEqual(two.Gradients));
    }

    [Fact]
    public void A_batch_too_small_to_split_has_its_units_and_step_split_with_the_bits_of_one_thread()
    {
        // 32 samples: under twice the default MinSamplesPerThread (65), so one share; the MLP (a pair of dense
        // layers) is split by its 128 hidden units instead, two blocks of 64, and the Adam step (101,770
        // parameters) goes to the pool.
        float[] x = Reference.RandomFloats(32 * FashionMlp.InputSize, 41);
        int[] labels = Enumerable.Range(0, 32).Select(i => (i * 7) % 10).ToArray();
        var one = new FashionMlp(32, seed: 5);
        var two = new FashionMlp(32, seed: 5) { Threads = 2 };
        var adamOne = new Adam(0.01f);
        var adamTwo = new Adam(0.01f);
        for (int step = 0; step < 3; step++)
        {
            float a = one.TrainStep(x, labels, adamOne);
            int before = MatMul.t_splitProducts, blocks = Kernels.s_columnBlocks;
            float b = two.TrainStep(x, labels, adamTwo);
            Assert.Equal(before, MatMul.t_splitProducts); // no product split: the units are
            Assert.Equal(blocks + 2, Kernels.s_columnBlocks); // the first layer's forward in two blocks of units
            Assert.Equal(a, b);
        }

        Assert.True(one.Parameters.SequenceEqual(two.Parameters));
        Assert.True(one.Gradients.SequenceEqual(two.Gradients));
        Assert.Equal(adamOne.StateBuffers.Select(s => s.Value), adamTwo.StateBuffers.Select(s => s.Value));

        // The products go back to one thread after the pass: Forward and a split batch do not split them.
        int after = MatMul.t_splitProducts;
        two.Forward(x, new float[32 * FashionMlp.OutputSize]);
        Assert.Equal(after, MatMul.t_splitProducts);
    }

    [Fact]
    public void The_trainer_on_two_threads_at_a_small_batch_gives_the_bits_of_one()
    {
        // Batches of 16 (under twice MinSamplesPerThread): one share, the MLP split by its hidden units and
        // the Adam step split across the threads, through the trainer's own step.
        var random = new SeededRandom(21);
        float[] x = Enumerable.Range(0, 48 * FashionMlp.InputSize).Select(_ => random.NextSingle()).ToArray();
        int[] labels = Enumerable.Range(0, 48).Select(i => ((i * 7) + 3) % 10).ToArray();
        var data = new DataSet<int>(x, labels, FashionMlp.InputSize);
        float[][] Train(int threads)
        {
            var net = new FashionMlp(16, seed: 6);
            var adam = new Adam(0.01f);
            new Trainer<int>(net, adam, new TrainerOptions { BatchSize = 16, Epochs = 2, Seed = 4, Threads = threads }).Fit(data);
            return adam.StateBuffers.Select(b => b.Value).Prepend(net.Parameters.ToArray()).ToArray();
        }

        float[][] one = Train(1);
        int blocks = Kernels.s_columnBlocks;
        float[][] two = Train(2);
        Assert.Equal(blocks + (6 * 2), Kernels.s_columnBlocks); // 6 steps, each the first layer's forward in two blocks of units
        Assert.Equal(one.Length, two.Length);
        for (int i = 0; i < one.Length; i++)
        {
            Assert.True(one[i].AsSpan().SequenceEqual(two[i]), $"buffer {i}");
        }

        Assert.Equal(1, new Adam().StepParts(16, 2)); // (and a tiny buffer is stepped on one thread)
    }

    // p -= g / 2 for the whole buffer at once, counting its calls.
    private sealed class HalfStep : Optimizer
    {
        public HalfStep()
            : base(0.5f, 0f)
        {
        }

        public int Calls { get; private set; }

        protected override void AllocateState(int parameterCount)
        {
        }

        protected override void ClearState()
        {
        }

        protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, ParameterSegment segment, long t)
        {
            Calls++;
            for (int i = 0; i < parameters.Length; i++)
            {
                parameters[i] -= LearningRate * gradients[i];
            }
        }
    }
}
