using System.Collections.Generic;
using System.Globalization;

namespace NetGen.SourceGenerators;

/// <summary>
/// Where layers are being planned: the network itself, or a block inlined under a name prefix.
/// Generated names count per scope (<c>conv1</c>, <c>conv2</c> in each block copy), and problems
/// found inside a block are reported at the network's attribute that uses it.
/// </summary>
internal sealed class Scope
{
    private readonly Dictionary<string, int> _counters;

    private Scope(string prefix, string? block, string blockName, int useSite, string useName, Dictionary<string, int>? counters = null)
    {
        _counters = counters ?? new Dictionary<string, int>();
        Prefix = prefix;
        Block = block;
        BlockName = blockName;
        UseSite = useSite;
        UseName = useName;
    }

    /// <summary>Dotted prefix of every name in the scope; empty at the top.</summary>
    public string Prefix { get; }

    /// <summary>Metadata name of the block whose attributes are planned, or null for the network.</summary>
    public string? Block { get; }

    /// <summary>The block's class name, for messages.</summary>
    public string BlockName { get; }

    /// <summary>The network attribute that (directly or through other blocks) uses this scope.</summary>
    public int UseSite { get; }

    /// <summary>The name of the use, for messages (<c>layer1.0</c>).</summary>
    public string UseName { get; }

    public static Scope Network() => new(string.Empty, null, string.Empty, -1, string.Empty);

    /// <summary>A block's layers under <paramref name="prefix"/>, used by the network attribute <paramref name="useSite"/>.</summary>
    public Scope Enter(string prefix, string block, string blockName, int useSite) =>
        new(prefix, block, blockName, UseSite >= 0 ? UseSite : useSite, prefix);

    /// <summary>A block's layers straight in this scope (a use named ""): same prefix, same counters.</summary>
    public Scope Inline(string block, string blockName, int useSite) =>
        new(Prefix, block, blockName, UseSite >= 0 ? UseSite : useSite, Prefix, _counters);

    /// <summary>The next generated name for <paramref name="kind"/> in this scope: <c>dense1</c>, <c>dense2</c>, ...</summary>
    public string NextName(string kind)
    {
        _counters.TryGetValue(kind, out int n);
        _counters[kind] = ++n;
        return kind + n.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The full dotted name of <paramref name="name"/> in this scope.</summary>
    public string Qualify(string name) => Prefix.Length == 0 ? name : name.Length == 0 ? Prefix : Prefix + "." + name;

    /// <summary>How layer <paramref name="index"/> of this scope is named in messages: <c>3</c>, or <c>1 of block 'Basic' (layer1.0)</c>.</summary>
    public string At(int index)
    {
        string at = index.ToString(CultureInfo.InvariantCulture);
        return Block is null ? at : $"{at} of block '{BlockName}'" + (UseName.Length > 0 ? $" ({UseName})" : string.Empty);
    }
}

/// <summary>One layer being planned: its names, how it is reported, what follows it.</summary>
internal sealed class LayerSite
{
    private readonly PlanBuilder _builder;

    public LayerSite(PlanBuilder builder, LayerSpec layer, Scope scope, int index, string name, string method, bool reluFollows, LayerSpec? previous)
    {
        Index = index;
        _builder = builder;
        Layer = layer;
        Scope = scope;
        Name = name;
        Method = method;
        At = scope.At(index);
        ReluFollows = reluFollows;
        Previous = previous;
    }

    public LayerSpec Layer { get; }

    /// <summary>The layer's position in its scope's list.</summary>
    public int Index { get; }

    public Scope Scope { get; }

    /// <summary>The full dotted name (<c>layer1.0.conv1</c>); parameter names add <c>.weight</c>.</summary>
    public string Name { get; }

    /// <summary>The identifier for the layer's methods and constants (<c>Layer1_0Conv1</c>).</summary>
    public string Method { get; }

    /// <summary>The layer's position for messages.</summary>
    public string At { get; }

    /// <summary>Whether a ReLU-family activation follows (past normalisation and dropout): He initialisation.</summary>
    public bool ReluFollows { get; }

    /// <summary>The layer before it in the same scope.</summary>
    public LayerSpec? Previous { get; }

    public string Display => Layer.Display;

    /// <summary>Reports a problem on this layer's attribute (at the use site when inside a block).</summary>
    public void Report(string id, params string[] args) =>
        _builder.Report(Problem.Create(id, Layer.AttributeIndex, args) with { Block = Scope.Block, UseSite = Scope.UseSite });
}
