using System;
using System.Globalization;
using System.Text;

namespace NetGen.SourceGenerators;

/// <summary>The layer kinds NetGen understands (one per layer attribute).</summary>
internal enum LayerKind
{
    Input,
    Dense,
    ReLU,
    LeakyReLU,
    Sigmoid,
    Tanh,
    Gelu,
    Softmax,
    Dropout,
    BatchNorm,
    Conv2D,
    MaxPool2D,
    AvgPool2D,
    GlobalAveragePool,
    Flatten,
    SoftmaxCrossEntropy,
    MeanSquaredError,
    BinaryCrossEntropy,
}

/// <summary>Mirror of <c>NetGen.Activation</c> (same names and values).</summary>
internal enum ActivationKind
{
    None = 0,
    ReLU = 1,
    LeakyReLU = 2,
    Sigmoid = 3,
    Tanh = 4,
    Gelu = 5,
    Softmax = 6,
}

/// <summary>
/// One layer attribute, as read from source: only strings, numbers, enums and equatable
/// arrays, so that the model compares by value and caches.
/// </summary>
/// <param name="Kind">Which layer.</param>
/// <param name="AttributeIndex">Position among the class's attributes (for diagnostic locations).</param>
/// <param name="Ints">Integer arguments (Input: the shape; Dense: units; Conv2D: filters, kernel, stride,
/// dilation, padding mode, padding pixels; pools: size, stride (0: the size), padding mode, padding pixels).</param>
/// <param name="Numbers">Real arguments (LeakyReLU: alpha; Dense: L1, L2; Dropout: rate; BatchNorm: momentum, epsilon).</param>
/// <param name="Activation">Dense's named Activation.</param>
/// <param name="UseBias">Dense's named UseBias.</param>
internal sealed record LayerSpec(
    LayerKind Kind,
    int AttributeIndex,
    EquatableArray<int> Ints,
    EquatableArray<double> Numbers,
    ActivationKind Activation,
    bool UseBias)
{
    /// <summary>Real argument <paramref name="index"/>, or <paramref name="fallback"/> when absent.</summary>
    public double Number(int index, double fallback = 0) => index < Numbers.Length ? Numbers[index] : fallback;

    public bool IsLoss => Kind is LayerKind.SoftmaxCrossEntropy or LayerKind.MeanSquaredError or LayerKind.BinaryCrossEntropy;

    /// <summary>How the layer reads in a message or table: <c>Dense(128, ReLU)</c>.</summary>
    public string Display
    {
        get
        {
            switch (Kind)
            {
                case LayerKind.Input:
                    return "Input(" + string.Join(", ", Ints) + ")";
                case LayerKind.Dense:
                    var text = new StringBuilder("Dense(");
                    text.Append(Ints.Length > 0 ? Ints[0].ToString(CultureInfo.InvariantCulture) : "?");
                    if (Activation != ActivationKind.None)
                    {
                        text.Append(", ").Append(Activation);
                    }

                    if (!UseBias)
                    {
                        text.Append(", no bias");
                    }

                    if (Number(0) != 0)
                    {
                        text.Append(", L1 = ").Append(Format(Number(0)));
                    }

                    if (Number(1) != 0)
                    {
                        text.Append(", L2 = ").Append(Format(Number(1)));
                    }

                    return text.Append(')').ToString();
                case LayerKind.LeakyReLU:
                    return "LeakyReLU(" + Format(Number(0)) + ")";
                case LayerKind.Dropout:
                    return "Dropout(" + Format(Number(0)) + ")";
                case LayerKind.Conv2D:
                {
                    var conv = new StringBuilder("Conv2D(").Append(Int(0)).Append(", ").Append(Int(1));
                    if (Int(2) != 1)
                    {
                        conv.Append(", Stride = ").Append(Int(2));
                    }

                    if (Int(3) != 1)
                    {
                        conv.Append(", Dilation = ").Append(Int(3));
                    }

                    AppendPadding(conv, Int(4), Int(5));
                    if (Activation != ActivationKind.None)
                    {
                        conv.Append(", ").Append(Activation);
                    }

                    if (!UseBias)
                    {
                        conv.Append(", no bias");
                    }

                    return conv.Append(')').ToString();
                }

                case LayerKind.MaxPool2D:
                case LayerKind.AvgPool2D:
                {
                    var pool = new StringBuilder(Kind.ToString()).Append('(').Append(Int(0));
                    if (Int(1) != 0 && Int(1) != Int(0))
                    {
                        pool.Append(", Stride = ").Append(Int(1));
                    }

                    AppendPadding(pool, Int(2), Int(3));
                    return pool.Append(')').ToString();
                }
                case LayerKind.BatchNorm:
                    var bn = new StringBuilder("BatchNorm");
                    if (Number(0, 0.1) != 0.1 || Number(1, 1e-5) != 1e-5)
                    {
                        bn.Append("(Momentum = ").Append(Format(Number(0, 0.1))).Append(", Epsilon = ").Append(Format(Number(1, 1e-5))).Append(')');
                    }

                    return bn.ToString();
                default:
                    return Kind.ToString();
            }
        }
    }

    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Integer argument <paramref name="index"/>, or 0 when absent.</summary>
    public int Int(int index) => index < Ints.Length ? Ints[index] : 0;

    private static void AppendPadding(StringBuilder text, int mode, int pixels)
    {
        if (pixels >= 0)
        {
            text.Append(", Padding = ").Append(pixels);
        }
        else if (mode == 1)
        {
            text.Append(", Same");
        }
    }
}

/// <summary>A problem found while reading or inferring shapes; the analyzer turns it into a diagnostic.</summary>
/// <param name="Id">The descriptor id, e.g. NG1001.</param>
/// <param name="AttributeIndex">The attribute it is reported on; <see cref="ClassLocation"/> for the class name.</param>
/// <param name="Args">The message arguments.</param>
internal sealed record Problem(string Id, int AttributeIndex, EquatableArray<string> Args)
{
    public const int ClassLocation = -1;
    public const int NetworkAttributeLocation = -2;

    public static Problem Create(string id, int attributeIndex, params string[] args) => new(id, attributeIndex, new EquatableArray<string>(args));
}

/// <summary>Everything the emitter needs about one network class.</summary>
/// <param name="Namespace">The containing namespace, empty for the global namespace.</param>
/// <param name="Name">The class name.</param>
/// <param name="MetadataName">Full metadata name, used for the hint name.</param>
/// <param name="Layers">The layers in declaration order.</param>
/// <param name="Problems">Problems found while reading the attributes.</param>
internal sealed record NetworkSpec(
    string Namespace,
    string Name,
    string MetadataName,
    EquatableArray<LayerSpec> Layers,
    EquatableArray<Problem> Problems);
