using NetGen.IO;
using NetGen.Training;

namespace NetGen.Tests;

/// <summary>
/// Checkpoints: a run stopped, saved, restored into fresh objects and resumed is bitwise the run
/// that never stopped; a checkpoint for another network, optimizer or setting is refused with
/// nothing changed.
/// </summary>
public class CheckpointTests
{
    private static string TempFile() => Path.Combine(Path.GetTempPath(), "netgen-" + Guid.NewGuid().ToString("N") + ".safetensors");

    private static DataSet<int> Data(int count, int seed) =>
        new(Reference.RandomFloats(count * RegularizedNet.InputSize, seed), Enumerable.Range(0, count).Select(i => (i * 7) % 4).ToArray(), RegularizedNet.InputSize);

    private static TrainerOptions Options(int threads) => new()
    {
        BatchSize = 8,
        Epochs = 4,
        Seed = 3,
        Threads = threads,
        Schedule = new CosineDecay(4),
        MaxGradientNorm = 1f,
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_trainer_resumed_from_a_checkpoint_repeats_the_uninterrupted_run_bit_for_bit(int threads)
    {
        DataSet<int> train = Data(44, 1), validation = Data(16, 2);

        // The whole run, saving a checkpoint after epoch 2 on the way.
        string path = TempFile();
        try
        {
            var whole = new RegularizedNet(8, seed: 1) { MinSamplesPerThread = 1 };
            var trainer = new Trainer<int>(whole, new Adam(0.01f, amsgrad: true), Options(threads));
            IReadOnlyList<EpochReport> all = trainer.Fit(train, validation, new SynchronousProgress<EpochReport>(r =>
            {
                if (r.Epoch == 2)
                {
                    trainer.SaveCheckpoint(path);
                }
            }));

            // Fresh objects (other seeds), restored, trained on: epochs 3 and 4 only.
            var resumed = new RegularizedNet(8, seed: 9) { MinSamplesPerThread = 1 };
            var optimizer = new Adam(0.5f, amsgrad: true); // the rate comes from the checkpoint
            var second = new Trainer<int>(resumed, optimizer, Options(threads));
            second.LoadCheckpoint(path);
            Assert.Equal(2, second.CompletedEpochs);
            Assert.Equal(12, second.Step); // 6 batches an epoch: 44 samples, the last batch of 4
            IReadOnlyList<EpochReport> rest = second.Fit(train, validation);

            Assert.Equal(new[] { 3, 4 }, rest.Select(r => r.Epoch));
            Assert.Equal(all.Skip(2).Select(r => (r.TrainLoss, r.ValidationLoss, r.LearningRate)), rest.Select(r => (r.TrainLoss, r.ValidationLoss, r.LearningRate)));
            Assert.Equal(whole.Parameters.ToArray(), resumed.Parameters.ToArray());
            Assert.Equal(whole.State.ToArray(), resumed.State.ToArray());
            Assert.Equal(whole.BatchesTracked, resumed.BatchesTracked);
            Assert.Equal(whole.RandomSource.NextUInt32(), resumed.RandomSource.NextUInt32());
            Assert.Equal(trainer.Step, second.Step);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_language_model_trainer_resumed_from_a_checkpoint_repeats_the_uninterrupted_run_bit_for_bit()
    {
        int[] stream = Enumerable.Range(0, 400).Select(i => ((i * 5) + (i / 7)) % 11).ToArray();
        var options = new LanguageModelOptions { BatchSize = 3, Iterations = 6, EvaluateEvery = 3, EvaluationWindows = 4, Seed = 4, GradientAccumulation = 2, Schedule = new CosineDecay(6) };
        string path = TempFile();
        try
        {
            var whole = new TinyGpt(3, seed: 1);
            var trainer = new LanguageModelTrainer(whole, new AdamW(0.01f), options);
            var windows = new TokenWindows(stream, TinyGpt.InputSize);
            IReadOnlyList<LanguageModelReport> all = trainer.Fit(windows, progress: new SynchronousProgress<LanguageModelReport>(r =>
            {
                if (r.Iteration == 3)
                {
                    trainer.SaveCheckpoint(path);
                }
            }));

            var resumed = new TinyGpt(3, seed: 2);
            var second = new LanguageModelTrainer(resumed, new AdamW(0.01f), options);
            second.LoadCheckpoint(path);
            Assert.Equal(3, second.CompletedIterations);
            IReadOnlyList<LanguageModelReport> rest = second.Fit(new TokenWindows(stream, TinyGpt.InputSize));
            Assert.Equal(6, Assert.Single(rest).Iteration);
            Assert.Equal(all[^1].TrainLoss, rest[0].TrainLoss);
            Assert.Equal(whole.Parameters.ToArray(), resumed.Parameters.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_hand_written_loop_resumes_with_Checkpoint_Save_and_Load()
    {
        float[] x = Reference.RandomFloats(8 * RegularizedNet.InputSize, 5);
        int[] y = Enumerable.Range(0, 8).Select(i => i % 4).ToArray();
        var a = new RegularizedNet(8, seed: 1);
        var sgd = new Sgd(0.05f, momentum: 0.9f, nesterov: true);
        for (int i = 0; i < 3; i++)
        {
            a.TrainStep(x, y, sgd);
        }

        string path = TempFile();
        try
        {
            Checkpoint.Save(path, a, sgd);
            float[] atSave = a.Parameters.ToArray();
            var b = new RegularizedNet(8, seed: 2);
            var sgd2 = new Sgd(0.05f, momentum: 0.9f, nesterov: true);
            Checkpoint.Load(path, b, sgd2);
            Assert.Equal(3, sgd2.StepCount);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(a.TrainStep(x, y, sgd), b.TrainStep(x, y, sgd2)); // dropout masks and momentum continue
            }

            Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());

            // The checkpoint is also a model file: SafeTensors.Load reads its parameters and state.
            var model = new RegularizedNet(8, seed: 3);
            SafeTensors.Load(model, path);
            Assert.Equal(atSave, model.Parameters.ToArray());
            Assert.Equal(3, model.BatchesTracked); // saved after 3 steps
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "other optimizer", "holds the state of NetGen.AdamW; this optimizer is NetGen.Adam" },
        { "amsgrad off", "holds optimizer state 'max_exp_avg_sq' that this optimizer does not keep" },
        { "amsgrad on", "'max_exp_avg_sq' is missing: the run used other settings" },
        { "model file", "not a NetGen checkpoint" },
        { "other network", "tensor 'dense1.weight' has shape (4, 2); the network needs (8, 6)" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_checkpoint_of_another_network_optimizer_or_setting_is_refused_and_nothing_changes(string case_, string message)
    {
        float[] x = Reference.RandomFloats(8 * RegularizedNet.InputSize, 5);
        int[] y = Enumerable.Range(0, 8).Select(i => i % 4).ToArray();
        var saved = new RegularizedNet(8, seed: 1);
        Optimizer used = case_ switch
        {
            "other optimizer" => new AdamW(0.01f),
            "amsgrad off" => new Adam(0.01f, amsgrad: true),
            _ => new Adam(0.01f),
        };
        saved.TrainStep(x, y, used);
        string path = TempFile();
        try
        {
            if (case_ == "model file")
            {
                SafeTensors.Save(saved, path);
            }
            else if (case_ == "other network")
            {
                var other = new XorNet(1);
                Checkpoint.Save(path, other, new Adam(0.01f));
            }
            else
            {
                Checkpoint.Save(path, saved, used);
            }

            var target = new RegularizedNet(8, seed: 2);
            var optimizer = new Adam(0.01f, amsgrad: case_ == "amsgrad on");
            target.TrainStep(x, y, optimizer);
            float[] before = target.Parameters.ToArray();
            long steps = optimizer.StepCount;
            var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target, optimizer));
            Assert.Contains(message, e.Message);
            Assert.Equal(before, target.Parameters.ToArray());
            Assert.Equal(steps, optimizer.StepCount);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Only_NetGens_optimizers_have_state_a_checkpoint_can_save()
    {
        var e = Assert.Throws<ArgumentException>(() => Checkpoint.Save(TempFile(), new XorNet(1), new Plain()));
        Assert.Contains("Plain is not one", e.Message);
    }

    private sealed class Plain : IOptimizer
    {
        public float LearningRate { get; set; }

        public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
        {
        }
    }
}
