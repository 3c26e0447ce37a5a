using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace NetGen.SourceGenerators;

/// <summary>A tensor in the activation arena; sizes are per sample.</summary>
internal sealed class PlanTensor
{
    public PlanTensor(string constName, string description, int[] shape, int offset)
    {
        ConstName = constName;
        Description = description;
        Shape = shape;
        Size = ShapeInference.Product(shape);
        LongSize = ShapeInference.LongProduct(shape);
        Offset = offset;
    }

    public string ConstName { get; }

    public string Description { get; }

    public long LongSize { get; }

    public int[] Shape { get; }

    public int Size { get; }

    public int Offset { get; }
}

/// <summary>A parameter tensor in the flat parameter buffer.</summary>
internal sealed class PlanParameter
{
    public PlanParameter(string name, string constName, int[] shape, int offset)
    {
        Name = name;
        ConstName = constName;
        Shape = shape;
        Size = ShapeInference.Product(shape);
        LongSize = ShapeInference.LongProduct(shape);
        Offset = offset;
    }

    public long LongSize { get; }

    public string Name { get; }

    public string ConstName { get; }

    public int[] Shape { get; }

    public int Size { get; }

    public int Offset { get; }
}

internal enum OpKind
{
    Dense,
    Activation,
    Dropout,
    BatchNorm,
    Conv2D,
    MaxPool2D,
    AvgPool2D,
    GlobalAveragePool,
}

/// <summary>A convolution or pooling window over a [C, H, W] input (mirrors <c>NetGen.Window2D</c>).</summary>
internal sealed record PlanWindow(int Channels, int Height, int Width, int Kernel, int Stride, int Dilation, int PadTop, int PadLeft, int OutHeight, int OutWidth)
{
    public int PatchSize => Channels * Kernel * Kernel;

    public int Positions => OutHeight * OutWidth;
}

/// <summary>One step of the forward pass (a layer, or the activation fused into a Dense).</summary>
internal sealed class PlanOp
{
    public OpKind Kind { get; set; }

    public string Name { get; set; } = "";

    public string MethodName { get; set; } = "";

    public int LayerIndex { get; set; }

    public PlanTensor Input { get; set; } = null!;

    public PlanTensor Output { get; set; } = null!;

    public PlanParameter? Weight { get; set; }

    public PlanParameter? Bias { get; set; }

    public int Rows { get; set; } = 1;

    public int InFeatures { get; set; }

    public int OutFeatures { get; set; }

    public ActivationKind Activation { get; set; }

    public double Alpha { get; set; }

    public bool HeInit { get; set; }

    /// <summary>Whether backward must produce the input's gradient: only when a layer before it has parameters.</summary>
    public bool NeedsInputGradient { get; set; }

    /// <summary>Dense: L1 and L2 penalties on the weight.</summary>
    public double L1 { get; set; }

    public double L2 { get; set; }

    /// <summary>Dropout: the rate and the mask tensor.</summary>
    public double Rate { get; set; }

    public PlanTensor? Mask { get; set; }

    /// <summary>BatchNorm: running statistics (state), scratch offset (4 × features), momentum, epsilon.</summary>
    public PlanParameter? RunningMean { get; set; }

    public PlanParameter? RunningVariance { get; set; }

    public string ScratchConst { get; set; } = "";

    public int ScratchOffset { get; set; }

    public double Momentum { get; set; }

    public double Epsilon { get; set; }

    /// <summary>BatchNorm and global pooling: values per channel per sample (1 for vectors, H·W for images).</summary>
    public int Spatial { get; set; } = 1;

    /// <summary>Conv2D and pooling: the window.</summary>
    public PlanWindow? Window { get; set; }

    /// <summary>MaxPool2D: the winning input index of every output, in the index arena.</summary>
    public PlanTensor? Indices { get; set; }
}

/// <summary>One row of the summary table (one user layer).</summary>
internal sealed class PlanRow
{
    public PlanRow(int index, string name, string display, int[] outputShape, int parameters)
    {
        Index = index;
        Name = name;
        Display = display;
        OutputShape = outputShape;
        Parameters = parameters;
    }

    public int Index { get; }

    public string Name { get; }

    public string Display { get; }

    public int[] OutputShape { get; }

    public int Parameters { get; }
}

/// <summary>The network after shape inference: every size known, every tensor placed.</summary>
internal sealed class NetworkPlan
{
    public NetworkPlan(NetworkSpec spec) => Spec = spec;

    public NetworkSpec Spec { get; }

    public List<Problem> Problems { get; } = new();

    public bool HasErrors => Problems.Any(p => DiagnosticDescriptors.Find(p.Id)?.DefaultSeverity == DiagnosticSeverity.Error);

    public int[] InputShape { get; set; } = Array.Empty<int>();

    public int[] OutputShape { get; set; } = Array.Empty<int>();

    public int InputSize => ShapeInference.Product(InputShape);

    public int OutputSize => ShapeInference.Product(OutputShape);

    public List<PlanRow> Rows { get; } = new();

    public List<PlanTensor> Tensors { get; } = new();

    public List<PlanParameter> Parameters { get; } = new();

    /// <summary>Non-trainable state saved with the model (BatchNorm running statistics).</summary>
    public List<PlanParameter> State { get; } = new();

    /// <summary>Per-batch working space (BatchNorm batch statistics, then the im2col columns), independent of the batch size.</summary>
    public int ScratchSize { get; set; }

    /// <summary>Offset and size of the im2col columns in the scratch (shared by every convolution).</summary>
    public int ColumnsOffset { get; set; }

    public int ColumnsSize { get; set; }

    /// <summary>Integer tensors (max-pooling indices), per sample.</summary>
    public List<PlanTensor> IndexTensors { get; } = new();

    public int IndicesPerSample => (int)Math.Min(int.MaxValue, IndexTensors.Sum(t => t.LongSize));

    public List<PlanOp> Ops { get; } = new();

    public LayerSpec? Loss { get; set; }

    public PlanTensor? InputTensor { get; set; }

    public PlanTensor? Probabilities { get; set; }

    public int ParameterCount => (int)Math.Min(int.MaxValue, Parameters.Sum(p => p.LongSize));

    public int StateCount => (int)Math.Min(int.MaxValue, State.Sum(p => p.LongSize));

    public int ActivationsPerSample => (int)Math.Min(int.MaxValue, Tensors.Sum(t => t.LongSize));

    /// <summary>The tensor the loss reads (the last op's output, or the input).</summary>
    public PlanTensor? Last => Ops.Count > 0 ? Ops[Ops.Count - 1].Output : InputTensor;
}

/// <summary>
/// Shape inference: a pure function from the spec to the plan and its problems. The generator
/// emits from the plan; the analyzer reports the problems.
/// </summary>
internal static class ShapeInference
{
    public static int Product(int[] shape)
    {
        long p = LongProduct(shape);
        return p > int.MaxValue ? int.MaxValue : (int)p;
    }

    public static long LongProduct(int[] shape)
    {
        long p = 1;
        foreach (int d in shape)
        {
            p = Math.Min(p * d, 1L << 40);
        }

        return p;
    }

    public static string FormatShape(int[] shape) => "[" + string.Join(", ", shape) + "]";

    public static string FormatShapeWithCount(int[] shape) =>
        FormatShape(shape) + " (" + Product(shape).ToString("N0", CultureInfo.InvariantCulture) + (Product(shape) == 1 ? " value)" : " values)");

    public static NetworkPlan Infer(NetworkSpec spec)
    {
        var plan = new NetworkPlan(spec);
        plan.Problems.AddRange(spec.Problems);
        var counters = new Dictionary<string, int>();
        var layers = spec.Layers;

        if (layers.Length == 0 || layers[0].Kind != LayerKind.Input)
        {
            if (!layers.Any(l => l.Kind == LayerKind.Input))
            {
                plan.Problems.Add(Problem.Create(DiagnosticDescriptors.MissingInput.Id, Problem.NetworkAttributeLocation, spec.Name));
            }
        }

        int[]? shape = null;
        PlanTensor? current = null;
        LayerSpec? loss = null;
        int lossIndex = -1;
        int offset = 0;

        PlanTensor AddTensor(string constName, string description, int[] s)
        {
            var t = new PlanTensor(constName, description, s, offset);
            offset += t.Size;
            plan.Tensors.Add(t);
            return t;
        }

        int stateOffset = 0;
        PlanParameter AddState(string name, string constName, int[] s)
        {
            var p = new PlanParameter(name, constName, s, stateOffset);
            stateOffset += p.Size;
            plan.State.Add(p);
            return p;
        }

        int paramOffset = 0;
        PlanParameter AddParameter(string name, string constName, int[] s)
        {
            var p = new PlanParameter(name, constName, s, paramOffset);
            paramOffset += p.Size;
            plan.Parameters.Add(p);
            return p;
        }

        for (int index = 0; index < layers.Length; index++)
        {
            LayerSpec layer = layers[index];
            string at = index.ToString(CultureInfo.InvariantCulture);

            if (loss is not null)
            {
                plan.Problems.Add(Problem.Create(DiagnosticDescriptors.LayerAfterLoss.Id, layer.AttributeIndex, layer.Display, at, loss.Display, lossIndex.ToString(CultureInfo.InvariantCulture)));
                continue;
            }

            if (layer.Kind == LayerKind.Input)
            {
                if (index != 0)
                {
                    plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InputNotFirst.Id, layer.AttributeIndex, layer.Display, at, spec.Name));
                    continue;
                }

                if (layer.Ints.Length == 0)
                {
                    plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, "the shape is empty; give one sample's dimensions, e.g. [Input(784)] or [Input(1, 28, 28)]"));
                    return plan;
                }

                int[] dims = layer.Ints.AsSpan().ToArray();
                int bad = Array.FindIndex(dims, d => d <= 0);
                if (bad >= 0)
                {
                    plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, $"dimension {bad} is {dims[bad]}; every dimension must be positive"));
                    return plan;
                }

                shape = dims;
                plan.InputShape = dims;
                current = AddTensor("Input", "network input", dims);
                plan.InputTensor = current;
                plan.Rows.Add(new PlanRow(0, "input", layer.Display, dims, 0));
                continue;
            }

            if (shape is null || current is null)
            {
                // No usable input: nothing to infer (NG0002 or NG9001 already reported).
                continue;
            }

            switch (layer.Kind)
            {
                case LayerKind.Dense:
                {
                    int units = layer.Ints.Length > 0 ? layer.Ints[0] : 0;
                    if (units <= 0)
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, $"units must be positive, but is {units}"));
                        shape = null;
                        continue;
                    }

                    if (!Enum.IsDefined(typeof(ActivationKind), layer.Activation))
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, $"Activation {(int)layer.Activation} is not a NetGen.Activation value"));
                        shape = null;
                        continue;
                    }

                    double l1 = layer.Number(0), l2 = layer.Number(1);
                    if (!(l1 >= 0) || !(l2 >= 0) || double.IsInfinity(l1) || double.IsInfinity(l2))
                    {
                        string which = !(l1 >= 0) || double.IsInfinity(l1) ? "L1" : "L2";
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, $"{which} must be non-negative and finite, but is {LayerSpec.Format(which == "L1" ? l1 : l2)}"));
                        shape = null;
                        continue;
                    }

                    if (shape.Length == 3)
                    {
                        int[] would = (int[])shape.Clone();
                        would[2] = units;
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.DenseAfterImage.Id, layer.AttributeIndex, layer.Display, at, FormatShapeWithCount(shape), FormatShape(would)));
                    }

                    string name = NextName(counters, "dense");
                    string pascal = Pascal(name);
                    int inFeatures = shape[shape.Length - 1];
                    int[] outShape = (int[])shape.Clone();
                    outShape[outShape.Length - 1] = units;
                    var op = new PlanOp
                    {
                        Kind = OpKind.Dense,
                        Name = name,
                        MethodName = pascal,
                        LayerIndex = index,
                        Input = current,
                        Weight = AddParameter(name + ".weight", pascal + "Weight", new[] { units, inFeatures }),
                        Bias = layer.UseBias ? AddParameter(name + ".bias", pascal + "Bias", new[] { units }) : null,
                        Rows = Product(shape) / inFeatures,
                        InFeatures = inFeatures,
                        OutFeatures = units,
                        L1 = l1,
                        L2 = l2,
                    };
                    op.Output = AddTensor(pascal + "Out", name + " output" + (layer.Activation == ActivationKind.None ? string.Empty : " (before " + layer.Activation + ")"), outShape);
                    plan.Ops.Add(op);
                    current = op.Output;
                    if (layer.Activation != ActivationKind.None)
                    {
                        current = AddActivation(plan, layer.Activation, 0.01, name + "." + layer.Activation.ToString().ToLowerInvariant(), pascal + layer.Activation, index, current, AddTensor);
                    }

                    shape = outShape;
                    plan.Rows.Add(new PlanRow(index, name, layer.Display, outShape, op.Weight.Size + (op.Bias?.Size ?? 0)));
                    break;
                }

                case LayerKind.ReLU:
                case LayerKind.LeakyReLU:
                case LayerKind.Sigmoid:
                case LayerKind.Tanh:
                case LayerKind.Gelu:
                case LayerKind.Softmax:
                {
                    if (layer.Kind == LayerKind.LeakyReLU && !(layer.Number(0) >= 0))
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, $"alpha must be non-negative, but is {LayerSpec.Format(layer.Number(0))}"));
                        shape = null;
                        continue;
                    }

                    var activation = (ActivationKind)Enum.Parse(typeof(ActivationKind), layer.Kind.ToString());
                    string name = NextName(counters, layer.Kind.ToString().ToLowerInvariant());
                    current = AddActivation(plan, activation, layer.Number(0), name, Pascal(name), index, current, AddTensor);
                    plan.Rows.Add(new PlanRow(index, name, layer.Display, shape, 0));
                    break;
                }

                case LayerKind.Flatten:
                {
                    // No copy and no op: the same memory, read as a vector.
                    int[] flat = { Product(shape) };
                    current = new PlanTensor(current.ConstName, current.Description, flat, current.Offset);
                    shape = flat;
                    plan.Rows.Add(new PlanRow(index, NextName(counters, "flatten"), layer.Display, flat, 0));
                    break;
                }

                case LayerKind.Conv2D:
                case LayerKind.MaxPool2D:
                case LayerKind.AvgPool2D:
                case LayerKind.GlobalAveragePool:
                {
                    if (shape.Length != 3)
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.NeedsImage.Id, layer.AttributeIndex, layer.Display, at, FormatShapeWithCount(shape) + (shape.Length == 1 ? "; give [Input(channels, height, width)] or remove the [Flatten] before it" : string.Empty)));
                        shape = null;
                        continue;
                    }

                    string kind = layer.Kind switch
                    {
                        LayerKind.Conv2D => "conv",
                        LayerKind.MaxPool2D => "maxpool",
                        LayerKind.AvgPool2D => "avgpool",
                        _ => "globalavgpool",
                    };
                    if (layer.Kind == LayerKind.GlobalAveragePool)
                    {
                        string gname = NextName(counters, kind);
                        var gap = new PlanOp { Kind = OpKind.GlobalAveragePool, Name = gname, MethodName = Pascal(gname), LayerIndex = index, Input = current, InFeatures = shape[0], OutFeatures = shape[0], Spatial = shape[1] * shape[2] };
                        int[] pooled = { shape[0] };
                        gap.Output = AddTensor(Pascal(gname) + "Out", gname + " output", pooled);
                        plan.Ops.Add(gap);
                        current = gap.Output;
                        shape = pooled;
                        plan.Rows.Add(new PlanRow(index, gname, layer.Display, pooled, 0));
                        break;
                    }

                    bool conv = layer.Kind == LayerKind.Conv2D;
                    int filters = conv ? layer.Int(0) : shape[0];
                    int kernel = conv ? layer.Int(1) : layer.Int(0);
                    int stride = conv ? layer.Int(2) : (layer.Int(1) == 0 ? kernel : layer.Int(1));
                    int dilation = conv ? layer.Int(3) : 1;
                    int mode = conv ? layer.Int(4) : layer.Int(2);
                    int pixels = conv ? layer.Int(5) : layer.Int(3);
                    string? bad = conv && filters <= 0 ? $"filters must be positive, but is {filters}"
                        : kernel <= 0 ? $"the kernel side must be positive, but is {kernel}"
                        : stride <= 0 ? $"Stride must be positive, but is {stride}"
                        : dilation <= 0 ? $"Dilation must be positive, but is {dilation}"
                        : pixels < -1 ? $"PaddingPixels must be non-negative, but is {pixels}"
                        : !conv && pixels > kernel / 2 ? $"PaddingPixels must be at most half the window ({kernel / 2}), as in PyTorch, but is {pixels}: a window of padding alone has no value"
                        : mode is not (0 or 1) ? $"Padding {mode} is not a NetGen.Padding value"
                        : conv && !Enum.IsDefined(typeof(ActivationKind), layer.Activation) ? $"Activation {(int)layer.Activation} is not a NetGen.Activation value"
                        : null;
                    if (bad is not null)
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, bad));
                        shape = null;
                        continue;
                    }

                    PlanWindow? window = Window(plan, layer, at, shape, filters, kernel, stride, dilation, mode, pixels);
                    if (window is null)
                    {
                        shape = null;
                        continue;
                    }

                    string name = NextName(counters, kind);
                    string pascal = Pascal(name);
                    int[] outShape = { filters, window.OutHeight, window.OutWidth };
                    var op = new PlanOp
                    {
                        Kind = conv ? OpKind.Conv2D : layer.Kind == LayerKind.MaxPool2D ? OpKind.MaxPool2D : OpKind.AvgPool2D,
                        Name = name,
                        MethodName = pascal,
                        LayerIndex = index,
                        Input = current,
                        Window = window,
                        InFeatures = window.PatchSize,
                        OutFeatures = filters,
                    };
                    if (conv)
                    {
                        op.Weight = AddParameter(name + ".weight", pascal + "Weight", new[] { filters, shape[0], kernel, kernel });
                        op.Bias = layer.UseBias ? AddParameter(name + ".bias", pascal + "Bias", new[] { filters }) : null;
                        plan.ColumnsSize = Math.Max(plan.ColumnsSize, (int)Math.Min(int.MaxValue, (long)window.PatchSize * window.Positions));
                    }
                    else if (op.Kind == OpKind.MaxPool2D)
                    {
                        op.Indices = new PlanTensor(pascal + "Argmax", name + " winning input index", outShape, plan.IndicesPerSample);
                        plan.IndexTensors.Add(op.Indices);
                    }

                    op.Output = AddTensor(pascal + "Out", name + " output" + (conv && layer.Activation != ActivationKind.None ? " (before " + layer.Activation + ")" : string.Empty), outShape);
                    plan.Ops.Add(op);
                    current = op.Output;
                    if (conv && layer.Activation != ActivationKind.None)
                    {
                        current = AddActivation(plan, layer.Activation, 0.01, name + "." + layer.Activation.ToString().ToLowerInvariant(), pascal + layer.Activation, index, current, AddTensor);
                    }

                    shape = outShape;
                    plan.Rows.Add(new PlanRow(index, name, layer.Display, outShape, (op.Weight?.Size ?? 0) + (op.Bias?.Size ?? 0)));
                    break;
                }

                case LayerKind.Dropout:
                {
                    double rate = layer.Number(0, double.NaN);
                    if (!(rate >= 0 && rate < 1))
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, $"rate must lie in [0, 1), but is {LayerSpec.Format(rate)}"));
                        shape = null;
                        continue;
                    }

                    string name = NextName(counters, "dropout");
                    string pascal = Pascal(name);
                    var op = new PlanOp { Kind = OpKind.Dropout, Name = name, MethodName = pascal, LayerIndex = index, Input = current, Rate = rate };
                    op.Mask = AddTensor(pascal + "Mask", name + " mask (0 or 1/(1-rate))", shape);
                    op.Output = AddTensor(pascal + "Out", name + " output", shape);
                    plan.Ops.Add(op);
                    current = op.Output;
                    plan.Rows.Add(new PlanRow(index, name, layer.Display, shape, 0));
                    break;
                }

                case LayerKind.BatchNorm:
                {
                    double momentum = layer.Number(0, 0.1), epsilon = layer.Number(1, 1e-5);
                    string? bad = !(momentum >= 0 && momentum <= 1) ? $"Momentum must lie in [0, 1], but is {LayerSpec.Format(momentum)}"
                        : !(epsilon > 0) || double.IsInfinity(epsilon) ? $"Epsilon must be positive, but is {LayerSpec.Format(epsilon)}"
                        : null;
                    if (bad is not null)
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, bad));
                        shape = null;
                        continue;
                    }

                    if (shape.Length != 1 && shape.Length != 3)
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.BatchNormInput.Id, layer.AttributeIndex, layer.Display, at, FormatShapeWithCount(shape)));
                        shape = null;
                        continue;
                    }

                    int features = shape[0];
                    string name = NextName(counters, "batchnorm");
                    string pascal = Pascal(name);
                    var op = new PlanOp
                    {
                        Kind = OpKind.BatchNorm,
                        Name = name,
                        MethodName = pascal,
                        LayerIndex = index,
                        Input = current,
                        InFeatures = features,
                        OutFeatures = features,
                        Momentum = momentum,
                        Epsilon = epsilon,
                        Weight = AddParameter(name + ".weight", pascal + "Weight", new[] { features }),
                        Bias = AddParameter(name + ".bias", pascal + "Bias", new[] { features }),
                        RunningMean = AddState(name + ".running_mean", pascal + "RunningMean", new[] { features }),
                        RunningVariance = AddState(name + ".running_var", pascal + "RunningVar", new[] { features }),
                        ScratchConst = pascal + "Scratch",
                        ScratchOffset = plan.ScratchSize,
                        Spatial = shape.Length == 3 ? shape[1] * shape[2] : 1,
                    };
                    plan.ScratchSize += 2 * features;
                    op.Output = AddTensor(pascal + "Out", name + " output", shape);
                    plan.Ops.Add(op);
                    current = op.Output;
                    plan.Rows.Add(new PlanRow(index, name, layer.Display, shape, 2 * features));
                    break;
                }

                case LayerKind.SoftmaxCrossEntropy:
                case LayerKind.MeanSquaredError:
                case LayerKind.BinaryCrossEntropy:
                {
                    loss = layer;
                    lossIndex = index;
                    if (layer.Kind == LayerKind.SoftmaxCrossEntropy && (shape.Length != 1 || shape[0] < 2))
                    {
                        plan.Problems.Add(Problem.Create(DiagnosticDescriptors.LossDoesNotFit.Id, layer.AttributeIndex, layer.Display, at, "a vector of at least 2 class scores", FormatShapeWithCount(shape)));
                        shape = null;
                        continue;
                    }

                    CheckDoubleActivation(plan, layers, index, layer);
                    plan.Loss = layer;
                    if (layer.Kind != LayerKind.MeanSquaredError)
                    {
                        plan.Probabilities = AddTensor("Probabilities", layer.Kind == LayerKind.SoftmaxCrossEntropy ? "softmax of the logits" : "sigmoid of the logits", shape);
                    }

                    plan.Rows.Add(new PlanRow(index, "loss", layer.Display, shape, 0));
                    break;
                }
            }
        }

        if (shape is not null)
        {
            plan.OutputShape = shape;
        }

        plan.ColumnsOffset = plan.ScratchSize;
        plan.ScratchSize += plan.ColumnsSize;

        // Buffers are float[] indexed by int: refuse a network whose sizes do not fit, on the first
        // layer that makes them overflow (a batch of one sample; MaxBatchSize is checked at run time).
        long parameters = 0, activations = plan.InputTensor?.LongSize ?? 0;
        if (activations > int.MaxValue)
        {
            LayerSpec input = layers[0];
            plan.Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, input.AttributeIndex, input.Display, "0", "one sample would exceed " + int.MaxValue.ToString("N0", CultureInfo.InvariantCulture) + " values"));
            return plan;
        }

        foreach (PlanOp op in plan.Ops)
        {
            parameters += (op.Weight?.LongSize ?? 0) + (op.Bias?.LongSize ?? 0);
            activations += op.Output.LongSize;
            if (parameters > int.MaxValue || activations > int.MaxValue)
            {
                LayerSpec layer = layers[op.LayerIndex];
                plan.Problems.Add(Problem.Create(
                    DiagnosticDescriptors.InvalidArgument.Id,
                    layer.AttributeIndex,
                    layer.Display,
                    op.LayerIndex.ToString(CultureInfo.InvariantCulture),
                    "the network's " + (parameters > int.MaxValue ? "parameters" : "activations for one sample") + " would exceed " + int.MaxValue.ToString("N0", CultureInfo.InvariantCulture) + " values"));
                break;
            }
        }

        // He initialisation for a Dense whose output goes through a ReLU-family activation.
        bool parametersBefore = false;
        for (int i = 0; i < plan.Ops.Count; i++)
        {
            PlanOp op = plan.Ops[i];
            op.NeedsInputGradient = parametersBefore;
            parametersBefore |= op.Weight is not null;
            if (op.Kind is OpKind.Dense or OpKind.Conv2D)
            {
                // The activation that follows, looking past normalisation and dropout.
                int next = i + 1;
                while (next < plan.Ops.Count && plan.Ops[next].Kind is OpKind.BatchNorm or OpKind.Dropout)
                {
                    next++;
                }

                op.HeInit = next < plan.Ops.Count && plan.Ops[next].Kind == OpKind.Activation
                    && plan.Ops[next].Activation is ActivationKind.ReLU or ActivationKind.LeakyReLU or ActivationKind.Gelu;
            }
        }

        return plan;
    }

    /// <summary>
    /// The output geometry of a window over [C, H, W]; reports NG1004 (window larger than the
    /// padded input), NG1005 (empty output) or NG1006 (asymmetric Same padding, a warning).
    /// </summary>
    private static PlanWindow? Window(NetworkPlan plan, LayerSpec layer, string at, int[] shape, int outChannels, int kernel, int stride, int dilation, int mode, int pixels)
    {
        int h = shape[1], w = shape[2];
        long span = ((long)dilation * (kernel - 1)) + 1;
        int padTop, padLeft, outH, outW;
        if (pixels >= 0 || mode == 0)
        {
            int p = Math.Max(pixels, 0);
            if (layer.Kind == LayerKind.Conv2D && (h + (2L * p) < span || w + (2L * p) < span))
            {
                string spanText = span + "x" + span + (dilation > 1 ? $" (kernel {kernel}, dilation {dilation})" : string.Empty);
                plan.Problems.Add(Problem.Create(DiagnosticDescriptors.WindowTooLarge.Id, layer.AttributeIndex, layer.Display, at, FormatShape(shape), spanText, (h + (2 * p)) + "x" + (w + (2 * p))));
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
                plan.Problems.Add(Problem.Create(DiagnosticDescriptors.AsymmetricPadding.Id, layer.AttributeIndex, layer.Display, at, total.ToString(CultureInfo.InvariantCulture), (total / 2).ToString(CultureInfo.InvariantCulture), (total - (total / 2)).ToString(CultureInfo.InvariantCulture)));
            }
        }

        if (outH <= 0 || outW <= 0)
        {
            plan.Problems.Add(Problem.Create(DiagnosticDescriptors.EmptyOutput.Id, layer.AttributeIndex, layer.Display, at, FormatShape(shape), FormatShape(new[] { outChannels, outH, outW })));
            return null;
        }

        return new PlanWindow(shape[0], h, w, kernel, stride, dilation, padTop, padLeft, outH, outW);
    }

    private static PlanTensor AddActivation(NetworkPlan plan, ActivationKind activation, double alpha, string name, string pascal, int index, PlanTensor input, Func<string, string, int[], PlanTensor> addTensor)
    {
        var op = new PlanOp
        {
            Kind = OpKind.Activation,
            Name = name,
            MethodName = pascal,
            LayerIndex = index,
            Input = input,
            Activation = activation,
            Alpha = alpha,
            InFeatures = input.Shape[input.Shape.Length - 1],
            OutFeatures = input.Shape[input.Shape.Length - 1],
        };
        op.Output = addTensor(pascal + "Out", name + " output", input.Shape);
        plan.Ops.Add(op);
        return op.Output;
    }

    private static void CheckDoubleActivation(NetworkPlan plan, EquatableArray<LayerSpec> layers, int lossIndex, LayerSpec loss)
    {
        if (lossIndex == 0 || loss.Kind == LayerKind.MeanSquaredError)
        {
            return;
        }

        LayerSpec previous = layers[lossIndex - 1];
        ActivationKind applied = loss.Kind == LayerKind.SoftmaxCrossEntropy ? ActivationKind.Softmax : ActivationKind.Sigmoid;
        bool twice = (previous.Kind == LayerKind.Softmax && applied == ActivationKind.Softmax)
            || (previous.Kind == LayerKind.Sigmoid && applied == ActivationKind.Sigmoid)
            || (previous.Kind == LayerKind.Dense && previous.Activation == applied);
        if (twice)
        {
            string what = applied == ActivationKind.Softmax ? "softmax" : "sigmoid";
            plan.Problems.Add(Problem.Create(
                DiagnosticDescriptors.DoubleActivation.Id,
                previous.AttributeIndex,
                previous.Display,
                (lossIndex - 1).ToString(CultureInfo.InvariantCulture),
                loss.Display,
                what));
        }
    }

    private static string NextName(Dictionary<string, int> counters, string kind)
    {
        counters.TryGetValue(kind, out int n);
        counters[kind] = ++n;
        return kind + n.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary><c>dense1.relu</c> → <c>Dense1Relu</c>.</summary>
    public static string Pascal(string name)
    {
        var chars = new List<char>(name.Length);
        bool upper = true;
        foreach (char c in name)
        {
            if (c == '.' || c == '_')
            {
                upper = true;
                continue;
            }

            chars.Add(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        return new string(chars.ToArray());
    }
}
