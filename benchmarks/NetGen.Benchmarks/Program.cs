using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --filter '*'
// (add --job short for a quick run, --inProcess to skip the child-process build)
// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --gpt2-scale
// (GPT-2 small at batch 1: one forward pass and one training step, timed once)
if (args is ["--gpt2-scale"])
{
    NetGen.Benchmarks.Gpt2Scale.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(NetGen.Benchmarks.MlpTrainStep).Assembly).Run(args);
