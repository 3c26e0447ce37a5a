namespace NetGen.Tests;

[Network]
[Input(96)]
[Dense(96, Activation = Activation.Gelu)]
[Dense(5, UseBias = false)]
[MeanSquaredError]
public partial class GeluPairNet;

[Network]
[Input(300)]
[Dense(64, UseBias = false)]
[LeakyReLU(0.2)]
[Dense(3)]
[BinaryCrossEntropy]
public partial class LeakyPairNet;

[Network]
[Input(100)]
[Dense(96, Activation = Activation.Tanh)]
[Dense(96, Activation = Activation.ReLU)]
[Dense(4)]
[SoftmaxCrossEntropy]
public partial class TwoHiddenNet;

/// <summary>
/// A dense layer in blocks of 32-unit strips has exactly the bits of the whole layer, on every vector path;
/// and an MLP (dense layers with elementwise activations between them), given a batch too small to split by
/// samples on several threads, is split by its hidden units with exactly the bits of one thread (loss,
/// gradients, outputs, parameters after Adam steps, evaluation), for any activation, loss and bias, one hidden
/// layer or two, with blocks of unequal size.
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class UnitSplitTests
{
    // rows, inFeatures, outFeatures, blocks: the MLP's first layer at batch 32, strips split 1 + 2, 3 blocks of
    // 160, a batch of 5 (fewer than a tile's rows), and 1 row.
    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 32, 784, 128, 2 },
        { 64, 96, 96, 2 },
        { 130, 50, 160, 3 },
        { 5, 33, 64, 2 },
        { 1, 200, 64, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void A_dense_layer_in_blocks_of_units_has_the_bits_of_the_whole_layer(int rows, int inFeatures, int outFeatures, int blocks)
    {
        float[] x = Reference.RandomFloats(rows * inFeatures, 1), w = Reference.RandomFloats(outFeatures * inFeatures, 2);
        float[] b = Reference.RandomFloats(outFeatures, 3), dy = Reference.RandomFloats(rows * outFeatures, 4);
        float[] y0 = Reference.RandomFloats(rows * outFeatures, 5), dw0 = Reference.RandomFloats(outFeatures * inFeatures, 6), db0 = Reference.RandomFloats(outFeatures, 7);
        VectorPaths.ForEach(this, path =>
        {
            Assert.False(MatMul.TakesDots(rows, outFeatures, inFeatures)); // (where it would, the layer is not split)
            foreach (bool bias in new[] { true, false })
            {
                float[] whole = (float[])y0.Clone(), parts = (float[])y0.Clone();
                Kernels.DenseForward(whole, x, w, bias ? b : default, rows, inFeatures, outFeatures);
                ForEachBlock(outFeatures, blocks, (first, count) => Kernels.DenseForwardColumns(parts, x, w, bias ? b : default, rows, inFeatures, outFeatures, first, count));
                Assert.True(whole.AsSpan().SequenceEqual(parts), $"forward, bias {bias} {path}");

                foreach (bool accumulate in new[] { false, true })
                {
                    float[] dw = (float[])dw0.Clone(), db = (float[])db0.Clone(), dwParts = (float[])dw0.Clone(), dbParts = (float[])db0.Clone();
                    Kernels.DenseBackward(default, dw, bias ? db : default, dy, x, w, rows, inFeatures, outFeatures, accumulate);
                    ForEachBlock(outFeatures, blocks, (first, count) =>
                        Kernels.DenseBackwardColumns(dwParts, bias ? dbParts : default, dy, x, rows, inFeatures, outFeatures, first, count, accumulate));
                    Assert.True(dw.AsSpan().SequenceEqual(dwParts), $"weight gradient, bias {bias}, accumulate {accumulate} {path}");
                    Assert.True(db.AsSpan().SequenceEqual(dbParts), $"bias gradient, bias {bias}, accumulate {accumulate} {path}");
                }
            }

            foreach (Activation activation in new[] { Activation.ReLU, Activation.LeakyReLU, Activation.Sigmoid, Activation.Tanh, Activation.Gelu, Activation.GeluExact })
            {
                float[] a = new float[rows * outFeatures], aParts = Reference.RandomFloats(rows * outFeatures, 8);
                Kernels.ActivationForward(a, dy, activation, 0.2f, outFeatures);
                ForEachBlock(outFeatures, blocks, (first, count) => Kernels.ActivationForwardColumns(aParts, dy, activation, 0.2f, rows, outFeatures, first, count));
                Assert.True(a.AsSpan().SequenceEqual(aParts), $"{activation} forward {path}");
                float[] dx = new float[rows * outFeatures], dxParts = Reference.RandomFloats(rows * outFeatures, 9);
                Kernels.ActivationBackward(dx, y0, dy, a, activation, 0.2f, outFeatures);
                ForEachBlock(outFeatures, blocks, (first, count) => Kernels.ActivationBackwardColumns(dxParts, y0, dy, a, activation, 0.2f, rows, outFeatures, first, count));
                Assert.True(dx.AsSpan().SequenceEqual(dxParts), $"{activation} backward {path}");
            }
        });
    }

    [Fact]
    public void Blocks_are_whole_strips_of_work_worth_a_thread()
    {
        Assert.Equal(2, Kernels.DenseColumnBlocks(32, 784, 128, 2));
        Assert.Equal(4, Kernels.DenseColumnBlocks(32, 784, 128, 8)); // 4 strips of 32
        Assert.Equal(1, Kernels.DenseColumnBlocks(4, 784, 128, 2)); // 401,408 multiply-adds: one thread's worth
        Assert.Equal(1, Kernels.DenseColumnBlocks(32, 784, 100, 2)); // not whole strips
        Assert.Equal(1, Kernels.DenseColumnBlocks(32, 784, 128, 1));
        VectorPaths.ForEach(this, path =>
            Assert.Equal(MatMul.TakesDots(12, 64, 4096) ? 1 : 2, Kernels.DenseColumnBlocks(12, 4096, 64, 2))); // dot products of few rows: not split
        try
        {
            Kernels.SplitUnits = false;
            Assert.Equal(1, Kernels.DenseColumnBlocks(32, 784, 128, 2));
        }
        finally
        {
            Kernels.SplitUnits = true;
        }

        Assert.Equal((0, 64), Kernels.DenseColumnBlock(128, 0, 2));
        Assert.Equal((64, 64), Kernels.DenseColumnBlock(128, 1, 2));
        Assert.Equal((0, 32), Kernels.DenseColumnBlock(96, 0, 2));
        Assert.Equal((32, 64), Kernels.DenseColumnBlock(96, 1, 2));
        Assert.Equal(new[] { (0, 32), (32, 64), (96, 64) }, Enumerable.Range(0, 3).Select(b => Kernels.DenseColumnBlock(160, b, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseColumnBlock(100, 0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseColumnBlock(128, 0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseColumnBlock(128, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseColumnBlocks(32, 784, 128, 0));
    }

    [Fact]
    public void A_block_that_is_not_whole_strips_or_an_activation_that_is_not_elementwise_is_refused()
    {
        float[] y = new float[4 * 64], x = new float[4 * 10], w = new float[64 * 10];
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseForwardColumns(y, x, w, default, 4, 10, 64, 16, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseForwardColumns(y, x, w, default, 4, 10, 64, 0, 48));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseBackwardColumns(w, default, y, x, 4, 10, 64, 32, 64, accumulate: false));
        Assert.Throws<ArgumentException>(() => Kernels.ActivationForwardColumns(y, y, Activation.Softmax, 0f, 4, 64, 0, 32));
        Assert.Throws<ArgumentException>(() => Kernels.ActivationBackwardColumns(y, y, y, y, Activation.Softmax, 0f, 4, 64, 0, 32));

        // Buffers too short are named.
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Kernels.DenseForwardColumns(y, x, w, new float[10], 4, 10, 64, 0, 32)).ParamName);
        Assert.Equal("dOutput", Assert.Throws<ArgumentException>(() => Kernels.DenseBackwardColumns(w, default, new float[64], x, 4, 10, 64, 0, 32, accumulate: false)).ParamName);
        Assert.Equal("dBias", Assert.Throws<ArgumentException>(() => Kernels.DenseBackwardColumns(w, new float[3], y, x, 4, 10, 64, 0, 32, accumulate: false)).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => Kernels.ActivationForwardColumns(new float[100], y, Activation.ReLU, 0f, 4, 64, 0, 32)).ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => Kernels.CopyColumns(y, new float[100], 4, 64, 0, 32)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.CopyColumns(y, y, 4, 64, 48, 32));
        Assert.All(y, v => Assert.Equal(0f, v)); // nothing was written before a refusal
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void The_mlp_split_by_units_has_the_bits_of_one_thread(int threads) =>
        SameAsOneThread((t, seed) => new FashionMlp(32, seed) { Threads = t }, 32, FashionMlp.InputSize, threads, Classes(32, 10), (784, 128));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_gelu_pair_without_a_second_bias_under_mean_squared_error_splits_by_units(int threads) =>
        SameAsOneThread((t, seed) => new GeluPairNet(100, seed) { Threads = t }, 100, GeluPairNet.InputSize, threads, Reference.RandomFloats(100 * GeluPairNet.OutputSize, 31), (96, 96));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_leaky_relu_layer_after_a_dense_layer_without_bias_splits_by_units(int threads) =>
        SameAsOneThread((t, seed) => new LeakyPairNet(40, seed) { Threads = t }, 40, LeakyPairNet.InputSize, threads, Enumerable.Range(0, 40 * 3).Select(i => (i % 3) == 0 ? 1f : 0f).ToArray(), (300, 64));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void An_mlp_of_two_hidden_layers_splits_both_by_units(int threads) =>
        SameAsOneThread((t, seed) => new TwoHiddenNet(120, seed) { Threads = t }, 120, TwoHiddenNet.InputSize, threads, Classes(120, 4), (100, 96), (96, 96));

    private static int[] Classes(int count, int classes) => Enumerable.Range(0, count).Select(i => ((i * 7) + 3) % classes).ToArray();

    private static void ForEachBlock(int outFeatures, int blocks, Action<int, int> block)
    {
        for (int b = blocks - 1; b >= 0; b--) // in reverse: no block may depend on another's having been written
        {
            (int first, int count) = Kernels.DenseColumnBlock(outFeatures, b, blocks);
            block(first, count);
        }
    }

    // One thread against `threads`, from the same seed on the same batch: ComputeGradients, AccumulateGradients,
    // three Adam steps, Evaluate and Forward give the same bits, each pass taking the split by units (counted: its blocks).
    private static void SameAsOneThread<TTarget>(Func<int, int, ITrainableNetwork<float, TTarget>> create, int batch, int inputSize, int threads, TTarget[] targets, params (int In, int Out)[] hidden)
        where TTarget : unmanaged
    {
        int blocks = hidden.Min(h => Kernels.DenseColumnBlocks(batch, h.In, h.Out, threads)), perPass = blocks * hidden.Length;
        Assert.True(blocks >= 2, $"{blocks} blocks");
        float[] x = Reference.RandomFloats(batch * inputSize, 30);
        ITrainableNetwork<float, TTarget> one = create(1, 7), many = create(threads, 7);
        int before = Kernels.s_columnBlocks, products = MatMul.t_splitProducts;
        Assert.Equal(one.ComputeGradients(x, targets), many.ComputeGradients(x, targets));
        Assert.Equal(before + perPass, Kernels.s_columnBlocks);
        Assert.Equal(products, MatMul.t_splitProducts);
        Assert.True(one.Gradients.SequenceEqual(many.Gradients), "ComputeGradients");
        Assert.True(one.LastOutputs.SequenceEqual(many.LastOutputs), "outputs");
        Assert.Equal(one.AccumulateGradients(x, targets), many.AccumulateGradients(x, targets));
        Assert.True(one.Gradients.SequenceEqual(many.Gradients), "AccumulateGradients");
        var adamOne = new Adam(0.01f);
        var adamMany = new Adam(0.01f);
        for (int step = 0; step < 3; step++)
        {
            Assert.Equal(one.TrainStep(x, targets, adamOne), many.TrainStep(x, targets, adamMany));
        }

        Assert.Equal(before + (5 * perPass), Kernels.s_columnBlocks);
        Assert.True(one.Parameters.SequenceEqual(many.Parameters), "parameters after Adam");
        Assert.True(one.Gradients.SequenceEqual(many.Gradients), "gradients after Adam");
        Assert.True(one.LastOutputs.SequenceEqual(many.LastOutputs), "outputs after Adam");
        Assert.Equal(one.Evaluate(x, targets), many.Evaluate(x, targets));
        Assert.Equal(before + (6 * perPass), Kernels.s_columnBlocks); // evaluation splits by units too
        Assert.True(one.LastOutputs.SequenceEqual(many.LastOutputs), "outputs of Evaluate");
        Assert.True(one.Gradients.SequenceEqual(many.Gradients), "gradients untouched by Evaluate");

        float[] outputsOne = new float[batch * one.OutputSize], outputsMany = new float[batch * one.OutputSize];
        one.Forward(x, outputsOne);
        many.Forward(x, outputsMany);
        Assert.Equal(before + (7 * perPass), Kernels.s_columnBlocks); // Forward splits by units too
        Assert.Equal(outputsOne, outputsMany);
        Assert.Throws<InvalidOperationException>(() => many.LastOutputs.ToArray()); // written over by Forward
    }
}
