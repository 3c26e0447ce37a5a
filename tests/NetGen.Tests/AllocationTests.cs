using NetGen.Training;

namespace NetGen.Tests;

/// <summary>
/// After one warm-up call, inference and training allocate nothing: exactly zero bytes.
/// These tests run alone (no other test in parallel): a garbage collection caused by another
/// thread retires this thread's allocation context, and the unused rest of it (up to 8 KB)
/// then counts as allocated, which made a test here fail now and then.
/// </summary>
[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    // The warm-up before a measurement: the JIT, static initialisation, and a second of steps, so that tiered
    // compilation has promoted what the steps call and stopped counting calls. Until then the runtime suspends the
    // threads now and then to swap code, which retires this thread's allocation context and counts its unused rest as
    // allocated, as a collection does: 7,472 bytes on the split-thread test after three steps of warm-up (2 to 4 of 32
    // runs in session 11, none of 32 with tiered compilation off); in session 12 two single-thread tests after one and
    // three steps, once each in full parallel runs (1,144 bytes once), none in 16 runs of these tests alone.
    private static void WarmUp(Action step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 3 || clock.ElapsedMilliseconds < 1000; i++)
        {
            step();
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32)]
    public void Forward_ComputeGradients_and_TrainStep_allocate_nothing(int batch)
    {
        var net = new FashionMlp(maxBatchSize: 32, seed: 1);
        var sgd = new Sgd(0.01f);
        float[] x = Reference.RandomFloats(batch * FashionMlp.InputSize, 1);
        int[] labels = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        var y = new float[batch * FashionMlp.OutputSize];

        WarmUp(() =>
        {
            net.Forward(x, y);
            net.ComputeGradients(x, labels);
            net.TrainStep(x, labels, sgd);
        });

        long before = GC.GetAllocatedBytesForCurrentThread();
        net.Forward(x, y);
        long afterForward = GC.GetAllocatedBytesForCurrentThread();
        net.ComputeGradients(x, labels);
        long afterGradients = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            net.TrainStep(x, labels, sgd);
        }

        long afterTraining = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, afterForward - before);
        Assert.Equal(0, afterGradients - afterForward);
        Assert.Equal(0, afterTraining - afterGradients);
    }

    [Fact]
    public void Adam_at_batch_1_and_a_convolution_backward_on_its_padded_input_allocate_nothing()
    {
        // Adam makes its deferred weight gradient's rows where it applies them (Optimizer.UpdateDeferredRows); the
        // weight gradient of a 16 -> 32 stride-1 convolution comes from its padded input (ConvKernels.WeightGradient.cs,
        // where 512-bit vectors are accelerated): both keep their buffers per thread after their first call.
        var net = new FashionMlp(maxBatchSize: 1, seed: 1);
        var adam = new Adam(1e-3f);
        float[] x = Reference.RandomFloats(FashionMlp.InputSize, 1);
        int[] label = { 3 };
        var g = new Window2D(16, 14, 14, 3, 3, 1, 1, 1, 1, 14, 14);
        const int batch = 2, filters = 32;
        float[] input = Reference.RandomFloats(batch * g.InputSize, 2), weight = Reference.RandomFloats(filters * g.PatchSize, 3);
        float[] output = new float[batch * filters * g.Positions], dInput = new float[input.Length], dWeight = new float[weight.Length];
        float[] columns = new float[g.PatchSize * (g.Positions + filters)];
        void Convolution()
        {
            ConvKernels.Conv2DForward(output, columns, input, weight, default, batch, filters, g);
            ConvKernels.Conv2DBackward(dInput, dWeight, default, columns, output, input, weight, batch, filters, g);
        }

        WarmUp(() =>
        {
            net.TrainStep(x, label, adam);
            Convolution();
        });

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            net.TrainStep(x, label, adam);
        }

        long afterAdam = GC.GetAllocatedBytesForCurrentThread();
        Convolution();
        long afterConvolution = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, afterAdam - before);
        Assert.Equal(0, afterConvolution - afterAdam);
    }

    [Fact]
    public void Training_split_across_threads_allocates_nothing_on_any_thread()
    {
        var mlp = new FashionMlp(32, seed: 1) { Threads = 2, MinSamplesPerThread = 1 };
        var regularized = new RegularizedNet(16, seed: 1) { Threads = 3, MinSamplesPerThread = 1 };
        var products = new FashionMlp(32, seed: 1) { Threads = 2 }; // too few samples to split: split by its units, and its step,
        var adam = new Adam(0.001f);
        var sgd = new Sgd(0.01f);
        var momentum = new Sgd(0.01f, momentum: 0.9f);
        float[] x1 = Reference.RandomFloats(32 * FashionMlp.InputSize, 1), x2 = Reference.RandomFloats(16 * RegularizedNet.InputSize, 2);
        int[] labels = Enumerable.Range(0, 32).Select(i => i % 4).ToArray();
        float[] outputs1 = new float[32 * FashionMlp.OutputSize], outputs2 = new float[16 * RegularizedNet.OutputSize];
        void Step()
        {
            mlp.TrainStep(x1, labels, adam);
            products.TrainStep(x1, labels, momentum);
            regularized.TrainStep(x2, labels.AsSpan(0, 16), sgd);
            regularized.Evaluate(x2, labels.AsSpan(0, 16));
            _ = regularized.LastOutputs;
            mlp.Forward(x1, outputs1); // split as the batch is: its shards read the inputs pinned
            products.Forward(x1, outputs1); // split by units
            regularized.Forward(x2, outputs2);
        }

        WarmUp(Step); // and the worker threads' start

        // Every thread's own count: this one's and each pool thread's, read on it by a probe that holds
        // every pool thread (any of them may have run a shard) and this one at once. The process total
        // would count the test runner's threads too. Both probes are made first: what is allocated after
        // a reading counts in the next one. A garbage collection started by another thread meanwhile
        // retires this thread's allocation context and counts its unused rest (up to 8 KB) as allocated:
        // a measurement during which one ran is taken again (at most twice); real allocations show in all.
        int threads = Workers.Shared.StartedThreads + 1;
        for (int attempt = 1; ; attempt++)
        {
            var first = new ThreadProbe(threads);
            var second = new ThreadProbe(threads);
            int collections = GC.CollectionCount(0);
            Dictionary<int, long> before = first.Read();
            for (int i = 0; i < 10; i++)
            {
                Step();
            }

            Dictionary<int, long> after = second.Read();
            Assert.Equal(threads, before.Count);
            bool same = before.All(pair => after[pair.Key] == pair.Value);
            if (same || attempt == 3 || GC.CollectionCount(0) == collections)
            {
                foreach ((int thread, long bytes) in before)
                {
                    Assert.Equal(bytes, after[thread]);
                }

                return;
            }
        }
    }

    // Runs `count` shards that wait for each other, so that each runs on a thread of its own, and
    // returns each thread's allocated bytes, by managed thread id (the probe itself allocates after reading).
    private sealed class ThreadProbe : IShardedWork
    {
        private readonly long[] _bytes;
        private readonly int[] _threads;
        private readonly Dictionary<int, long> _result;
        private int _arrived;

        public ThreadProbe(int count)
        {
            _bytes = new long[count];
            _threads = new int[count];
            _result = new Dictionary<int, long>(count);
        }

        public Dictionary<int, long> Read()
        {
            Workers.Shared.Run(this, _bytes.Length);
            for (int s = 0; s < _bytes.Length; s++)
            {
                _result[_threads[s]] = _bytes[s];
            }

            return _result;
        }

        public void RunShard(int shard)
        {
            _bytes[shard] = GC.GetAllocatedBytesForCurrentThread();
            _threads[shard] = Environment.CurrentManagedThreadId;
            Interlocked.Increment(ref _arrived);
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _arrived) < _bytes.Length && System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds < 10)
            {
                Thread.SpinWait(100);
            }
        }
    }

    [Fact]
    public void Convolutional_networks_train_and_infer_without_allocating()
    {
        var cnn = new SmallCnn(8, seed: 1);
        var gap = new GapCnn(8, seed: 1);
        var stem = new StemCnn(8, seed: 1);
        var split = new StemCnn(8, seed: 1) { Threads = 2, MinSamplesPerThread = 1 }; // this thread's part of a split step
        var stemSgd = new Sgd(0.01f);
        var splitAdam = new Adam(0.01f);
        var adam = new Adam(0.01f);
        var sgd = new Sgd(0.01f, momentum: 0.9f);
        float[] x1 = Reference.RandomFloats(8 * SmallCnn.InputSize, 1), x2 = Reference.RandomFloats(8 * GapCnn.InputSize, 2);
        float[] t2 = Reference.RandomFloats(8 * GapCnn.OutputSize, 3);
        int[] labels = Enumerable.Range(0, 8).Select(i => i % 3).ToArray();
        var out1 = new float[8 * SmallCnn.OutputSize];
        float[] x3 = Reference.RandomFloats(8 * StemCnn.InputSize, 4), out3 = new float[8 * StemCnn.OutputSize];
        void Step()
        {
            cnn.TrainStep(x1, labels, adam);
            gap.TrainStep(x2, t2, sgd);
            cnn.Forward(x1, out1);
            stem.TrainStep(x3, labels, stemSgd);
            split.TrainStep(x3, labels, splitAdam);
            stem.Forward(x3, out3);
        }

        WarmUp(Step);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Residual_networks_train_and_infer_without_allocating()
    {
        var cnn = new ResidualCnn(8, seed: 1);
        var mlp = new RepeatedUnitsNet(8, seed: 1);
        var adam = new Adam(0.01f);
        var sgd = new Sgd(0.01f);
        float[] x1 = Reference.RandomFloats(8 * ResidualCnn.InputSize, 1), x2 = Reference.RandomFloats(8 * RepeatedUnitsNet.InputSize, 2);
        float[] t2 = Reference.RandomFloats(8 * RepeatedUnitsNet.OutputSize, 3).Select(v => v > 0 ? 1f : 0f).ToArray();
        int[] labels = Enumerable.Range(0, 8).Select(i => i % 3).ToArray();
        var out1 = new float[8 * ResidualCnn.OutputSize];
        void Step()
        {
            cnn.TrainStep(x1, labels, adam);
            mlp.TrainStep(x2, t2, sgd);
            cnn.Forward(x1, out1);
        }

        WarmUp(Step);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Augmenting_a_batch_allocates_nothing()
    {
        var augmentation = new NetGen.Training.RandomFlipAndShift(1, 28, 28);
        var random = new SeededRandom(1);
        float[] batch = Reference.RandomFloats(16 * 784, 1);
        augmentation.Apply(batch, 16, random);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            augmentation.Apply(batch, 16, random);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Every_activation_and_loss_kind_trains_without_allocating()
    {
        var regression = new RegressionNet(8, seed: 2);
        var sequence = new SequenceNet(8, seed: 2);
        var softmaxOut = new SoftmaxOutputNet(8, seed: 2);
        // Learning rate 0: the same arithmetic and the same code paths, and parameters that stay put through the
        // second of warm-up (at 0.01 the binary cross-entropy on these random targets, some outside [0, 1], reached -∞).
        Sgd sgd1 = new(0f), sgd2 = new(0f), sgd3 = new(0f, momentum: 0.9f);
        float[] x1 = Reference.RandomFloats(8 * RegressionNet.InputSize, 1), t1 = Reference.RandomFloats(8 * RegressionNet.OutputSize, 2);
        float[] x2 = Reference.RandomFloats(8 * SequenceNet.InputSize, 3), t2 = Reference.RandomFloats(8 * SequenceNet.OutputSize, 4);
        float[] x3 = Reference.RandomFloats(8 * SoftmaxOutputNet.InputSize, 5), t3 = Reference.RandomFloats(8 * SoftmaxOutputNet.OutputSize, 6);
        void Step()
        {
            regression.TrainStep(x1, t1, sgd1);
            sequence.TrainStep(x2, t2, sgd2);
            softmaxOut.TrainStep(x3, t3, sgd3);
        }

        WarmUp(Step);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [MemberData(nameof(OptimizerTests.Cases), MemberType = typeof(OptimizerTests))]
    public void A_step_allocates_nothing_after_binding(string name)
    {
        var (optimizer, _) = OptimizerTests.Create(name);
        var p = new float[1000];
        var g = Reference.RandomFloats(1000, 3);
        ((Optimizer)optimizer).Bind(p.Length);
        optimizer.Step(p, g);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            optimizer.Step(p, g);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
    [Fact]
    public void Training_with_dropout_and_batchnorm_allocates_nothing()
    {
        var net = new RegularizedNet(16, seed: 1);
        var adam = new Adam(0.01f);
        float[] x = Reference.RandomFloats(16 * RegularizedNet.InputSize, 1);
        int[] labels = Enumerable.Range(0, 16).Select(i => i % 4).ToArray();
        var outputs = new float[16 * RegularizedNet.OutputSize];
        WarmUp(() =>
        {
            net.TrainStep(x, labels, adam);
            net.Evaluate(x, labels);
            net.Forward(x, outputs);
        });
        long before = GC.GetAllocatedBytesForCurrentThread();
        net.TrainStep(x, labels, adam);
        net.Evaluate(x, labels);
        net.Forward(x, outputs);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
    [Fact]
    public void Nothing_is_allocated_per_batch()
    {
        // Allocation per extra epoch must not depend on how many batches an epoch has.
        long PerExtraEpochs(int samples)
        {
            long Allocated(int epochs)
            {
                var net = new ThreeLayerNet(8, seed: 1);
                var trainer = new Trainer<int>(net, new Adam(0.01f), new TrainerOptions { BatchSize = 8, Epochs = epochs });
                DataSet<int> data = TrainerTests.Blobs(samples, 1);
                trainer.Fit(data); // warm-up of the code paths
                trainer = new Trainer<int>(net, new Adam(0.01f), new TrainerOptions { BatchSize = 8, Epochs = epochs });
                long before = GC.GetAllocatedBytesForCurrentThread();
                trainer.Fit(data);
                return GC.GetAllocatedBytesForCurrentThread() - before;
            }

            return Allocated(4) - Allocated(2);
        }

        Assert.Equal(PerExtraEpochs(16), PerExtraEpochs(800));
    }

    [Fact]
    public void A_gpt_trains_with_adamw_and_generates_without_allocating()
    {
        var gpt = new TinyGpt(4, seed: 50);
        var adamw = new AdamW(1e-3f, weightDecay: 0.1f);
        int[] tokens = Enumerable.Range(0, 4 * TinyGpt.InputSize).Select(i => (i * 7) % TinyGpt.Vocabulary).ToArray();
        int[] targets = tokens.Select(t => (t + 1) % TinyGpt.Vocabulary).ToArray();
        WarmUp(() =>
        {
            gpt.TrainStep(tokens, targets, adamw);
            gpt.AccumulateGradients(tokens, targets);
        });

        long start = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            gpt.TrainStep(tokens, targets, adamw);
            gpt.AccumulateGradients(tokens, targets);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - start);

        var net = new TinyGpt(1, seed: 53);
        var sampler = new TokenSampler(TinyGpt.Vocabulary, temperature: 0.8f, topK: 4, seed: 1);
        var output = new int[12];
        net.Generate(new[] { 1, 2 }, output, sampler);
        var logits = new float[TinyGpt.Vocabulary];
        int[] prompt = { 3 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        net.Generate(prompt, output, sampler);
        net.Append(5, logits);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(before, after);
    }
}

// Allocation tests run alone: another test's garbage collection retires this thread's allocation
// context and counts its unused rest as allocated here.
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationCollection
{
}
