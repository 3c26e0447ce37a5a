using BenchmarkDotNet.Running;
using NetGen.Benchmarks;

// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- ARGS, where ARGS is
//   --filter '*' [--job short] [--inProcess]   BenchmarkDotNet (--inProcess skips the child-process build)
//   --filter '*FmaPeak*' '*Workloads*' --job short
//                        issue 10's workloads at 1 and 2 threads with their shares of the one-core FMA
//                        peak measured in the same run (BenchmarkDotNet.Artifacts/results/efficiency.md)
//   --gpt2-scale         GPT-2 small at batch 1: one forward pass and one training step, timed once
//   --breakdown          each generated op's forward and backward time in the MLP, the sample CNN and the GPT
//   --threads-ab         each workload on 1 and 2 threads, interleaved step by step (ratios on a noisy machine)
//   --threads-blocks     the same in alternating blocks of 250 ms, so that the pool's threads stay awake
//   --conv-ab            convolutions sample by sample against several samples per product (ConvKernels.PerSampleFrom)
//   --gemm [256]         the matrix products those networks use, in GFLOP/s (256: the 256-bit tiles forced)
//   --affinity-ab        2 threads: shards owned by threads or taken in order, the optimizer step split or not
//   --split-ab           the MLP's dense products on 1 thread against one product split across 2
//   --crossing           two threads handing buffers between the cores: reads and writes after the other core wrote
//                        against after this one did, and a flag's round trip
//   --units-split        the MLP split across 2 threads by hidden units (a hand-written prototype) against the
//                        generated network on 1 and 2 threads, alternating blocks, at batch 32 and 256
//   --inputs-split       the MLP at batch 256 on 2 threads with its first layer split by input features (a
//                        hand-written prototype: no weight crosses between the cores) against the generated network
//   --units-ab           the MLP at batch 32 split by hidden units against its products split, alternating blocks
//   --columns            a dense layer's forward and weight gradient whole and in two blocks of units, one thread
//   --peaks              the FMA peak on 1 and on 2 threads at once (do the cores have a vector unit each?)
//   --gaps               how often and for how long the host takes each vCPU away (a thread a vCPU spinning on the clock)
//   --together           the MLP's parts of a 2-thread step, each thread on its own copies (nothing shared), alone
//                        and both at once: what running together costs the two vCPUs
//   --trace W T          workload W (or units-32, units-256, inputs-256: the prototypes above) on T threads: each run on the
//                        pool's serial gap, the caller's and the others'
//                        time in shards, and each shard's time on each thread (Workers.Trace)
//   --generation         a cached GPT token against the output layer's product and the core's read bandwidth
//   --generation-threads a cached GPT token on 1 and on 2 threads, alternating blocks
//   --optimizers         each optimizer's update of 101,770 parameters, and the floors under it on this core
//   --fresh-ab           the MLP's step with gradients written afresh against cleared then added to, interleaved
//   --panels-ab          op(A)·B with B copied into panels against read in place: products and workloads
//   --bnpool-ab          the CNN's BatchNorm + ReLU + MaxPool stages as two layers' kernels against the fused ones
//   --conv-parts         the sample CNN's convolutions in parts (im2col, each product, col2im) and whole, both forms
//   --implicit-ab        the sample CNN's step with its convolutions on the padded input against im2col, alternating
//   --pool512-ab         the sample CNN's step with 2x2 max pooling in 512-bit blocks against 256-bit code, alternating
//   --session13-ab       the sample CNN's step with all of session 13's kernel switches on and off, alternating
//   --taps-ab            the sample CNN's step with the second convolution's weight gradient from the padded input
//                        against im2col, alternating
//   --adam-block-ab [256] the MLP's batch-1 Adam step with a block of the deferred gradient's rows updated in one loop
//                        against a call a row, alternating (256: with 512-bit vectors switched off)
//   --few-rows-ab        the MLP's SGD step at batch 4 and 6 with A·Bᵀ of 4 to 7 rows by dot products against packed
//   --adam-rows-ab       the MLP's batch-1 Adam step with the deferred gradient made where Adam applies it against
//                        written into a block first, alternating
//   --dots-ab            the sample CNN's step with A·Bᵀ of few rows by 512-bit dot products against packed, alternating
//   --dots-chunks        those dot products against the packed product on six shapes, and k in chunks of 256 to all
//   --prefetch-ab        the sample CNN's step with BatchNorm prefetching each channel's next slice and not, alternating
//   --bn-parts           the sample CNN's BatchNorm + ReLU + MaxPool stages in parts, caches warm and cold, with
//                        BatchNorm's prefetching on and off
//   --loop W [T] [S]     workload W (mlp-256, cnn-adam-64, gpt-12...) stepped on T threads for S seconds: for perf
//                        (with DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0, so that perf names the JIT's code);
//                        also mlp-2, mlp-4, mlp-6 (small batches) and mlp-1-forward, mlp-32-forward, mlp-256-forward,
//                        cnn-forward-64, gpt-forward-12 (Forward alone)
// NETGEN_SPLIT_UNITS=0: a small batch of a pair of dense layers has its products split instead (for alternating processes).
NetGen.Kernels.SplitUnits = Environment.GetEnvironmentVariable("NETGEN_SPLIT_UNITS") != "0";
// NETGEN_AWAY=0: the first block of a dense layer split by units read upwards, as before session 19.
NetGen.MatMul.AwayFromNeighbours = Environment.GetEnvironmentVariable("NETGEN_AWAY") != "0";
switch (args)
{
    case ["--gpt2-scale"]:
        Gpt2Scale.Run();
        return;
    case ["--breakdown"]:
        Breakdown.Run();
        return;
    case ["--threads-ab"]:
        Breakdown.ThreadsAb();
        return;
    case ["--threads-blocks"]:
        Breakdown.ThreadsBlocks();
        return;
    case ["--conv-ab"]:
        KernelAb.Convolutions();
        return;
    case ["--strips", var strips]:
        NetGen.MatMul.PackedStrips = int.Parse(strips, System.Globalization.CultureInfo.InvariantCulture);
        Breakdown.Gemm();
        return;
    case ["--gemm"] or ["--gemm", "256"]:
        NetGen.MatMul.Use512 = args.Length == 1 && NetGen.MatMul.Use512;
        Breakdown.Gemm();
        return;
    case ["--few-rows-ab"]:
        Breakdown.FewRowsAb();
        return;
    case ["--neighbours"]:
        NeighboursProbe.Run();
        return;
    case ["--crossing"]:
        CrossingProbe.Run();
        return;
    case ["--columns"]:
        ColumnsProbe.Run();
        return;
    case ["--inputs-split"]:
        InputSplitMlp.Run();
        return;
    case ["--units-ab"]:
        Breakdown.UnitsAb();
        return;
    case ["--units-split"]:
        UnitSplitMlp.Run();
        return;
    case ["--affinity-ab"]:
        Breakdown.AffinityAb();
        return;
    case ["--split-ab"]:
        Breakdown.SplitAb();
        return;
    case ["--implicit-ab"]:
        Breakdown.ImplicitAb();
        return;
    case ["--loop", var workload, ..]:
        Breakdown.Loop(workload, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1, args.Length > 3 ? double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 10);
        return;
    case ["--pool512-ab"]:
        Breakdown.Pooling512Ab();
        return;
    case ["--prefetch-ab"]:
        Breakdown.PrefetchAb();
        return;
    case ["--session13-ab"]:
        Breakdown.Session13Ab();
        return;
    case ["--taps-ab"]:
        Breakdown.TapsAb();
        return;
    case ["--adam-rows-ab"]:
        Breakdown.AdamRowsAb();
        return;
    case ["--adam-block-ab"] or ["--adam-block-ab", "256"]:
        Breakdown.AdamBlockAb(use256: args.Length == 2);
        return;
    case ["--dots-ab"]:
        Breakdown.WideDotsAb();
        return;
    case ["--dots-chunks"]:
        Breakdown.WideDotsChunks();
        return;
    case ["--bn-parts"]:
        Breakdown.BatchNormParts();
        return;
    case ["--conv-parts"]:
        Breakdown.ConvParts();
        return;
    case ["--stem-parts"]:
        StemParts.Run();
        return;
    case ["--stem-parts", "loop"]:
        StemParts.Run(loop: true);
        return;
    case ["--trace", var workload, var threads]:
        TraceProbe.Run(workload, int.Parse(threads, System.Globalization.CultureInfo.InvariantCulture));
        return;
    case ["--gaps"]:
        GapsProbe.Run();
        return;
    case ["--together"]:
        TogetherProbe.Run();
        return;
    case ["--peaks"]:
        Breakdown.Peaks();
        return;
    case ["--generation"]:
        Breakdown.Generation();
        return;
    case ["--generation-threads"]:
        Breakdown.GenerationThreads();
        return;
    case ["--optimizers"]:
        OptimizerFloors.Run();
        return;
    case ["--panels-ab"]:
        KernelAb.Panels();
        return;
    case ["--atiles-ab"]:
        KernelAb.ATiles();
        return;
    case ["--strips-ab"]:
        KernelAb.Strips();
        return;
    case ["--bnpool-ab"]:
        KernelAb.BatchNormPool();
        return;
    case ["--fresh-ab"]:
        Breakdown.FreshGradientsAb();
        return;
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(MlpTrainStep).Assembly).Run(args);
Workloads.Report(summaries, Path.Combine("BenchmarkDotNet.Artifacts", "results", "efficiency.md"));
