using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// The two vector operations that .NET 9 added and the kernels use, with .NET 8 fallbacks, so
/// that the runtime builds for net8.0 as well as net10.0 (DESIGN.md section 2).
/// </summary>
internal static class Simd
{
    /// <summary><c>a·b + c</c>, fused where the hardware has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c)
    {
#if NET9_0_OR_GREATER
        return Vector256.FusedMultiplyAdd(a, b, c);
#else
        return System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : (a * b) + c;
#endif
    }

    /// <summary><c>a·b + c</c> on 512-bit vectors, fused where the hardware has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c)
    {
#if NET9_0_OR_GREATER
        return Vector512.FusedMultiplyAdd(a, b, c);
#else
        return System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a, b, c) : (a * b) + c;
#endif
    }

    /// <summary>eˣ per element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
#if NET9_0_OR_GREATER
        return Vector256.Exp(x);
#else
        return Vector256.Create(
            System.MathF.Exp(x.GetElement(0)), System.MathF.Exp(x.GetElement(1)), System.MathF.Exp(x.GetElement(2)), System.MathF.Exp(x.GetElement(3)),
            System.MathF.Exp(x.GetElement(4)), System.MathF.Exp(x.GetElement(5)), System.MathF.Exp(x.GetElement(6)), System.MathF.Exp(x.GetElement(7)));
#endif
    }
}
