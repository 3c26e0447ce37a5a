using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Threading;

namespace NetGen.Training;

/// <summary>
/// The training loop: epochs of seeded, shuffled mini-batches; forward, loss, backward,
/// optional gradient clipping, learning-rate schedule, optimizer step; per-epoch metrics and
/// validation. Batch buffers are allocated once, here: nothing is allocated per batch.
/// </summary>
/// <typeparam name="TTarget"><see cref="int"/> class labels or <see cref="float"/> targets.</typeparam>
public sealed partial class Trainer<TTarget>
    where TTarget : unmanaged
{
    private readonly ITrainableNetwork<TTarget> _network;
    private readonly IOptimizer _optimizer;
    private readonly float[] _inputs;
    private readonly TTarget[] _targets;
    private float _baseRate; // the schedule's base: the optimizer's rate at construction, or a checkpoint's
    private readonly int _targetSize;

    // The run's position, kept between epochs for checkpoints: the shuffled order (each epoch
    // shuffles the previous one), the two generators, the epochs done; and a restored position
    // waiting for the next Fit.
    private int[]? _order;
    private SeededRandom? _random, _augmentationRandom;
    private (int[]? Order, uint[] Shuffle, uint[] Augmentation, int Epochs)? _resume;

    /// <summary>Creates the trainer and its batch buffers.</summary>
    /// <exception cref="ArgumentException">The batch size exceeds the network's MaxBatchSize.</exception>
    public Trainer(ITrainableNetwork<TTarget> network, IOptimizer optimizer, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(optimizer);
        Options = options ?? new TrainerOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.BatchSize, "options.BatchSize");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.Epochs, "options.Epochs");
        GradientClipping.CheckOptions(network, Options.BatchSize, Options.MaxGradientNorm, nameof(options));
        if (Options.Threads is { } threads)
        {
            Guard.Threads(threads, "options.Threads");
            network.Threads = threads;
        }

        _network = network;
        _optimizer = optimizer;
        _baseRate = optimizer.LearningRate;
        _targetSize = typeof(TTarget) == typeof(int) ? 1 : network.OutputSize;
        _inputs = new float[Options.BatchSize * network.InputSize];
        _targets = new TTarget[Options.BatchSize * _targetSize];
        (optimizer as Optimizer)?.Bind(network);
    }

    /// <summary>The options.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Optimizer steps taken by this trainer (the schedule's clock).</summary>
    public long Step { get; private set; }

    /// <summary>Epochs finished by the last <see cref="Fit"/> (or restored from a checkpoint, which the next Fit continues from).</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>Trains for <see cref="TrainerOptions.Epochs"/> epochs; reports each epoch to <paramref name="progress"/>.</summary>
    /// <returns>The per-epoch reports.</returns>
    public IReadOnlyList<EpochReport> Fit(DataSet<TTarget> train, DataSet<TTarget>? validation = null, IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        Check(train, nameof(train));
        if (validation is not null)
        {
            Check(validation, nameof(validation));
        }

        int batch = Options.BatchSize;
        int batches = Options.DropLast ? train.Count / batch : (train.Count + batch - 1) / batch;
        if (batches == 0)
        {
            throw new ArgumentException($"'{nameof(train)}' has {train.Count} samples, fewer than one batch of {batch} (DropLast).", nameof(train));
        }

        var order = new int[train.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var random = new SeededRandom(Options.Seed);
        var augmentationRandom = new SeededRandom(unchecked(Options.Seed ^ 0x0A06));
        int first = 1;
        if (_resume is { } resume)
        {
            if (resume.Order is { } saved)
            {
                if (saved.Length != train.Count)
                {
                    throw new ArgumentException($"The checkpoint's run trained on {saved.Length} samples; '{nameof(train)}' has {train.Count}. Resume with the same data.", nameof(train));
                }

                order = saved;
            }

            random.SetState(resume.Shuffle);
            augmentationRandom.SetState(resume.Augmentation);
            first = resume.Epochs + 1;
            _resume = null;
        }

        (_order, _random, _augmentationRandom) = (order, random, augmentationRandom);
        bool binaryTrain = IsBinary(train);
        var reports = new List<EpochReport>(Options.Epochs);
        var total = Stopwatch.StartNew();
        var clock = new Stopwatch();
        for (int epoch = first; epoch <= Options.Epochs; epoch++)
        {
            if (Options.Shuffle)
            {
                random.Shuffle(order);
            }

            clock.Restart();
            TimeSpan lastBatchReport = TimeSpan.Zero;
            double lossSum = 0, absoluteError = 0;
            long correct = 0;
            int seen = 0;
            for (int b = 0; b < batches; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = Math.Min(batch, train.Count - (b * batch));
                for (int i = 0; i < n; i++)
                {
                    int sample = order[(b * batch) + i];
                    train.Inputs.AsSpan(sample * train.InputSize, train.InputSize).CopyTo(_inputs.AsSpan(i * train.InputSize));
                    train.Targets.AsSpan(sample * _targetSize, _targetSize).CopyTo(_targets.AsSpan(i * _targetSize));
                }

                Options.Augmentation?.Apply(_inputs.AsSpan(0, n * train.InputSize), n, augmentationRandom);
                ReadOnlySpan<TTarget> targets = _targets.AsSpan(0, n * _targetSize);
                float loss = _network.ComputeGradients(_inputs.AsSpan(0, n * train.InputSize), targets);
                if (!float.IsFinite(loss))
                {
                    throw NonFinite("loss", loss, epoch, b, order.AsSpan(b * batch, n));
                }

                lossSum += (double)loss * n;
                correct += Correct(_network.LastOutputs, targets, binaryTrain, ref absoluteError);
                seen += n;
                if (Options.MaxGradientNorm is { } maxNorm)
                {
                    float norm = GradientClipping.ClipByGlobalNorm(_network.Gradients, maxNorm);
                    if (!float.IsFinite(norm))
                    {
                        throw NonFinite("gradient norm", norm, epoch, b, order.AsSpan(b * batch, n));
                    }
                }

                if (Options.Schedule is { } schedule)
                {
                    _optimizer.LearningRate = schedule.Rate(Step, batches, _baseRate);
                }

                Optimizer.Step(_optimizer, _network.Parameters, _network.Gradients, _network.Threads); // split like the batch (same bits)
                Step++;
                if (Options.BatchProgress is { } batchProgress && (b == batches - 1 || clock.Elapsed - lastBatchReport >= Options.BatchProgressInterval))
                {
                    lastBatchReport = clock.Elapsed;
                    double seconds = Math.Max(lastBatchReport.TotalSeconds, 1e-9);
                    batchProgress.Report(new BatchReport(
                        epoch, Options.Epochs, b + 1, batches, lossSum / seen, seen / seconds, lastBatchReport,
                        TimeSpan.FromSeconds(seconds / (b + 1) * (batches - b - 1))));
                }
            }

            TimeSpan epochTime = clock.Elapsed;
            Evaluation? validated = validation is null ? null : Evaluate(validation);
            var report = new EpochReport(
                epoch,
                Options.Epochs,
                _optimizer.LearningRate,
                lossSum / seen,
                Accuracy(correct, seen, binaryTrain),
                validated?.Loss,
                validated?.Accuracy,
                seen / Math.Max(epochTime.TotalSeconds, 1e-9),
                epochTime,
                total.Elapsed,
                typeof(TTarget) == typeof(float) ? absoluteError / ((double)seen * _targetSize) : null,
                validated?.MeanAbsoluteError);
            CompletedEpochs = epoch;
            reports.Add(report);
            progress?.Report(report);
        }

        return reports;
    }

    /// <summary>Inference-mode mean loss and accuracy over <paramref name="data"/>, in batches.</summary>
    public Evaluation Evaluate(DataSet<TTarget> data)
    {
        Check(data, nameof(data));
        int batch = Options.BatchSize;
        double lossSum = 0, absoluteError = 0;
        long correct = 0;
        bool binary = IsBinary(data);
        for (int start = 0; start < data.Count; start += batch)
        {
            int n = Math.Min(batch, data.Count - start);
            ReadOnlySpan<TTarget> targets = data.Targets.AsSpan(start * _targetSize, n * _targetSize);
            lossSum += (double)_network.Evaluate(data.Inputs.AsSpan(start * data.InputSize, n * data.InputSize), targets) * n;
            correct += Correct(_network.LastOutputs, targets, binary, ref absoluteError);
        }

        return new Evaluation(
            lossSum / data.Count,
            Accuracy(correct, data.Count, binary),
            typeof(TTarget) == typeof(float) ? absoluteError / ((double)data.Count * _targetSize) : null);
    }

    // Float targets that are all 0 or 1 (binary cross-entropy): accuracy at the 0.5 threshold makes sense.
    private bool IsBinary(DataSet<TTarget> data)
    {
        if (typeof(TTarget) != typeof(float))
        {
            return false;
        }

        foreach (float t in System.Runtime.InteropServices.MemoryMarshal.Cast<TTarget, float>(data.Targets.AsSpan()))
        {
            if (t != 0f && t != 1f)
            {
                return false;
            }
        }

        return true;
    }

    // Class labels: one per sample. Binary float targets: every output counts.
    private double? Accuracy(long correct, int samples, bool binary) =>
        typeof(TTarget) == typeof(int) ? (double)correct / samples
        : binary ? (double)correct / ((long)samples * _targetSize)
        : null;

    // Top-1 hits for class labels; for float targets the absolute errors (added to absoluteError)
    // and, when binary, the outputs on the right side of 0.5.
    private int Correct(ReadOnlySpan<float> outputs, ReadOnlySpan<TTarget> targets, bool binary, ref double absoluteError)
    {
        if (typeof(TTarget) == typeof(float))
        {
            ReadOnlySpan<float> values = System.Runtime.InteropServices.MemoryMarshal.Cast<TTarget, float>(targets);
            int hits = 0;
            for (int i = 0; i < values.Length; i++)
            {
                absoluteError += Math.Abs(outputs[i] - values[i]);
                if (binary && (outputs[i] >= 0.5f) == (values[i] >= 0.5f))
                {
                    hits++;
                }
            }

            return hits;
        }

        ReadOnlySpan<int> labels = System.Runtime.InteropServices.MemoryMarshal.Cast<TTarget, int>(targets);
        int classes = _network.OutputSize;
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (TensorPrimitives.IndexOfMax(outputs.Slice(i * classes, classes)) == labels[i])
            {
                correct++;
            }
        }

        return correct;
    }

    // Training stops before the optimizer touches the parameters; the message names the samples.
    private static NonFiniteLossException NonFinite(string what, float value, int epoch, int batch, ReadOnlySpan<int> samples)
    {
        int[] indices = samples.ToArray();
        string shown = string.Join(", ", indices.Length <= 8 ? indices : indices[..8]) + (indices.Length > 8 ? $", … ({indices.Length} in all)" : string.Empty);
        return new NonFiniteLossException(
            $"The {what} of batch {batch} of epoch {epoch} (training samples {shown}) is {value}: training stopped before the optimizer step, so the parameters keep their last values. Look for NaN or infinite values in those samples and their targets, or lower the learning rate.",
            value,
            epoch,
            batch,
            indices);
    }

    private void Check(DataSet<TTarget> data, string name)
    {
        ArgumentNullException.ThrowIfNull(data, name);
        if (data.InputSize != _network.InputSize || data.TargetSize != _targetSize)
        {
            throw new ArgumentException($"'{name}' has samples of {data.InputSize} values and targets of {data.TargetSize}; the network needs {_network.InputSize} and {_targetSize}.", name);
        }

        if (data.Count == 0)
        {
            throw new ArgumentException($"'{name}' is empty.", name);
        }

        // Class labels are checked here, for the whole set, so that a bad one is named by its index
        // in the data set (the network's own check only sees a position in a shuffled batch).
        if (typeof(TTarget) == typeof(int))
        {
            ReadOnlySpan<int> labels = System.Runtime.InteropServices.MemoryMarshal.Cast<TTarget, int>(data.Targets);
            int classes = _network.OutputSize;
            for (int i = 0; i < labels.Length; i++)
            {
                if ((uint)labels[i] >= (uint)classes)
                {
                    throw new ArgumentOutOfRangeException(name, labels[i], $"Sample {i} of '{name}' has the label {labels[i]}; the network's class labels lie in [0, {classes}).");
                }
            }
        }
    }
}
