using NetGen.Training;

namespace NetGen.Tests;

public class TrainerTests
{
    /// <summary>Four Gaussian blobs in 5 dimensions, one per class of ThreeLayerNet.</summary>
    internal static DataSet<int> Blobs(int count, int seed)
    {
        var random = new SeededRandom(seed);
        var x = new float[count * ThreeLayerNet.InputSize];
        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = random.NextInt(4);
            for (int d = 0; d < ThreeLayerNet.InputSize; d++)
            {
                float centre = d == y[i] ? 2f : (d == 4 && y[i] == 3 ? -2f : 0f);
                x[(i * ThreeLayerNet.InputSize) + d] = centre + (0.5f * random.NextNormal());
            }
        }

        return new DataSet<int>(x, y, ThreeLayerNet.InputSize);
    }

    [Fact]
    public void Progress_inside_an_epoch_reports_every_batch_with_an_interval_of_zero()
    {
        var reports = new List<BatchReport>();
        var net = new ThreeLayerNet(16, seed: 1);
        var trainer = new Trainer<int>(net, new Adam(0.01f), new TrainerOptions
        {
            BatchSize = 16, Epochs = 2, Seed = 3,
            BatchProgress = new SynchronousProgress<BatchReport>(reports.Add),
            BatchProgressInterval = TimeSpan.Zero,
        });
        IReadOnlyList<EpochReport> epochs = trainer.Fit(Blobs(40, seed: 9));
        Assert.Equal(new[] { 1, 2, 3, 1, 2, 3 }, reports.Select(r => r.Batch));
        Assert.All(reports, r => Assert.Equal(3, r.Batches));
        Assert.Equal(new[] { 1, 1, 1, 2, 2, 2 }, reports.Select(r => r.Epoch));
        Assert.Equal(epochs[0].TrainLoss, reports[2].TrainLoss, 12); // the last report of an epoch is its mean loss
        Assert.Equal(TimeSpan.Zero, reports[2].EpochRemaining);

        // The default interval (1 s) reports the last batch of each epoch at least.
        var sparse = new List<BatchReport>();
        var other = new Trainer<int>(new ThreeLayerNet(16, seed: 1), new Adam(0.01f), new TrainerOptions { BatchSize = 16, Epochs = 2, BatchProgress = new SynchronousProgress<BatchReport>(sparse.Add) });
        other.Fit(Blobs(40, seed: 9));
        Assert.Contains(sparse, r => r.Epoch == 2 && r.Batch == 3);
    }

    [Fact]
    public void A_nan_loss_stops_training_before_the_step_and_names_the_samples()
    {
        DataSet<int> data = Blobs(64, seed: 9);
        data.Inputs[(37 * ThreeLayerNet.InputSize) + 2] = float.NaN; // one NaN value in sample 37
        var net = new ThreeLayerNet(16, seed: 1);
        var adam = new Adam(0.01f);
        var trainer = new Trainer<int>(net, adam, new TrainerOptions { BatchSize = 16, Epochs = 2, Seed = 3 });
        var e = Assert.Throws<NonFiniteLossException>(() => trainer.Fit(data));
        Assert.Contains(37, e.Samples);
        Assert.Equal(1, e.Epoch);
        Assert.Equal(16, e.Samples.Count);
        Assert.Contains($"The loss of batch {e.Batch} of epoch 1 (training samples ", e.Message);
        Assert.Equal((long)e.Batch!.Value, trainer.Step); // the batches before it were stepped, this one was not
        Assert.All(net.Parameters.ToArray(), p => Assert.True(float.IsFinite(p)));
    }

    [Fact]
    public void A_bad_label_is_named_by_its_index_in_the_data_set_before_anything_trains()
    {
        DataSet<int> data = Blobs(64, seed: 9);
        data.Targets[50] = 4; // ThreeLayerNet has 4 classes: 0 to 3
        var net = new ThreeLayerNet(16, seed: 1);
        float[] before = net.Parameters.ToArray();
        var trainer = new Trainer<int>(net, new Adam(0.01f), new TrainerOptions { BatchSize = 16, Epochs = 1 });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(Blobs(32, seed: 1), data));
        Assert.Equal("validation", e.ParamName);
        Assert.StartsWith("Sample 50 of 'validation' has the label 4; the network's class labels lie in [0, 4).", e.Message);
        Assert.Equal(0, trainer.Step);
        Assert.Equal(before, net.Parameters.ToArray());
    }

    [Fact]
    public void TrainStep_refuses_a_nan_loss_before_the_optimizer_steps()
    {
        var net = new ThreeLayerNet(2, seed: 1);
        var sgd = new Sgd(0.1f);
        float[] before = net.Parameters.ToArray();
        float[] x = { 1, 2, float.NaN, 0, 1, 0, 0, 0, 0, 0 };
        var e = Assert.Throws<NonFiniteLossException>(() => net.TrainStep(x, new[] { 1, 2 }, sgd));
        Assert.True(float.IsNaN(e.Value));
        Assert.StartsWith("The loss is NaN: the step stopped before the optimizer", e.Message);
        Assert.Equal(before, net.Parameters.ToArray());
        Assert.Equal(0, sgd.StepCount);
    }

    [Fact]
    public void Fit_lowers_the_loss_and_reaches_a_stated_accuracy_with_validation()
    {
        var net = new ThreeLayerNet(16, seed: 1);
        var trainer = new Trainer<int>(net, new Adam(0.01f), new TrainerOptions { BatchSize = 16, Epochs = 8, Seed = 3 });
        var reports = new List<EpochReport>();
        IReadOnlyList<EpochReport> history = trainer.Fit(Blobs(800, 1), Blobs(200, 2), new SynchronousProgress<EpochReport>(reports.Add));

        Assert.Equal(8, history.Count);
        Assert.Equal(history, reports);
        Assert.True(history[^1].TrainLoss < history[0].TrainLoss / 2, $"loss {history[0].TrainLoss} -> {history[^1].TrainLoss}");
        Assert.True(history[^1].ValidationAccuracy >= 0.95, $"validation accuracy {history[^1].ValidationAccuracy}");
        Assert.All(history, r => Assert.True(r.SamplesPerSecond > 0 && r.ValidationLoss is not null));
        Assert.Equal(8 * 50, trainer.Step);

        // Evaluate agrees with the last report's validation metrics.
        Evaluation evaluation = trainer.Evaluate(Blobs(200, 2));
        Assert.Equal(history[^1].ValidationLoss!.Value, evaluation.Loss, 1e-9);
        Assert.Equal(history[^1].ValidationAccuracy, evaluation.Accuracy);
    }

    [Fact]
    public void The_same_seeds_give_the_same_run_and_another_shuffling_seed_does_not()
    {
        double[] Run(int shuffleSeed)
        {
            var net = new RegularizedNet(16, seed: 5);
            var trainer = new Trainer<int>(net, new Sgd(0.05f, momentum: 0.9f), new TrainerOptions { BatchSize = 16, Epochs = 3, Seed = shuffleSeed, DropLast = true });
            var data = new DataSet<int>(Reference.RandomFloats(160 * 6, 9), Enumerable.Range(0, 160).Select(i => i % 4).ToArray(), 6);
            return trainer.Fit(data).Select(r => r.TrainLoss).ToArray();
        }

        Assert.Equal(Run(1), Run(1));
        Assert.NotEqual(Run(1), Run(2));
    }

    [Fact]
    public void Binary_targets_report_binary_accuracy_and_mean_absolute_error()
    {
        var net = new XorNet(4, seed: 1);
        var data = new DataSet<float>(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, new float[] { 0, 1, 1, 0 }, 2);
        var trainer = new Trainer<float>(net, new Adam(0.05f), new TrainerOptions { BatchSize = 4, Epochs = 300, Shuffle = false });
        IReadOnlyList<EpochReport> history = trainer.Fit(data, data);
        Assert.True(history[^1].TrainLoss < 0.1, $"loss {history[^1].TrainLoss}");
        Assert.Equal(1.0, history[^1].TrainAccuracy); // XOR learned: every output on the right side of 0.5
        Assert.Equal(1.0, history[^1].ValidationAccuracy);

        // The mean absolute error of the probabilities, checked against the outputs themselves.
        var probabilities = new float[4];
        net.Forward(data.Inputs, probabilities);
        double mae = probabilities.Select((p, i) => Math.Abs(p - data.Targets[i])).Average();
        Assert.Equal(mae, history[^1].ValidationMeanAbsoluteError!.Value, 6);
        Assert.Equal(mae, trainer.Evaluate(data).MeanAbsoluteError!.Value, 6);
    }

    [Fact]
    public void Real_valued_targets_report_mean_absolute_error_and_no_accuracy()
    {
        var net = new RegressionNet(8, seed: 1);
        float[] x = Reference.RandomFloats(8 * RegressionNet.InputSize, 5);
        float[] t = Reference.RandomFloats(8 * RegressionNet.OutputSize, 6);
        var data = new DataSet<float>(x, t, RegressionNet.InputSize, RegressionNet.OutputSize);
        var trainer = new Trainer<float>(net, new Adam(0.01f), new TrainerOptions { BatchSize = 4, Epochs = 2 });
        EpochReport last = trainer.Fit(data)[^1];
        Assert.Null(last.TrainAccuracy);
        Assert.NotNull(last.TrainMeanAbsoluteError);
        var y = new float[8 * RegressionNet.OutputSize];
        net.Forward(x, y);
        Assert.Equal(y.Select((v, i) => Math.Abs(v - t[i])).Average(), trainer.Evaluate(data).MeanAbsoluteError!.Value, 5);
        Assert.Null(new Trainer<int>(new ThreeLayerNet(4), new Adam(), new TrainerOptions { BatchSize = 4 }).Evaluate(Blobs(8, seed: 1)).MeanAbsoluteError);
    }

    [Fact]
    public void Schedules_follow_their_formulas()
    {
        var step = new StepDecay(everyEpochs: 2, gamma: 0.5f);
        Assert.Equal(new[] { 1f, 1f, 0.5f, 0.5f, 0.25f }, Enumerable.Range(0, 5).Select(e => step.Rate(e * 10, 10, 1f)));

        var cosine = new CosineDecay(epochs: 2, minRate: 0.1f);
        Assert.Equal(1f, cosine.Rate(0, 10, 1f), 6);
        Assert.Equal(0.55f, cosine.Rate(10, 10, 1f), 6);     // halfway: (base + min) / 2
        Assert.Equal(0.1f, cosine.Rate(20, 10, 1f), 6);
        Assert.Equal(0.1f, cosine.Rate(35, 10, 1f), 6);      // stays at the minimum

        var warmup = new LinearWarmup(4, new CosineDecay(1));
        Assert.Equal(new[] { 0.25f, 0.5f, 0.75f, 1f }, Enumerable.Range(0, 4).Select(s => warmup.Rate(s, 8, 1f)));
        Assert.Equal(1f, warmup.Rate(4, 8, 1f), 6);          // the cosine starts after the warm-up
        Assert.Equal(0.5f, warmup.Rate(8, 8, 1f), 6);
        Assert.Equal(2f, new LinearWarmup(2).Rate(10, 8, 2f));
    }

    [Fact]
    public void The_trainer_applies_the_schedule_before_each_step()
    {
        var net = new ThreeLayerNet(10, seed: 1);
        var sgd = new Sgd(0.1f);
        var trainer = new Trainer<int>(net, sgd, new TrainerOptions { BatchSize = 10, Epochs = 3, Schedule = new StepDecay(1, 0.5f) });
        IReadOnlyList<EpochReport> history = trainer.Fit(Blobs(50, 1));
        Assert.Equal(new[] { 0.1f, 0.05f, 0.025f }, history.Select(r => r.LearningRate));
    }

    [Fact]
    public void Clipping_scales_to_the_max_norm_as_pytorch()
    {
        float[] g = { 3f, 4f };
        Assert.Equal(5f, GradientClipping.ClipByGlobalNorm(g, 1f));
        Assert.Equal(1f / (5f + 1e-6f) * 3f, g[0], 6);
        Assert.Equal(1f / (5f + 1e-6f) * 4f, g[1], 6);
        float[] small = { 0.3f, 0.4f };
        GradientClipping.ClipByGlobalNorm(small, 1f);
        Assert.Equal(new[] { 0.3f, 0.4f }, small);
    }

    [Fact]
    public void Clipping_in_the_trainer_bounds_every_update()
    {
        // With plain SGD the update is lr·g: clipped to norm 0.01, no parameter moves further than lr·0.01.
        var net = new ThreeLayerNet(8, seed: 1);
        float[] before = net.Parameters.ToArray();
        var trainer = new Trainer<int>(net, new Sgd(1f), new TrainerOptions { BatchSize = 8, Epochs = 1, MaxGradientNorm = 0.01f });
        trainer.Fit(Blobs(8, 3));
        double moved = Math.Sqrt(before.Select((v, i) => (v - net.Parameters[i]) * (double)(v - net.Parameters[i])).Sum());
        Assert.InRange(moved, 0.009, 0.0100001);
    }


    [Fact]
    public void Bad_configurations_are_refused()
    {
        var net = new ThreeLayerNet(8);
        Assert.Throws<ArgumentException>(() => new Trainer<int>(net, new Sgd(0.1f), new TrainerOptions { BatchSize = 9 }));
        Assert.Throws<ArgumentException>(() => new Trainer<int>(net, new Sgd(0.1f), new TrainerOptions { MaxGradientNorm = 0f, BatchSize = 8 }));
        var trainer = new Trainer<int>(net, new Sgd(0.1f), new TrainerOptions { BatchSize = 8 });
        Assert.Throws<ArgumentException>(() => trainer.Fit(new DataSet<int>(new float[12], new int[2], 6)));
        Assert.Throws<ArgumentException>(() => new DataSet<int>(new float[10], new int[2], 6));
    }
}
