using System.Collections.Generic;
using System.Linq;

namespace NetGen.SourceGenerators;

// Training on several threads: the batch is split into contiguous shards, one per thread. Every shard
// has an activation arena and a gradient buffer of its own and shares the parameters; the first shard
// is the network itself. The shards run the ordinary forward and backward methods on their rows; the
// loss is the mean over the whole batch; dropout masks are drawn before the split, in sample order, so
// that they are the masks of one thread; BatchNorm layers measure per shard and the network merges the
// measurements between phases (a phase ends at each BatchNorm's statistics, forward and backward).
// Afterwards the shards' gradients are added into the network's in shard order, each thread summing
// one slice of the parameters: the same shard count gives the same bits on every run.
internal static partial class CoreEmitter
{
    private static void EmitShardFields(IndentedWriter w, NetworkPlan plan, LossSpec loss)
    {
        w.Line();
        w.Line("// Threads (see Threads): shards 1.. of a split batch; shard 0 is this instance.");
        w.Line("private int _threads = 1;");
        w.Line(string.Format(
            System.Globalization.CultureInfo.InvariantCulture,
            "private int _minSamplesPerThread = {0}; // 64 x {1:N0} parameters / {2:N0} multiply-adds per sample, rounded up",
            plan.MinSamplesPerThread,
            plan.ParameterCount,
            plan.MultiplyAddsPerSample));
        w.Line($"private {NetworkEmitter.Core}[] _shards = global::System.Array.Empty<{NetworkEmitter.Core}>();");
        w.Line($"private {loss.TargetType}[] _shardTargets = global::System.Array.Empty<{loss.TargetType}>(); // this shard's targets, copied before the split");
        w.Line("private float[] _gathered = global::System.Array.Empty<float>(); // the outputs of a split batch, in order");
        w.Line("private int _shardRows; // this shard's rows of the batch");
        w.Line("private int _batchRows; // the whole batch's rows (the loss is the mean over them)");
        w.Line("private int _shardCount;");
        w.Line("private int _shardPhase;");
        w.Line("private float _shardLoss;");
        w.Line("private int _lastShards;");
        if (plan.PassesInput)
        {
            w.Line("private global::NetGen.PinnedInput _pinnedInput; // the caller's batch while this shard reads its rows in place (Length 0: copied in)");
            w.Line("private int _shardStart; // this shard's first row of the batch");
            w.Line("private bool _splitTraining; // whether the split batch is trained or evaluated");
            w.Line("private bool _splitForward; // whether the split batch is only run forward (Forward: no targets, no loss)");
        }

        if (UnitChainOf(plan) is not null)
        {
            EmitUnitField(w);
        }
    }

    private static void EmitShards(IndentedWriter w, NetworkPlan plan, LossSpec loss)
    {
        string core = NetworkEmitter.Core;
        string targets = loss.TargetType == "int" ? "labels" : "targets";
        string x = plan.InputName;
        int targetsPerSample = loss.TargetType == "int" ? plan.LabelsPerSample : plan.OutputSize;
        var batchNorms = plan.Ops.OfType<BatchNormOp>().ToList();
        var dropouts = plan.Ops.SelectMany(o => o.DropoutMasks.Select(m => (Op: o, m.Mask, m.Rate))).ToList();
        Tensor outputs = plan.Probabilities ?? plan.Last!;
        UnitChain? chain = UnitChainOf(plan);

        EmitShardSetting(w, "Threads", "_threads");
        EmitShardSetting(w, "MinSamplesPerThread", "_minSamplesPerThread");
        w.Line("// Threads for a batch of n: at most Threads, each with MinSamplesPerThread samples or more.");
        w.Line("private int ShardsFor(int n) => global::System.Math.Min(_threads, global::System.Math.Max(1, n / _minSamplesPerThread));");
        w.Line();
        w.Line("// Shards 1.. with arenas for the most rows one can get: n/k with k = ShardsFor(n) is at most");
        w.Line("// MaxBatchSize/Threads (rounded up) when all threads run, and below 2·MinSamplesPerThread when fewer do.");
        using (w.Block("private void AllocateShards()"))
        {
            using (w.Block("if (_threads == 1)"))
            {
                w.Line($"_shards = global::System.Array.Empty<{core}>();");
                w.Line($"_shardTargets = global::System.Array.Empty<{loss.TargetType}>();");
                w.Line("_gathered = global::System.Array.Empty<float>();");
                w.Line("return;");
            }

            w.Line();
            w.Line("int rows = (int)global::System.Math.Min(MaxBatchSize, global::System.Math.Max((MaxBatchSize + _threads - 1) / _threads, 2L * _minSamplesPerThread));");
            w.Line($"var shards = new {core}[_threads - 1];");
            using (w.Block("for (int s = 0; s < shards.Length; s++)"))
            {
                w.Line($"shards[s] = new {core}(this, rows, gradients: true);");
                w.Line($"shards[s]._shardTargets = new {loss.TargetType}[{Times("rows", targetsPerSample)}];");
            }

            w.Line("_shards = shards;");
            w.Line($"_shardTargets = new {loss.TargetType}[{Times("rows", targetsPerSample)}];");
            w.Line("_gathered = new float[MaxBatchSize * OutputSize];");
        }

        w.Line();
        w.Line("// Shard s of k holds rows [s·n/k, (s + 1)·n/k): contiguous, in order, sizes differing by one at most.");
        w.Line("private static int ShardStart(int s, int k, int n) => (int)((long)s * n / k);");
        w.Line();
        w.Line($"private {core} Shard(int s) => s == 0 ? this : _shards[s - 1];");
        w.Line();
        if (plan.PassesInput)
        {
            w.Line("// Gives each shard its rows and draws the dropout masks, in sample order, before any thread starts. The shards");
            w.Line("// read their rows where the caller passed them (pinned while they run: no serial copy of the batch, whose rows");
            w.Line("// the other threads would then fetch from this core), unless the batch lies in this network's own buffers");
            w.Line("// (see StepInput): then each shard's rows are copied into its arena here.");
        }
        else
        {
            w.Line("// Copies each shard's rows in and draws the dropout masks, in sample order, before any thread starts.");
        }

        string copyInputs = plan.PassesInput ? ", bool copyInputs" : string.Empty;
        using (w.Block($"private int Split(int n, global::System.ReadOnlySpan<{plan.InputType}> {x}, global::System.ReadOnlySpan<{loss.TargetType}> {targets}, bool training{copyInputs})"))
        {
            w.Line("int k = ShardsFor(n);");
            using (w.Block("for (int s = 0; s < k; s++)"))
            {
                w.Line("int start = ShardStart(s, k, n), rows = ShardStart(s + 1, k, n) - start;");
                w.Line($"{core} shard = Shard(s);");
                w.Line("shard._shardRows = rows;");
                w.Line("shard._batchRows = n;");
                if (dropouts.Count > 0)
                {
                    w.Line("shard._masksDrawn = training;");
                }

                string copy = $"{x}.Slice(start * InputSize, rows * InputSize).CopyTo(shard.{(plan.TokenInput ? "I" : "A")}(Input, InputSize, rows));";
                if (plan.PassesInput)
                {
                    w.Line("shard._shardStart = start;");
                    using (w.Block("if (copyInputs)"))
                    {
                        w.Line(copy);
                    }
                }
                else
                {
                    w.Line(copy);
                }
                using (w.Block($"if (!{targets}.IsEmpty) // empty: Forward, which has no loss"))
                {
                    w.Line($"{targets}.Slice({Times("start", targetsPerSample)}, {Times("rows", targetsPerSample)}).CopyTo(shard._shardTargets);");
                }
            }

            if (dropouts.Count > 0)
            {
                using (w.Block("if (training)"))
                {
                    foreach (var d in dropouts)
                    {
                        using (w.Block("for (int s = 0; s < k; s++)"))
                        {
                            w.Line($"{Ex.Kernels}.DropoutMask(Shard(s).A({d.Mask.Const}, {d.Mask.Size}, Shard(s)._shardRows), rate: {Ex.Float(d.Rate)}, RandomSource); // {d.Op.Name}");
                        }
                    }
                }
            }

            w.Line("_shardCount = k;");
            if (plan.PassesInput)
            {
                w.Line("_splitTraining = training;");
            }

            w.Line("return k;");
        }

        w.Line();
        if (plan.PassesInput)
        {
            w.Line("// A batch split across the threads: in place (see Split), or copied into the shards' arenas.");
            foreach ((string name, string training, string split) in new[] { ("Backpropagate", "true", "BackpropagateSplit"), ("Evaluate", "false", "EvaluateSplit") })
            {
                using (w.Block($"private float {name}Shards(int n, {Ex.ReadOnlySpan} {x}, global::System.ReadOnlySpan<{loss.TargetType}> {targets})"))
                {
                    w.Line($"bool copy = Owns({x});");
                    w.Line($"int k = Split(n, {x}, {targets}, training: {training}, copyInputs: copy);");
                    w.Line($"return copy ? {split}(n, k) : global::NetGen.PinnedInput.Run({x}, this);");
                }

                w.Line();
            }

            w.Line("// The split batch's phases with the caller's inputs pinned: every shard reads its rows in place.");
            using (w.Block("float global::NetGen.IPinnedWork.RunPinned(global::NetGen.PinnedInput inputs)"))
            {
                w.Line("int n = _batchRows, k = _shardCount;");
                using (w.Block("for (int s = 0; s < k; s++)"))
                {
                    w.Line("Shard(s)._pinnedInput = inputs;");
                }

                using (w.Block("try"))
                {
                    using (w.Block("if (_splitForward)"))
                    {
                        w.Line("RunShards(ForwardPhase, k);");
                        w.Line("return 0; // Forward has no loss");
                    }

                    w.Line(chain is null
                        ? "return _splitTraining ? BackpropagateSplit(n, k) : EvaluateSplit(n, k);"
                        : "return _unitSplit ? RunUnits(n, k) : _splitTraining ? BackpropagateSplit(n, k) : EvaluateSplit(n, k);");
                }

                using (w.Block("finally"))
                {
                    using (w.Block("for (int s = 0; s < k; s++)"))
                    {
                        w.Line("Shard(s)._pinnedInput = default; // no shard keeps a pointer to the caller's inputs");
                    }
                }
            }

            w.Line();
        }

        w.Line("// Forward, loss and backward on k shards at once; then their gradients added into this one's.");
        using (w.Block(plan.PassesInput
            ? "private float BackpropagateSplit(int n, int k)"
            : $"private float BackpropagateShards(int n, global::System.ReadOnlySpan<{plan.InputType}> {x}, global::System.ReadOnlySpan<{loss.TargetType}> {targets})"))
        {
            if (!plan.PassesInput)
            {
                w.Line($"int k = Split(n, {x}, {targets}, training: true);");
            }

            int phases = 1 + (2 * batchNorms.Count);
            int run = batchNorms.Count > 0 && batchNorms[0].Stem is not null ? phases - 1 : phases; // a stem leaves the last phase empty
            for (int phase = 0; phase < run; phase++)
            {
                w.Line($"RunShards({phase}, k);");
                if (phase < batchNorms.Count)
                {
                    w.Line($"{batchNorms[phase].Method}MergeStatistics(k);");
                }
                else if (phase < phases - 1)
                {
                    w.Line($"{batchNorms[phases - 2 - phase].Method}MergeGradientSums(k);");
                }
            }

            w.Line("RunShards(ReducePhase, k);");
            EmitJoinedLoss(w, plan, withGradients: true);
        }

        w.Line();
        using (w.Block(plan.PassesInput
            ? "private float EvaluateSplit(int n, int k)"
            : $"private float EvaluateShards(int n, global::System.ReadOnlySpan<{plan.InputType}> {x}, global::System.ReadOnlySpan<{loss.TargetType}> {targets})"))
        {
            if (!plan.PassesInput)
            {
                w.Line($"int k = Split(n, {x}, {targets}, training: false);");
            }

            w.Line("RunShards(EvaluatePhase, k);");
            EmitJoinedLoss(w, plan, withGradients: false);
        }

        w.Line();
        EmitForwardShards(w, plan);
        w.Line("// The whole batch's loss, the shards' parts added in order; the split is over.");
        using (w.Block("private float JoinShards(int n, int k)"))
        {
            w.Line("float loss = 0;");
            using (w.Block("for (int s = 0; s < k; s++)"))
            {
                w.Line("loss += Shard(s)._shardLoss;");
                if (dropouts.Count > 0)
                {
                    w.Line("Shard(s)._masksDrawn = false;");
                }
            }

            w.Line("_lastBatch = n;");
            w.Line("_lastShards = k;");
            w.Line("return loss;");
        }

        w.Line();
        w.Line($"private const int ReducePhase = {1 + (2 * batchNorms.Count)};");
        w.Line();
        w.Line($"private const int EvaluatePhase = {2 + (2 * batchNorms.Count)};");
        w.Line();
        w.Line($"private const int ForwardPhase = {3 + (2 * batchNorms.Count)};");
        w.Line();
        using (w.Block("private void RunShards(int phase, int k)"))
        {
            w.Line("_shardPhase = phase;");
            w.Line("global::NetGen.Workers.Shared.Run(this, k);");
        }

        w.Line();
        using (w.Block("void global::NetGen.IShardedWork.RunShard(int shard)"))
        {
            using (w.Block("if (_shardPhase == ReducePhase)"))
            {
                w.Line("ReduceGradients(shard, _shardCount);");
            }

            using (w.Block("else if (_shardPhase == ForwardPhase)"))
            {
                w.Line($"{core} part = Shard(shard);");
                w.Line("part.ForwardShard(new global::System.Span<float>(_gathered, ShardStart(shard, _shardCount, part._batchRows) * OutputSize, part._shardRows * OutputSize));");
            }

            if (chain is not null)
            {
                using (w.Block("else if (_shardPhase >= UnitsPhase)"))
                {
                    w.Line("Shard(shard).RunUnitPhase(_shardPhase - UnitsPhase, shard, _shardCount, this);");
                }
            }

            using (w.Block("else"))
            {
                w.Line("Shard(shard).RunPhase(_shardPhase, first: shard == 0);");
            }
        }

        w.Line();
        EmitRunPhase(w, plan, loss);
        if (chain is not null)
        {
            EmitUnits(w, plan, loss, chain);
        }

        w.Line("// Thread `part` of k adds the other shards' gradients, in shard order, into its slice of this one's.");
        using (w.Block("private void ReduceGradients(int part, int k)"))
        {
            w.Line("int start = ShardStart(part, k, ParameterCount), length = ShardStart(part + 1, k, ParameterCount) - start;");
            w.Line("global::System.Span<float> total = new(_gradients, start, length);");
            using (w.Block("for (int s = 1; s < k; s++)"))
            {
                w.Line($"{Ex.Kernels}.AddInto(total, new global::System.ReadOnlySpan<float>(_shards[s - 1]._gradients, start, length));");
            }
        }

        w.Line();
        w.Line("// The outputs of a split batch, copied together in sample order.");
        using (w.Block("private global::System.ReadOnlySpan<float> Gathered()"))
        {
            w.Line("int offset = 0;");
            using (w.Block("for (int s = 0; s < _lastShards; s++)"))
            {
                w.Line($"{core} shard = Shard(s);");
                w.Line($"global::System.Span<float> part = shard.A({outputs.Const}, {outputs.Size}, shard._shardRows);");
                w.Line("part.CopyTo(new global::System.Span<float>(_gathered, offset, part.Length));");
                w.Line("offset += part.Length;");
            }

            w.Line("return new global::System.ReadOnlySpan<float>(_gathered, 0, offset);");
        }

        w.Line();
        foreach (BatchNormOp bn in batchNorms)
        {
            bn.EmitShardMethods(w);
        }
    }

    // A setting that sizes the shards: checked, and the shards allocated again when it changes.
    private static void EmitShardSetting(IndentedWriter w, string name, string field)
    {
        using (w.Block($"public int {name}"))
        {
            w.Line($"get => {field};");
            using (w.Block("set"))
            {
                w.Line($"{Ex.Guard}.{name}(value, nameof(value));");
                using (w.Block($"if (value != {field})"))
                {
                    w.Line($"{field} = value;");
                    w.Line("AllocateShards();");
                }
            }
        }

        w.Line();
    }

    private static void EmitJoinedLoss(IndentedWriter w, NetworkPlan plan, bool withGradients)
    {
        w.Line("float loss = JoinShards(n, k);");
        foreach (PlanOp op in plan.Ops.Where(o => o.HasPenalty))
        {
            op.EmitPenalty(w, withGradients);
        }

        w.Line("return loss;");
    }

    private static string Times(string name, int factor) => factor == 1 ? name : $"{name} * {factor}";
}
