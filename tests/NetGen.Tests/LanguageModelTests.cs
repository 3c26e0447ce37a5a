using NetGen.Training;

namespace NetGen.Tests;

/// <summary>Token windows and the language-model trainer.</summary>
public class LanguageModelTests
{
    [Fact]
    public void Windows_hold_T_tokens_and_their_successors()
    {
        int[] stream = Enumerable.Range(100, 20).ToArray();
        var windows = new TokenWindows(stream, 5, seed: 3);
        var inputs = new int[10];
        var targets = new int[10];
        windows.NextBatch(inputs, targets);
        for (int b = 0; b < 2; b++)
        {
            int start = inputs[b * 5] - 100;
            Assert.Equal(Enumerable.Range(100 + start, 5), inputs.Skip(b * 5).Take(5));
            Assert.Equal(Enumerable.Range(101 + start, 5), targets.Skip(b * 5).Take(5));
        }

        Assert.Throws<ArgumentException>(() => new TokenWindows(new int[5], 5));
        Assert.Throws<ArgumentException>(() => windows.NextBatch(new int[7], new int[7]));
    }

    [Fact]
    public void A_tiny_gpt_learns_a_periodic_stream_with_accumulated_micro_batches_and_a_schedule()
    {
        // Period 7 over 11 tokens: every next token follows from the current one, so the loss can go to 0.
        int[] stream = Enumerable.Range(0, 2000).Select(i => (i % 7) + 2).ToArray();
        LanguageModelReport[] Run()
        {
            var net = new TinyGpt(4, seed: 70);
            var optimizer = new AdamW(3e-3f, weightDecay: 0.1f);
            optimizer.SetGroups(ParameterGroup.DecayMatricesOnly(net.ParameterLayout, 0.1f));
            var trainer = new LanguageModelTrainer(net, optimizer, new LanguageModelOptions
            {
                BatchSize = 4,
                GradientAccumulation = 2,
                Iterations = 300,
                EvaluateEvery = 100,
                EvaluationWindows = 20,
                Schedule = new LinearWarmup(20, new CosineDecay(280, 3e-4f)),
                Seed = 5,
            });
            return trainer.Fit(new TokenWindows(stream, TinyGpt.InputSize), new TokenWindows(stream[1000..], TinyGpt.InputSize)).ToArray();
        }

        LanguageModelReport[] reports = Run();
        Assert.Equal(new[] { 100, 200, 300 }, reports.Select(r => r.Iteration));
        Assert.True(reports[^1].TrainLoss < 0.05, $"train loss {reports[^1].TrainLoss}");
        Assert.True(reports[^1].ValidationLoss < 0.05, $"validation loss {reports[^1].ValidationLoss}");
        Assert.True(reports[0].TrainLoss > reports[^1].TrainLoss);
        Assert.Equal(3e-4f, reports[^1].LearningRate, 1e-6f);

        // The same seed gives the same run, loss for loss.
        Assert.Equal(reports.Select(r => r.TrainLoss), Run().Select(r => r.TrainLoss));
    }
}
