using System;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen.Benchmarks;

/// <summary>
/// Each optimizer's update of the MLP's 101,770 parameters (the whole of a batch-1 step's optimizer time),
/// then, in the same run, the floors that no update of that many parameters goes under on this core: a read
/// of them, a read and write (what SGD's update does to the weights), and Adam's square root and division
/// alone (exact IEEE operations, as PyTorch's, on the divider: one of each per parameter).
/// </summary>
public static class OptimizerFloors
{
    private const int Count = 101_770;

    public static void Run()
    {
        float[] p = Enumerable.Range(0, Count).Select(i => ((i * 7919) % 1000) / 1000f).ToArray();
        float[] g = Enumerable.Range(0, Count).Select(i => (((i * 104729) % 1000) - 500) / 5000f).ToArray();
        foreach ((string name, IOptimizer optimizer) in new (string, IOptimizer)[]
        {
            ("SGD", new Sgd(1e-6f)), ("SGD momentum", new Sgd(1e-6f, momentum: 0.9f)), ("Adam", new Adam(1e-6f)),
            ("AdamW", new AdamW(1e-6f)), ("RMSprop", new RmsProp(1e-6f)), ("Adagrad", new Adagrad(1e-6f)),
        })
        {
            Print(name, Breakdown.Median(() => optimizer.Step(p, g), 5000));
        }

        float sink = 0f;
        Print("floor: read the parameters", Breakdown.Median(() => sink += Read(p), 5000));
        Print("floor: read and write them (p += c·g)", Breakdown.Median(() => ReadWrite(p, g), 5000));
        float[] block = Enumerable.Range(0, 4096).Select(i => 1f + (i * 1e-4f)).ToArray();
        Print("floor: a square root and a division each (in L1)", Breakdown.Median(() => sink += RootsAndDivisions(block), 5000));
        if (sink == 42f)
        {
            Console.WriteLine();
        }
    }

    private static void Print(string name, double ms) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {ms * 1000:F1} us ({ms * 1e6 / Count:F2} ns a parameter)"));

    // Four independent sums, so that the loads, not the adds' latency, set the pace. Compiled fully optimised at
    // once (no tiering: a few thousand calls of tens of µs would otherwise be timed at tier 0).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Read(float[] values)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i + 32 <= values.Length; i += 32)
        {
            s0 += Vector256.LoadUnsafe(ref values[0], (nuint)i);
            s1 += Vector256.LoadUnsafe(ref values[0], (nuint)i + 8);
            s2 += Vector256.LoadUnsafe(ref values[0], (nuint)i + 16);
            s3 += Vector256.LoadUnsafe(ref values[0], (nuint)i + 24);
        }

        float sum = Vector256.Sum(s0 + s1 + s2 + s3);
        for (; i < values.Length; i++)
        {
            sum += values[i];
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ReadWrite(float[] p, float[] g)
    {
        var c = Vector256.Create(-1e-9f);
        int i = 0;
        for (; i + 8 <= p.Length; i += 8)
        {
            (Vector256.LoadUnsafe(ref p[0], (nuint)i) + (c * Vector256.LoadUnsafe(ref g[0], (nuint)i))).StoreUnsafe(ref p[0], (nuint)i);
        }

        for (; i < p.Length; i++)
        {
            p[i] += -1e-9f * g[i];
        }
    }

    // Count values' worth of √v and m / (√v + ε), over a 16 KB block so that memory plays no part; four
    // independent chains, so that the units' throughput, not their latency, sets the pace. In 512-bit vectors
    // where they are accelerated, as Adam's update runs (until 2026-12-06 this floor was 256-bit only: on an AMD
    // Zen 5 it measured 26-28 µs, above the 512-bit update itself, 21-22 µs).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float RootsAndDivisions(float[] block)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var weps = Vector512.Create(1e-8f);
            Vector512<float> w0 = default, w1 = default, w2 = default, w3 = default;
            for (int i = 0; i + 64 <= Count; i += 64)
            {
                int j = i & 4095;
                w0 += Vector512.LoadUnsafe(ref block[0], (nuint)j) / (Vector512.Sqrt(Vector512.LoadUnsafe(ref block[0], (nuint)j + 16)) + weps);
                w1 += Vector512.LoadUnsafe(ref block[0], (nuint)j + 16) / (Vector512.Sqrt(Vector512.LoadUnsafe(ref block[0], (nuint)j)) + weps);
                w2 += Vector512.LoadUnsafe(ref block[0], (nuint)j + 32) / (Vector512.Sqrt(Vector512.LoadUnsafe(ref block[0], (nuint)j + 48)) + weps);
                w3 += Vector512.LoadUnsafe(ref block[0], (nuint)j + 48) / (Vector512.Sqrt(Vector512.LoadUnsafe(ref block[0], (nuint)j + 32)) + weps);
            }

            return Vector512.Sum(w0 + w1 + w2 + w3);
        }

        var eps = Vector256.Create(1e-8f);
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int i = 0; i + 32 <= Count; i += 32)
        {
            int j = i & 4095;
            s0 += Vector256.LoadUnsafe(ref block[0], (nuint)j) / (Vector256.Sqrt(Vector256.LoadUnsafe(ref block[0], (nuint)j + 8)) + eps);
            s1 += Vector256.LoadUnsafe(ref block[0], (nuint)j + 8) / (Vector256.Sqrt(Vector256.LoadUnsafe(ref block[0], (nuint)j)) + eps);
            s2 += Vector256.LoadUnsafe(ref block[0], (nuint)j + 16) / (Vector256.Sqrt(Vector256.LoadUnsafe(ref block[0], (nuint)j + 24)) + eps);
            s3 += Vector256.LoadUnsafe(ref block[0], (nuint)j + 24) / (Vector256.Sqrt(Vector256.LoadUnsafe(ref block[0], (nuint)j + 16)) + eps);
        }

        return Vector256.Sum(s0 + s1 + s2 + s3);
    }
}
