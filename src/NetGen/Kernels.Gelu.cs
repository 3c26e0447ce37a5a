using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

public static partial class Kernels
{
    // ---------------------------------------------------------------- Exact GELU

    // GELU(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2)); GELU'(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
    // erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, under float's resolution
    // of Φ), odd-extended to negative arguments.
    private const float ErfP = 0.3275911f;
    private const float ErfA1 = 0.254829592f;
    private const float ErfA2 = -0.284496736f;
    private const float ErfA3 = 1.421413741f;
    private const float ErfA4 = -1.453152027f;
    private const float ErfA5 = 1.061405429f;
    private const float InverseSqrt2 = 0.70710678118654752f;
    private const float InverseSqrt2Pi = 0.39894228040143268f;

    /// <summary>The error function in single precision (absolute error below 1.5e-7).</summary>
    /// <param name="x">The argument.</param>
    /// <returns>erf(x).</returns>
    public static float Erf(float x)
    {
        float a = MathF.Abs(x);
        float t = 1f / (1f + (ErfP * a));
        float poly = t * (ErfA1 + (t * (ErfA2 + (t * (ErfA3 + (t * (ErfA4 + (t * ErfA5))))))));
        float e = 1f - (poly * MathF.Exp(-a * a));
        return x < 0 ? -e : e;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Erf(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var t = Vector256<float>.One / (Vector256<float>.One + (Vector256.Create(ErfP) * a));
        var poly = Simd.Fma(t, Vector256.Create(ErfA5), Vector256.Create(ErfA4));
        poly = Simd.Fma(t, poly, Vector256.Create(ErfA3));
        poly = Simd.Fma(t, poly, Vector256.Create(ErfA2));
        poly = Simd.Fma(t, poly, Vector256.Create(ErfA1));
        poly *= t;
        var e = Vector256<float>.One - (poly * Simd.Exp(-(a * a)));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -e, e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Erf(Vector512<float> x)
    {
        var a = Vector512.Abs(x);
        var t = Vector512<float>.One / (Vector512<float>.One + (Vector512.Create(ErfP) * a));
        var poly = Simd.Fma(t, Vector512.Create(ErfA5), Vector512.Create(ErfA4));
        poly = Simd.Fma(t, poly, Vector512.Create(ErfA3));
        poly = Simd.Fma(t, poly, Vector512.Create(ErfA2));
        poly = Simd.Fma(t, poly, Vector512.Create(ErfA1));
        poly *= t;
        var e = Vector512<float>.One - (poly * Simd.Exp(-(a * a)));
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -e, e);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluExactForward(Span<float> output, ReadOnlySpan<float> input)
    {
        int n = input.Length;
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        int i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            var half = Vector512.Create(0.5f);
            var r2 = Vector512.Create(InverseSqrt2);
            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
            {
                var vx = Vector512.LoadUnsafe(ref x, (nuint)i);
                (half * vx * (Vector512<float>.One + Erf(vx * r2))).StoreUnsafe(ref y, (nuint)i);
            }
        }

        if (MatMul.UseVectors)
        {
            var half = Vector256.Create(0.5f);
            var r2 = Vector256.Create(InverseSqrt2);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var vx = Vector256.LoadUnsafe(ref x, (nuint)i);
                (half * vx * (Vector256<float>.One + Erf(vx * r2))).StoreUnsafe(ref y, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i);
            Unsafe.Add(ref y, i) = 0.5f * v * (1f + Erf(v * InverseSqrt2));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluExactBackward(Span<float> dInput, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input)
    {
        int n = input.Length;
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float dx = ref MemoryMarshal.GetReference(dInput);
        int i = 0;
        if (MatMul.UseVectors && MatMul.Use512)
        {
            var half = Vector512.Create(0.5f);
            var r2 = Vector512.Create(InverseSqrt2);
            var r2pi = Vector512.Create(InverseSqrt2Pi);
            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
            {
                var vx = Vector512.LoadUnsafe(ref x, (nuint)i);
                var cdf = half * (Vector512<float>.One + Erf(vx * r2));
                var pdf = r2pi * Simd.Exp(-(half * vx * vx));
                ((cdf + (vx * pdf)) * Vector512.LoadUnsafe(ref dy, (nuint)i)).StoreUnsafe(ref dx, (nuint)i);
            }
        }

        if (MatMul.UseVectors)
        {
            var half = Vector256.Create(0.5f);
            var r2 = Vector256.Create(InverseSqrt2);
            var r2pi = Vector256.Create(InverseSqrt2Pi);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var vx = Vector256.LoadUnsafe(ref x, (nuint)i);
                var cdf = half * (Vector256<float>.One + Erf(vx * r2));
                var pdf = r2pi * Simd.Exp(-(half * vx * vx));
                ((cdf + (vx * pdf)) * Vector256.LoadUnsafe(ref dy, (nuint)i)).StoreUnsafe(ref dx, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i);
            float cdf = 0.5f * (1f + Erf(v * InverseSqrt2));
            float pdf = InverseSqrt2Pi * MathF.Exp(-0.5f * v * v);
            Unsafe.Add(ref dx, i) = (cdf + (v * pdf)) * Unsafe.Add(ref dy, i);
        }
    }
}
