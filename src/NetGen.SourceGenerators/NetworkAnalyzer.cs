using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace NetGen.SourceGenerators;

/// <summary>
/// Reports NetGen's diagnostics on the attribute that causes each one, by running the same
/// reader and planner as the generator. A problem inside a block is reported on the network's
/// attribute that uses the block, with the block's attribute as an additional location; the
/// problems a block has on its own (arguments, cycles, uses of non-blocks) on the block.
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

    // An analyzer that throws shows the user a warning about the analyzer (AD0001), not a message
    // about their network; NetGen reports its own failure instead, as the generator does.
    private static void AnalyzeType(SymbolAnalysisContext context)
    {
        try
        {
            Analyze(context);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GeneratorFailure, context.Symbol.Locations.FirstOrDefault() ?? Location.None, context.Symbol.Name, e.GetType().Name + ": " + e.Message));
        }
    }

    private static void Analyze(SymbolAnalysisContext context)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        ImmutableArray<AttributeData> all = type.GetAttributes();
        AttributeData? network = all.FirstOrDefault(NetworkReader.IsNetworkAttribute);
        bool block = all.Any(NetworkReader.IsBlockAttribute);
        if (network is null && !block)
        {
            AttributeData? firstLayer = all.FirstOrDefault(NetworkReader.IsLayerAttribute);
            if (firstLayer is not null)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.LayersWithoutNetwork, LocationOf(firstLayer, type, context.CancellationToken), type.Name));
            }

            return;
        }

        NetworkSpec spec = NetworkReader.Read(type, network is null, out ImmutableArray<AttributeData> attributes, context.CancellationToken);
        BlockCatalog catalog = Catalog(spec, network is null, context.Compilation, context.CancellationToken);
        List<Problem> problems = network is null ? catalog.OwnProblems(spec) : PlanBuilder.Plan(spec, catalog).Problems;
        foreach (Problem problem in problems)
        {
            if (DiagnosticDescriptors.Find(problem.Id) is not { } descriptor)
            {
                continue;
            }

            Location location;
            var additional = new List<Location>();
            if (problem.Block is { } inner && problem.UseSite >= 0 && problem.UseSite < attributes.Length)
            {
                location = LocationOf(attributes[problem.UseSite], type, context.CancellationToken);
                ImmutableArray<AttributeData> blockAttributes = context.Compilation.GetTypeByMetadataName(inner)?.GetAttributes() ?? ImmutableArray<AttributeData>.Empty;
                if (problem.AttributeIndex >= 0 && problem.AttributeIndex < blockAttributes.Length &&
                    blockAttributes[problem.AttributeIndex].ApplicationSyntaxReference?.GetSyntax(context.CancellationToken).GetLocation() is { } blockLocation)
                {
                    additional.Add(blockLocation);
                }
            }
            else
            {
                location = problem.AttributeIndex switch
                {
                    Problem.NetworkAttributeLocation when network is not null => LocationOf(network, type, context.CancellationToken),
                    Problem.MemberLocation => NetworkReader.TakenMembers(type).FirstOrDefault(m => m.Name == problem.Member)?.Locations.FirstOrDefault() ?? type.Locations.FirstOrDefault() ?? Location.None,
                    int i when i >= 0 && i < attributes.Length => LocationOf(attributes[i], type, context.CancellationToken),
                    _ => type.Locations.FirstOrDefault() ?? Location.None,
                };
            }

            context.ReportDiagnostic(Diagnostic.Create(descriptor, location, additional, problem.Args.ToImmutableArray().Cast<object>().ToArray()));
        }
    }

    // The blocks the spec uses, directly or through other blocks, read from the compilation.
    private static BlockCatalog Catalog(NetworkSpec spec, bool isBlock, Compilation compilation, CancellationToken cancellationToken)
    {
        var blocks = new Dictionary<string, NetworkSpec>();
        if (isBlock)
        {
            blocks[spec.MetadataName] = spec;
        }

        var pending = new Stack<NetworkSpec>();
        pending.Push(spec);
        while (pending.Count > 0)
        {
            foreach (BlockUse use in pending.Pop().Layers.OfType<IUsesBlocks>().SelectMany(u => u.Uses))
            {
                if (use.MetadataName.Length == 0 || blocks.ContainsKey(use.MetadataName) ||
                    compilation.GetTypeByMetadataName(use.MetadataName) is not { } type ||
                    !type.GetAttributes().Any(NetworkReader.IsBlockAttribute))
                {
                    continue;
                }

                NetworkSpec block = NetworkReader.Read(type, block: true, out _, cancellationToken);
                blocks[use.MetadataName] = block;
                pending.Push(block);
            }
        }

        return new BlockCatalog(blocks.Values);
    }

    private static Location LocationOf(AttributeData attribute, INamedTypeSymbol type, CancellationToken cancellationToken) =>
        attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation()
        ?? type.Locations.FirstOrDefault()
        ?? Location.None;
}
