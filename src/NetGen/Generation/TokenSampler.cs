using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
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
    private readonly uint[] _keys;
    private readonly int[] _counts;

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
        bool selects = topK > 0 && topK < vocabulary;
        _keys = new uint[selects ? vocabulary : 0];
        _counts = new int[selects ? 2048 : 0];
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
        // 36 µs a token at 6,768 logits (all kept), against 9-10 µs now.
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

    // The k-th largest value by radix selection: each value's bits made into a key that orders as the
    // values do, then three rounds of counting keys by 11, 11 and 10 of their bits, each keeping only
    // the bucket the k-th largest falls in. Branch-light and linear: at 6,768 logits and top-k 200,
    // fresh logits every call, 31-32 µs, where a quickselect took 86 µs and a min-heap of the k
    // largest 69 µs, both mostly in mispredicted branches. Compiled optimised from the first call,
    // as the kernels are: a sample's few dozen tokens end before tiered compilation would step in.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float KthLargest(ReadOnlySpan<float> values, int k)
    {
        Span<uint> keys = _keys;
        Span<int> counts = _counts;
        for (int i = 0; i < values.Length; i++)
        {
            keys[i] = OrderedKey(values[i]);
        }

        int candidates = values.Length, rank = k;
        foreach ((int shift, uint mask) in Rounds)
        {
            counts.Clear();
            for (int i = 0; i < candidates; i++)
            {
                counts[(int)((keys[i] >> shift) & mask)]++;
            }

            int bucket = (int)mask, above = 0;
            while (above + counts[bucket] < rank)
            {
                above += counts[bucket];
                bucket--;
            }

            rank -= above;
            int kept = 0;
            for (int i = 0; i < candidates; i++)
            {
                uint key = keys[i];
                keys[kept] = key;
                kept += ((key >> shift) & mask) == (uint)bucket ? 1 : 0;
            }

            candidates = kept;
        }

        return FromOrderedKey(keys[0]); // every candidate left has the same key: the k-th largest
    }

    private static readonly (int Shift, uint Mask)[] Rounds = { (21, 0x7FF), (10, 0x7FF), (0, 0x3FF) };

    // The float's bits with the sign bit flipped for positive values and all bits flipped for
    // negative ones: unsigned order is then the floats' order.
    // Without a branch: the signs of logits alternate unpredictably.
    private static uint OrderedKey(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint negative = (uint)((int)bits >> 31); // all ones for a negative value
        return bits ^ (negative | 0x8000_0000u);
    }

    private static float FromOrderedKey(uint key) =>
        BitConverter.UInt32BitsToSingle((key & 0x8000_0000u) != 0 ? key & 0x7FFF_FFFFu : ~key);
}
