using System;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace NetGen.SourceGenerators;

/// <summary>Names of the tracked pipeline steps, for the incrementality tests.</summary>
internal static class TrackingNames
{
    public const string Networks = nameof(Networks);
    public const string Blocks = nameof(Blocks);
    public const string Plans = nameof(Plans);
}

/// <summary>A plan, or why there is none; what the output step needs, compared by value.</summary>
/// <param name="Plan">The plan, when the network could be read.</param>
/// <param name="Name">The class name (for NG9999).</param>
/// <param name="Skip">True for a declaration the analyzer reports as unsupported (NG0006): nothing is emitted.</param>
/// <param name="Failure">A failure of NetGen itself, reported as NG9999.</param>
internal sealed record PlanResult(NetworkPlan? Plan, string Name, bool Skip, string? Failure);

/// <summary>
/// The pipeline: one <c>ForAttributeWithMetadataName</c> for <c>[Network]</c> and one for
/// <c>[Block]</c>, each turning its class into a value-equatable <see cref="NetworkSpec"/> (no
/// symbol, syntax node or location survives); the blocks collected; each network planned against
/// them (a cached step of its own); one <c>.g.cs</c> per plan. Blocks are inlined at the plan step,
/// not by the reader, because a block usually lives in another file than the networks that use
/// it: reading it through the network's symbol would leave those networks cached when only the
/// block changes. Diagnostics are the analyzer's job (<see cref="NetworkAnalyzer"/>), so that they
/// are live in the IDE and <c>#pragma</c> works.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NetworkGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<NetworkSpec> networks = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                NetworkReader.NetworkAttributeName,
                static (node, _) => node is ClassDeclarationSyntax { Identifier.IsMissing: false },
                static (ctx, ct) => ctx.TargetSymbol is INamedTypeSymbol type && NetworkReader.IsPartial(type, ct)
                    ? ReadSafely(type, block: false, ct)
                    : null)
            // A member that takes a generated name (NG0012): generate nothing, or the file would not compile.
            .Where(static spec => spec is not null && !spec.Problems.Any(static p => p.Id == DiagnosticDescriptors.MemberTaken.Id))
            .Select(static (spec, _) => spec!)
            .WithTrackingName(TrackingNames.Networks);

        IncrementalValueProvider<EquatableArray<NetworkSpec>> blocks = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                NetworkReader.BlockAttributeName,
                static (node, _) => node is ClassDeclarationSyntax { Identifier.IsMissing: false },
                static (ctx, ct) => ctx.TargetSymbol is INamedTypeSymbol type ? ReadSafely(type, block: true, ct) : null)
            .Where(static spec => spec is not null)
            .Select(static (spec, _) => spec!)
            .WithTrackingName(TrackingNames.Blocks)
            .Collect()
            .Select(static (all, _) => new EquatableArray<NetworkSpec>(all.OrderBy(b => b.MetadataName, StringComparer.Ordinal)));

        IncrementalValuesProvider<PlanResult> plans = networks
            .Combine(blocks)
            .Select(static (pair, _) => PlanSafely(pair.Left, pair.Right))
            .WithTrackingName(TrackingNames.Plans);

        context.RegisterSourceOutput(plans, static (spc, result) => Execute(spc, result));
    }

    // A generator must never throw: an exception is a build failure with a useless message.
    // A failure becomes NG9999, reported by the output step.
    private static NetworkSpec ReadSafely(INamedTypeSymbol type, bool block, CancellationToken cancellationToken)
    {
        try
        {
            return NetworkReader.Read(type, block, out _, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new NetworkSpec(string.Empty, type.Name, type.Name, EquatableArray<LayerSpec>.Empty, new EquatableArray<Problem>(new[] { Failure(type.Name, e) }));
        }
    }

    private static PlanResult PlanSafely(NetworkSpec spec, EquatableArray<NetworkSpec> blocks)
    {
        if (spec.Problems.FirstOrDefault(p => p.Id == DiagnosticDescriptors.GeneratorFailure.Id) is { } failure)
        {
            return new PlanResult(null, spec.Name, false, failure.Args[1]);
        }

        // The analyzer reports an unsupported declaration (NG0006); emitting a partial for a
        // nested or generic class would only add compiler errors beside it.
        if (spec.Problems.Any(p => p.Id == DiagnosticDescriptors.UnsupportedType.Id))
        {
            return new PlanResult(null, spec.Name, true, null);
        }

        try
        {
            return new PlanResult(PlanBuilder.Plan(spec, new BlockCatalog(blocks)).Plan, spec.Name, false, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new PlanResult(null, spec.Name, false, e.GetType().Name + ": " + e.Message);
        }
    }

    private static Problem Failure(string name, Exception e) =>
        Problem.Create(DiagnosticDescriptors.GeneratorFailure.Id, Problem.ClassLocation, name, e.GetType().Name + ": " + e.Message);

    private static void Execute(SourceProductionContext context, PlanResult result)
    {
        if (result.Skip)
        {
            return;
        }

        string? failure = result.Failure;
        if (failure is null && result.Plan is { } plan)
        {
            try
            {
                context.AddSource(plan.MetadataName + ".g.cs", SourceText.From(NetworkEmitter.Emit(plan), System.Text.Encoding.UTF8));
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = e.GetType().Name + ": " + e.Message;
            }
        }

        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GeneratorFailure, Location.None, result.Name, failure));
    }
}
