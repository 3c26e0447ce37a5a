namespace NetGen.Tests;

/// <summary>Concurrent inference through contexts, and concurrent misuse of one network made loud.</summary>
public class ConcurrencyTests
{
    [Fact]
    public void Inference_contexts_on_several_threads_give_the_single_threaded_results()
    {
        var net = new FashionMlp(8, seed: 1);
        float[] x = Reference.RandomFloats(8 * FashionMlp.InputSize, 2);
        var expected = new float[8 * FashionMlp.OutputSize];
        net.Forward(x, expected);
        int wrong = 0;
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            FashionMlp.InferenceContext context = net.CreateInferenceContext(8);
            var y = new float[8 * FashionMlp.OutputSize];
            for (int i = 0; i < 500; i++)
            {
                context.Forward(x, y);
                if (!y.AsSpan().SequenceEqual(expected))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        });
        Assert.Equal(0, wrong);
    }

    [Fact]
    public void A_context_shares_the_parameters_training_changes()
    {
        var net = new ThreeLayerNet(4, seed: 1);
        ThreeLayerNet.InferenceContext context = net.CreateInferenceContext(2);
        float[] x = Reference.RandomFloats(2 * ThreeLayerNet.InputSize, 3);
        var before = new float[2 * ThreeLayerNet.OutputSize];
        context.Forward(x, before);
        net.TrainStep(x, new[] { 1, 2 }, new Sgd(0.5f));
        var after = new float[2 * ThreeLayerNet.OutputSize];
        var direct = new float[2 * ThreeLayerNet.OutputSize];
        context.Forward(x, after);
        net.Forward(x, direct);
        Assert.NotEqual(before, after);
        Assert.Equal(direct, after);
        Assert.Throws<ArgumentException>(() => context.Forward(Reference.RandomFloats(3 * ThreeLayerNet.InputSize, 4), new float[3 * ThreeLayerNet.OutputSize]));
    }

    [Fact]
    public void Two_threads_in_one_network_get_an_exception_never_a_wrong_result()
    {
        var net = new FashionMlp(8, seed: 1);
        float[] x = Reference.RandomFloats(8 * FashionMlp.InputSize, 2);
        var expected = new float[8 * FashionMlp.OutputSize];
        net.Forward(x, expected);
        int wrong = 0, refused = 0;
        using var start = new Barrier(2);
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, _ =>
        {
            var y = new float[8 * FashionMlp.OutputSize];
            start.SignalAndWait();
            for (int i = 0; i < 3000; i++)
            {
                try
                {
                    net.Forward(x, y);
                }
                catch (InvalidOperationException e) when (e.Message.StartsWith("FashionMlp.Forward was called while", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref refused);
                    continue;
                }

                if (!y.AsSpan().SequenceEqual(expected))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        });
        Assert.Equal(0, wrong); // before the guard: most results were wrong when the calls overlapped
    }

    [Fact]
    public void The_guard_refuses_a_second_entry_and_reopens_when_the_first_leaves()
    {
        var guard = new ConcurrentUseGuard();
        using (guard.Enter("Forward", "Net"))
        {
            var e = Assert.Throws<InvalidOperationException>(() => guard.Enter("TrainStep", "Net"));
            Assert.StartsWith("Net.TrainStep was called while Forward is running on this network on another thread.", e.Message);
        }

        using (guard.Enter("TrainStep", "Net"))
        {
        }
    }
}
