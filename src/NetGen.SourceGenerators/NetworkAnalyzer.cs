using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NetGen.SourceGenerators;

/// <summary>
/// Reports NetGen's diagnostics on the attribute that causes each one, by running the same
/// reader and shape inference as the generator.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NetworkAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(DiagnosticDescriptors.AnalyzerDescriptors);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterSymbolAction(AnalyzeType, SymbolKind.NamedType);
    }

    private static void AnalyzeType(SymbolAnalysisContext context)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        ImmutableArray<AttributeData> all = type.GetAttributes();
        AttributeData? network = all.FirstOrDefault(NetworkReader.IsNetworkAttribute);
        if (network is null)
        {
            AttributeData? firstLayer = all.FirstOrDefault(NetworkReader.IsLayerAttribute);
            if (firstLayer is not null)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.LayersWithoutNetwork, LocationOf(firstLayer, type, context), type.Name));
            }

            return;
        }

        NetworkSpec spec = NetworkReader.Read(type, out ImmutableArray<AttributeData> attributes, context.CancellationToken);
        NetworkPlan plan = ShapeInference.Infer(spec);
        foreach (Problem problem in plan.Problems)
        {
            DiagnosticDescriptor? descriptor = DiagnosticDescriptors.Find(problem.Id);
            if (descriptor is null)
            {
                continue;
            }

            Location location = problem.AttributeIndex switch
            {
                Problem.ClassLocation => type.Locations.FirstOrDefault() ?? Location.None,
                Problem.NetworkAttributeLocation => LocationOf(network, type, context),
                int i when i >= 0 && i < attributes.Length => LocationOf(attributes[i], type, context),
                _ => type.Locations.FirstOrDefault() ?? Location.None,
            };
            context.ReportDiagnostic(Diagnostic.Create(descriptor, location, problem.Args.ToImmutableArray().Cast<object>().ToArray()));
        }
    }

    private static Location LocationOf(AttributeData attribute, INamedTypeSymbol type, SymbolAnalysisContext context) =>
        attribute.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken).GetLocation()
        ?? type.Locations.FirstOrDefault()
        ?? Location.None;
}
