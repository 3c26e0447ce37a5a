using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace NetGen.SourceGenerators;

/// <summary>
/// A layer attribute's arguments, read defensively: a user can write anything while typing, so a
/// missing or mistyped argument reads as the fallback (and the layer's checks report it).
/// </summary>
internal readonly struct AttributeArgs
{
    private readonly AttributeData _attribute;

    public AttributeArgs(AttributeData attribute, int index)
    {
        _attribute = attribute;
        Index = index;
    }

    /// <summary>The attribute's position among the class's attributes.</summary>
    public int Index { get; }

    public ImmutableArray<TypedConstant> Constructor => _attribute.ConstructorArguments;

    /// <summary>The <c>Name</c> property, or null.</summary>
    public string? LayerName => Named("Name") is { Kind: TypedConstantKind.Primitive, Value: string s } ? s : null;

    public int Int(int position, int fallback = 0) =>
        position < Constructor.Length && Scalar(Constructor[position]) is int value ? value : fallback;

    public double Double(int position, double fallback) =>
        position < Constructor.Length ? ToDouble(Scalar(Constructor[position]), fallback) : fallback;

    public int NamedInt(string name, int fallback) => Named(name) is { } c && Scalar(c) is int value ? value : fallback;

    public double NamedDouble(string name, double fallback) => Named(name) is { } c ? ToDouble(Scalar(c), fallback) : fallback;

    public bool NamedBool(string name, bool fallback) => Named(name) is { } c && Scalar(c) is bool value ? value : fallback;

    public string? NamedString(string name) => Named(name) is { } c && Scalar(c) is string value ? value : null;

    /// <summary>The type in constructor argument <paramref name="position"/> (<c>typeof(X)</c>).</summary>
    public BlockUse Type(int position) => position < Constructor.Length ? Use(Constructor[position]) : new BlockUse(string.Empty, "?");

    /// <summary>The type in a named argument, or null when absent.</summary>
    public BlockUse? NamedType(string name) => Named(name) is { IsNull: false } c ? Use(c) : null;

    /// <summary>Integer constructor arguments, a params array bound either way.</summary>
    public List<int> IntArray()
    {
        var values = new List<int>();
        ImmutableArray<TypedConstant> args = Constructor;
        if (args.Length == 1 && args[0].Kind == TypedConstantKind.Array && !args[0].IsNull)
        {
            foreach (TypedConstant value in args[0].Values)
            {
                values.Add(Scalar(value) is int d ? d : 0);
            }
        }
        else
        {
            foreach (TypedConstant value in args)
            {
                if (Scalar(value) is int d)
                {
                    values.Add(d);
                }
            }
        }

        return values;
    }

    private static BlockUse Use(TypedConstant constant)
    {
        if (constant.Kind == TypedConstantKind.Type && constant.Value is INamedTypeSymbol type && type.TypeKind != TypeKind.Error)
        {
            return new BlockUse(FullMetadataName(type), type.Name);
        }

        return new BlockUse(string.Empty, constant.Value is ITypeSymbol t2 ? t2.Name : "?");
    }

    /// <summary><c>Namespace.Outer+Inner</c>: how blocks are found (the key of the block catalog).</summary>
    public static string FullMetadataName(INamedTypeSymbol type)
    {
        string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() + "." : string.Empty;
        string outer = string.Empty;
        for (INamedTypeSymbol? t = type.ContainingType; t is not null; t = t.ContainingType)
        {
            outer = t.MetadataName + "+" + outer;
        }

        return ns + outer + type.MetadataName;
    }

    private TypedConstant? Named(string name)
    {
        foreach (KeyValuePair<string, TypedConstant> named in _attribute.NamedArguments)
        {
            if (named.Key == name)
            {
                return named.Value;
            }
        }

        return null;
    }

    // TypedConstant.Value throws for arrays.
    private static object? Scalar(TypedConstant constant) =>
        constant.Kind is TypedConstantKind.Array or TypedConstantKind.Error ? null : constant.Value;

    private static double ToDouble(object? value, double fallback) => value switch
    {
        double d => d,
        float f => f,
        int i => i,
        _ => fallback,
    };
}
