using System;
using System.Collections.Generic;
using System.Linq;

namespace NetGen;

/// <summary>The part of the buffer one call of an optimizer's update rule works on, with its settings.</summary>
public readonly struct ParameterSegment
{
    /// <summary>Creates the segment.</summary>
    public ParameterSegment(int offset, int length, float learningRate, float weightDecay)
    {
        Offset = offset;
        Length = length;
        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>Index of its first parameter in the whole buffer.</summary>
    public int Offset { get; }

    /// <summary>Parameters in the segment.</summary>
    public int Length { get; }

    /// <summary>The learning rate for the segment (the optimizer's, times the group's scale).</summary>
    public float LearningRate { get; }

    /// <summary>The weight decay for the segment.</summary>
    public float WeightDecay { get; }

    /// <summary>The segment's part of a state array laid out as the parameters; empty for an empty array.</summary>
    public Span<float> Of(float[] state) => state.Length == 0 ? Span<float>.Empty : state.AsSpan(Offset, Length);
}

/// <summary>
/// A parameter group: a range of the parameter buffer with its own weight decay and learning-rate
/// scale (PyTorch's param_groups). Build them from a network's ParameterLayout.
/// </summary>
/// <param name="Offset">Index of the first parameter.</param>
/// <param name="Length">Parameters in the group.</param>
/// <param name="WeightDecay">The group's weight decay; null: the optimizer's.</param>
/// <param name="LearningRateScale">Multiplies the optimizer's (scheduled) learning rate; default 1.</param>
public sealed record ParameterGroup(int Offset, int Length, float? WeightDecay = null, float LearningRateScale = 1f)
{
    /// <summary>
    /// The GPT-2 and nanoGPT recipe: weight decay on the tensors with two or more dimensions (weight
    /// matrices, embeddings, convolution kernels), none on vectors (biases, LayerNorm and BatchNorm
    /// parameters). Neighbouring tensors with the same decay are merged into one group.
    /// </summary>
    /// <param name="layout">The network's ParameterLayout.</param>
    /// <param name="weightDecay">The decay of the matrices.</param>
    /// <returns>Groups covering the whole buffer, in order.</returns>
    public static IReadOnlyList<ParameterGroup> DecayMatricesOnly(IReadOnlyList<ParameterInfo> layout, float weightDecay) =>
        ByTensor(layout, p => p.Shape.Count >= 2 ? weightDecay : 0f);

    /// <summary>
    /// One weight decay per tensor, chosen by <paramref name="decay"/> (e.g. by name); neighbouring
    /// tensors with the same decay are merged.
    /// </summary>
    /// <param name="layout">The network's ParameterLayout.</param>
    /// <param name="decay">The decay of each tensor.</param>
    /// <returns>Groups covering the whole buffer, in order.</returns>
    public static IReadOnlyList<ParameterGroup> ByTensor(IReadOnlyList<ParameterInfo> layout, Func<ParameterInfo, float> decay)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(decay);
        var groups = new List<ParameterGroup>();
        foreach (ParameterInfo p in layout.OrderBy(p => p.Offset))
        {
            float d = decay(p);
            if (groups.Count > 0 && groups[^1].WeightDecay == d && groups[^1].Offset + groups[^1].Length == p.Offset)
            {
                groups[^1] = groups[^1] with { Length = groups[^1].Length + p.Length };
            }
            else
            {
                groups.Add(new ParameterGroup(p.Offset, p.Length, d));
            }
        }

        return groups;
    }
}
