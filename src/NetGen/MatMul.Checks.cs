using System;

namespace NetGen;

// The products' argument checks, made before anything is written: a short span is named.
public static partial class MatMul
{
    // MultiplyTransposed's arguments (both overloads), before anything is written.
    private static void CheckTransposed(int cLength, int aLength, int bLength, int m, int n, int k)
    {
        CheckDims(m, n, k);
        CheckLength(aLength, (long)m * k, "a");
        CheckLength(bLength, (long)n * k, "b");
        CheckLength(cLength, (long)m * n, "c");
    }

    // Multiply's arguments (both overloads), before anything is written.
    private static void CheckStrided(int cLength, int aLength, int aRowStride, int aColStride, int bLength, int m, int n, int k)
    {
        CheckDims(m, n, k);
        if (aRowStride < 0 || aColStride < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(aRowStride), "Strides must be non-negative.");
        }

        if (m > 0 && k > 0)
        {
            CheckLength(aLength, ((long)m - 1) * aRowStride + ((long)k - 1) * aColStride + 1, "a");
        }

        CheckLength(bLength, (long)k * n, "b");
        CheckLength(cLength, (long)m * n, "c");
    }

    private static void CheckDims(int m, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
    }

    internal static void CheckLength(int actual, long required, string paramName)
    {
        if (actual < required)
        {
            throw new ArgumentException($"'{paramName}' has {actual} values; at least {required} are needed.", paramName);
        }
    }
}
