using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Reports;
using NetGen;
using TangGpt;

namespace NetGen.Benchmarks;

/// <summary>
/// The one-core peak this machine's vector unit gives: twelve independent chains of fused
/// multiply-adds on the widest accelerated vectors (Vector512 where accelerated, else Vector256),
/// enough in flight to cover the FMA latency on two ports. The workloads report their share of it.
/// </summary>
public class FmaPeak
{
    public const int Iterations = 2_000_000;
    public const int Chains = 12;

    /// <summary>Floating-point operations per call: 2 per lane per multiply-add.</summary>
    public static long Flops => 2L * Iterations * Chains * (Vector512.IsHardwareAccelerated ? 16 : 8);

    [Benchmark(Description = "one-core FMA peak")]
    public float OneCore() => Vector512.IsHardwareAccelerated ? Run512() : Run256();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run512()
    {
        Vector512<float> m = Vector512.Create(0.9999999f), c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector512<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < Iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c);
            a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c);
            a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c);
            a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c);
            a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }

        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run256()
    {
        Vector256<float> m = Vector256.Create(0.9999999f), c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        Vector256<float> a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < Iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c);
            a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c);
            a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c);
            a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c);
            a10 = Vector256.FusedMultiplyAdd(a10, m, c);
            a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }

        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}

/// <summary>
/// The workloads of issue 10, each at 1 and 2 threads: the 784-128-10 MLP (SGD at batch 256, 32 and 1;
/// Adam at batch 1), the Fashion-MNIST sample's CNN (Adam, batch 64) and the Tang-poem GPT (AdamW,
/// 12 windows of 64 tokens). <see cref="Flops"/> counts what a step needs: 2 per multiply-add of the
/// forward products, of the weight gradients, and of the input gradients where a layer before has
/// parameters; for the GPT, nanoGPT's estimate (6 N + 12 L H Q T per token, N without the position table).
/// The optimizers run with learning rate 0: the same arithmetic, but the parameters stay put. Thousands of
/// steps on one fixed batch would otherwise fit it until the gradients are subnormal floats, which x86
/// computes tens of times slower (Adam at batch 1 measured 478 µs that way, 10 times its steady cost).
/// </summary>
[MemoryDiagnoser]
public class Workloads
{
    private Func<float> _step = null!;

    [Params("mlp-256", "mlp-32", "mlp-1", "mlp-adam-1", "cnn-adam-64", "gpt-12")]
    public string Workload { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    public static long Flops(string workload) => workload switch
    {
        "mlp-256" or "mlp-256-products" => 256L * MlpFlops,
        "mlp-32" or "mlp-32-split" => 32L * MlpFlops,
        "mlp-1" or "mlp-adam-1" => MlpFlops,
        "cnn-adam-64" => 64L * CnnFlops,
        "gpt-12" => 12L * TangPoet.InputSize * GptFlopsPerToken,
        _ => throw new ArgumentException("unknown workload " + workload, nameof(workload)),
    };

    // Forward 784x128 + 128x10, the same for the weight gradients, and the input gradient of the second layer.
    private const long MlpFlops = (2 * 2 * ((784 * 128) + (128 * 10))) + (2 * 128 * 10);

    // conv1 1->16 3x3 on 28x28, conv2 16->32 3x3 on 14x14, dense 1568->128, dense 128->10: forward and weight
    // gradients of all four, input gradients of all but conv1.
    private const long CnnFlops =
        (2 * 2 * ((16L * 9 * 784) + (32L * 144 * 196) + (1568L * 128) + (128L * 10))) + (2 * ((32L * 144 * 196) + (1568L * 128) + (128L * 10)));

    private static long GptFlopsPerToken =>
        (6L * (TangPoet.ParameterCount - (TangPoet.InputSize * 128))) + (12L * 4 * 4 * 32 * TangPoet.InputSize);

    [GlobalSetup]
    public void Setup()
    {
        switch (Workload)
        {
            case "mlp-256" or "mlp-256-products" or "mlp-32" or "mlp-32-split" or "mlp-1" or "mlp-adam-1" or "mlp-2" or "mlp-4" or "mlp-6":
            {
                // mlp-2, mlp-4, mlp-6 (not in the table): small batches, the first two with the deferred weight gradient.
                // mlp-32-split: batch 32 split across the threads (16 samples each), below the default
                // MinSamplesPerThread (65), under which the MLP is split by its hidden units instead (its products
                // before session 18); mlp-256-products: batch 256 not split by samples (MinSamplesPerThread 257), so
                // split by units too (the name is older than that split).
                int batch = Workload.StartsWith("mlp-256", StringComparison.Ordinal) ? 256 : Workload.StartsWith("mlp-32", StringComparison.Ordinal) ? 32
                    : Workload == "mlp-2" ? 2 : Workload == "mlp-4" ? 4 : Workload == "mlp-6" ? 6 : 1;
                int minSamples = Workload switch { "mlp-32-split" => 1, "mlp-256-products" => 257, _ => 65 };
                var net = new FashionMlp(batch, seed: 1) { Threads = Threads, MinSamplesPerThread = minSamples };
                IOptimizer optimizer = Workload == "mlp-adam-1" ? new Adam(0f) : new Sgd(0f);
                (float[] x, int[] labels) = Data.Batch(batch);
                _step = () => net.TrainStep(x, labels, optimizer);
                break;
            }

            case "mlp-32-eval":
            {
                // Not in the table: Evaluate at batch 32 (split by units on 2 threads; on the calling thread before).
                var net = new FashionMlp(32, seed: 1) { Threads = Threads };
                (float[] x, int[] labels) = Data.Batch(32);
                _step = () => net.Evaluate(x, labels);
                break;
            }

            case "mlp-256-forward" or "mlp-32-forward" or "mlp-1-forward" or "cnn-forward-64" or "gpt-forward-12":
            {
                // Not in the table (no goal): Forward, split on 2 threads since session 20 as Evaluate is (the MLP at 32
                // by units; on the calling thread alone before): NETGEN_WORKLOADS=mlp-256-forward,... --threads-blocks.
                if (Workload == "gpt-forward-12")
                {
                    var gpt = new TangPoet(12, seed: 1) { Threads = Threads };
                    var random = new SeededRandom(2);
                    int[] tokens = Enumerable.Range(0, 12 * TangPoet.InputSize).Select(_ => random.NextInt(TangPoet.Vocabulary)).ToArray();
                    float[] probabilities = new float[12 * TangPoet.OutputSize];
                    _step = () =>
                    {
                        gpt.Forward(tokens, probabilities);
                        return probabilities[0];
                    };
                    break;
                }

                int batch = Workload switch { "mlp-256-forward" => 256, "mlp-32-forward" => 32, "mlp-1-forward" => 1, _ => 64 };
                INetwork<float> net = Workload.StartsWith("mlp", StringComparison.Ordinal)
                    ? new FashionMlp(batch, seed: 1) { Threads = Threads }
                    : new global::FashionMnist.FashionCnn(batch, seed: 1) { Threads = Threads };
                float[] x = Data.Batch(batch).Inputs, outputs = new float[batch * net.OutputSize];
                _step = () =>
                {
                    net.Forward(x, outputs);
                    return outputs[0];
                };
                break;
            }

            case "sample-mlp-64":
            {
                // Not in the table (no goal): the sample's default MLP and batch, Adam, for --loop and --units-ab.
                var net = new global::FashionMnist.FashionMlp(64, seed: 1) { Threads = Threads };
                var adam = new Adam(0f);
                (float[] x, int[] labels) = Data.Batch(64);
                _step = () => net.TrainStep(x, labels, adam);
                break;
            }

            case "cnn-adam-64":
            {
                var net = new global::FashionMnist.FashionCnn(64, seed: 1) { Threads = Threads };
                var adam = new Adam(0f);
                (float[] x, int[] labels) = Data.Batch(64);
                _step = () => net.TrainStep(x, labels, adam);
                break;
            }

            case "gpt-12":
            {
                var net = new TangPoet(12, seed: 1) { Threads = Threads };
                var adamw = new AdamW(0f, beta2: 0.99f, weightDecay: 0.1f);
                adamw.SetGroups(ParameterGroup.DecayMatricesOnly(net.ParameterLayout, 0.1f));
                var random = new SeededRandom(2);
                int[] tokens = Enumerable.Range(0, 12 * TangPoet.InputSize).Select(_ => random.NextInt(TangPoet.Vocabulary)).ToArray();
                int[] targets = Enumerable.Range(0, 12 * TangPoet.InputSize).Select(_ => random.NextInt(TangPoet.Vocabulary)).ToArray();
                _step = () => net.TrainStep(tokens, targets, adamw);
                break;
            }

            default:
                // A misspelt name ran the GPT before (session 21: "mlp-1-adam" timed 56 ms "steps").
                throw new ArgumentException($"No workload '{Workload}': see the cases of Workloads.Setup (mlp-256, mlp-32, mlp-1, mlp-adam-1, cnn-adam-64, gpt-12, ...).");
        }
    }

    [Benchmark(Description = "training step")]
    public float Step() => _step();

    /// <summary>
    /// The table of shares: each workload's median against the FMA peak measured in the same run (its fastest run),
    /// and the speed-up of 2 threads over 1. Written to the console and to <paramref name="path"/>.
    /// </summary>
    public static void Report(IEnumerable<Summary> summaries, string path)
    {
        var reports = summaries.SelectMany(s => s.Reports).Where(r => r.ResultStatistics is not null).ToList();
        BenchmarkReport? peak = reports.FirstOrDefault(r => r.BenchmarkCase.Descriptor.Type == typeof(FmaPeak));
        var steps = reports.Where(r => r.BenchmarkCase.Descriptor.Type == typeof(Workloads)).ToList();
        if (peak is null || steps.Count == 0)
        {
            return;
        }

        // The peak from the fastest of its runs: a busy neighbour only ever slows the FMA loop, and a slow spell
        // during its three runs made the shares read high (session 12: a 121.6 GFLOP/s median, the MLP at "100 %").
        // The workloads keep their medians, so the shares err low.
        double peakGflops = FmaPeak.Flops / peak.ResultStatistics!.Min;
        double medianGflops = FmaPeak.Flops / peak.ResultStatistics.Median;
        var lines = new List<string>
        {
            $"One-core FMA peak ({(Vector512.IsHardwareAccelerated ? "Vector512" : "Vector256")}): {peakGflops:F1} GFLOP/s (the fastest of {peak.ResultStatistics.N} runs; their median {medianGflops:F1}), {Environment.ProcessorCount} cores.",
            "",
            "| workload | threads | median | GFLOP/s | share of one core's peak | speed-up over 1 thread | the same, alternating in one process |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        };
        var medians = new Dictionary<(string, int), double>();
        foreach (BenchmarkReport report in steps)
        {
            string workload = (string)report.BenchmarkCase.Parameters["Workload"];
            int threads = (int)report.BenchmarkCase.Parameters["Threads"];
            medians[(workload, threads)] = report.ResultStatistics!.Median;
        }

        foreach (((string workload, int threads), double ns) in medians.OrderBy(p => Array.IndexOf(new[] { "mlp-256", "mlp-32", "mlp-1", "mlp-adam-1", "cnn-adam-64", "gpt-12" }, p.Key.Item1)).ThenBy(p => p.Key.Item2))
        {
            double gflops = Flops(workload) / ns;
            string speedup = threads > 1 && medians.TryGetValue((workload, 1), out double one) ? (one / ns).ToString("F2", CultureInfo.InvariantCulture) + "x" : "";
            string alternating = "";
            if (threads == 2 && Environment.GetEnvironmentVariable("NETGEN_ALTERNATE") != "0")
            {
                // BenchmarkDotNet runs the 1- and 2-thread cases in processes minutes apart, and the host's spells
                // moved that ratio by up to 1.3x between runs of the same code (session 19: the GPT 1.47x, then
                // 1.88x). Here both thread counts take turns in one process, 8 blocks of 250 ms each, so that
                // both see the same spells (--threads-blocks; NETGEN_ALTERNATE=0 leaves this column out).
                (double a, double b, _) = Breakdown.AlternateThreads(workload, rounds: 8);
                alternating = (a / b).ToString("F2", CultureInfo.InvariantCulture) + "x";
            }

            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {workload} | {threads} | {Time(ns)} | {gflops:F1} | {100 * gflops / peakGflops:F0} % | {speedup} | {alternating} |"));
        }

        foreach (string line in lines)
        {
            Console.WriteLine(line);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllLines(path, lines);
        Console.WriteLine("Written to " + path);
    }

    private static string Time(double ns) =>
        ns >= 1e6 ? (ns / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " ms" : (ns / 1e3).ToString("F1", CultureInfo.InvariantCulture) + " µs";
}
