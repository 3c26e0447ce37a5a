using System;
using System.Collections.Generic;

namespace NetGen.SourceGenerators;

/// <summary>
/// The one list of layer kinds: each attribute's class name and the reader of its kind's file.
/// Adding a layer kind adds a file under Layers/ and a line here; nothing else switches on kinds.
/// </summary>
internal static class LayerRegistry
{
    private static readonly Dictionary<string, Func<AttributeArgs, LayerSpec>> Readers = new(StringComparer.Ordinal)
    {
        ["InputAttribute"] = InputSpec.Read,
        ["DenseAttribute"] = DenseSpec.Read,
        ["ReLUAttribute"] = a => ActivationSpec.Read(a, ActivationKind.ReLU),
        ["LeakyReLUAttribute"] = a => ActivationSpec.Read(a, ActivationKind.LeakyReLU),
        ["SigmoidAttribute"] = a => ActivationSpec.Read(a, ActivationKind.Sigmoid),
        ["TanhAttribute"] = a => ActivationSpec.Read(a, ActivationKind.Tanh),
        ["GeluAttribute"] = a => ActivationSpec.Read(a, ActivationKind.Gelu),
        ["GeluExactAttribute"] = a => ActivationSpec.Read(a, ActivationKind.GeluExact),
        ["SoftmaxAttribute"] = a => ActivationSpec.Read(a, ActivationKind.Softmax),
        ["DropoutAttribute"] = DropoutSpec.Read,
        ["BatchNormAttribute"] = BatchNormSpec.Read,
        ["Conv2DAttribute"] = Conv2DSpec.Read,
        ["MaxPool2DAttribute"] = a => PoolSpec.Read(a, max: true),
        ["AvgPool2DAttribute"] = a => PoolSpec.Read(a, max: false),
        ["GlobalAveragePoolAttribute"] = GlobalAveragePoolSpec.Read,
        ["FlattenAttribute"] = FlattenSpec.Read,
        ["SoftmaxCrossEntropyAttribute"] = SoftmaxCrossEntropySpec.Read,
        ["MeanSquaredErrorAttribute"] = MeanSquaredErrorSpec.Read,
        ["BinaryCrossEntropyAttribute"] = BinaryCrossEntropySpec.Read,
        ["EmbeddingAttribute"] = EmbeddingSpec.Read,
        ["PositionalEmbeddingAttribute"] = PositionalEmbeddingSpec.Read,
        ["LayerNormAttribute"] = LayerNormSpec.Read,
        ["MultiHeadAttentionAttribute"] = MultiHeadAttentionSpec.Read,
        ["ResidualAttribute"] = ResidualSpec.Read,
        ["RepeatAttribute"] = RepeatSpec.Read,
    };

    /// <summary>The reader for the attribute class <paramref name="name"/> (in namespace NetGen), or null.</summary>
    public static Func<AttributeArgs, LayerSpec>? Find(string name) => Readers.TryGetValue(name, out var read) ? read : null;
}
