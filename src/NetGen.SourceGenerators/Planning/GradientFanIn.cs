using System;
using System.Collections.Generic;
using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>The gradients of a tensor read by several ops: one slot per extra reader, added up.</summary>
internal static class GradientFanIn
{
    /// <summary>
    /// Gradients of a tensor read by several ops add up. Backward runs the ops in reverse, so the
    /// last reader writes the tensor's gradient first (overwrites it); every other reader writes
    /// into a private slot after the activations, which the backward pass then adds in.
    /// </summary>
    public static (List<PlanOp> Ops, List<Tensor> Slots) Slots(List<PlanOp> ops, int activations)
    {
        var readers = new Dictionary<string, int>(StringComparer.Ordinal);
        var slots = new List<Tensor>();
        var result = new PlanOp[ops.Count];
        int offset = activations;
        for (int i = ops.Count - 1; i >= 0; i--)
        {
            PlanOp op = ops[i];
            var targets = new List<Tensor>();
            foreach (Tensor input in op.Inputs)
            {
                readers.TryGetValue(input.Const, out int seen);
                readers[input.Const] = seen + 1;
                if (seen == 0 || !input.RequiresGrad)
                {
                    targets.Add(input);
                    continue;
                }

                var slot = new Tensor(
                    $"{input.Const}Grad{seen + 1}",
                    $"gradient of {input.Const} from {op.Name}, added in after its backward",
                    input.Shape,
                    offset,
                    true);
                offset = (int)Math.Min(int.MaxValue, offset + slot.LongSize);
                slots.Add(slot);
                targets.Add(slot);
            }

            result[i] = op with { InputGradients = new EquatableArray<Tensor>(targets) };
        }

        return (result.ToList(), slots);
    }
}
