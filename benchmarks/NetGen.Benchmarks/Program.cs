using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --filter '*'
// (add --job short for a quick run, --inProcess to skip the child-process build)
// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --gpt2-scale
// (GPT-2 small at batch 1: one forward pass and one training step, timed once)
// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --breakdown
// (each generated op's forward and backward time in the MLP, the sample CNN and the GPT)
if (args is ["--breakdown"])
{
    NetGen.Benchmarks.Breakdown.Run();
    return;
}

// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --threads-ab
// (each workload on 1 and 2 threads, interleaved step by step: the ratio on a noisy machine)
if (args is ["--threads-ab"])
{
    NetGen.Benchmarks.Breakdown.ThreadsAb();
    return;
}

// (--gemm 256: with the 256-bit tiles, as on a machine without AVX-512)
if (args is ["--gemm"] or ["--gemm", "256"])
{
    NetGen.MatMul.Use512 = args.Length == 1 && NetGen.MatMul.Use512;
    NetGen.Benchmarks.Breakdown.Gemm();
    return;
}

if (args is ["--peaks"])
{
    NetGen.Benchmarks.Breakdown.Peaks();
    return;
}

if (args is ["--conv-ab"])
{
    NetGen.Benchmarks.Breakdown.ConvAb();
    return;
}

if (args is ["--gpt2-scale"])
{
    NetGen.Benchmarks.Gpt2Scale.Run();
    return;
}

// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --filter '*FmaPeak*' '*Workloads*' --job short
// (issue 10's workloads at 1 and 2 threads, with their shares of the one-core FMA peak measured in
// the same run: BenchmarkDotNet.Artifacts/results/efficiency.md)
var summaries = BenchmarkSwitcher.FromAssembly(typeof(NetGen.Benchmarks.MlpTrainStep).Assembly).Run(args);
NetGen.Benchmarks.Workloads.Report(summaries, Path.Combine("BenchmarkDotNet.Artifacts", "results", "efficiency.md"));
