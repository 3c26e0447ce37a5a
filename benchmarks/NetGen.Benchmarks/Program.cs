using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/NetGen.Benchmarks -- --filter '*'
// (add --job short for a quick run, --inProcess to skip the child-process build)
BenchmarkSwitcher.FromAssembly(typeof(NetGen.Benchmarks.MlpTrainStep).Assembly).Run(args);
