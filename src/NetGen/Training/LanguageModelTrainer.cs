using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Numerics.Tensors;
using System.Threading;
using NetGen.IO;

namespace NetGen.Training;

/// <summary>
/// Language-model data: windows of T + 1 consecutive tokens of one long token stream, the first T
/// the input and the last T (shifted by one) the targets, as nanoGPT's <c>get_batch</c> draws them.
/// Seeded, so that a run repeats.
/// </summary>
public sealed class TokenWindows
{
    private readonly int[] _tokens;

    /// <summary>Creates the windows over <paramref name="tokens"/>.</summary>
    /// <param name="tokens">The stream (kept, not copied).</param>
    /// <param name="length">T, the network's context length.</param>
    /// <param name="seed">Seed of the window positions.</param>
    /// <exception cref="ArgumentException">The stream has fewer than T + 1 tokens.</exception>
    public TokenWindows(int[] tokens, int length, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (tokens.Length < length + 1)
        {
            throw new ArgumentException($"The stream has {tokens.Length} tokens; a window needs {length + 1}.", nameof(tokens));
        }

        _tokens = tokens;
        Length = length;
        Random = new SeededRandom(seed);
    }

    /// <summary>T, the tokens of one input window.</summary>
    public int Length { get; }

    /// <summary>Tokens in the stream.</summary>
    public int Count => _tokens.Length;

    /// <summary>The generator of the window positions.</summary>
    public SeededRandom Random { get; }

    /// <summary>Draws a random window start for each sample of the batch and fills inputs and targets.</summary>
    /// <param name="inputs">batch · T token ids.</param>
    /// <param name="targets">batch · T next tokens.</param>
    public void NextBatch(Span<int> inputs, Span<int> targets)
    {
        int batch = CheckBatch(inputs, targets);
        for (int b = 0; b < batch; b++)
        {
            Fill(Random.NextInt(_tokens.Length - Length), inputs.Slice(b * Length, Length), targets.Slice(b * Length, Length));
        }
    }

    /// <summary>The window that starts at <paramref name="start"/>.</summary>
    /// <param name="start">Index of its first token, in [0, Count − T).</param>
    /// <param name="inputs">T token ids.</param>
    /// <param name="targets">The T tokens that follow each.</param>
    public void Fill(int start, Span<int> inputs, Span<int> targets)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start, _tokens.Length - Length - 1);
        _tokens.AsSpan(start, Length).CopyTo(inputs);
        _tokens.AsSpan(start + 1, Length).CopyTo(targets);
    }

    private int CheckBatch(Span<int> inputs, Span<int> targets)
    {
        if (inputs.Length == 0 || inputs.Length % Length != 0 || targets.Length != inputs.Length)
        {
            throw new ArgumentException($"'inputs' and 'targets' must hold the same whole, non-zero number of windows of {Length} tokens; they hold {inputs.Length} and {targets.Length}.", nameof(inputs));
        }

        return inputs.Length / Length;
    }
}

/// <summary>How a <see cref="LanguageModelTrainer"/> runs (defaults: nanoGPT's for a small model on a CPU).</summary>
public sealed class LanguageModelOptions
{
    /// <summary>Windows per micro-batch (at most the network's MaxBatchSize). Default 12.</summary>
    public int BatchSize { get; init; } = 12;

    /// <summary>Micro-batches whose gradients are averaged into one optimizer step. Default 1.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Optimizer steps. Default 2,000.</summary>
    public int Iterations { get; init; } = 2000;

    /// <summary>The learning-rate schedule, by step (it is given one step per "epoch"); null keeps the rate.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>Clip the gradients to this global L2 norm (nanoGPT: 1.0); null: no clipping.</summary>
    public float? MaxGradientNorm { get; init; } = 1f;

    /// <summary>Report (and evaluate) every this many steps, and after the last. Default 250.</summary>
    public int EvaluateEvery { get; init; } = 250;

    /// <summary>Windows of each split whose mean loss is reported: a fixed set, drawn once. Default 200.</summary>
    public int EvaluationWindows { get; init; } = 200;

    /// <summary>Seed of the training windows and of the evaluation windows. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Threads each micro-batch is split across (sets the network's <c>Threads</c>); null, the default,
    /// leaves the network's count as it is.
    /// </summary>
    public int? Threads { get; init; }
}

/// <summary>One report of a language-model run.</summary>
/// <param name="Iteration">Optimizer steps done.</param>
/// <param name="Iterations">Steps in the run.</param>
/// <param name="LearningRate">The rate of the last step.</param>
/// <param name="TrainLoss">Mean loss on the fixed training windows (inference mode).</param>
/// <param name="ValidationLoss">Mean loss on the fixed validation windows, when there are any.</param>
/// <param name="TokensPerSecond">Training tokens per second since the previous report (evaluation excluded).</param>
/// <param name="Elapsed">Wall time since the start, evaluation included.</param>
/// <param name="Remaining">Estimated time to the end.</param>
public sealed record LanguageModelReport(
    int Iteration,
    int Iterations,
    float LearningRate,
    double TrainLoss,
    double? ValidationLoss,
    double TokensPerSecond,
    TimeSpan Elapsed,
    TimeSpan Remaining);

/// <summary>
/// Trains a token network on next-token prediction: random windows of a token stream, gradient
/// accumulation, clipping, a schedule by step, and periodic losses on fixed windows of the training
/// and validation streams. Buffers are allocated here, once: a step allocates nothing.
/// </summary>
public sealed class LanguageModelTrainer
{
    private readonly ITrainableNetwork<int, int> _network;
    private readonly IOptimizer _optimizer;
    private readonly int[] _inputs;
    private readonly int[] _targets;
    private float _baseRate; // the schedule's base: the optimizer's rate at construction, or a checkpoint's

    // The run's position for checkpoints: the training windows' generator of the last Fit, and a
    // restored position waiting for the next Fit.
    private SeededRandom? _windows;
    private (uint[] Windows, int Iterations)? _resume;

    /// <summary>Creates the trainer and its batch buffers.</summary>
    /// <exception cref="ArgumentException">The batch size exceeds the network's MaxBatchSize, or an option is out of range.</exception>
    public LanguageModelTrainer(ITrainableNetwork<int, int> network, IOptimizer optimizer, LanguageModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(optimizer);
        Options = options ?? new LanguageModelOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.BatchSize, "options.BatchSize");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.GradientAccumulation, "options.GradientAccumulation");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.Iterations, "options.Iterations");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.EvaluateEvery, "options.EvaluateEvery");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.EvaluationWindows, "options.EvaluationWindows");
        GradientClipping.CheckOptions(network, Options.BatchSize, Options.MaxGradientNorm, nameof(options));
        if (Options.Threads is { } threads)
        {
            Guard.Threads(threads, "options.Threads");
            network.Threads = threads;
        }

        _network = network;
        _optimizer = optimizer;
        _baseRate = optimizer.LearningRate;
        _inputs = new int[Options.BatchSize * network.InputSize];
        _targets = new int[Options.BatchSize * network.InputSize];
        (optimizer as Optimizer)?.Bind(network);
    }

    /// <summary>The options.</summary>
    public LanguageModelOptions Options { get; }

    /// <summary>Optimizer steps taken (the schedule's clock).</summary>
    public long Step { get; private set; }

    /// <summary>Iterations finished by the last <see cref="Fit"/> (or restored from a checkpoint, which the next Fit continues from).</summary>
    public int CompletedIterations { get; private set; }

    /// <summary>
    /// Saves a checkpoint to resume from (<see cref="LoadCheckpoint"/>): the network, the optimizer's
    /// state, and this trainer's position (iterations done, steps, the training windows' generator).
    /// Call it between iterations: from the progress callback, or after <see cref="Fit"/>.
    /// </summary>
    /// <param name="path">The file (safetensors), replaced atomically.</param>
    public void SaveCheckpoint(string path) => Checkpoint.Save(path, _network, _optimizer, new Part(this));

    /// <summary>
    /// Restores a checkpoint <see cref="SaveCheckpoint"/> wrote: the next <see cref="Fit"/> goes on
    /// with the iteration after the saved one and gives bitwise the run that never stopped (same
    /// options, data and thread count; the optimizer of the type and settings the run had).
    /// </summary>
    /// <param name="path">The checkpoint.</param>
    /// <exception cref="System.IO.InvalidDataException">Not a checkpoint of this network, optimizer and trainer; nothing changed.</exception>
    public void LoadCheckpoint(string path) => Checkpoint.Load(path, _network, _optimizer, new Part(this));

    /// <summary>
    /// Trains for <see cref="LanguageModelOptions.Iterations"/> steps on random windows of
    /// <paramref name="train"/>, reporting every <see cref="LanguageModelOptions.EvaluateEvery"/> steps.
    /// </summary>
    /// <returns>The reports.</returns>
    public IReadOnlyList<LanguageModelReport> Fit(TokenWindows train, TokenWindows? validation = null, IProgress<LanguageModelReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        CheckLength(train);
        if (validation is not null)
        {
            CheckLength(validation);
        }

        // The evaluation windows are fixed for the run, drawn from their own seed, so that the
        // reported losses are comparable from one report to the next.
        int[] trainStarts = Starts(train, Options.Seed ^ 0x7EA1);
        int[] validationStarts = validation is null ? Array.Empty<int>() : Starts(validation, Options.Seed ^ 0x7A11D);
        train.Random.Reset(Options.Seed);
        int first = 1;
        if (_resume is { } resume)
        {
            train.Random.SetState(resume.Windows);
            first = resume.Iterations + 1;
            _resume = null;
        }

        _windows = train.Random;
        var reports = new List<LanguageModelReport>();
        var clock = Stopwatch.StartNew();
        var trainingTime = Stopwatch.StartNew();
        long tokensSinceReport = 0;
        int tokensPerMicroBatch = _inputs.Length;
        float rate = _optimizer.LearningRate;
        for (int iteration = first; iteration <= Options.Iterations; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Options.Schedule is { } schedule)
            {
                _optimizer.LearningRate = rate = schedule.Rate(Step, 1, _baseRate);
            }

            _network.ZeroGrad();
            for (int micro = 0; micro < Options.GradientAccumulation; micro++)
            {
                train.NextBatch(_inputs, _targets);
                float loss = _network.AccumulateGradients(_inputs, _targets);
                if (!float.IsFinite(loss))
                {
                    throw NonFinite("loss", loss, iteration, micro);
                }
            }

            Span<float> gradients = _network.Gradients;
            if (Options.GradientAccumulation > 1)
            {
                TensorPrimitives.Multiply(gradients, 1f / Options.GradientAccumulation, gradients);
            }

            if (Options.MaxGradientNorm is { } max)
            {
                float norm = GradientClipping.ClipByGlobalNorm(gradients, max);
                if (!float.IsFinite(norm))
                {
                    throw NonFinite("gradient norm", norm, iteration, Options.GradientAccumulation - 1);
                }
            }

            Optimizer.Step(_optimizer, _network.Parameters, gradients, _network.Threads); // split like the batch (same bits)
            Step++;
            CompletedIterations = iteration;
            tokensSinceReport += (long)tokensPerMicroBatch * Options.GradientAccumulation;
            if (iteration % Options.EvaluateEvery == 0 || iteration == Options.Iterations)
            {
                double seconds = trainingTime.Elapsed.TotalSeconds;
                double tokensPerSecond = tokensSinceReport / Math.Max(seconds, 1e-9);
                double trainLoss = Evaluate(train, trainStarts);
                double? validationLoss = validation is null ? null : Evaluate(validation, validationStarts);
                TimeSpan elapsed = clock.Elapsed;
                TimeSpan remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / (iteration - first + 1) * (Options.Iterations - iteration));
                var report = new LanguageModelReport(iteration, Options.Iterations, rate, trainLoss, validationLoss, tokensPerSecond, elapsed, remaining);
                reports.Add(report);
                progress?.Report(report);
                tokensSinceReport = 0;
                trainingTime.Restart();
            }
        }

        return reports;
    }

    /// <summary>Mean next-token loss over the windows starting at <paramref name="starts"/> (inference mode).</summary>
    /// <returns>The mean loss per token.</returns>
    public double Evaluate(TokenWindows data, ReadOnlySpan<int> starts)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckLength(data);
        int length = _network.InputSize;
        double total = 0;
        int count = 0;
        for (int first = 0; first < starts.Length; first += Options.BatchSize)
        {
            int batch = Math.Min(Options.BatchSize, starts.Length - first);
            for (int b = 0; b < batch; b++)
            {
                data.Fill(starts[first + b], _inputs.AsSpan(b * length, length), _targets.AsSpan(b * length, length));
            }

            total += _network.Evaluate(_inputs.AsSpan(0, batch * length), _targets.AsSpan(0, batch * length)) * (double)batch;
            count += batch;
        }

        return count == 0 ? double.NaN : total / count;
    }

    private static NonFiniteLossException NonFinite(string what, float value, int iteration, int micro) =>
        new($"The {what} of iteration {iteration} (micro-batch {micro}) is {value}: training stopped before the optimizer step, so the parameters keep their last values. Lower the learning rate, or look for a token stream or model that produces it.", value, iteration, micro, Array.Empty<int>());

    private int[] Starts(TokenWindows data, int seed)
    {
        var random = new SeededRandom(seed);
        var starts = new int[Options.EvaluationWindows];
        for (int i = 0; i < starts.Length; i++)
        {
            starts[i] = random.NextInt(data.Count - data.Length);
        }

        return starts;
    }

    private void CheckLength(TokenWindows data)
    {
        if (data.Length != _network.InputSize)
        {
            throw new ArgumentException($"The windows hold {data.Length} tokens; the network's context is {_network.InputSize}.", nameof(data));
        }
    }
    // The trainer's share of a checkpoint: iterations done, steps, the training windows' generator.
    private sealed class Part(LanguageModelTrainer trainer) : CheckpointPart
    {
        private const string IterationsKey = "netgen.trainer.iterations", StepsKey = "netgen.trainer.steps", BaseRateKey = "netgen.trainer.base_rate", WindowsKey = "netgen.trainer.windows";

        private (uint[] Windows, int Iterations, long Steps, float BaseRate) _checked;

        public override void Save(SafeTensorsWriter writer, Dictionary<string, string> metadata)
        {
            metadata[IterationsKey] = trainer.CompletedIterations.ToString(CultureInfo.InvariantCulture);
            metadata[StepsKey] = trainer.Step.ToString(CultureInfo.InvariantCulture);
            metadata[BaseRateKey] = trainer._baseRate.ToString("R", CultureInfo.InvariantCulture);
            metadata[WindowsKey] = Checkpoint.FormatState((trainer._windows ?? new SeededRandom(trainer.Options.Seed)).GetState());
        }

        public override bool Owns(string tensor) => false;

        public override void Check(SafeTensorsFile file)
        {
            long iterations = Checkpoint.Integer(file, IterationsKey);
            _checked = (Checkpoint.State(file, WindowsKey), iterations <= int.MaxValue ? (int)iterations : throw new InvalidDataException($"{file.Name}: the checkpoint's '{IterationsKey}' is out of range."), Checkpoint.Integer(file, StepsKey), Checkpoint.Rate(file, BaseRateKey));
        }

        public override void Apply(SafeTensorsFile file)
        {
            trainer._resume = (_checked.Windows, _checked.Iterations);
            trainer.CompletedIterations = _checked.Iterations;
            trainer.Step = _checked.Steps;
            trainer._baseRate = _checked.BaseRate;
        }
    }
}
