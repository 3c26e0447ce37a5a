using System.Collections.Generic;
using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>
/// The arena of incremental generation (one sequence, one new position at a time). Every tensor
/// of the network gets one row, the current position's, except the inputs of attention (the
/// queries, keys and values of every position so far: the key/value cache), which get all T rows.
/// Ops write their step code with <see cref="Row"/> and <see cref="Cache"/>; <c>p</c> is the position.
/// </summary>
internal sealed class StepLayout
{
    private readonly Dictionary<string, (int Offset, int RowSize, bool Cache)> _tensors = new();

    private StepLayout(int length) => Length = length;

    /// <summary>T, the context length.</summary>
    public int Length { get; }

    /// <summary>Values in the step arena.</summary>
    public int Size { get; private set; }

    /// <summary>
    /// The threads a position's dense products may use (the network's Threads; null where it has none, without a
    /// loss): the output layer's product over the vocabulary is split across them where it is large enough.
    /// </summary>
    public string? Threads { get; private init; }

    /// <summary>Offset of T values of scratch (the attention scores of one query).</summary>
    public int Scores { get; private set; }

    /// <summary>
    /// The layout for <paramref name="plan"/>, or null when it cannot generate incrementally: the input
    /// must be tokens, every op must work position by position (a [T, ...] tensor in and out, causal
    /// attention), and the output must be [T, vocabulary].
    /// </summary>
    public static StepLayout? For(NetworkPlan plan)
    {
        if (!plan.TokenInput || plan.HasErrors || plan.OutputShape.Length != 2 || plan.OutputShape[0] != plan.InputSize)
        {
            return null;
        }

        int length = plan.InputSize;
        var layout = new StepLayout(length) { Threads = plan.Loss is null ? null : "_threads" };
        var caches = new HashSet<string>(plan.Ops.OfType<AttentionOp>().Select(a => a.Input.Const));
        int offset = 0;
        foreach (Tensor t in plan.Tensors)
        {
            bool cache = caches.Contains(t.Const);
            int row = t.Size / length;
            layout._tensors[t.Const] = (offset, row, cache);
            offset += cache ? t.Size : row;
        }

        layout.Scores = offset;
        layout.Size = offset + length;
        foreach (PlanOp op in plan.Ops)
        {
            bool perPosition = op.Inputs.All(layout.IsSequence) && layout.IsSequence(op.Output);
            if (!perPosition || !op.EmitStep(new IndentedWriter(), layout))
            {
                return null;
            }
        }

        return layout;
    }

    /// <summary>The row of <paramref name="t"/> at <paramref name="position"/> (an expression; <c>p</c>, the current one): <c>R(offset, size)</c>.</summary>
    public string Row(Tensor t, string position = "p")
    {
        (int offset, int row, bool cache) = _tensors[t.Const];
        return cache ? $"R({offset} + ({position} * {row}), {row})" : $"R({offset}, {row})";
    }

    /// <summary>The rows of positions 0 to p of a cached tensor.</summary>
    public string Cache(Tensor t)
    {
        (int offset, int row, _) = _tensors[t.Const];
        return $"R({offset}, (p + 1) * {row})";
    }

    /// <summary>Whether <paramref name="t"/> is the token input or a [T, ...] sequence.</summary>
    private bool IsSequence(Tensor t) => t.Shape.Length >= 1 && t.Shape[0] == Length && (t.Tokens || t.Shape.Length == 2);
}
