using System;
using System.Numerics.Tensors;

namespace NetGen;

/// <summary>
/// Draws the next token from a language model's logits: greedily (temperature 0), or from
/// <c>softmax(logits / temperature)</c> restricted to the <see cref="TopK"/> largest logits
/// (nanoGPT's <c>generate</c>: entries below the k-th largest are dropped, ties kept). Seeded, so
/// that a generation repeats; its working memory is allocated once, by the constructor.
/// </summary>
public sealed class TokenSampler
{
    private readonly float[] _scratch;

    /// <summary>Creates the sampler.</summary>
    /// <param name="vocabulary">Logits per call.</param>
    /// <param name="temperature">Divides the logits: below 1 sharper, above 1 flatter; 0 picks the largest (greedy).</param>
    /// <param name="topK">Keep only the k largest logits; 0 keeps all.</param>
    /// <param name="seed">Seed of the draws.</param>
    public TokenSampler(int vocabulary, float temperature = 1f, int topK = 0, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabulary);
        if (!(temperature >= 0f) || float.IsInfinity(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be non-negative and finite (0: greedy).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        Vocabulary = vocabulary;
        Temperature = temperature;
        TopK = topK;
        Random = new SeededRandom(seed);
        _scratch = new float[vocabulary];
    }

    /// <summary>A sampler that always picks the most likely token.</summary>
    /// <param name="vocabulary">Logits per call.</param>
    /// <returns>The greedy sampler.</returns>
    public static TokenSampler Greedy(int vocabulary) => new(vocabulary, temperature: 0f);

    /// <summary>Logits per call.</summary>
    public int Vocabulary { get; }

    /// <summary>The temperature; 0 is greedy.</summary>
    public float Temperature { get; }

    /// <summary>How many of the largest logits are kept; 0: all.</summary>
    public int TopK { get; }

    /// <summary>The generator of the draws; reset it to repeat a generation.</summary>
    public SeededRandom Random { get; }

    /// <summary>Draws a token id. Allocates nothing.</summary>
    /// <param name="logits"><see cref="Vocabulary"/> unnormalised scores.</param>
    /// <returns>An id in [0, <see cref="Vocabulary"/>).</returns>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (logits.Length != Vocabulary)
        {
            throw new ArgumentException($"'{nameof(logits)}' has {logits.Length} values; {Vocabulary} were expected (one per token).", nameof(logits));
        }

        if (Temperature == 0f)
        {
            return TensorPrimitives.IndexOfMax(logits);
        }

        float threshold = TopK > 0 && TopK < Vocabulary ? KthLargest(logits, TopK) : float.NegativeInfinity;
        float max = TensorPrimitives.Max(logits);
        float inverse = 1f / Temperature;
        Span<float> p = _scratch;
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = logits[i] >= threshold ? MathF.Exp((logits[i] - max) * inverse) : 0f;
            sum += p[i];
        }

        double u = Random.NextSingle() * sum;
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == 0f)
            {
                continue;
            }

            last = i;
            cumulative += p[i];
            if (u < cumulative)
            {
                return i;
            }
        }

        return last;
    }

    // The k-th largest value (quickselect on a copy; average linear time).
    private float KthLargest(ReadOnlySpan<float> values, int k)
    {
        Span<float> a = _scratch;
        values.CopyTo(a);
        int target = k - 1, lo = 0, hi = a.Length - 1;
        while (lo < hi)
        {
            float pivot = a[lo + ((hi - lo) / 2)];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] > pivot)
                {
                    i++;
                }

                while (a[j] < pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }

            if (target <= j)
            {
                hi = j;
            }
            else if (target >= i)
            {
                lo = i;
            }
            else
            {
                break;
            }
        }

        return a[target];
    }
}
