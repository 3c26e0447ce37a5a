using NetGen.Training;

namespace NetGen.Tests;

/// <summary>
/// A batch split across threads gives the batch's result: the loss, every gradient, the BatchNorm
/// running statistics and the outputs agree with one thread to 1e-6 (relative to the largest value),
/// dropout masks included; and the same thread count gives the same bits on every run.
/// </summary>
public class ThreadTests
{
    private const double Tolerance = 1e-6;

    public static TheoryData<int> Counts => new() { 2, 3, 4 };

    [Theory]
    [MemberData(nameof(Counts))]
    public void A_split_mlp_batch_computes_the_batchs_loss_and_gradients(int threads) =>
        Agree(() => new FashionMlp(16, seed: 3), threads, Reference.RandomFloats(16 * FashionMlp.InputSize, 1), Labels(16, 10));

    [Theory]
    [MemberData(nameof(Counts))]
    public void BatchNorm_and_dropout_see_the_whole_batch_when_it_is_split(int threads) =>
        Agree(() => new RegularizedNet(13, seed: 3), threads, Reference.RandomFloats(13 * RegularizedNet.InputSize, 2), Labels(13, 4));

    [Theory]
    [MemberData(nameof(Counts))]
    public void Convolutions_with_BatchNorm_split_across_threads(int threads) =>
        Agree(() => new SmallCnn(9, seed: 3), threads, Reference.RandomFloats(9 * SmallCnn.InputSize, 3), Labels(9, 3));

    // A 16x16 convolution (256 positions: sample by sample, the weight gradient transposed in the scratch),
    // then an 8x8 one (64: two samples or more per product), each share with its own scratch.
    [Theory]
    [MemberData(nameof(Counts))]
    public void Convolutions_sample_by_sample_and_batched_split_across_threads(int threads) =>
        Agree(() => new FusedPoolCnn(7, seed: 5), threads, Reference.RandomFloats(7 * FusedPoolCnn.InputSize, 4), Labels(7, 3));

    // Convolutions on the padded input (where 512-bit vectors are accelerated): each thread with its own buffers.
    [Theory]
    [MemberData(nameof(Counts))]
    public void Convolutions_on_the_padded_input_split_across_threads(int threads) =>
        Agree(() => new PaddedInputCnn(7, seed: 5), threads, Reference.RandomFloats(7 * PaddedInputCnn.InputSize, 4), Labels(7, 3));

    // A stem: each shard's patch moments and gradient sums, merged by the network.
    [Theory]
    [MemberData(nameof(Counts))]
    public void A_stem_splits_across_threads(int threads)
    {
        Agree(() => new StemCnn(7, seed: 5), threads, Reference.RandomFloats(7 * StemCnn.InputSize, 4), Labels(7, 3));
        Agree(() => new StridedStemNet(7, seed: 5), threads, Reference.RandomFloats(7 * StridedStemNet.InputSize, 5), Reference.RandomFloats(7 * StridedStemNet.OutputSize, 6));
    }

    [Fact]
    public void Residual_blocks_with_projections_split_across_threads() =>
        Agree(() => new ResidualCnn(6, seed: 4), 2, Reference.RandomFloats(6 * ResidualCnn.InputSize, 4), Labels(6, 3));

    [Fact]
    public void Mean_squared_error_and_binary_cross_entropy_split_across_threads()
    {
        Agree(() => new RegressionNet(7, seed: 5), 2, Reference.RandomFloats(7 * RegressionNet.InputSize, 5), Reference.RandomFloats(7 * RegressionNet.OutputSize, 6));
        Agree(() => new SequenceNet(5, seed: 5), 3, Reference.RandomFloats(5 * SequenceNet.InputSize, 7),
            Reference.RandomFloats(5 * SequenceNet.OutputSize, 8).Select(v => v > 0 ? 1f : 0f).ToArray());
        Agree(() => new InputDropoutNet(8, seed: 5), 2, Reference.RandomFloats(8 * InputDropoutNet.InputSize, 9), Reference.RandomFloats(8 * InputDropoutNet.OutputSize, 10));
    }

    [Fact]
    public void A_gpt_batch_splits_across_threads()
    {
        var random = new SeededRandom(11);
        int[] tokens = Enumerable.Range(0, 5 * TinyGpt.InputSize).Select(_ => random.NextInt(TinyGpt.Vocabulary)).ToArray();
        int[] targets = Enumerable.Range(0, 5 * TinyGpt.InputSize).Select(_ => random.NextInt(TinyGpt.Vocabulary)).ToArray();
        Agree(() => new TinyGpt(5, seed: 6), 2, tokens, targets);
    }

    [Fact]
    public void The_same_thread_count_gives_the_same_bits_on_every_run()
    {
        float[] x = Reference.RandomFloats(12 * SmallCnn.InputSize, 12);
        int[] labels = Labels(12, 3);
        float[] Train()
        {
            var net = new SmallCnn(12, seed: 7) { Threads = 2, MinSamplesPerThread = 1 };
            var adam = new Adam(0.01f);
            for (int i = 0; i < 5; i++)
            {
                net.TrainStep(x, labels, adam);
            }

            return net.Parameters.ToArray().Concat(net.State.ToArray()).ToArray();
        }

        float[] first = Train();
        for (int run = 0; run < 3; run++)
        {
            Assert.Equal(first, Train()); // exact: bitwise equal floats
        }
    }

    [Fact]
    public void Training_on_two_threads_follows_training_on_one()
    {
        float[] x = Reference.RandomFloats(16 * RegularizedNet.InputSize, 13);
        int[] labels = Labels(16, 4);
        var one = new RegularizedNet(16, seed: 8);
        var two = new RegularizedNet(16, seed: 8) { Threads = 2, MinSamplesPerThread = 1 };
        // SGD, not Adam: a bias before BatchNorm has a true gradient of exactly 0, which both runs get as
        // rounding noise of either sign, and Adam turns any noise into steps of ±rate.
        var sgdOne = new Sgd(0.1f, momentum: 0.9f);
        var sgdTwo = new Sgd(0.1f, momentum: 0.9f);
        float first = 0, last = 0;
        for (int step = 0; step < 20; step++)
        {
            float a = one.TrainStep(x, labels, sgdOne);
            float b = two.TrainStep(x, labels, sgdTwo);
            Assert.True(Math.Abs(a - b) <= 1e-4 * Math.Abs(a), $"step {step}: loss {a} on one thread, {b} on two");
            first = step == 0 ? b : first;
            last = b;
        }

        Assert.True(last < 0.8f * first, $"the loss fell from {first} to {last} only");
        AssertClose(one.Parameters.ToArray(), two.Parameters.ToArray(), 1e-4, "parameters after 20 steps");
    }

    [Fact]
    public void Accumulated_gradients_add_up_across_split_batches()
    {
        float[] x = Reference.RandomFloats(10 * FashionMlp.InputSize, 14);
        int[] labels = Labels(10, 10);
        var one = new FashionMlp(10, seed: 9);
        var two = new FashionMlp(10, seed: 9) { Threads = 2, MinSamplesPerThread = 1 };
        foreach (var net in new[] { one, two })
        {
            net.ZeroGrad();
            net.AccumulateGradients(x, labels);
            net.AccumulateGradients(x.AsSpan(0, 6 * FashionMlp.InputSize), labels.AsSpan(0, 6));
        }

        AssertClose(one.Gradients.ToArray(), two.Gradients.ToArray(), Tolerance, "accumulated gradients");
    }

    [Fact]
    public void A_batch_smaller_than_the_thread_count_uses_fewer_threads()
    {
        Agree(() => new FashionMlp(4, seed: 3), 4, Reference.RandomFloats(2 * FashionMlp.InputSize, 15), Labels(2, 10));
        var net = new FashionMlp(4, seed: 3) { Threads = 4, MinSamplesPerThread = 1 };
        float[] x = Reference.RandomFloats(FashionMlp.InputSize, 16);
        var single = new FashionMlp(4, seed: 3);
        Assert.Equal(single.ComputeGradients(x, new[] { 1 }), net.ComputeGradients(x, new[] { 1 }));
        Assert.Equal(single.Gradients.ToArray(), net.Gradients.ToArray());
    }

    [Fact]
    public void The_thread_count_is_checked_and_can_be_changed()
    {
        var net = new FashionMlp(8, seed: 1);
        Assert.Equal(1, net.Threads);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => net.Threads = 0);
        Assert.Contains("Threads must lie in [1, 64]", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Threads = Workers.MaxThreads + 1);
        net.Threads = 3;
        net.Threads = 2;
        net.Threads = 1;
        Assert.Equal(1, net.Threads);
        Agree(() => new FashionMlp(8, seed: 1) { Threads = 3 }, 2, Reference.RandomFloats(8 * FashionMlp.InputSize, 17), Labels(8, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.MinSamplesPerThread = 0);
    }

    [Fact]
    public void A_batch_is_split_only_into_shares_worth_a_thread()
    {
        // 64 x 101,770 parameters / 101,632 multiply-adds per sample, rounded up.
        var net = new FashionMlp(160, seed: 2) { Threads = 2 };
        Assert.Equal(65, net.MinSamplesPerThread);
        var single = new FashionMlp(160, seed: 2);
        float[] x = Reference.RandomFloats(160 * FashionMlp.InputSize, 19);
        int[] labels = Labels(160, 10);

        // 64 samples: one share (the bits of one thread); 160: two of 80 (agreeing to rounding).
        Assert.Equal(single.ComputeGradients(x.AsSpan(0, 64 * FashionMlp.InputSize), labels.AsSpan(0, 64)), net.ComputeGradients(x.AsSpan(0, 64 * FashionMlp.InputSize), labels.AsSpan(0, 64)));
        Assert.Equal(single.Gradients.ToArray(), net.Gradients.ToArray());
        float a = single.ComputeGradients(x, labels), b = net.ComputeGradients(x, labels);
        Assert.NotEqual(single.Gradients.ToArray(), net.Gradients.ToArray()); // split: summed in another order
        Assert.True(Math.Abs(a - b) <= Tolerance * Math.Abs(a));
        AssertClose(single.Gradients.ToArray(), net.Gradients.ToArray(), Tolerance, "gradients of a split batch");
    }

    // Forward writes over the activations LastOutputs reads (on one thread, split by samples or by units, each at a
    // batch size of its own): LastOutputs then refuses, rather than return what is left, until the next Evaluate.
    [Fact]
    public void After_a_Forward_LastOutputs_refuses_until_the_next_evaluation()
    {
        var single = new FashionMlp(160, seed: 2);
        var net = new FashionMlp(160, seed: 2) { Threads = 2 };
        float[] x = Reference.RandomFloats(160 * FashionMlp.InputSize, 22);
        int[] labels = Labels(160, 10);
        float[] outputs = new float[160 * FashionMlp.OutputSize];
        foreach ((FashionMlp network, int batch) in new[] { (single, 100), (net, 140), (net, 100) }) // one thread; 2 shares of 70; by units
        {
            network.Evaluate(x, labels);
            float[] evaluated = network.LastOutputs.ToArray();
            Span<float> forward = outputs.AsSpan(0, batch * FashionMlp.OutputSize);
            network.Forward(x.AsSpan(0, batch * FashionMlp.InputSize), forward);
            AssertClose(evaluated.AsSpan(0, forward.Length).ToArray(), forward.ToArray(), Tolerance, $"Forward's outputs, batch {batch}");
            var e = Assert.Throws<InvalidOperationException>(() => network.LastOutputs.ToArray());
            Assert.Contains("Forward has run since the last ComputeGradients or Evaluate", e.Message, StringComparison.Ordinal);
            network.Evaluate(x, labels);
            Assert.Equal(evaluated, network.LastOutputs.ToArray());
        }
    }

    // An inference context has activations of its own and no shares: its Forward runs on the calling thread,
    // whatever the network's Threads, with the outputs the network's split Forward gives (to rounding).
    [Fact]
    public void An_inference_context_of_a_network_on_two_threads_runs_on_the_calling_thread()
    {
        var net = new FashionMlp(160, seed: 2) { Threads = 2 };
        var context = net.CreateInferenceContext(160);
        float[] x = Reference.RandomFloats(160 * FashionMlp.InputSize, 23);
        float[] split = new float[160 * FashionMlp.OutputSize], alone = new float[split.Length];
        net.Forward(x, split);
        context.Forward(x, alone);
        AssertClose(split, alone, Tolerance, "the context's outputs");
    }

    [Fact]
    public void Fewer_shares_than_threads_get_arenas_large_enough()
    {
        // 4 threads of a 64-sample network hold 16 samples each; with at least 16 per share, 47 samples
        // go to 2 shares of 23 and 24.
        float[] x = Reference.RandomFloats(47 * FashionMlp.InputSize, 20);
        int[] labels = Labels(47, 10);
        var single = new FashionMlp(64, seed: 4);
        var net = new FashionMlp(64, seed: 4) { Threads = 4, MinSamplesPerThread = 16 };
        float a = single.ComputeGradients(x, labels), b = net.ComputeGradients(x, labels);
        Assert.True(Math.Abs(a - b) <= Tolerance * Math.Abs(a), $"{a} against {b}");
        AssertClose(single.Gradients.ToArray(), net.Gradients.ToArray(), Tolerance, "gradients");
        AssertClose(single.LastOutputs.ToArray(), net.LastOutputs.ToArray(), Tolerance, "outputs");
    }

    [Fact]
    public void A_shards_exception_reaches_the_caller_and_the_pool_keeps_working()
    {
        var work = new Throwing();
        var e = Assert.Throws<InvalidOperationException>(() => Workers.Shared.Run(work, 3));
        Assert.Equal("shard 1", e.Message);
        Assert.Equal(3, work.Ran);
        var net = new FashionMlp(8, seed: 1) { Threads = 2 };
        net.ComputeGradients(Reference.RandomFloats(8 * FashionMlp.InputSize, 18), Labels(8, 10));
    }

    [Fact]
    public void On_one_thread_every_shard_runs_before_a_shards_exception_reaches_the_caller()
    {
        // As on the pool: the caller running all the shards itself (one thread, or the pool busy) runs them all.
        var work = new Throwing();
        var e = Assert.Throws<InvalidOperationException>(() => Workers.Shared.Run(work, 3, threads: 1));
        Assert.Equal("shard 1", e.Message);
        Assert.Equal(3, work.Ran);
    }

    [Fact]
    public void More_shards_than_threads_each_run_once_per_run()
    {
        foreach ((int count, int threads) in new[] { (10, 2), (7, 3), (2, 5), (1000, 2) })
        {
            var work = new Recording(count);
            for (int run = 0; run < 20; run++)
            {
                Workers.Shared.Run(work, count, threads);
                Assert.All(work.Runs, r => Assert.Equal(run + 1, r)); // every shard once per run
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Workers.Shared.Run(new Recording(1), 0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Workers.Shared.Run(new Recording(1), 65_536, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Workers.Shared.Run(new Recording(1), 2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Workers.Shared.Run(new Recording(1), 2, Workers.MaxThreads + 1));
    }

    [Fact]
    public void The_trainer_sets_the_networks_thread_count()
    {
        var net = new FashionMlp(8, seed: 1);
        _ = new Trainer<int>(net, new Sgd(0.1f), new TrainerOptions { BatchSize = 8, Threads = 2 });
        Assert.Equal(2, net.Threads);
        _ = new Trainer<int>(net, new Sgd(0.1f), new TrainerOptions { BatchSize = 8 });
        Assert.Equal(2, net.Threads); // not set: the network's own count stays
    }

    private static int[] Labels(int count, int classes) => Enumerable.Range(0, count).Select(i => ((i * 7) + 3) % classes).ToArray();

    // Same seed, same data: one thread against `threads`, for ComputeGradients and Evaluate.
    private static void Agree<TInput, TTarget>(Func<ITrainableNetwork<TInput, TTarget>> create, int threads, TInput[] inputs, TTarget[] targets)
        where TInput : unmanaged
        where TTarget : unmanaged
    {
        ITrainableNetwork<TInput, TTarget> one = create();
        one.Threads = 1;
        ITrainableNetwork<TInput, TTarget> many = create();
        many.Threads = threads;
        many.MinSamplesPerThread = 1; // split even these small batches
        for (int call = 0; call < 2; call++) // twice: the second draws dropout masks after the first's
        {
            float a = one.ComputeGradients(inputs, targets), b = many.ComputeGradients(inputs, targets);
            Assert.True(Math.Abs(a - b) <= Tolerance * Math.Max(1, Math.Abs(a)), $"loss {a} on one thread, {b} on {threads}");
            AssertClose(one.Gradients.ToArray(), many.Gradients.ToArray(), Tolerance, "gradients");
            AssertClose(one.State.ToArray(), many.State.ToArray(), Tolerance, "state");
            AssertClose(one.LastOutputs.ToArray(), many.LastOutputs.ToArray(), Tolerance, "outputs");
        }

        float e1 = one.Evaluate(inputs, targets), e2 = many.Evaluate(inputs, targets);
        Assert.True(Math.Abs(e1 - e2) <= Tolerance * Math.Max(1, Math.Abs(e1)), $"evaluation loss {e1} on one thread, {e2} on {threads}");
        AssertClose(one.LastOutputs.ToArray(), many.LastOutputs.ToArray(), Tolerance, "evaluation outputs");

        // Forward splits the batch as Evaluate does: the same outputs as one thread's, and as the evaluation's.
        float[] evaluated = many.LastOutputs.ToArray();
        float[] f1 = new float[evaluated.Length], f2 = new float[evaluated.Length];
        one.Forward(inputs, f1);
        many.Forward(inputs, f2);
        AssertClose(f1, f2, Tolerance, "Forward's outputs");
        AssertClose(evaluated, f2, Tolerance, "Forward's outputs against the evaluation's");
    }

    // Relative to the largest value, not to each (Reference.AssertClose's atol + rtol·|expected|): two
    // thread counts add the same terms in another order, so an element that cancels to near 0 may
    // differ by rounding of the size of its terms, and the 1e-6 is relative to the result's scale.
    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Length == 0 ? 1 : expected.Max(v => Math.Abs((double)v));
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)expected[i] - actual[i]);
            Assert.True(error <= tolerance * Math.Max(scale, 1e-30), $"{what}[{i}]: {expected[i]} against {actual[i]} (largest {scale})");
        }
    }

    private sealed class Recording : IShardedWork
    {
        private readonly int[] _runs;

        public Recording(int count) => _runs = new int[count];

        public int[] Runs => _runs;

        public void RunShard(int shard) => Interlocked.Increment(ref _runs[shard]);
    }

    private sealed class Throwing : IShardedWork
    {
        private int _ran;

        public int Ran => _ran;

        public void RunShard(int shard)
        {
            Interlocked.Increment(ref _ran);
            if (shard == 1)
            {
                throw new InvalidOperationException("shard 1");
            }
        }
    }
}
