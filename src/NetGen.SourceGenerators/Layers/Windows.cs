using System;
using System.Globalization;

namespace NetGen.SourceGenerators;

/// <summary>
/// What Conv2D and the pooling layers share: padding modes, the argument checks of a window,
/// its output geometry (NG1004, NG1005, NG1006) and the generated <c>Window2D</c> constant.
/// </summary>
internal static class Windows
{
    public const int Valid = 0;
    public const int Same = 1;

    /// <summary>The first error among a window's arguments, or null.</summary>
    public static string? ArgumentError(int kernel, int stride, int dilation, int mode, int pixels, bool pooling) =>
        kernel <= 0 ? $"the kernel side must be positive, but is {kernel}"
        : stride <= 0 ? $"Stride must be positive, but is {stride}"
        : dilation <= 0 ? $"Dilation must be positive, but is {dilation}"
        : pixels < -1 ? $"PaddingPixels must be non-negative, but is {pixels}"
        : pooling && pixels > kernel / 2 ? $"PaddingPixels must be at most half the window ({kernel / 2}), as in PyTorch, but is {pixels}: a window of padding alone has no value"
        : mode is not (Valid or Same) ? $"Padding {mode} is not a NetGen.Padding value"
        : null;

    /// <summary>", Same" or ", Padding = 2" for display.</summary>
    public static string PaddingText(int mode, int pixels) =>
        pixels >= 0 ? ", Padding = " + pixels.ToString(CultureInfo.InvariantCulture) : mode == Same ? ", Same" : string.Empty;

    /// <summary>NG1008 when the input is not [C, H, W]; false then.</summary>
    public static bool NeedsImage(LayerSite site, EquatableArray<int> shape)
    {
        if (shape.Length == 3)
        {
            return true;
        }

        // The hint fits the cause: a [Flatten] just before, or a vector from the input or a Dense.
        string hint = site.Previous is FlattenSpec
            ? "; remove the [Flatten] before it"
            : shape.Length == 1 ? "; a vector has no height and width: for images give [Input(channels, height, width)]" : string.Empty;
        site.Report(DiagnosticDescriptors.NeedsImage.Id, site.Display, site.At, Shapes.FormatWithCount(shape) + hint);
        return false;
    }

    /// <summary>
    /// The output geometry of a window over [C, H, W]; reports NG1004 (a convolution window larger
    /// than the padded input), NG1005 (empty output) or NG1006 (asymmetric Same padding, a warning).
    /// </summary>
    public static PlanWindow? Plan(LayerSite site, EquatableArray<int> shape, int outChannels, int kernel, int stride, int dilation, int mode, int pixels, bool convolution)
    {
        int h = shape[1], w = shape[2];
        long span = ((long)dilation * (kernel - 1)) + 1;
        int padTop, padLeft, outH, outW;
        if (pixels >= 0 || mode == Valid)
        {
            int p = Math.Max(pixels, 0);
            if (convolution && (h + (2L * p) < span || w + (2L * p) < span))
            {
                string spanText = span + "x" + span + (dilation > 1 ? $" (kernel {kernel}, dilation {dilation})" : string.Empty);
                site.Report(DiagnosticDescriptors.WindowTooLarge.Id, site.Display, site.At, Shapes.Format(shape), spanText, (h + (2 * p)) + "x" + (w + (2 * p)));
                return null;
            }

            padTop = padLeft = p;
            outH = (int)Math.Floor(((h + (2.0 * p) - span) / stride) + 1);
            outW = (int)Math.Floor(((w + (2.0 * p) - span) / stride) + 1);
        }
        else
        {
            outH = (h + stride - 1) / stride;
            outW = (w + stride - 1) / stride;
            long totalH = Math.Max(((long)(outH - 1) * stride) + span - h, 0);
            long totalW = Math.Max(((long)(outW - 1) * stride) + span - w, 0);
            padTop = (int)(totalH / 2);
            padLeft = (int)(totalW / 2);
            if (totalH % 2 != 0 || totalW % 2 != 0)
            {
                long total = totalH % 2 != 0 ? totalH : totalW;
                site.Report(DiagnosticDescriptors.AsymmetricPadding.Id, site.Display, site.At, total.ToString(CultureInfo.InvariantCulture), (total / 2).ToString(CultureInfo.InvariantCulture), (total - (total / 2)).ToString(CultureInfo.InvariantCulture));
            }
        }

        if (outH <= 0 || outW <= 0)
        {
            site.Report(DiagnosticDescriptors.EmptyOutput.Id, site.Display, site.At, Shapes.Format(shape), Shapes.Format(Shapes.Of(outChannels, outH, outW)));
            return null;
        }

        return new PlanWindow(shape[0], h, w, kernel, stride, dilation, padTop, padLeft, outH, outW);
    }

    /// <summary>The <c>Window2D</c> constant an op's kernels take.</summary>
    public static void EmitConstant(IndentedWriter w, string name, string method, PlanWindow g)
    {
        w.Line($"// {name}: a {g.Kernel}x{g.Kernel} window, stride {g.Stride}, dilation {g.Dilation}, padding {g.PadTop} before (top and left), over {Shapes.Dims(Shapes.Of(g.Channels, g.Height, g.Width))}.");
        w.Line($"private static readonly global::NetGen.Window2D {method}Window = new(Channels: {g.Channels}, Height: {g.Height}, Width: {g.Width}, KernelHeight: {g.Kernel}, KernelWidth: {g.Kernel}, Stride: {g.Stride}, Dilation: {g.Dilation}, PadTop: {g.PadTop}, PadLeft: {g.PadLeft}, OutHeight: {g.OutHeight}, OutWidth: {g.OutWidth});");
        w.Line();
    }

    /// <summary>
    /// A window's ONNX attributes: kernel_shape, strides, pads (top, left, bottom, right; the end pads
    /// those that give NetGen's output size under ONNX's floor rule) and, for a convolution, dilations.
    /// </summary>
    public static string[] OnnxAttributes(PlanWindow w, bool dilations)
    {
        int bottom = System.Math.Max(0, ((w.OutHeight - 1) * w.Stride) + (w.Dilation * (w.Kernel - 1)) + 1 - w.Height - w.PadTop);
        int right = System.Math.Max(0, ((w.OutWidth - 1) * w.Stride) + (w.Dilation * (w.Kernel - 1)) + 1 - w.Width - w.PadLeft);
        var attributes = new System.Collections.Generic.List<string>
        {
            OnnxBuilder.Ints("kernel_shape", w.Kernel, w.Kernel),
            OnnxBuilder.Ints("strides", w.Stride, w.Stride),
            OnnxBuilder.Ints("pads", w.PadTop, w.PadLeft, bottom, right),
        };
        if (dilations)
        {
            attributes.Add(OnnxBuilder.Ints("dilations", w.Dilation, w.Dilation));
        }

        return attributes.ToArray();
    }
}
