using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NetGen.SourceGenerators;

/// <summary>
/// Reads a class's NetGen attributes into a <see cref="NetworkSpec"/>. Shared by the generator
/// (which keeps only the spec) and the analyzer (which maps each problem's attribute index
/// back to the attribute's syntax to report it there).
/// </summary>
internal static class NetworkReader
{
    public const string Namespace = "NetGen";
    public const string NetworkAttributeName = "NetGen.NetworkAttribute";

    /// <summary>True when <paramref name="attribute"/> is one of NetGen's layer attributes.</summary>
    public static bool IsLayerAttribute(AttributeData attribute) => LayerKindOf(attribute) is not null;

    public static bool IsNetworkAttribute(AttributeData attribute) =>
        attribute.AttributeClass is { Name: "NetworkAttribute" } c && c.ContainingNamespace?.ToDisplayString() == Namespace;

    /// <summary>Whether every declaration of <paramref name="type"/> carries the partial modifier.</summary>
    public static bool IsPartial(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        type.DeclaringSyntaxReferences.Length > 0 &&
        type.DeclaringSyntaxReferences.All(r => r.GetSyntax(cancellationToken) is ClassDeclarationSyntax c && c.Modifiers.Any(SyntaxKind.PartialKeyword));

    /// <summary>Reads the network. <paramref name="attributes"/> receives the attributes the indexes refer to.</summary>
    public static NetworkSpec Read(INamedTypeSymbol type, out ImmutableArray<AttributeData> attributes, CancellationToken cancellationToken)
    {
        attributes = type.GetAttributes();
        var layers = new List<LayerSpec>();
        var problems = new List<Problem>();
        string name = type.Name;

        if (!IsPartial(type, cancellationToken))
        {
            problems.Add(Problem.Create(DiagnosticDescriptors.NotPartial.Id, Problem.ClassLocation, name));
        }

        if (type.ContainingType is not null || type.IsGenericType || type.TypeKind != TypeKind.Class || type.IsRecord || type.IsStatic)
        {
            problems.Add(Problem.Create(DiagnosticDescriptors.UnsupportedType.Id, Problem.ClassLocation, name));
        }

        SyntaxNode? firstDeclaration = null;
        bool splitReported = false;
        for (int i = 0; i < attributes.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            AttributeData attribute = attributes[i];
            LayerKind? kind = LayerKindOf(attribute);
            if (kind is null)
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

            layers.Add(ReadLayer(kind.Value, attribute, i));
        }

        string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : string.Empty;
        string metadataName = ns.Length == 0 ? type.MetadataName : ns + "." + type.MetadataName;
        return new NetworkSpec(ns, name, metadataName, new EquatableArray<LayerSpec>(layers), new EquatableArray<Problem>(problems));
    }

    private static SyntaxNode? DeclarationOf(AttributeData attribute, CancellationToken cancellationToken)
    {
        SyntaxNode? node = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken);
        while (node is not null and not TypeDeclarationSyntax)
        {
            node = node.Parent;
        }

        return node;
    }

    private static LayerKind? LayerKindOf(AttributeData attribute)
    {
        INamedTypeSymbol? c = attribute.AttributeClass;
        if (c is null || c.ContainingNamespace?.ToDisplayString() != Namespace)
        {
            return null;
        }

        return c.Name switch
        {
            "InputAttribute" => LayerKind.Input,
            "DenseAttribute" => LayerKind.Dense,
            "ReLUAttribute" => LayerKind.ReLU,
            "LeakyReLUAttribute" => LayerKind.LeakyReLU,
            "SigmoidAttribute" => LayerKind.Sigmoid,
            "TanhAttribute" => LayerKind.Tanh,
            "GeluAttribute" => LayerKind.Gelu,
            "SoftmaxAttribute" => LayerKind.Softmax,
            "DropoutAttribute" => LayerKind.Dropout,
            "BatchNormAttribute" => LayerKind.BatchNorm,
            "Conv2DAttribute" => LayerKind.Conv2D,
            "MaxPool2DAttribute" => LayerKind.MaxPool2D,
            "AvgPool2DAttribute" => LayerKind.AvgPool2D,
            "GlobalAveragePoolAttribute" => LayerKind.GlobalAveragePool,
            "FlattenAttribute" => LayerKind.Flatten,
            "SoftmaxCrossEntropyAttribute" => LayerKind.SoftmaxCrossEntropy,
            "MeanSquaredErrorAttribute" => LayerKind.MeanSquaredError,
            "BinaryCrossEntropyAttribute" => LayerKind.BinaryCrossEntropy,
            _ => null,
        };
    }

    private static LayerSpec ReadLayer(LayerKind kind, AttributeData attribute, int index)
    {
        var ints = new List<int>();
        var numbers = new List<double>();
        var activation = ActivationKind.None;
        bool useBias = true;
        ImmutableArray<TypedConstant> args = attribute.ConstructorArguments;
        switch (kind)
        {
            case LayerKind.Input:
                if (args.Length == 1 && args[0].Kind == TypedConstantKind.Array && !args[0].IsNull)
                {
                    foreach (TypedConstant value in args[0].Values)
                    {
                        ints.Add(ScalarValue(value) is int d ? d : 0);
                    }
                }
                else
                {
                    // [Input(1, 28, 28)] binds the params array element by element in some compilers' views.
                    foreach (TypedConstant value in args)
                    {
                        if (ScalarValue(value) is int d)
                        {
                            ints.Add(d);
                        }
                    }
                }

                break;
            case LayerKind.Dense:
                ints.Add(args.Length > 0 && ScalarValue(args[0]) is int units ? units : 0);
                break;
            case LayerKind.LeakyReLU:
                numbers.Add(args.Length > 0 ? ToDouble(ScalarValue(args[0]), 0.01) : 0.01);
                break;
            case LayerKind.Dropout:
                numbers.Add(args.Length > 0 ? ToDouble(ScalarValue(args[0]), double.NaN) : double.NaN);
                break;
            case LayerKind.Conv2D:
                ints.Add(args.Length > 0 && ScalarValue(args[0]) is int filters ? filters : 0);
                ints.Add(args.Length > 1 && ScalarValue(args[1]) is int kernel ? kernel : 0);
                ints.Add(NamedInt(attribute, "Stride", 1));
                ints.Add(NamedInt(attribute, "Dilation", 1));
                ints.Add(NamedInt(attribute, "Padding", 0));
                ints.Add(NamedInt(attribute, "PaddingPixels", -1));
                break;
            case LayerKind.MaxPool2D:
            case LayerKind.AvgPool2D:
                ints.Add(args.Length > 0 && ScalarValue(args[0]) is int size ? size : 0);
                ints.Add(NamedInt(attribute, "Stride", 0));
                ints.Add(NamedInt(attribute, "Padding", 0));
                ints.Add(NamedInt(attribute, "PaddingPixels", -1));
                break;
        }

        // Named real arguments, in the positions LayerSpec documents.
        if (kind == LayerKind.Dense)
        {
            numbers.Add(Named(attribute, "L1", 0));
            numbers.Add(Named(attribute, "L2", 0));
        }
        else if (kind == LayerKind.BatchNorm)
        {
            numbers.Add(Named(attribute, "Momentum", 0.1));
            numbers.Add(Named(attribute, "Epsilon", 1e-5));
        }

        foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
        {
            switch (named.Key)
            {
                case "Activation" when ScalarValue(named.Value) is int a:
                    activation = (ActivationKind)a;
                    break;
                case "UseBias" when ScalarValue(named.Value) is bool b:
                    useBias = b;
                    break;
            }
        }

        return new LayerSpec(kind, index, new EquatableArray<int>(ints), new EquatableArray<double>(numbers), activation, useBias);
    }

    private static int NamedInt(AttributeData attribute, string name, int fallback)
    {
        foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
        {
            if (named.Key == name && ScalarValue(named.Value) is int value)
            {
                return value;
            }
        }

        return fallback;
    }

    private static double Named(AttributeData attribute, string name, double fallback)
    {
        foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
        {
            if (named.Key == name)
            {
                return ToDouble(ScalarValue(named.Value), fallback);
            }
        }

        return fallback;
    }

    // TypedConstant.Value throws for arrays (a user can write anything while typing).
    private static object? ScalarValue(TypedConstant constant) =>
        constant.Kind is TypedConstantKind.Array or TypedConstantKind.Error ? null : constant.Value;

    private static double ToDouble(object? value, double fallback) => value switch
    {
        double d => d,
        float f => f,
        int i => i,
        _ => fallback,
    };
}
