namespace NetGen.SourceGenerators;

/// <summary><c>[Input(shape)]</c>: one sample's shape. The planner places it (it must come first).</summary>
internal sealed record InputSpec(EquatableArray<int> Shape) : LayerSpec
{
    public override string NamePrefix => "input";

    public override string Display => "Input(" + string.Join(", ", Shape) + ")";

    public static LayerSpec Read(AttributeArgs a) => new InputSpec(new EquatableArray<int>(a.IntArray())) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError()
    {
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

        return null;
    }

    // The planner places the input before the walk; a misplaced one is reported there.
    public override bool Plan(PlanBuilder builder, LayerSite site) => true;
}
