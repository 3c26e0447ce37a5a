namespace NetGen.Tests;

/// <summary>
/// ComputeGradients starts the gradients afresh without a separate pass to clear them: the layers
/// that can write their parameters' gradients do, the others' are cleared first. Whatever the
/// gradients held before (NaN here), the result is the same bits; AccumulateGradients still adds.
/// </summary>
public class FreshGradientTests
{
    private static void Same<TNet>(Func<TNet> create, Action<TNet> step, int threads)
        where TNet : INetwork
    {
        TNet clean = create(), dirty = create();
        foreach (TNet net in new[] { clean, dirty })
        {
            if (net is ITrainableNetwork<float, int> a)
            {
                (a.Threads, a.MinSamplesPerThread) = (threads, 1);
            }
            else if (net is ITrainableNetwork<float, float> b)
            {
                (b.Threads, b.MinSamplesPerThread) = (threads, 1);
            }
            else if (net is ITrainableNetwork<int, int> c)
            {
                (c.Threads, c.MinSamplesPerThread) = (threads, 1);
            }
        }

        // Twice: the second time, every buffer (the shards' own too) holds the first step's values.
        for (int round = 0; round < 2; round++)
        {
            dirty.Gradients.Fill(float.NaN);
            clean.RandomSource.Reset(5 + round);
            dirty.RandomSource.Reset(5 + round);
            step(clean);
            step(dirty);
            Assert.Equal(clean.Gradients.ToArray(), dirty.Gradients.ToArray());
            Assert.DoesNotContain(dirty.Gradients.ToArray(), float.IsNaN);
        }
    }

    public static TheoryData<int> Threads => new() { 1, 2 };

    [Theory]
    [MemberData(nameof(Threads))]
    public void Whatever_the_gradients_held_ComputeGradients_gives_the_same_bits(int threads)
    {
        float[] x6 = Reference.RandomFloats(8 * 6, 1);
        int[] y4 = Enumerable.Range(0, 8).Select(i => i % 4).ToArray();
        // Dense layers that write, BatchNorm that adds, Dense with L1/L2 penalties added before backward, dropout.
        Same(() => new RegularizedNet(8, seed: 1), net => net.ComputeGradients(x6, y4), threads);
        Same(() => new ThreeLayerNet(8, seed: 1), net => net.ComputeGradients(Reference.RandomFloats(8 * 5, 2), y4), threads);
        Same(() => new ResidualCnn(8, seed: 1), net => net.ComputeGradients(Reference.RandomFloats(8 * ResidualCnn.InputSize, 3), y4.Select(v => v % ResidualCnn.OutputSize).ToArray()), threads);
        int[] tokens = Enumerable.Range(0, 4 * TinyGpt.InputSize).Select(i => ((i * 5) + 1) % TinyGpt.Vocabulary).ToArray();
        // The tied output layer adds to the embedding's gradient, which the embedding scatters into.
        Same(() => new TinyGpt(4, seed: 1), net => net.ComputeGradients(tokens, tokens.Select(t => (t + 1) % TinyGpt.Vocabulary).ToArray()), threads);
    }

    [Theory]
    [MemberData(nameof(Threads))]
    public void AccumulateGradients_still_adds_and_ComputeGradients_equals_clearing_then_adding(int threads)
    {
        // Writing a fresh gradient gives the bits of adding it to zeros (0 + x is x), so
        // ComputeGradients then AccumulateGradients equals ZeroGrad then AccumulateGradients twice.
        var written = new ThreeLayerNet(8, seed: 1) { Threads = threads, MinSamplesPerThread = 1 };
        var added = new ThreeLayerNet(8, seed: 1) { Threads = threads, MinSamplesPerThread = 1 };
        float[] x = Reference.RandomFloats(8 * ThreeLayerNet.InputSize, 4);
        float[] x2 = Reference.RandomFloats(8 * ThreeLayerNet.InputSize, 6);
        int[] y = Enumerable.Range(0, 8).Select(i => i % 4).ToArray();
        written.ComputeGradients(x, y);
        float[] once = written.Gradients.ToArray();
        written.AccumulateGradients(x2, y);
        added.ZeroGrad();
        added.AccumulateGradients(x, y);
        Assert.Equal(once, added.Gradients.ToArray());
        added.AccumulateGradients(x2, y);
        Assert.Equal(added.Gradients.ToArray(), written.Gradients.ToArray());
        Assert.NotEqual(once, written.Gradients.ToArray()); // the second batch was added
    }
}
