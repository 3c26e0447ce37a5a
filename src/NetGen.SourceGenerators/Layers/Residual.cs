using System.Collections.Generic;

namespace NetGen.SourceGenerators;

/// <summary>
/// <c>[Residual(typeof(B), Projection = typeof(P), ProjectionName)]</c>: <c>y = x + B(x)</c>, or
/// <c>y = P(x) + B(x)</c> when the branch changes the shape. The blocks are inlined under this
/// layer's name (an empty name: in the enclosing scope), the projection under ProjectionName.
/// </summary>
internal sealed record ResidualSpec(BlockUse Block, BlockUse? Projection, string ProjectionName) : LayerSpec, IUsesBlocks
{
    public const string DefaultProjectionName = "downsample";

    public override string NamePrefix => "residual";

    public override string Display => "Residual(" + Block.DisplayName + (Projection is { } p ? ", Projection = " + p.DisplayName : string.Empty) + ")";

    public IEnumerable<BlockUse> Uses => Projection is null ? new[] { Block } : new[] { Block, Projection };

    public static LayerSpec Read(AttributeArgs a) =>
        new ResidualSpec(a.Type(0), a.NamedType("Projection"), a.NamedString("ProjectionName") ?? DefaultProjectionName) { AttributeIndex = a.Index, Name = a.LayerName };

    public override string? ArgumentError() =>
        Projection is not null && !Validation.IsNameSegment(ProjectionName) ? $"ProjectionName \"{ProjectionName}\" must be letters, digits and underscores" : null;

    public override bool Plan(PlanBuilder builder, LayerSite site)
    {
        Tensor x = builder.Current!;
        string? scope = Name == string.Empty ? null : site.Name;

        // The branch first, then the projection: parameters in torchvision's order (conv1, bn1,
        // ..., downsample), so that named_parameters() lists them alike.
        if (!builder.PlanBlock(Block.MetadataName, scope, site))
        {
            return false;
        }

        Tensor branch = builder.Current!;
        Tensor shortcut = x;
        if (Projection is { } projection)
        {
            builder.Current = x;
            string projectionScope = scope is null ? site.Scope.Qualify(ProjectionName) : scope + "." + ProjectionName;
            if (!builder.PlanBlock(projection.MetadataName, projectionScope, site))
            {
                return false;
            }

            shortcut = builder.Current!;
        }

        if (!branch.Shape.Equals(shortcut.Shape))
        {
            if (Projection is null)
            {
                site.Report(DiagnosticDescriptors.ResidualShape.Id, Display, site.At, Block.DisplayName, Shapes.Format(x.Shape), Shapes.Format(branch.Shape));
            }
            else
            {
                site.Report(DiagnosticDescriptors.ProjectionShape.Id, Display, site.At, Projection.DisplayName, Shapes.Format(x.Shape), Shapes.Format(shortcut.Shape), Block.DisplayName, Shapes.Format(branch.Shape));
            }

            return false;
        }

        string name = site.Name.Length == 0 ? "add" : site.Name + ".add";
        var add = new AddOp
        {
            Name = name,
            Method = site.Method + "Add",
            Display = Display,
            Input = shortcut,
            Other = branch,
            Output = builder.AddTensor(site.Method + "Out", name + " output: " + (Projection is null ? "input" : "projection") + " + " + Block.DisplayName, branch.Shape, shortcut.RequiresGrad || branch.RequiresGrad),
        };
        builder.AddOp(add);
        builder.Current = add.Output;
        builder.AddRow(site.Name.Length == 0 ? "(add)" : site.Name, Display, add.Output.Shape, 0);
        return true;
    }
}

/// <summary>
/// The residual add, <c>y = a + b</c>, and its backward: both inputs receive the output's gradient
/// (the shortcut's tensor is also read by the branch: its gradients add up, see <see cref="PlanOp.InputGradients"/>).
/// </summary>
internal sealed record AddOp : PlanOp
{
    /// <summary>The branch's output (the first input is the shortcut).</summary>
    public Tensor Other { get; init; } = null!;

    public override IEnumerable<Tensor> Inputs => new[] { Input, Other };

    public override bool EmitStep(IndentedWriter w, StepLayout s)
    {
        w.Line($"{Ex.Kernels}.Add({s.Row(Output)}, {s.Row(Input)}, {s.Row(Other)});");
        return true;
    }

    public override void EmitOnnx(OnnxBuilder onnx) =>
        onnx.Node("Add", Name, new[] { onnx.In(Input), onnx.In(Other) }, new[] { onnx.Out(Output) });

    public override void EmitMethods(IndentedWriter w)
    {
        w.Line($"private void {Method}Forward(int n) =>");
        w.Line($"    {Ex.Kernels}.Add({Ex.A(Output)}, {Ex.A(Input)}, {Ex.A(Other)});");
        w.Line();
        if (HasBackward)
        {
            using (w.Block($"private void {Method}Backward(int n)"))
            {
                w.Line($"// d(a + b)/da = d(a + b)/db = 1: both inputs get the output's gradient.");
                if (Input.RequiresGrad)
                {
                    w.Line($"{Ex.D(Output)}.CopyTo({DInput(0)}); // d shortcut");
                }

                if (Other.RequiresGrad)
                {
                    w.Line($"{Ex.D(Output)}.CopyTo({DInput(1)}); // d branch");
                }
            }

            w.Line();
        }
    }
}
