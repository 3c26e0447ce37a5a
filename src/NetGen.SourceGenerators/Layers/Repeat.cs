using System.Collections.Generic;
using System.Globalization;

namespace NetGen.SourceGenerators;

/// <summary><c>[Repeat(typeof(B), count)]</c>: <c>count</c> copies of a block, named <c>NAME.0</c>, <c>NAME.1</c>, ...</summary>
internal sealed record RepeatSpec(BlockUse Block, int Count) : LayerSpec, IUsesBlocks
{
    public override string NamePrefix => "repeat";

    public override string Display => "Repeat(" + Block.DisplayName + ", " + Count.ToString(CultureInfo.InvariantCulture) + ")";

    public IEnumerable<BlockUse> Uses => new[] { Block };

    public static LayerSpec Read(AttributeArgs a) => new RepeatSpec(a.Type(0), a.Int(1)) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() => Count <= 0 ? $"count must be positive, but is {Count}" : null;

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        for (int k = 0; k < Count; k++)
        {
            string copy = k.ToString(CultureInfo.InvariantCulture);
            if (!builder.PlanBlock(Block.MetadataName, site.Name.Length == 0 ? copy : site.Name + "." + copy, site))
            {
                return false;
            }
        }

        return true;
    }
}
