using System;

namespace NetGen.Training;

// The Trainer's options and what it reports.

/// <summary>How a <see cref="Trainer{TTarget}"/> runs.</summary>
public sealed class TrainerOptions
{
    /// <summary>Samples per optimizer step (at most the network's MaxBatchSize). Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Epochs to run. Default 10.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Seed of the shuffling, so that a run is reproducible. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Threads each batch is split across (sets the network's <c>Threads</c>); null, the default, leaves
    /// the network's count as it is (1 unless set). The same count gives the same results on every run.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>Shuffle the training samples every epoch (default true).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// Skip the last, smaller batch of an epoch (default false). A network with BatchNorm needs at
    /// least 2 samples per training batch: drop the last batch when it could hold a single sample.
    /// </summary>
    public bool DropLast { get; init; }

    /// <summary>The learning-rate schedule; null keeps the optimizer's rate.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>Clip the gradients to this global L2 norm before each step (PyTorch's clip_grad_norm_); null: no clipping.</summary>
    public float? MaxGradientNorm { get; init; }

    /// <summary>
    /// Data augmentation applied to every training batch (not to validation), e.g.
    /// <see cref="RandomFlipAndShift"/>; its draws come from a generator seeded from <see cref="Seed"/>
    /// apart from the shuffling's. Null (the default): none.
    /// </summary>
    public IBatchAugmentation? Augmentation { get; init; }

    /// <summary>
    /// Receives progress inside an epoch, every <see cref="BatchProgressInterval"/> (and after an
    /// epoch's last batch): the batch, the mean loss so far, samples per second, time left in the
    /// epoch. Null (the default): none. A report allocates its record, once per interval.
    /// </summary>
    public IProgress<BatchReport>? BatchProgress { get; init; }

    /// <summary>The least time between two <see cref="BatchProgress"/> reports. Default 1 s; zero: every batch.</summary>
    public TimeSpan BatchProgressInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>Progress inside an epoch (<see cref="TrainerOptions.BatchProgress"/>).</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="Epochs">Epochs in the run.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches in an epoch.</param>
/// <param name="TrainLoss">Mean training loss over this epoch's samples so far.</param>
/// <param name="SamplesPerSecond">Training samples per second in this epoch so far.</param>
/// <param name="EpochElapsed">Time spent in this epoch.</param>
/// <param name="EpochRemaining">Estimated time to the end of this epoch's training.</param>
public sealed record BatchReport(int Epoch, int Epochs, int Batch, int Batches, double TrainLoss, double SamplesPerSecond, TimeSpan EpochElapsed, TimeSpan EpochRemaining);

/// <summary>What one epoch measured.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="Epochs">Epochs in the run.</param>
/// <param name="LearningRate">The rate of the epoch's last step.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's samples (training mode, penalties included).</param>
/// <param name="TrainAccuracy">
/// Top-1 accuracy of the training-mode outputs for class labels; for float targets that are all 0
/// or 1 (binary cross-entropy), the binary accuracy of every output at the 0.5 threshold; else null.
/// </param>
/// <param name="ValidationLoss">Mean inference-mode loss on the validation set, when there is one.</param>
/// <param name="ValidationAccuracy">The same accuracy on the validation set.</param>
/// <param name="SamplesPerSecond">Training samples per second in this epoch (validation excluded).</param>
/// <param name="EpochTime">Wall time of the epoch's training.</param>
/// <param name="Elapsed">Wall time since the run started, validation included.</param>
/// <param name="TrainMeanAbsoluteError">For float targets, the mean absolute error of the training-mode outputs; else null.</param>
/// <param name="ValidationMeanAbsoluteError">For float targets, the mean absolute error on the validation set; else null.</param>
public sealed record EpochReport(
    int Epoch,
    int Epochs,
    float LearningRate,
    double TrainLoss,
    double? TrainAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double SamplesPerSecond,
    TimeSpan EpochTime,
    TimeSpan Elapsed,
    double? TrainMeanAbsoluteError = null,
    double? ValidationMeanAbsoluteError = null);

/// <summary>Mean loss and the metrics that fit the targets over a data set.</summary>
/// <param name="Loss">Mean loss.</param>
/// <param name="Accuracy">Top-1 accuracy for class labels; binary accuracy at 0.5 for float targets that are all 0 or 1; else null.</param>
/// <param name="MeanAbsoluteError">For float targets, the mean absolute error of the outputs; else null.</param>
public readonly record struct Evaluation(double Loss, double? Accuracy, double? MeanAbsoluteError = null);

/// <summary>An <see cref="IProgress{T}"/> that calls its action at once, on the training thread.</summary>
/// <typeparam name="T">The report type.</typeparam>
public sealed class SynchronousProgress<T> : IProgress<T>
{
    private readonly Action<T> _action;

    /// <summary>Creates the progress sink.</summary>
    public SynchronousProgress(Action<T> action) => _action = action ?? throw new ArgumentNullException(nameof(action));

    /// <inheritdoc/>
    public void Report(T value) => _action(value);
}
