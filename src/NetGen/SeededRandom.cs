using System;

namespace NetGen;

/// <summary>
/// A small, fast, seeded generator (xoshiro128**, seeded through SplitMix64). NetGen uses its
/// own rather than <see cref="Random"/> so that the same seed gives the same network on every
/// .NET version and platform.
/// </summary>
public sealed class SeededRandom
{
    private State _state;

    /// <summary>Creates a generator from <paramref name="seed"/>.</summary>
    public SeededRandom(int seed) => Reset(seed);

    /// <summary>Restarts the sequence from <paramref name="seed"/>.</summary>
    public void Reset(int seed)
    {
        ulong x = (ulong)(uint)seed ^ 0x9E3779B97F4A7C15UL;
        _state.S0 = (uint)SplitMix(ref x);
        _state.S1 = (uint)SplitMix(ref x);
        _state.S2 = (uint)SplitMix(ref x);
        _state.S3 = (uint)SplitMix(ref x);
        if ((_state.S0 | _state.S1 | _state.S2 | _state.S3) == 0)
        {
            _state.S0 = 1;
        }
    }

    /// <summary>The next 32 random bits.</summary>
    public uint NextUInt32() => _state.Next();

    /// <summary>Uniform in [0, 1), 24 bits of precision.</summary>
    public float NextSingle() => (NextUInt32() >> 8) * (1f / (1 << 24));

    /// <summary>
    /// Writes <c>mask[i] = NextSingle() &lt; rate ? 0 : scale</c> for each i in order: the values NextSingle would
    /// give one by one, with the state held in locals for the loop and no branch on the draw. 8,192 values (the sample
    /// CNN's dropout) 80-85 µs one NextSingle a value, 20-21 µs here.
    /// </summary>
    internal void FillMask(Span<float> mask, float rate, float scale)
    {
        // NextSingle() < rate, with NextSingle() = x·2⁻²⁴ for the 24-bit x (exact), is x < rate·2²⁴ (exact too), and for an
        // integer x that is x < ⌈rate·2²⁴⌉: an integer comparison whose sign bit clears the scale without a branch (a
        // branch taken at random 30 % of the time costs more than the draw).
        int limit = (int)Math.Min(MathF.Ceiling(rate * 16777216f), 16777217f);
        int scaleBits = BitConverter.SingleToInt32Bits(scale);
        State state = _state; // a local copy the JIT keeps in registers, written back once
        for (int i = 0; i < mask.Length; i++)
        {
            int below = ((int)(state.Next() >> 8) - limit) >> 31; // all ones where the draw is below the rate
            mask[i] = BitConverter.Int32BitsToSingle(scaleBits & ~below);
        }

        _state = state;
    }

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(((ulong)NextUInt32() * (uint)maxExclusive) >> 32);
    }

    /// <summary>Standard normal (Box-Muller).</summary>
    public float NextNormal()
    {
        double u1 = 1.0 - ((NextUInt32() >> 8) * (1.0 / (1 << 24))); // (0, 1]
        double u2 = (NextUInt32() >> 8) * (1.0 / (1 << 24));
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher-Yates).</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>The generator's position (its four state words), for checkpoints.</summary>
    internal uint[] GetState() => new[] { _state.S0, _state.S1, _state.S2, _state.S3 };

    /// <summary>Moves the generator to a position <see cref="GetState"/> returned.</summary>
    internal void SetState(ReadOnlySpan<uint> state)
    {
        if (state.Length != 4 || (state[0] | state[1] | state[2] | state[3]) == 0)
        {
            throw new ArgumentException("A generator state is four words, not all zero.", nameof(state));
        }

        (_state.S0, _state.S1, _state.S2, _state.S3) = (state[0], state[1], state[2], state[3]);
    }

    private static uint RotateLeft(uint x, int k) => (x << k) | (x >> (32 - k));

    // xoshiro128**'s four words and its step: NextUInt32 steps the generator's own, FillMask a local copy.
    private struct State
    {
        public uint S0, S1, S2, S3;

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public uint Next()
        {
            uint result = RotateLeft(S1 * 5, 7) * 9;
            uint t = S1 << 9;
            S2 ^= S0;
            S3 ^= S1;
            S1 ^= S2;
            S0 ^= S3;
            S2 ^= t;
            S3 = RotateLeft(S3, 11);
            return result;
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>Weight initialisers used by generated <c>InitializeParameters</c>.</summary>
public static class Initializers
{
    /// <summary>He (Kaiming) normal: N(0, 2 / fanIn), for layers followed by ReLU-family activations.</summary>
    public static void HeNormal(Span<float> weights, int fanIn, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        float std = MathF.Sqrt(2f / fanIn);
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = random.NextNormal() * std;
        }
    }

    /// <summary>Glorot (Xavier) uniform: U(-a, a), a = √(6 / (fanIn + fanOut)).</summary>
    public static void GlorotUniform(Span<float> weights, int fanIn, int fanOut, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        float a = MathF.Sqrt(6f / (fanIn + fanOut));
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = ((2f * random.NextSingle()) - 1f) * a;
        }
    }

    /// <summary>Normal: N(0, std²) (nanoGPT's 0.02 for every weight and embedding, PyTorch's N(0, 1) for nn.Embedding).</summary>
    public static void Normal(Span<float> weights, float std, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = random.NextNormal() * std;
        }
    }
}
