using System.Diagnostics;
using System.Globalization;
using NetGen;
using NetGen.IO;
using NetGen.Training;
using TangGpt;

// A character-level GPT that learns to write Tang poems.
//
//   dotnet run -c Release --project samples/TangGpt                 a short run, then a few poems
//   dotnet run -c Release --project samples/TangGpt -- --full       nanoGPT's 2,000 iterations
//   dotnet run -c Release --project samples/TangGpt -- --generate --prompt 春風
//
// --help lists every option.
Options? options = Options.Parse(args, out int exitCode);
if (options is null)
{
    return exitCode; // 0 after --help, 2 after a bad option
}

var clock = Stopwatch.StartNew();
Corpus corpus = Corpus.Load();
Console.WriteLine($"Tang poems: {corpus.Poems.Length:N0} poems, {corpus.Train.Length + corpus.Validation.Length:N0} characters with the newlines, {corpus.Characters.Length:N0} distinct; {corpus.Train.Length:N0} for training, {corpus.Validation.Length:N0} for validation (every 20th poem)");
if (corpus.Characters.Length != TangPoet.Vocabulary)
{
    Console.Error.WriteLine($"The corpus has {corpus.Characters.Length} characters but the network's vocabulary is {TangPoet.Vocabulary}.");
    return 1;
}

var net = new TangPoet(options.BatchSize, options.Seed);
if (options.Generate)
{
    SafeTensors.Load(net, options.Checkpoint);
    Console.WriteLine($"Loaded {options.Checkpoint}");
}
else
{
    Console.WriteLine(net.Summary);
    var optimizer = new AdamW(options.LearningRate, beta1: 0.9f, beta2: 0.99f, weightDecay: 0.1f);
    optimizer.SetGroups(ParameterGroup.DecayMatricesOnly(net.ParameterLayout, 0.1f));
    int warmup = Math.Min(100, Math.Max(1, options.Iterations / 20));
    var trainer = new LanguageModelTrainer(net, optimizer, new LanguageModelOptions
    {
        BatchSize = options.BatchSize,
        Iterations = options.Iterations,
        Schedule = new LinearWarmup(warmup, new CosineDecay(Math.Max(1, options.Iterations - warmup), minRate: options.LearningRate / 10)),
        MaxGradientNorm = 1f,
        EvaluateEvery = options.EvaluateEvery,
        EvaluationWindows = options.EvaluationWindows,
        Seed = options.Seed,
        Threads = options.Threads,
    });
    Console.WriteLine($"AdamW (lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, betas 0.9/0.99, weight decay 0.1 on matrices only), {warmup} warm-up steps then cosine decay to {(options.LearningRate / 10).ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize} x {TangPoet.InputSize} characters, gradients clipped to norm 1, {options.Iterations:N0} iterations, seed {options.Seed}, {options.Threads} thread{(options.Threads == 1 ? "" : "s")}");
    Console.WriteLine($"Loss: mean over the same {options.EvaluationWindows} windows of each split at every report.");
    Console.WriteLine(" iter  train loss  val loss    lr        tokens/s  elapsed  time left");
    IReadOnlyList<LanguageModelReport> reports = trainer.Fit(
        new TokenWindows(corpus.Train, TangPoet.InputSize),
        new TokenWindows(corpus.Validation, TangPoet.InputSize),
        new SynchronousProgress<LanguageModelReport>(r => Console.WriteLine(
            $"{r.Iteration,5}  {r.TrainLoss,10:F4}  {r.ValidationLoss,8:F4}  {r.LearningRate,8:E2}  {r.TokensPerSecond,8:N0}  {r.Elapsed.TotalSeconds,6:F0}s  {r.Remaining.TotalSeconds,8:F0}s")));
    SafeTensors.Save(net, options.Checkpoint, new Dictionary<string, string> { ["iterations"] = options.Iterations.ToString(CultureInfo.InvariantCulture) });
    Console.WriteLine($"Saved {options.Checkpoint} ({TangPoet.ParameterCount:N0} parameters, nanoGPT's names)");
    if (options.OnnxPath is { } onnxPath)
    {
        Onnx.Save(net, onnxPath);
        Console.WriteLine($"Saved {onnxPath} (ONNX: input int64 token ids [batch, {TangPoet.InputSize}], output next-character probabilities [batch, {TangPoet.InputSize}, {TangPoet.Vocabulary}])");
    }

    if (options.MaxLoss is { } maxLoss && !(reports[^1].ValidationLoss <= maxLoss))
    {
        Console.Error.WriteLine($"The validation loss {reports[^1].ValidationLoss:F4} is above --max-loss {maxLoss.ToString(CultureInfo.InvariantCulture)}.");
        return 1;
    }
}

// Poems: each starts after a newline (as every poem does in training) and the prompt, and ends
// at the next newline the model writes (or after 100 characters).
int[] prompt;
try
{
    prompt = corpus.Encode(options.Prompt);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var sampler = new TokenSampler(TangPoet.Vocabulary, options.Temperature, options.TopK, options.Seed);
var logits = new float[TangPoet.Vocabulary];
Console.WriteLine($"Poems (temperature {options.Temperature.ToString(CultureInfo.InvariantCulture)}, top-k {options.TopK}{(options.Prompt.Length > 0 ? ", prompt " + options.Prompt : string.Empty)}):");
long generated = 0;
var generation = Stopwatch.StartNew();
var poem = new List<int>();
for (int i = 0; i < options.Poems; i++)
{
    net.ResetContext();
    net.Append(corpus.Newline, logits);
    foreach (int token in prompt)
    {
        net.Append(token, logits);
    }

    poem.Clear();
    poem.AddRange(prompt);
    for (int k = 0; k < 100; k++)
    {
        int next = sampler.Sample(logits);
        generated++;
        if (next == corpus.Newline)
        {
            break;
        }

        poem.Add(next);
        net.Append(next, logits);
    }

    Console.WriteLine("  " + corpus.Decode(poem.ToArray()));
}

Console.WriteLine($"Generated {generated:N0} characters in {generation.Elapsed.TotalMilliseconds:F0} ms ({generated / generation.Elapsed.TotalSeconds:N0} per second, key/value cache); total {clock.Elapsed.TotalSeconds:F0} s");
return 0;

/// <summary>The command line.</summary>
internal sealed record Options
{
    public int Iterations { get; init; } = 300;

    public int BatchSize { get; init; } = 12;

    public float LearningRate { get; init; } = 1e-3f;

    public int Seed { get; init; } = 1337;

    public int EvaluateEvery { get; init; } = 250;

    public int EvaluationWindows { get; init; } = 240;

    public string Checkpoint { get; init; } = "tang-gpt.safetensors";

    public bool Generate { get; init; }

    public string Prompt { get; init; } = string.Empty;

    public int Poems { get; init; } = 4;

    public float Temperature { get; init; } = 0.8f;

    public int TopK { get; init; } = 200;

    public double? MaxLoss { get; init; }

    public int Threads { get; init; } = 1;

    public string? OnnxPath { get; init; }

    public static Options? Parse(string[] args, out int exitCode)
    {
        exitCode = 2;
        var o = new Options();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                int Int() => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new FormatException($"{args[i - 1]} {args[i]}: not a whole number");
                float Float() => float.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : throw new FormatException($"{args[i - 1]} {args[i]}: not a number");
                o = args[i] switch
                {
                    "--full" => o with { Iterations = 2000 },
                    "--iterations" => o with { Iterations = Int() },
                    "--batch" => o with { BatchSize = Int() },
                    "--lr" => o with { LearningRate = Float() },
                    "--seed" => o with { Seed = Int() },
                    "--eval-every" => o with { EvaluateEvery = Int() },
                    "--eval-windows" => o with { EvaluationWindows = Int() },
                    "--checkpoint" => o with { Checkpoint = Value() },
                    "--generate" => o with { Generate = true },
                    "--prompt" => o with { Prompt = Value() },
                    "--poems" => o with { Poems = Int() },
                    "--temperature" => o with { Temperature = Float() },
                    "--top-k" => o with { TopK = Int() },
                    "--max-loss" => o with { MaxLoss = Float() },
                    "--threads" => o with { Threads = Int() },
                    "--export-onnx" => o with { OnnxPath = Value() },
                    "--help" or "-h" => throw new FormatException(string.Empty),
                    _ => throw new FormatException($"unknown option {args[i]}"),
                };
            }

            if (o.Threads is < 1 or > NetGen.Workers.MaxThreads)
            {
                throw new FormatException($"--threads {o.Threads}: must lie in [1, {NetGen.Workers.MaxThreads}]");
            }
        }
        catch (FormatException e)
        {
            if (e.Message.Length > 0)
            {
                Console.Error.WriteLine("error: " + e.Message);
            }
            else
            {
                exitCode = 0; // --help
            }

            (exitCode == 0 ? Console.Out : Console.Error).WriteLine("""
                Options:
                  --full               nanoGPT's run: 2,000 iterations (default 300, a short run)
                  --iterations N       optimizer steps
                  --batch N            windows of 64 characters per step (default 12)
                  --lr X               peak learning rate (default 0.001; warm-up, then cosine to a tenth)
                  --seed N             initialisation, windows and sampling (default 1337)
                  --threads N          split each batch across N threads (default 1; the same N gives the same run)
                  --eval-every N       report every N steps (default 250)
                  --eval-windows N     windows of each split in the reported losses (default 240)
                  --checkpoint PATH    safetensors file written after training, read by --generate (default tang-gpt.safetensors)
                  --generate           skip training: load the checkpoint and write poems
                  --export-onnx FILE   also write the model as ONNX (opset 17; the input: int64 token ids [batch, 64])
                  --prompt TEXT        the start of every poem (characters of the corpus)
                  --poems N            poems to write (default 4)
                  --temperature X      sampling temperature; 0 is greedy (default 0.8)
                  --top-k N            sample among the N likeliest characters; 0: all (default 200)
                  --max-loss X         exit with 1 when the final validation loss is above X (for CI)
                """);
            return null;
        }

        return o;
    }
}
