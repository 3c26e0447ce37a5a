using System.Collections.Generic;
using System.Linq;

namespace NetGen.SourceGenerators;

// Rewrites of the plan as it is built: ops that a layer after them folds into.
internal sealed partial class PlanBuilder
{
    /// <summary>
    /// Fuses the ReLU <paramref name="reluName"/> into the BatchNorm over channels planned just before it:
    /// when that op's output is <see cref="Current"/> (nothing else can read it: the ReLU comes next in
    /// the same layer list, checked by the caller), it writes max(y, 0) itself and masks its gradient, so
    /// that the ReLU costs no pass of its own over the tensor in either direction and no tensor in the
    /// arena. The sample CNN's step at batch 64 went 9.98-11.67 -> 8.26-9.06 ms (six of seven alternating
    /// process pairs; the seventh tied in a noisy spell). False when there is no such BatchNorm.
    /// </summary>
    public bool FuseReluIntoBatchNorm(string reluName)
    {
        if (_ops.Count == 0 || _ops[_ops.Count - 1] is not BatchNormOp { Spatial: > 1, FusedRelu: null } bn
            || !ReferenceEquals(bn.Output, Current) || _tensors.Count == 0 || !ReferenceEquals(_tensors[_tensors.Count - 1], bn.Output))
        {
            return false;
        }

        Tensor output = bn.Output with { Description = bn.Output.Description + ", after " + reluName + " (ReLU, fused)" };
        _tensors[_tensors.Count - 1] = output;
        _ops[_ops.Count - 1] = bn with { Output = output, FusedRelu = reluName };
        Current = output;
        return true;
    }

    /// <summary>
    /// The BatchNorm over channels planned just before a 2x2 max pooling with stride 2 and no padding, when
    /// the pooling can be done in the BatchNorm's training pass (<see cref="FusePoolIntoBatchNorm"/>): the
    /// pooling comes next in the same layer list as the BatchNorm or as the ReLU fused into it
    /// (<paramref name="previous"/>), and reads the BatchNorm's output, the last tensor planned, which
    /// nothing else can then read. Null otherwise.
    /// </summary>
    public BatchNormOp? BatchNormBeforePool(LayerSpec? previous, Tensor input, PlanWindow window)
    {
        bool adjacent = previous is BatchNormSpec || previous is ActivationSpec { Kind: ActivationKind.ReLU };
        return adjacent && window is { Kernel: 2, Stride: 2, Dilation: 1, PadTop: 0, PadLeft: 0 }
            && _ops.Count > 0 && _ops[_ops.Count - 1] is BatchNormOp { Spatial: > 1, FusedPool: null } bn
            && ReferenceEquals(bn.Output, input) && _tensors.Count > 0 && ReferenceEquals(_tensors[_tensors.Count - 1], bn.Output)
            && (previous is BatchNormSpec ? bn.FusedRelu is null : bn.FusedRelu is not null)
            ? bn
            : null;
    }

    /// <summary>
    /// Lets the BatchNorm planned just before <paramref name="pool"/> (found by <see cref="BatchNormBeforePool"/>)
    /// pool as it normalises in training, and take the pooling's output gradient in backward: the normalised
    /// tensor and its gradient are then never written (the pooling runs on its own in inference only). The
    /// sample CNN's first BatchNorm + ReLU + MaxPool stage 1.38x forward and 1.21x backward, the second 1.13x
    /// and 1.03x (kernels alone, --bnpool-ab); its training step 1.08-1.14x (alternating processes).
    /// </summary>
    public void FusePoolIntoBatchNorm(PoolOp pool)
    {
        var bn = (BatchNormOp)_ops[_ops.Count - 1];
        _ops[_ops.Count - 1] = bn with { FusedPool = pool };
    }

    /// <summary>The largest patch a stem takes (<c>NetGen.ConvKernels.StemMaxPatch</c>): its co-moments are K² values.</summary>
    public const int StemMaxPatch = 32;

    /// <summary>
    /// Makes a stem of a convolution whose input needs no gradient (the network's first with parameters), with a
    /// patch of at most <see cref="StemMaxPatch"/> values, read by nothing but the BatchNorm after it when that
    /// BatchNorm pools as it normalises (<see cref="FusePoolIntoBatchNorm"/>): in training the BatchNorm takes the
    /// batch statistics from the patches' moments, makes each sample's convolution output in a buffer of its own,
    /// and makes the convolution's weight gradient from the pooled gradient (NetGen.ConvKernels.Stem.cs). The
    /// convolution's output (3.2 MB for the sample CNN at batch 64) and its gradient are never written.
    /// Only networks with a loss: the stem changes nothing but training. The sample CNN's step 1.08-1.20x
    /// (alternating processes), its first block 1.21 -> 0.94 ms in sequence (benchmarks/README.md).
    /// </summary>
    private List<PlanOp> FuseStems(List<PlanOp> ops)
    {
        for (int i = 1; i < ops.Count; i++)
        {
            if (ops[i] is BatchNormOp { FusedPool: { } pool, Stem: null } bn && ops[i - 1] is ConvOp { StemOf: null } conv
                && conv.Output == bn.Input && !conv.Input.RequiresGrad && conv.Window.PatchSize <= StemMaxPatch
                && ops.Count(o => o.Inputs.Contains(conv.Output)) == 1)
            {
                ConvOp stem = conv with { StemOf = bn.Name };
                ops[i - 1] = stem;
                ops[i] = bn with { Stem = stem, ReadsCallerInput = stem.ReadsCallerInput, StemScratchOffset = AddScratch(BatchNormOp.StemScratchSize(stem, pool)) };
            }
        }

        return ops;
    }

    /// <summary>Weights below this many values are not deferred: see <see cref="DeferLargestWeightGradient"/>.</summary>
    public const int DeferMinValues = 32768;

    /// <summary>The most columns a deferred weight has: the runtime computes whole rows in a block of at most 32 KB.</summary>
    public const int DeferMaxColumns = 8192;

    /// <summary>
    /// Marks the largest Dense weight whose gradient TrainStep may leave to the optimizer at small
    /// batches (<c>NetGen.DeferredWeightGradient</c>): a weight of its own (not tied), no penalty (its
    /// gradient is written, not added to), one row per sample, at most 8,192 columns and at least
    /// 32,768 values. At batch 1 writing such a gradient and reading it back was most of a small
    /// network's step (the 784-128-10 MLP with SGD: 31 -> 20 µs for that part, measured in one process).
    /// </summary>
    private static List<PlanOp> DeferLargestWeightGradient(List<PlanOp> ops)
    {
        int best = -1;
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i] is DenseOp { OverwritesGradients: true, Rows: 1 } d && d.InFeatures <= DeferMaxColumns && d.Weight.LongSize >= DeferMinValues
                && (best < 0 || d.Weight.LongSize > ((DenseOp)ops[best]).Weight.LongSize))
            {
                best = i;
            }
        }

        if (best >= 0)
        {
            ops[best] = (DenseOp)ops[best] with { DeferWeightGradient = true };
        }

        return ops;
    }

    /// <summary>
    /// Lets the Dense and Conv2D layers that read the network's float input read it where the caller
    /// passed it, instead of from a copy in the arena, when no other kind of op reads it (those take
    /// their input from the arena only). The copy was pure overhead: at batch 256 the 784-128-10 MLP's
    /// step took 922-937 µs with it and 820-853 µs without (three pairs of alternating processes).
    /// A batch split across threads still copies each share's samples into the share's arena.
    /// </summary>
    private static List<PlanOp> ReadCallerInput(List<PlanOp> ops, Tensor? input)
    {
        if (input is null || input.Tokens)
        {
            return ops;
        }

        var readers = new List<int>();
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i].Inputs.Contains(input))
            {
                if (ops[i] is not (DenseOp or ConvOp))
                {
                    return ops;
                }

                readers.Add(i);
            }
        }

        foreach (int i in readers)
        {
            ops[i] = ops[i] with { ReadsCallerInput = true };
        }

        return ops;
    }
}
