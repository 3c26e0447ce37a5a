namespace NetGen.Tests;

[Network]
[Input(4)]
[Dense(6, Activation = Activation.ReLU)]
[Dense(4)]
[MeanSquaredError]
public partial class EchoNet;

[Network]
[Input(2)]
[Dense(8)]
[MeanSquaredError]
public partial class WideningNet;

/// <summary>
/// A first Dense or Conv2D layer reads the caller's inputs where they lie instead of a copy in the
/// arena. Inputs that lie in the network's own buffers (its LastOutputs, its Gradients), which the
/// step writes before the backward pass reads the input again, are copied first: the step gives the
/// bits it gives for the same values in an array of their own. On 2 threads (the batch split into
/// two shards) the shards read their rows in place, pinned (<see cref="PinnedInput"/>), or, from the
/// network's own buffers, copied into their arenas.
/// </summary>
public class CallerInputTests
{
    private const int Batch = 8;

    private static (EchoNet Net, EchoNet Twin) Pair(int threads)
    {
        EchoNet net = new(Batch, seed: 3) { Threads = threads, MinSamplesPerThread = 1 }, twin = new(Batch, seed: 3) { Threads = threads, MinSamplesPerThread = 1 };
        float[] x = Reference.RandomFloats(Batch * EchoNet.InputSize, 1);
        float[] t = Reference.RandomFloats(Batch * EchoNet.OutputSize, 2);
        net.ComputeGradients(x, t);
        twin.ComputeGradients(x, t);
        return (net, twin);
    }

    private static void AssertSame(EchoNet net, EchoNet twin, float loss, float twinLoss)
    {
        Assert.Equal(twinLoss, loss);
        Assert.Equal(twin.Parameters.ToArray(), net.Parameters.ToArray());
        Assert.Equal(twin.Gradients.ToArray(), net.Gradients.ToArray());
        Assert.Equal(twin.LastOutputs.ToArray(), net.LastOutputs.ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Inputs_in_the_networks_own_outputs_train_as_a_copy_of_them_does(int threads)
    {
        // The outputs lie where the second Dense writes, after the first has read the input and before its backward reads it again.
        (EchoNet net, EchoNet twin) = Pair(threads);
        float[] t = Reference.RandomFloats(Batch * EchoNet.OutputSize, 4);
        float[] copy = twin.LastOutputs.ToArray();
        float twinLoss = twin.TrainStep(copy, t, new Sgd(0.1f));
        float loss = net.TrainStep(net.LastOutputs, t, new Sgd(0.1f));
        AssertSame(net, twin, loss, twinLoss);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Inputs_in_the_networks_own_gradients_give_the_gradients_a_copy_of_them_gives(int threads)
    {
        // The first 32 gradients: the first Dense's weight and bias and two of the second's, written by the backward pass.
        (EchoNet net, EchoNet twin) = Pair(threads);
        float[] t = Reference.RandomFloats(Batch * EchoNet.OutputSize, 5);
        float[] copy = twin.Gradients[..(Batch * EchoNet.InputSize)].ToArray();
        float twinLoss = twin.ComputeGradients(copy, t);
        float loss = net.ComputeGradients(net.Gradients[..(Batch * EchoNet.InputSize)], t);
        AssertSame(net, twin, loss, twinLoss);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Evaluate_and_Forward_read_inputs_in_the_networks_own_outputs_as_a_copy(int threads)
    {
        (EchoNet net, EchoNet twin) = Pair(threads);
        float[] t = Reference.RandomFloats(Batch * EchoNet.OutputSize, 6);
        float[] copy = twin.LastOutputs.ToArray();
        Assert.Equal(twin.Evaluate(copy, t), net.Evaluate(net.LastOutputs, t));
        Assert.Equal(twin.LastOutputs.ToArray(), net.LastOutputs.ToArray());
        float[] expected = new float[Batch * EchoNet.OutputSize], actual = new float[Batch * EchoNet.OutputSize];
        twin.Forward(twin.LastOutputs.ToArray(), expected);
        net.Forward(net.LastOutputs, actual);
        Assert.Equal(expected, actual);
    }

    // A split batch's outputs, gathered for LastOutputs where a split Forward writes its shards' outputs, read
    // as the inputs of twice as many samples (2 values a sample, 8 outputs): copied before the shards run, or
    // the first shard's outputs would overwrite the rows the second has yet to read.
    [Fact]
    public void Forward_reads_inputs_in_a_split_batchs_gathered_outputs_as_a_copy()
    {
        WideningNet net = new(32, seed: 3) { Threads = 2, MinSamplesPerThread = 1 }, twin = new(32, seed: 3) { Threads = 2, MinSamplesPerThread = 1 };
        float[] x = Reference.RandomFloats(4 * WideningNet.InputSize, 7);
        float[] t = Reference.RandomFloats(4 * WideningNet.OutputSize, 8);
        twin.Evaluate(x, t);
        float[] expected = new float[16 * WideningNet.OutputSize], actual = new float[16 * WideningNet.OutputSize];
        twin.Forward(twin.LastOutputs.ToArray(), expected);
        for (int call = 0; call < 20; call++) // the first shard often runs before the second starts, not always
        {
            net.Evaluate(x, t);
            ReadOnlySpan<float> gathered = net.LastOutputs; // 4 samples' 32 outputs: 16 samples' inputs
            Assert.Equal(16 * WideningNet.InputSize, gathered.Length);
            net.Forward(gathered, actual);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void PinnedInput_refuses_what_it_cannot_pin_and_slices_only_within_it()
    {
        Assert.Throws<ArgumentNullException>(() => PinnedInput.Run(new float[1], null!));
        Assert.Throws<ArgumentException>(() => PinnedInput.Run(ReadOnlySpan<float>.Empty, new Slicer(0, 1)));
        Assert.Equal(3f, PinnedInput.Run(new float[] { 1, 2, 3, 4 }, new Slicer(2, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => PinnedInput.Run(new float[] { 1, 2, 3, 4 }, new Slicer(2, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => PinnedInput.Run(new float[] { 1, 2, 3, 4 }, new Slicer(-1, 1)));
        Assert.Equal(0, default(PinnedInput).Length);
    }

    private sealed class Slicer(int start, int length) : IPinnedWork
    {
        public float RunPinned(PinnedInput inputs) => inputs.Slice(start, length)[0];
    }
}
