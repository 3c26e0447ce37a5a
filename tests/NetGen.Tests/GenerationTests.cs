namespace NetGen.Tests;

/// <summary>Incremental (key/value-cached) generation against the full forward pass, and the sampler.</summary>
public class GenerationTests
{
    private const int T = 5, V = 11;

    private static float[] Softmax(ReadOnlySpan<float> logits) =>
        Reference.Activate(Activation.Softmax, Reference.ToDouble(logits), logits.Length).Select(v => (float)v).ToArray();

    [Fact]
    public void The_cached_path_gives_the_full_forward_pass_at_every_position()
    {
        var net = new TinyGpt(1, seed: 51);
        int[] tokens = { 4, 9, 0, 9, 2 };
        var full = new float[TinyGpt.OutputSize];
        net.Forward(tokens, full);
        var logits = new float[V];
        for (int t = 0; t < T; t++)
        {
            net.Append(tokens[t], logits);
            Assert.Equal(t + 1, net.ContextPositions);
            Reference.AssertClose(Reference.ToDouble(full.AsSpan(t * V, V)), Softmax(logits), 1e-5, 1e-5, $"position {t}");
        }
    }

    [Fact]
    public void A_full_context_slides_to_its_newest_half_and_goes_on_as_the_forward_pass_of_that_window()
    {
        var net = new TinyGpt(1, seed: 52);
        int[] tokens = { 1, 2, 3, 4, 5, 6, 7 };
        var logits = new float[V];
        foreach (int token in tokens)
        {
            net.Append(token, logits);
        }

        // Five positions, then 6 slides to [4, 5] + 6 (3 positions), then 7: [4, 5, 6, 7].
        Assert.Equal(4, net.ContextPositions);
        var full = new float[TinyGpt.OutputSize];
        net.Forward(new[] { 4, 5, 6, 7, 0 }, full);
        Reference.AssertClose(Reference.ToDouble(full.AsSpan(3 * V, V)), Softmax(logits), 1e-5, 1e-5, "after sliding");
        net.ResetContext();
        Assert.Equal(0, net.ContextPositions);
        net.Append(4, logits);
        Reference.AssertClose(Reference.ToDouble(full.AsSpan(0, V)), Softmax(logits), 1e-5, 1e-5, "after a reset");
    }

    [Fact]
    public void Generate_draws_the_same_tokens_as_appending_and_sampling_by_hand()
    {
        var a = new TinyGpt(1, seed: 54);
        var b = new TinyGpt(1, seed: 54);
        var generated = new int[8];
        a.Generate(new[] { 3, 1 }, generated, new TokenSampler(V, 1f, seed: 9));
        var sampler = new TokenSampler(V, 1f, seed: 9);
        var logits = new float[V];
        b.Append(3, logits);
        b.Append(1, logits);
        for (int i = 0; i < generated.Length; i++)
        {
            int token = sampler.Sample(logits);
            Assert.Equal(token, generated[i]);
            b.Append(token, logits);
        }
    }

    // An output layer of 4,096 x 128 multiply-adds a token (two threads' worth, 2^18 each) is split across Threads,
    // with the bits of one thread: the same logits at every position (the context sliding once), the same tokens drawn.
    [Fact]
    public void Generation_splits_the_output_layer_across_threads_with_the_bits_of_one_thread()
    {
        var one = new WideVocabularyLm(1, seed: 56);
        var two = new WideVocabularyLm(1, seed: 56) { Threads = 2 };
        float[] a = new float[WideVocabularyLm.Vocabulary], b = new float[WideVocabularyLm.Vocabulary];
        int before = MatMul.t_splitProducts;
        foreach (int token in new[] { 3, 1000, 4095, 7, 42, 9 })
        {
            one.Append(token, a);
            Assert.Equal(before, MatMul.t_splitProducts);
            two.Append(token, b);
            Assert.True(MatMul.t_splitProducts > before, $"token {token}: the output layer not split");
            before = MatMul.t_splitProducts;
            Assert.Equal(a, b);
        }

        int[] drawnOne = new int[6], drawnTwo = new int[6];
        one.Generate(new[] { 5 }, drawnOne, new TokenSampler(WideVocabularyLm.Vocabulary, 1f, seed: 3));
        two.Generate(new[] { 5 }, drawnTwo, new TokenSampler(WideVocabularyLm.Vocabulary, 1f, seed: 3));
        Assert.Equal(drawnOne, drawnTwo);
    }

    [Fact]
    public void Bad_tokens_and_an_empty_context_are_refused()
    {
        var net = new TinyGpt(1, seed: 55);
        var logits = new float[V];
        Assert.Equal("token", Assert.Throws<ArgumentOutOfRangeException>(() => net.Append(V, logits)).ParamName);
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => net.Append(1, new float[V - 1])).ParamName);
        Assert.Equal("prompt", Assert.Throws<ArgumentException>(() => net.Generate(ReadOnlySpan<int>.Empty, new int[2], TokenSampler.Greedy(V))).ParamName);
        Assert.Equal(0, net.ContextPositions);
    }

    [Fact]
    public void The_greedy_sampler_picks_the_largest_logit()
    {
        var sampler = TokenSampler.Greedy(5);
        Assert.Equal(3, sampler.Sample(new[] { 0.1f, -2f, 0.5f, 3f, 2.9f }));
    }

    [Fact]
    public void Top_k_sampling_draws_only_the_k_largest_in_proportion_to_their_softmax()
    {
        float[] logits = { 1f, 3f, 0f, 2.5f, -1f, 2f };
        var sampler = new TokenSampler(6, temperature: 0.5f, topK: 3, seed: 7);
        var counts = new int[6];
        const int draws = 20000;
        for (int i = 0; i < draws; i++)
        {
            counts[sampler.Sample(logits)]++;
        }

        Assert.Equal(0, counts[0] + counts[2] + counts[4]);

        // softmax of (3, 2.5, 2) / 0.5: e^6, e^5, e^4 normalised.
        double z = Math.Exp(6) + Math.Exp(5) + Math.Exp(4);
        Assert.Equal(Math.Exp(6) / z, counts[1] / (double)draws, 0.015);
        Assert.Equal(Math.Exp(5) / z, counts[3] / (double)draws, 0.015);
        Assert.Equal(Math.Exp(4) / z, counts[5] / (double)draws, 0.015);

        var again = new TokenSampler(6, temperature: 0.5f, topK: 3, seed: 7);
        sampler.Random.Reset(7);
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => again.Sample(logits)), Enumerable.Range(0, 50).Select(_ => sampler.Sample(logits)));
    }

    [Theory]
    [InlineData(1003, 37, 0.7f)]
    [InlineData(6768, 200, 0.8f)]
    [InlineData(999, 0, 1.3f)]
    public void Sampling_a_large_vocabulary_keeps_the_top_k_and_their_softmax_proportions(int vocabulary, int topK, float temperature)
    {
        var random = new SeededRandom(31);
        float[] logits = Enumerable.Range(0, vocabulary).Select(_ => random.NextNormal() * 2f).ToArray();
        logits[vocabulary - 1] = logits.Max() + 0.5f; // the most likely token in the scalar tail
        logits[5] = logits[vocabulary - 1];            // tied with one in the first block
        int kept = topK == 0 ? vocabulary : topK;
        float threshold = logits.OrderByDescending(v => v).ElementAt(kept - 1);
        double max = logits.Max();
        double[] weights = logits.Select(v => v >= threshold ? Math.Exp((v - max) / temperature) : 0).ToArray();
        double z = weights.Sum();
        var sampler = new TokenSampler(vocabulary, temperature, topK, seed: 3);
        var counts = new int[vocabulary];
        const int draws = 60000;
        for (int i = 0; i < draws; i++)
        {
            counts[sampler.Sample(logits)]++;
        }

        Assert.Equal(0, counts.Where((c, i) => logits[i] < threshold).Sum());
        foreach (int i in Enumerable.Range(0, vocabulary).OrderByDescending(i => weights[i]).Take(4))
        {
            Assert.Equal(weights[i] / z, counts[i] / (double)draws, 0.01);
        }

        Assert.Equal(5, TokenSampler.Greedy(vocabulary).Sample(logits)); // the first of the two largest
    }
}
