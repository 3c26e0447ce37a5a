using System.Globalization;

namespace NetGen.SourceGenerators;

/// <summary>The expressions generated code uses again and again: views of the buffers, float literals.</summary>
internal static class Ex
{
    public const string Span = "global::System.Span<float>";
    public const string ReadOnlySpan = "global::System.ReadOnlySpan<float>";
    public const string Kernels = "global::NetGen.Kernels";
    public const string ConvKernels = "global::NetGen.ConvKernels";
    public const string Guard = "global::NetGen.Guard";

    /// <summary>The activations of <paramref name="t"/> for a batch of <c>n</c>.</summary>
    public static string A(Tensor t) => $"A({t.Const}, {t.Size}, n)";

    /// <summary>The gradient of <paramref name="t"/> for a batch of <c>n</c>.</summary>
    public static string D(Tensor t) => $"D({t.Const}, {t.Size}, n)";

    /// <summary>Integer tensor <paramref name="t"/> (max-pooling winners) for a batch of <c>n</c>.</summary>
    public static string I(Tensor t) => $"I({t.Const}, {t.Size}, n)";

    public static string P(ParamTensor p) => $"P({p.Const}, {p.Size})";

    public static string G(ParamTensor p) => $"G({p.Const}, {p.Size})";

    public static string S(ParamTensor p) => $"S({p.Const}, {p.Size})";

    public static string Float(double value) => ((float)value).ToString("R", CultureInfo.InvariantCulture) + "f";

    /// <summary>The heading of an op's methods.</summary>
    public static string Heading(PlanOp op) =>
        $"// {op.Name}: {op.Display}, {Shapes.Format(op.Input.Shape)} -> {Shapes.Format(op.Output.Shape)}";
}
