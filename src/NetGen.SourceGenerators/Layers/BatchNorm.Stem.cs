namespace NetGen.SourceGenerators;

// A stem (PlanBuilder.FuseStems): the network's first convolution, the BatchNorm after it, its ReLU and the 2x2 max
// pooling, in training, without the convolution's output or its gradient in the arena (NetGen.ConvKernels.Stem.cs
// has the algebra). The convolution's own forward runs in inference only.
internal sealed partial record BatchNormOp
{
    /// <summary>The convolution before this BatchNorm whose output it makes in training (a stem), or null.</summary>
    public ConvOp? Stem { get; init; }

    /// <summary>Where the stem's scratch starts: the patches' moments, the backward's sums, one sample's planes.</summary>
    public int StemScratchOffset { get; init; }

    /// <summary>The stem's scratch: moments K + K², sums F·K + F, planes F·P + F·P/4 (and pooled).</summary>
    public static int StemScratchSize(ConvOp conv, PoolOp pool)
    {
        int k = conv.Window.PatchSize, f = conv.Filters;
        return (k * (k + 1)) + (f * (k + 1)) + (f * conv.Window.Positions) + (f * pool.Window.Positions);
    }

    private string StemConst => Method + "Stem";

    private int MomentsSize => Stem!.Window.PatchSize * (Stem.Window.PatchSize + 1);

    private int SumsSize => Features * (Stem!.Window.PatchSize + 1);

    private string Moments => $"W({StemConst}, {MomentsSize})";

    private string Sums => $"W({StemConst} + {MomentsSize}, {SumsSize})";

    private string Planes => $"W({StemConst} + {MomentsSize + SumsSize}, {(Features * Stem!.Window.Positions) + (Features * FusedPool!.Window.Positions)})";

    private string StemColumns => $"W(Columns, {Shapes.Clamp(Stem!.ColumnsSize)})";

    private string StemBias => Stem!.Bias is { } b ? Ex.P(b) : "default";

    private string StemWindows => $"{Stem!.Method}Window, {FusedPool!.Method}Window";

    private string ReluWord => FusedRelu is null ? "false" : "true";

    private void EmitStemConstants(IndentedWriter w)
    {
        if (Stem is { } conv)
        {
            w.Line($"private const int {StemConst} = {StemScratchOffset}; // {Name} as {conv.Name}'s stem: the patches' mean and co-moments, Σ dy·(patch − mean) and Σ dy, a sample's planes");
        }
    }

    private void EmitStemMethods(IndentedWriter w)
    {
        ConvOp conv = Stem!;
        PoolOp pool = FusedPool!;
        int f = Features;
        string mean = $"W({Scratch}, {f})", inv = $"W({Scratch} + {f}, {f})";
        w.Line($"// {conv.Name}, {Name}{(FusedRelu is { } r ? ", " + r : "")} and {pool.Name} in training (the stem): the batch statistics from the moments of");
        w.Line($"// {conv.Name}'s patches, then each sample's convolution made, normalised and pooled in a buffer of its own. Neither");
        w.Line($"// {conv.Name}'s output nor {Name}'s is written, and backward makes neither gradient.");
        using (w.Block($"private void {Method}Forward(int n, bool training{InputParameter})"))
        {
            using (w.Block("if (training)"))
            {
                w.Line($"{Ex.ConvKernels}.StemTrainingForward(");
                w.Line($"    {Ex.A(pool.Output)}, {Ex.I(pool.Argmax!)}, {mean}, {inv}, // {pool.Name} output and winners, batch mean, batch 1/std");
                w.Line($"    {Ex.S(RunningMean)}, {Ex.S(RunningVariance)}, // {RunningMean.Name}, {RunningVariance.Name}");
                w.Line($"    {Moments}, {Planes}, {StemColumns}, // the patches' moments, a sample's planes, im2col scratch");
                w.Line($"    {conv.InputValues}, {Ex.P(conv.Weight)}, {StemBias}, {Ex.P(Weight)}, {Ex.P(Bias)},");
                w.Line($"    batch: n, momentum: {Ex.Float(Momentum)}, epsilon: {Ex.Float(Epsilon)}, relu: {ReluWord}, {StemWindows});");
            }

            EmitInferenceForward(w);
        }

        w.Line();
        using (w.Block($"private void {Method}Backward(int n{InputParameter})"))
        {
            w.Line($"// From {pool.Name}'s output gradient and winners: Σ dy·(patch − mean) and Σ dy, then the three gradients from them.");
            w.Line($"{Ex.ConvKernels}.StemBackward(");
            w.Line($"    {Ex.G(conv.Weight)}, {Ex.G(Weight)}, {Ex.G(Bias)}, // d {conv.Weight.Name}, d {Weight.Name}, d {Bias.Name}{(conv.Bias is { } b ? $" (d {b.Name} is 0: the BatchNorm subtracts it)" : "")}");
            w.Line($"    {Sums}, {Planes}, {StemColumns},");
            w.Line($"    {Ex.D(pool.Output)}, {Ex.I(pool.Argmax!)}, {PooledValues},");
            w.Line($"    {conv.InputValues}, {Moments}, {Ex.P(conv.Weight)}, {Ex.P(Weight)}, {inv},");
            w.Line($"    batch: n, {StemWindows});");
        }

        w.Line();
    }

    // The pooled values that say where the ReLU passed its gradient, or none without a ReLU.
    private string PooledValues => FusedRelu is null ? "default" : Ex.A(FusedPool!.Output);

    private void EmitStemShardMethods(IndentedWriter w)
    {
        ConvOp conv = Stem!;
        PoolOp pool = FusedPool!;
        int f = Features, positions = conv.Window.Positions;
        string mean = $"W({Scratch}, {f})", inv = $"W({Scratch} + {f}, {f})";
        w.Line($"// {Name} on a split batch (the stem): each shard's patch moments, merged here in shard order into the batch statistics;");
        w.Line($"// then every shard normalises and pools its samples. Backward, each shard's Σ dy·(patch − mean) and Σ dy, added up");
        w.Line($"// here in shard order into the gradients of {conv.Weight.Name}, {Weight.Name} and {Bias.Name}.");
        w.Line($"private void {Method}Moments(int n{InputParameter}) =>");
        w.Line($"    {Ex.ConvKernels}.StemMoments({Moments}, {StemColumns}, {conv.InputValues}, batch: n, {conv.Method}Window);");
        w.Line();
        using (w.Block($"private void {Method}MergeStatistics(int k)"))
        {
            w.Line($"long count = (long)_shardRows * {positions};");
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"{NetworkEmitter.Core} shard = _shards[s - 1];");
                w.Line($"long shardCount = (long)shard._shardRows * {positions};");
                w.Line($"{Ex.ConvKernels}.StemMerge({Moments}, count, shard.{Moments}, shardCount, {conv.Method}Window);");
                w.Line("count += shardCount;");
            }

            w.Line($"{Ex.ConvKernels}.StemStatistics({mean}, {inv}, {Ex.S(RunningMean)}, {Ex.S(RunningVariance)}, {Moments}, {Ex.P(conv.Weight)}, {StemBias}, count, momentum: {Ex.Float(Momentum)}, epsilon: {Ex.Float(Epsilon)}, filters: {f}, {conv.Method}Window);");
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"W({Scratch}, {2 * f}).CopyTo(_shards[s - 1].W({Scratch}, {2 * f}));");
                w.Line($"{Moments}.CopyTo(_shards[s - 1].{Moments});");
            }
        }

        w.Line();
        w.Line($"private void {Method}Normalize(int n{InputParameter}) =>");
        w.Line($"    {Ex.ConvKernels}.StemNormalizeMaxPool({Ex.A(pool.Output)}, {Ex.I(pool.Argmax!)}, {Planes}, {StemColumns}, {conv.InputValues}, {Ex.P(conv.Weight)}, {StemBias}, {mean}, {inv}, {Ex.P(Weight)}, {Ex.P(Bias)}, batch: n, relu: {ReluWord}, {StemWindows}); // and {conv.Name}, {pool.Name}");
        w.Line();
        w.Line($"private void {Method}GradientSums(int n{InputParameter}) =>");
        w.Line($"    {Ex.ConvKernels}.StemGradientSums({Sums}, {Planes}, {StemColumns}, {Ex.D(pool.Output)}, {Ex.I(pool.Argmax!)}, {PooledValues}, {conv.InputValues}, {Moments}, batch: n, {StemWindows});");
        w.Line();
        using (w.Block($"private void {Method}MergeGradientSums(int k)"))
        {
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"{Ex.Kernels}.AddInto({Sums}, _shards[s - 1].{Sums});");
            }

            w.Line($"{Ex.ConvKernels}.StemGradients({Ex.G(conv.Weight)}, {Ex.G(Weight)}, {Ex.G(Bias)}, {Sums}, {Moments}, {Ex.P(conv.Weight)}, {Ex.P(Weight)}, {inv}, count: (long)_batchRows * {positions}, {conv.Method}Window);");
        }

        w.Line();
    }
}
