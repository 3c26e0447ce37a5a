using System;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// Draws the next token from a language model's logits: greedily (temperature 0), or from
/// <c>softmax(logits / temperature)</c> restricted to the <see cref="TopK"/> largest logits
/// (nanoGPT's <c>generate</c>: entries below the k-th largest are dropped, ties kept). Seeded, so
/// that a generation repeats; its working memory is allocated once, by the constructor.
/// </summary>
public sealed class TokenSampler
{
    private readonly float[] _weights;
    private readonly float[] _blockSums;
    private readonly float[] _heap;

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
        _weights = new float[vocabulary];
        _blockSums = new float[(vocabulary + Block - 1) / Block];
        _heap = new float[topK > 0 && topK < vocabulary ? topK : 0];
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

        // The weights e^((x − max)/T) of the logits at or above the threshold (0 elsewhere), in blocks
        // of 8 whose float sums, added in double, give the total; the draw then walks the block sums
        // and only inside the block it falls in, one weight at a time. All vectorised where the
        // hardware allows: a scalar exponential per logit and a scalar walk over all of them took
        // 31 µs a token at 6,768 (top-k 200), a tenth of a cached token's forward pass.
        float threshold = TopK > 0 && TopK < Vocabulary ? KthLargest(logits, TopK) : float.NegativeInfinity;
        float max = TensorPrimitives.Max(logits);
        float inverse = 1f / Temperature;
        Span<float> p = _weights;
        Span<float> blocks = _blockSums;
        double sum = 0;
        for (int b = 0; b < blocks.Length; b++)
        {
            int start = b * Block, end = Math.Min(start + Block, p.Length);
            float blockSum = Weigh(p.Slice(start, end - start), logits.Slice(start, end - start), max, inverse, threshold);
            blocks[b] = blockSum;
            sum += blockSum;
        }

        double u = Random.NextSingle() * sum;
        double cumulative = 0;
        int last = -1;
        for (int b = 0; b < blocks.Length; b++)
        {
            if (blocks[b] == 0f)
            {
                continue;
            }

            if (u >= cumulative + blocks[b] && b < blocks.Length - 1)
            {
                cumulative += blocks[b];
                last = b;
                continue;
            }

            // The draw falls in this block (or rounding left it past the last one that weighs).
            int start = b * Block, end = Math.Min(start + Block, p.Length);
            int chosen = -1;
            for (int i = start; i < end; i++)
            {
                if (p[i] == 0f)
                {
                    continue;
                }

                chosen = i;
                cumulative += p[i];
                if (u < cumulative)
                {
                    return i;
                }
            }

            if (chosen >= 0)
            {
                return chosen; // u at the block's end after its weights' own rounding: its last weighed token
            }
        }

        return LastWeighed(p, last);
    }

    private const int Block = 8;

    // p = e^((x − max)·inverse) where x ≥ threshold, else 0; returns the sum of p (at most 8 values).
    private static float Weigh(Span<float> p, ReadOnlySpan<float> x, float max, float inverse, float threshold)
    {
        if (p.Length == Block && MatMul.UseVectors)
        {
            var vx = Vector256.Create(x);
            var e = Simd.Exp((vx - Vector256.Create(max)) * Vector256.Create(inverse));
            e = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(vx, Vector256.Create(threshold)), e, Vector256<float>.Zero);
            e.CopyTo(p);
            return Vector256.Sum(e);
        }

        float sum = 0f;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = x[i] >= threshold ? MathF.Exp((x[i] - max) * inverse) : 0f;
            sum += p[i];
        }

        return sum;
    }

    // The last token with a weight, in or before block `last` (where the walk ran out by rounding).
    private static int LastWeighed(ReadOnlySpan<float> p, int lastBlock)
    {
        for (int i = Math.Min(p.Length, (lastBlock + 1) * Block) - 1; i >= 0; i--)
        {
            if (p[i] != 0f)
            {
                return i;
            }
        }

        return 0;
    }

    // The k-th largest value: a min-heap of the k largest seen so far, whose root is the bound a new
    // value must pass; blocks of 8 that hold nothing above it are skipped with one vector compare
    // (almost all of them once the heap has filled: a few hundred insertions for 6,768 logits and
    // k = 200, against the several passes of a quickselect).
    private float KthLargest(ReadOnlySpan<float> values, int k)
    {
        Span<float> heap = _heap.AsSpan(0, k);
        values.Slice(0, k).CopyTo(heap);
        for (int i = (k / 2) - 1; i >= 0; i--)
        {
            SiftDown(heap, i);
        }

        int n = values.Length, j = k;
        if (MatMul.UseVectors)
        {
            for (; j + Block <= n; j += Block)
            {
                if (!Vector256.GreaterThanAny(Vector256.Create(values.Slice(j, Block)), Vector256.Create(heap[0])))
                {
                    continue;
                }

                for (int q = j; q < j + Block; q++)
                {
                    Offer(heap, values[q]);
                }
            }
        }

        for (; j < n; j++)
        {
            Offer(heap, values[j]);
        }

        return heap[0];
    }

    private static void Offer(Span<float> heap, float value)
    {
        if (value > heap[0])
        {
            heap[0] = value;
            SiftDown(heap, 0);
        }
    }

    // Restores the min-heap order below position i.
    private static void SiftDown(Span<float> heap, int i)
    {
        float value = heap[i];
        int n = heap.Length;
        while (true)
        {
            int child = (2 * i) + 1;
            if (child >= n)
            {
                break;
            }

            if (child + 1 < n && heap[child + 1] < heap[child])
            {
                child++;
            }

            if (!(heap[child] < value))
            {
                break;
            }

            heap[i] = heap[child];
            i = child;
        }

        heap[i] = value;
    }
}
