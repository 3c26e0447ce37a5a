using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace NetGen.SourceGenerators;

/// <summary>Names of the tracked pipeline steps, for the incrementality tests.</summary>
internal static class TrackingNames
{
    public const string Networks = nameof(Networks);
}

/// <summary>
/// The pipeline: one <c>ForAttributeWithMetadataName</c> for <c>[Network]</c>, a transform
/// that turns the symbol into a value-equatable <see cref="NetworkSpec"/> (no symbol, syntax
/// node or location survives it), and an output step that infers shapes and emits one
/// <c>.g.cs</c> per network. Diagnostics are the analyzer's job
/// (<see cref="NetworkAnalyzer"/>), so that they are live in the IDE and <c>#pragma</c> works.
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
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => ctx.TargetSymbol is INamedTypeSymbol type && NetworkReader.IsPartial(type, ct)
                    ? ReadSafely(type, ct)
                    : null)
            .Where(static spec => spec is not null)
            .Select(static (spec, _) => spec!)
            .WithTrackingName(TrackingNames.Networks);

        context.RegisterSourceOutput(networks, static (spc, spec) => Execute(spc, spec));
    }

    // A generator must never throw: an exception is a build failure with a useless message.
    // A failure becomes NG9999, reported by the output step.
    private static NetworkSpec ReadSafely(INamedTypeSymbol type, System.Threading.CancellationToken cancellationToken)
    {
        try
        {
            return NetworkReader.Read(type, out _, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new NetworkSpec(string.Empty, type.Name, type.Name, EquatableArray<LayerSpec>.Empty, new EquatableArray<Problem>(new[] { Failure(type.Name, e) }));
        }
    }

    private static Problem Failure(string name, Exception e) =>
        Problem.Create(DiagnosticDescriptors.GeneratorFailure.Id, Problem.ClassLocation, name, e.GetType().Name + ": " + e.Message);

    private static void Execute(SourceProductionContext context, NetworkSpec spec)
    {
        if (spec.Problems.FirstOrDefault(p => p.Id == DiagnosticDescriptors.GeneratorFailure.Id) is { } failure)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GeneratorFailure, Location.None, failure.Args[0], failure.Args[1]));
            return;
        }

        // The analyzer reports an unsupported declaration (NG0006); emitting a partial for a
        // nested or generic class would only add compiler errors beside it.
        if (spec.Problems.Any(p => p.Id == DiagnosticDescriptors.UnsupportedType.Id))
        {
            return;
        }

        string source;
        try
        {
            source = NetworkEmitter.Emit(ShapeInference.Infer(spec));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GeneratorFailure, Location.None, spec.Name, e.GetType().Name + ": " + e.Message));
            return;
        }

        context.AddSource(spec.MetadataName + ".g.cs", SourceText.From(source, System.Text.Encoding.UTF8));
    }
}
