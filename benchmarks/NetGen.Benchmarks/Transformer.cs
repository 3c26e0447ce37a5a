using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using NetGen;
using TangGpt;

namespace NetGen.Benchmarks;

/// <summary>
/// The Tang-poem GPT of samples/TangGpt (4 layers, 4 heads, 128 dimensions, context 64,
/// vocabulary 6,768): one AdamW training step on a batch of 12 windows (768 tokens).
/// Tokens per second = 768 / the step's mean time.
/// </summary>
[MemoryDiagnoser]
public class GptTrainStep
{
    private TangPoet _net = null!;
    private AdamW _adamw = null!;
    private int[] _tokens = null!;
    private int[] _targets = null!;

    [GlobalSetup]
    public void Setup()
    {
        _net = new TangPoet(12, seed: 1);
        _adamw = new AdamW(1e-3f, beta2: 0.99f, weightDecay: 0.1f);
        _adamw.SetGroups(ParameterGroup.DecayMatricesOnly(_net.ParameterLayout, 0.1f));
        var random = new SeededRandom(2);
        _tokens = Enumerable.Range(0, 12 * TangPoet.InputSize).Select(_ => random.NextInt(TangPoet.Vocabulary)).ToArray();
        _targets = Enumerable.Range(0, 12 * TangPoet.InputSize).Select(_ => random.NextInt(TangPoet.Vocabulary)).ToArray();
    }

    [Benchmark(Description = "train step, 12 x 64 tokens")]
    public float TrainStep() => _net.TrainStep(_tokens, _targets, _adamw);
}

/// <summary>
/// Generation with the key/value cache: 64 tokens from an empty context (one position each), and,
/// for comparison, what generation costs without a cache: a full forward pass over the context
/// for every new token (nanoGPT's <c>generate</c>), here one pass of 64 positions.
/// </summary>
[MemoryDiagnoser]
public class GptGeneration
{
    private TangPoet _net = null!;
    private float[] _logits = null!;
    private int[] _context = null!;
    private float[] _outputs = null!;

    [GlobalSetup]
    public void Setup()
    {
        _net = new TangPoet(1, seed: 1);
        _logits = new float[TangPoet.Vocabulary];
        _context = Enumerable.Range(0, TangPoet.InputSize).Select(i => (i * 97) % TangPoet.Vocabulary).ToArray();
        _outputs = new float[TangPoet.OutputSize];
    }

    [Benchmark(Description = "64 tokens, key/value cache")]
    public float Cached()
    {
        _net.ResetContext();
        foreach (int token in _context)
        {
            _net.Append(token, _logits);
        }

        return _logits[0];
    }

    [Benchmark(Description = "1 token, full forward pass")]
    public float Recomputed()
    {
        _net.Forward(_context, _outputs);
        return _outputs[0];
    }
}

/// <summary>
/// GPT-2 small's shape (124,439,808 parameters, context 1024): constructed at batch 1, one forward
/// pass and one AdamW training step, timed once (<c>-- --gpt2-scale</c>; not a BenchmarkDotNet run:
/// a step takes seconds and the buffers gigabytes).
/// </summary>
internal static class Gpt2Scale
{
    public static void Run()
    {
        var clock = Stopwatch.StartNew();
        var net = new Gpt2Small(1, seed: 1);
        TimeSpan construct = clock.Elapsed;
        var random = new SeededRandom(3);
        int[] tokens = Enumerable.Range(0, Gpt2Small.InputSize).Select(_ => random.NextInt(Gpt2Small.Vocabulary)).ToArray();
        int[] targets = Enumerable.Range(0, Gpt2Small.InputSize).Select(_ => random.NextInt(Gpt2Small.Vocabulary)).ToArray();
        var outputs = new float[Gpt2Small.OutputSize];
        clock.Restart();
        net.Forward(tokens, outputs);
        TimeSpan forward = clock.Elapsed;
        var adamw = new AdamW(6e-4f, weightDecay: 0.1f);
        adamw.Bind(net);
        clock.Restart();
        float loss = net.TrainStep(tokens, targets, adamw);
        TimeSpan step = clock.Elapsed;
        clock.Restart();
        float loss2 = net.TrainStep(tokens, targets, adamw);
        TimeSpan step2 = clock.Elapsed;
        Console.WriteLine($"GPT-2 small ({Gpt2Small.ParameterCount:N0} parameters, context {Gpt2Small.InputSize}, batch 1):");
        Console.WriteLine($"  construction and initialisation {construct.TotalSeconds:F1} s; managed heap {GC.GetTotalMemory(false) / 1e9:F2} GB after the optimizer's state; peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1e9:F2} GB");
        Console.WriteLine($"  forward pass {forward.TotalSeconds:F1} s; training step {step.TotalSeconds:F1} s (loss {loss:F3}, ln 50257 = {Math.Log(50257):F3}), second step {step2.TotalSeconds:F1} s (loss {loss2:F3})");
        Console.WriteLine($"  {Gpt2Small.InputSize / step2.TotalSeconds:N0} training tokens per second");
    }
}
