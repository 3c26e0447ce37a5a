namespace NetGen.Tests;

/// <summary>Wrong lengths, oversize batches and bad labels are refused, naming the argument, before anything is written.</summary>
public class BadInputTests
{
    private static (FashionMlp Net, float[] Parameters) Create()
    {
        var net = new FashionMlp(maxBatchSize: 4, seed: 1);
        return (net, net.Parameters.ToArray());
    }

    [Fact]
    public void Inputs_that_are_not_whole_samples_are_refused()
    {
        var (net, _) = Create();
        var e = Assert.Throws<ArgumentException>(() => net.Forward(new float[785], new float[10]));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains("785", e.Message);
        Assert.Contains("784", e.Message);
        e = Assert.Throws<ArgumentException>(() => net.Forward(ReadOnlySpan<float>.Empty, new float[10]));
        Assert.Equal("inputs", e.ParamName);
    }

    [Fact]
    public void A_maxBatchSize_whose_buffers_cannot_exist_is_refused_naming_it()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FashionMlp(maxBatchSize: 3_000_000));
        Assert.Equal("maxBatchSize", e.ParamName);
        Assert.Contains("activations per sample would need", e.Message);
        Assert.Contains("use at most", e.Message);
    }

    [Fact]
    public void Batches_larger_than_maxBatchSize_are_refused()
    {
        var (net, parameters) = Create();
        var e = Assert.Throws<ArgumentException>(() => net.TrainStep(new float[5 * 784], new int[5], new Sgd(0.1f)));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains("at most 4", e.Message);
        Assert.Equal(parameters, net.Parameters.ToArray());
    }

    [Fact]
    public void Outputs_of_the_wrong_length_are_refused()
    {
        var (net, _) = Create();
        var e = Assert.Throws<ArgumentException>(() => net.Forward(new float[2 * 784], new float[10]));
        Assert.Equal("outputs", e.ParamName);
        Assert.Contains("20 were expected", e.Message);
    }

    [Fact]
    public void Labels_of_the_wrong_count_or_out_of_range_are_refused_and_nothing_changes()
    {
        var (net, parameters) = Create();
        var sgd = new Sgd(0.1f);
        net.ComputeGradients(new float[784], new[] { 3 });
        float[] gradients = net.Gradients.ToArray();

        var e = Assert.Throws<ArgumentException>(() => net.TrainStep(new float[2 * 784], new[] { 1 }, sgd));
        Assert.Equal("labels", e.ParamName);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => net.TrainStep(new float[2 * 784], new[] { 1, 10 }, sgd));
        Assert.Equal("labels", range.ParamName);
        Assert.Contains("[0, 10)", range.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.ComputeGradients(new float[784], new[] { -1 }));

        Assert.Equal(parameters, net.Parameters.ToArray());
        Assert.Equal(gradients, net.Gradients.ToArray());
    }

    [Fact]
    public void Targets_of_the_wrong_length_are_refused()
    {
        var net = new RegressionNet(maxBatchSize: 2, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => net.ComputeGradients(new float[2 * 6], new float[3]));
        Assert.Equal("targets", e.ParamName);
        Assert.Contains("6 were expected", e.Message);
    }

    [Fact]
    public void A_null_optimizer_and_a_non_positive_batch_size_are_refused()
    {
        var (net, parameters) = Create();
        Assert.Throws<ArgumentNullException>(() => net.TrainStep(new float[784], new[] { 1 }, null!));
        Assert.Equal(parameters, net.Parameters.ToArray());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FashionMlp(maxBatchSize: 0));
        Assert.Equal("maxBatchSize", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-0.1f));
        Assert.Throws<ArgumentException>(() => new Sgd(0.1f).Step(new float[3], new float[2]));
    }
}
