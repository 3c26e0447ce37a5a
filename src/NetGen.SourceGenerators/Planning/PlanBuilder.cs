using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>
/// Plans a network: walks its layers (blocks inlined, in topological order), asks each layer
/// kind for its shape rule, tensors, parameters and ops, and collects the problems. Pure: the
/// generator and the analyzer both call <see cref="Plan"/>. Layer kinds call the Add methods.
/// </summary>
internal sealed partial class PlanBuilder
{
    private readonly NetworkSpec _spec;
    private readonly BlockCatalog _blocks;
    private readonly List<PlanOp> _ops = new();
    private readonly List<Tensor> _tensors = new();
    private readonly List<Tensor> _indexTensors = new();
    private readonly List<ParamTensor> _parameters = new();
    private readonly List<ParamTensor> _state = new();
    private readonly List<PlanRow> _rows = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _identifiers = new(StringComparer.Ordinal);
    private readonly Stack<string> _blockStack = new();
    private int _offset;
    private int _indexOffset;
    private int _parameterOffset;
    private int _stateOffset;
    private long _parameterTotal;
    private long _activationTotal;
    private bool _silentError;
    private Tensor? _input;

    private PlanBuilder(NetworkSpec spec, BlockCatalog blocks)
    {
        _spec = spec;
        _blocks = blocks;
    }

    public List<Problem> Problems { get; } = new();

    /// <summary>The tensor the next layer reads; null once planning has failed.</summary>
    public Tensor? Current { get; set; }

    public LossSpec? Loss { get; set; }

    public Tensor? Probabilities { get; set; }

    /// <summary>The vocabulary of the Embedding that reads the token input (0 without one).</summary>
    public int Vocabulary { get; set; }

    /// <summary>The weights of the Embedding layers planned so far, by layer name (weight tying).</summary>
    public Dictionary<string, ParamTensor> Embeddings { get; } = new(StringComparer.Ordinal);

    /// <summary>Per-batch working space (BatchNorm statistics); the im2col columns come after it.</summary>
    public int ScratchSize { get; private set; }

    public int ColumnsSize { get; private set; }

    /// <summary>Plans <paramref name="spec"/>, inlining blocks from <paramref name="blocks"/>.</summary>
    public static (NetworkPlan Plan, List<Problem> Problems) Plan(NetworkSpec spec, BlockCatalog blocks)
    {
        var builder = new PlanBuilder(spec, blocks);
        builder.Problems.AddRange(spec.Problems);
        builder.PlanNetwork();
        return (builder.Finish(), builder.Problems);
    }

    public void Report(Problem problem) => Problems.Add(problem);

    public Tensor AddTensor(string constName, string description, EquatableArray<int> shape, bool requiresGrad)
    {
        var t = new Tensor(constName, description, shape, _offset, requiresGrad);
        _offset = (int)Math.Min(int.MaxValue, _offset + t.LongSize);
        _activationTotal += t.LongSize;
        _tensors.Add(t);
        return t;
    }

    public Tensor AddIndexTensor(string constName, string description, EquatableArray<int> shape)
    {
        var t = new Tensor(constName, description, shape, _indexOffset, false);
        _indexOffset = (int)Math.Min(int.MaxValue, _indexOffset + t.LongSize);
        _indexTensors.Add(t);
        return t;
    }

    public ParamTensor AddParameter(string name, string constName, params int[] shape)
    {
        var p = new ParamTensor(name, constName, new EquatableArray<int>(shape), _parameterOffset);
        _parameterOffset = (int)Math.Min(int.MaxValue, _parameterOffset + p.LongSize);
        _parameterTotal += p.LongSize;
        _parameters.Add(p);
        return p;
    }

    public ParamTensor AddState(string name, string constName, params int[] shape)
    {
        var p = new ParamTensor(name, constName, new EquatableArray<int>(shape), _stateOffset);
        _stateOffset = (int)Math.Min(int.MaxValue, _stateOffset + p.LongSize);
        _state.Add(p);
        return p;
    }

    /// <summary>Reserves <paramref name="size"/> values of per-batch scratch; returns its offset.</summary>
    private readonly Dictionary<string, (int Offset, int Size)> _sharedScratch = new();

    public int AddScratch(int size)
    {
        int offset = ScratchSize;
        ScratchSize += size;
        return offset;
    }

    /// <summary>
    /// Reserves scratch that ops of one kind share because each uses it only within one call (the
    /// attention layers' per-head matrices): the same offset for every request under
    /// <paramref name="key"/> that fits the first; a larger request gets its own.
    /// </summary>
    public int AddSharedScratch(string key, int size)
    {
        if (_sharedScratch.TryGetValue(key, out (int Offset, int Size) shared) && size <= shared.Size)
        {
            return shared.Offset;
        }

        int offset = AddScratch(size);
        _sharedScratch[key] = (offset, size);
        return offset;
    }

    /// <summary>Makes the shared im2col scratch at least <paramref name="size"/> values.</summary>
    public void NeedColumns(long size) => ColumnsSize = Math.Max(ColumnsSize, Shapes.Clamp(size));

    public void AddOp(PlanOp op) => _ops.Add(op);

    /// <summary>The index the next row of the layer table gets.</summary>
    public int NextRow => _rows.Count;

    /// <summary>Adds a row to the layer table.</summary>
    public void AddRow(string name, string display, EquatableArray<int> outputShape, long parameters) =>
        _rows.Add(new PlanRow(_rows.Count, name, display, outputShape, parameters));

    /// <summary>
    /// Plans block <paramref name="block"/> (a metadata name) on <see cref="Current"/> under the name
    /// <paramref name="prefix"/> (null: straight in the use's scope, sharing its names); false when it
    /// cannot (reported, or reported on the block itself).
    /// </summary>
    public bool PlanBlock(string block, string? prefix, LayerSite use)
    {
        NetworkSpec? spec = _blocks.Find(block);
        if (spec is null || _blockStack.Contains(block) || _blocks.HasErrors(block))
        {
            // Not a block (NG0009 on the use), a cycle or an error inside the block (reported on
            // the block's own attributes): planning stops here.
            _silentError = true;
            return false;
        }

        _blockStack.Push(block);
        try
        {
            Scope scope = prefix is null
                ? use.Scope.Inline(block, spec.Name, use.Layer.AttributeIndex)
                : use.Scope.Enter(prefix, block, spec.Name, use.Layer.AttributeIndex);
            return PlanSequence(spec.Layers, scope);
        }
        finally
        {
            _blockStack.Pop();
        }
    }

    private void PlanNetwork()
    {
        EquatableArray<LayerSpec> layers = _spec.Layers;
        if (!layers.Any(l => l is InputSpec))
        {
            Problems.Add(Problem.Create(DiagnosticDescriptors.MissingInput.Id, Problem.NetworkAttributeLocation, _spec.Name));
        }

        // Argument errors do not depend on shapes: report every one, then plan what can be planned.
        bool argumentErrors = false;
        for (int i = 0; i < layers.Length; i++)
        {
            foreach (Problem p in Validation.Check(layers[i], i.ToString(CultureInfo.InvariantCulture), _blocks, network: true))
            {
                Problems.Add(p);
                argumentErrors = true;
            }
        }

        if (layers.Length == 0 || layers[0] is not InputSpec input)
        {
            // Nothing to plan; the walk still reports a misplaced [Input] and layers after the loss.
            PlanSequence(layers, Scope.Network());
            return;
        }

        EquatableArray<int> shape = input.Shape;
        Current = input.Tokens
            ? AddIndexTensor("Input", "token ids", shape) with { Tokens = true }
            : AddTensor("Input", "network input", shape, requiresGrad: false);
        _input = Current;
        AddRow("input", input.Display, shape, 0);
        if (argumentErrors)
        {
            Current = null;
        }
        else if (Current.LongSize > int.MaxValue)
        {
            Problems.Add(Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, input.AttributeIndex, input.Display, "0", "one sample would exceed " + int.MaxValue.ToString("N0", CultureInfo.InvariantCulture) + " values"));
            Current = null;
        }

        PlanSequence(layers, Scope.Network(), first: 1);
        if (Current is { Tokens: true })
        {
            Problems.Add(Problem.Create(DiagnosticDescriptors.TokensNeedEmbedding.Id, input.AttributeIndex, input.Display, "0", Shapes.FormatWithCount(shape)));
            Current = null;
        }
    }

    /// <summary>Plans <paramref name="layers"/> in order in <paramref name="scope"/>; false at the first error.</summary>
    private bool PlanSequence(EquatableArray<LayerSpec> layers, Scope scope, int first = 0)
    {
        LayerSpec? loss = null;
        int lossIndex = -1;
        for (int i = first; i < layers.Length; i++)
        {
            LayerSpec layer = layers[i];
            string at = scope.At(i);
            if (layer is InputSpec)
            {
                Problems.Add(Problem.Create(DiagnosticDescriptors.InputNotFirst.Id, layer.AttributeIndex, layer.Display, at, _spec.Name));
                continue;
            }

            if (loss is not null)
            {
                Problems.Add(Problem.Create(DiagnosticDescriptors.LayerAfterLoss.Id, layer.AttributeIndex, layer.Display, at, loss.Display, lossIndex.ToString(CultureInfo.InvariantCulture)));
                continue;
            }

            if (layer.IsLoss)
            {
                loss = layer;
                lossIndex = i;
            }

            if (Current is null)
            {
                continue;
            }

            string name = layer.Name ?? scope.NextName(layer.NamePrefix);
            while (layer.Name is null && _names.Contains(scope.Qualify(name)))
            {
                name = scope.NextName(layer.NamePrefix);
            }

            string full = scope.Qualify(name);
            var site = new LayerSite(this, layer, scope, i, full, Identifier(full.Length == 0 ? layer.NamePrefix : full), ReluFollows(layers, i), i > 0 ? layers[i - 1] : null);
            if (layer.Name is { Length: > 0 } && !_names.Add(full))
            {
                site.Report(DiagnosticDescriptors.DuplicateName.Id, layer.Display, at, full);
                Current = null;
                continue;
            }

            if (layer.Name is null)
            {
                _names.Add(full);
            }

            if (Current.Tokens != layer.ReadsTokens)
            {
                site.Report(
                    Current.Tokens ? DiagnosticDescriptors.TokensNeedEmbedding.Id : DiagnosticDescriptors.EmbeddingNeedsTokens.Id,
                    layer.Display,
                    at,
                    Shapes.FormatWithCount(Current.Shape));
                Current = null;
                continue;
            }

            if (!layer.Plan(this, site))
            {
                Current = null;
                continue;
            }

            if (_parameterTotal > int.MaxValue || _activationTotal > int.MaxValue)
            {
                site.Report(
                    DiagnosticDescriptors.InvalidArgument.Id,
                    layer.Display,
                    at,
                    "the network's " + (_parameterTotal > int.MaxValue ? "parameters" : "activations for one sample") + " would exceed " + int.MaxValue.ToString("N0", CultureInfo.InvariantCulture) + " values");
                Current = null;
            }
        }

        return Current is not null;
    }

    /// <summary>A unique C# identifier for the dotted name (<c>layer1.0.conv1</c> → <c>Layer1_0Conv1</c>).</summary>
    private string Identifier(string name)
    {
        string id = Pascal(name);
        string unique = id;
        for (int k = 2; !_identifiers.Add(unique); k++)
        {
            unique = id + "_" + k.ToString(CultureInfo.InvariantCulture);
        }

        return unique;
    }

    // He initialisation for a weight followed by a ReLU-family activation, looking past
    // normalisation and dropout.
    private static bool ReluFollows(EquatableArray<LayerSpec> layers, int index)
    {
        int next = index + 1;
        while (next < layers.Length && layers[next].IsTransparentForInitialization)
        {
            next++;
        }

        return next < layers.Length && layers[next].IsReluFamily;
    }

    /// <summary><c>dense1.relu</c> → <c>Dense1Relu</c>; a segment that starts with a digit keeps an underscore before it.</summary>
    public static string Pascal(string name)
    {
        var chars = new List<char>(name.Length + 4);
        bool upper = true;
        foreach (char c in name)
        {
            if (c == '.' || c == '_')
            {
                upper = true;
                continue;
            }

            if (upper && char.IsDigit(c) && chars.Count > 0)
            {
                chars.Add('_');
            }

            chars.Add(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        string id = new(chars.ToArray());
        return id.Length == 0 || char.IsDigit(id[0]) ? "L" + id : id;
    }

    private NetworkPlan Finish()
    {
        bool hasErrors = _silentError || Current is null || Problems.Any(p => DiagnosticDescriptors.Find(p.Id)?.DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        (List<PlanOp> ops, List<Tensor> slots) = hasErrors ? (_ops, new List<Tensor>()) : GradientFanIn.Slots(_ops, _offset);
        if (!hasErrors && Loss is not null)
        {
            ops = DeferLargestWeightGradient(ops);
        }

        if (!hasErrors)
        {
            ops = ReadCallerInput(ops, _input);
            ops = Loss is null ? ops : FuseStems(ops);
        }

        return new NetworkPlan(
            _spec.Namespace,
            _spec.Name,
            _spec.MetadataName,
            hasErrors,
            _input?.Shape ?? EquatableArray<int>.Empty,
            Current?.Shape ?? EquatableArray<int>.Empty,
            new EquatableArray<PlanRow>(_rows),
            new EquatableArray<PlanOp>(ops),
            new EquatableArray<Tensor>(_tensors),
            new EquatableArray<Tensor>(slots),
            new EquatableArray<Tensor>(_indexTensors),
            new EquatableArray<ParamTensor>(_parameters),
            new EquatableArray<ParamTensor>(_state),
            ScratchSize + ColumnsSize,
            ScratchSize,
            ColumnsSize,
            Loss,
            _input,
            Probabilities,
            Vocabulary);
    }
}
