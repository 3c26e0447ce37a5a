using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NetGen.SourceGenerators;

/// <summary>
/// Reads a class's NetGen attributes into a <see cref="NetworkSpec"/>, for a network or a block.
/// Shared by the generator (which keeps only the spec) and the analyzer (which maps each
/// problem's attribute index back to the attribute's syntax to report it there).
/// </summary>
internal static class NetworkReader
{
    public const string Namespace = "NetGen";
    public const string NetworkAttributeName = "NetGen.NetworkAttribute";
    public const string BlockAttributeName = "NetGen.BlockAttribute";

    /// <summary>True when <paramref name="attribute"/> is one of NetGen's layer attributes.</summary>
    public static bool IsLayerAttribute(AttributeData attribute) => ReaderOf(attribute) is not null;

    public static bool IsNetworkAttribute(AttributeData attribute) => IsNetGen(attribute, "NetworkAttribute");

    public static bool IsBlockAttribute(AttributeData attribute) => IsNetGen(attribute, "BlockAttribute");

    /// <summary>
    /// Whether every declaration of <paramref name="type"/> carries the partial modifier (a partial
    /// record or struct is partial too: it gets NG0006 for its kind, not NG0001).
    /// </summary>
    public static bool IsPartial(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        type.DeclaringSyntaxReferences.Length > 0 &&
        type.DeclaringSyntaxReferences.All(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword));

    /// <summary>
    /// The public members NetGen generates on every network (methods may be overloaded beside them;
    /// any other member with one of these names is a collision that would break the generated file).
    /// </summary>
    private static readonly HashSet<string> GeneratedMembers = new(StringComparer.Ordinal)
    {
        "InputSize", "OutputSize", "ParameterCount", "StateCount", "Vocabulary", "Summary", "MaxBatchSize", "Parameters",
        "Gradients", "ParameterLayout", "StateLayout", "TiedLayout", "RandomSource", "LastOutputs", "ContextPositions",
        "InputShape", "OutputShape", "BatchesTracked",
        "Forward", "ZeroGrad", "ComputeGradients", "AccumulateGradients", "Evaluate", "TrainStep", "InitializeParameters",
        "Append", "Generate", "ResetContext", "CreateInferenceContext", "InferenceContext",
    };

    /// <summary>
    /// The user's members whose names the generated network takes: any non-method member with a
    /// generated name. Members in generated files (NetGen's own, when the analyzer sees them) are not the user's.
    /// </summary>
    public static IEnumerable<ISymbol> TakenMembers(INamedTypeSymbol type) =>
        type.GetMembers()
            .Where(m => !m.IsImplicitlyDeclared && m is not IMethodSymbol && GeneratedMembers.Contains(m.Name))
            .Where(m => m.DeclaringSyntaxReferences.Any(r => !r.SyntaxTree.FilePath.EndsWith(".g.cs", StringComparison.OrdinalIgnoreCase)));

    /// <summary>Reads a network (<paramref name="block"/> false) or a block. <paramref name="attributes"/> receives the attributes the indexes refer to.</summary>
    public static NetworkSpec Read(INamedTypeSymbol type, bool block, out ImmutableArray<AttributeData> attributes, CancellationToken cancellationToken)
    {
        attributes = type.GetAttributes();
        var layers = new List<LayerSpec>();
        var problems = new List<Problem>();
        string name = type.Name;

        if (!block && !IsPartial(type, cancellationToken))
        {
            problems.Add(Problem.Create(DiagnosticDescriptors.NotPartial.Id, Problem.ClassLocation, name));
        }

        if (!block && (type.ContainingType is not null || type.IsGenericType || type.TypeKind != TypeKind.Class || type.IsRecord || type.IsStatic))
        {
            problems.Add(Problem.Create(DiagnosticDescriptors.UnsupportedType.Id, Problem.ClassLocation, name));
        }

        if (!block)
        {
            foreach (ISymbol member in TakenMembers(type))
            {
                problems.Add(Problem.Create(DiagnosticDescriptors.MemberTaken.Id, Problem.MemberLocation, name, member.Name) with { Member = member.Name });
            }
        }

        SyntaxNode? firstDeclaration = null;
        bool splitReported = false;
        for (int i = 0; i < attributes.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            AttributeData attribute = attributes[i];
            Func<AttributeArgs, LayerSpec>? read = ReaderOf(attribute);
            if (read is null)
            {
                continue;
            }

            SyntaxNode? declaration = DeclarationOf(attribute, cancellationToken);
            if (declaration is not null)
            {
                firstDeclaration ??= declaration;
                if (declaration != firstDeclaration && !splitReported)
                {
                    problems.Add(Problem.Create(DiagnosticDescriptors.SplitDeclarations.Id, i, name));
                    splitReported = true;
                }
            }

            layers.Add(read(new AttributeArgs(attribute, i)));
        }

        string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : string.Empty;
        return new NetworkSpec(ns, name, AttributeArgs.FullMetadataName(type), new EquatableArray<LayerSpec>(layers), new EquatableArray<Problem>(problems));
    }

    private static bool IsNetGen(AttributeData attribute, string name) =>
        attribute.AttributeClass is { } c && c.Name == name && c.ContainingNamespace?.ToDisplayString() == Namespace;

    private static SyntaxNode? DeclarationOf(AttributeData attribute, CancellationToken cancellationToken)
    {
        SyntaxNode? node = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken);
        while (node is not null and not TypeDeclarationSyntax)
        {
            node = node.Parent;
        }

        return node;
    }

    private static Func<AttributeArgs, LayerSpec>? ReaderOf(AttributeData attribute)
    {
        INamedTypeSymbol? c = attribute.AttributeClass;
        return c is null || c.ContainingNamespace?.ToDisplayString() != Namespace ? null : LayerRegistry.Find(c.Name);
    }
}
