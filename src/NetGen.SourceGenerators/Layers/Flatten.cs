namespace NetGen.SourceGenerators;

/// <summary><c>[Flatten]</c>: [C, H, W] → [C·H·W]; no op and no copy, the same memory read as a vector.</summary>
internal sealed record FlattenSpec : LayerSpec
{
    public override string NamePrefix => "flatten";

    public override string Display => "Flatten";

    public static LayerSpec Read(AttributeArgs a) => new FlattenSpec { AttributeIndex = a.Index, Name = a.LayerName };

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        EquatableArray<int> flat = Shapes.Of(x.Size);
        builder.Current = x with { Shape = flat };
        builder.AddRow(site.Name, Display, flat, 0);
        return true;
    }
}
