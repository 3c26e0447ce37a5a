namespace NetGen.SourceGenerators;

/// <summary>
/// <c>[Input(shape, Kind)]</c>: one sample's shape, of float values or (<c>Kind = InputKind.Tokens</c>)
/// a sequence of token ids. The planner places it (it must come first).
/// </summary>
internal sealed record InputSpec(EquatableArray<int> Shape, bool Tokens) : LayerSpec
{
    public override string NamePrefix => "input";

    public override string Display => "Input(" + string.Join(", ", Shape) + (Tokens ? ", Tokens" : string.Empty) + ")";

    public static LayerSpec Read(AttributeArgs a)
    {
        int kind = a.NamedInt("Kind", 0);
        return new InputSpec(new EquatableArray<int>(a.IntArray()), kind == 1) { AttributeIndex = a.Index, Name = a.LayerName, Kind = kind };
    }

    /// <summary>The raw <c>Kind</c> value, checked against <c>NetGen.InputKind</c>.</summary>
    public int Kind { get; init; }

    public override string? ArgumentError()
    {
        if (Kind is not (0 or 1))
        {
            return $"Kind {Kind} is not a NetGen.InputKind value";
        }

        if (Shape.Length == 0)
        {
            return "the shape is empty; give one sample's dimensions, e.g. [Input(784)] or [Input(1, 28, 28)]";
        }

        for (int i = 0; i < Shape.Length; i++)
        {
            if (Shape[i] <= 0)
            {
                return $"dimension {i} is {Shape[i]}; every dimension must be positive";
            }
        }

        return Tokens && Shape.Length != 1
            ? "a token input is one sequence of ids: give its length alone, e.g. [Input(64, Kind = InputKind.Tokens)]"
            : null;
    }

    // The planner places the input before the walk; a misplaced one is reported there.
    public override bool Plan(PlanBuilder builder, LayerSite site) => true;
}
