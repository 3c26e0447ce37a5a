using System;

namespace NetGen.Training;

/// <summary>A learning rate as a function of the training step; the trainer sets it before every optimizer step.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The rate for global step <paramref name="step"/> (0-based).</summary>
    /// <param name="step">Optimizer steps taken so far.</param>
    /// <param name="stepsPerEpoch">Optimizer steps in one epoch.</param>
    /// <param name="baseRate">The optimizer's learning rate when training started.</param>
    public abstract float Rate(long step, int stepsPerEpoch, float baseRate);
}

/// <summary>Step decay (PyTorch's StepLR): <c>base·gamma^⌊epoch / everyEpochs⌋</c>.</summary>
public sealed class StepDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="everyEpochs">Epochs between decays (PyTorch's step_size).</param>
    /// <param name="gamma">Factor applied at each decay (default 0.1).</param>
    public StepDecay(int everyEpochs, float gamma = 0.1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(everyEpochs);
        if (!(gamma > 0f))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be positive.");
        }

        EveryEpochs = everyEpochs;
        Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    public int EveryEpochs { get; }

    /// <summary>Decay factor.</summary>
    public float Gamma { get; }

    /// <inheritdoc/>
    public override float Rate(long step, int stepsPerEpoch, float baseRate)
    {
        long epoch = step / Math.Max(1, stepsPerEpoch);
        return (float)(baseRate * Math.Pow(Gamma, epoch / EveryEpochs));
    }
}

/// <summary>
/// Cosine annealing over the whole run, per step (PyTorch's CosineAnnealingLR with
/// T_max = epochs × steps per epoch): <c>min + (base − min)·(1 + cos(π·t/T))/2</c>.
/// </summary>
public sealed class CosineDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="epochs">Length of the decay in epochs; afterwards the rate stays at <paramref name="minRate"/>.</param>
    /// <param name="minRate">The final rate (default 0).</param>
    public CosineDecay(int epochs, float minRate = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epochs);
        ArgumentOutOfRangeException.ThrowIfNegative(minRate);
        Epochs = epochs;
        MinRate = minRate;
    }

    /// <summary>Length of the decay in epochs.</summary>
    public int Epochs { get; }

    /// <summary>The final rate.</summary>
    public float MinRate { get; }

    /// <inheritdoc/>
    public override float Rate(long step, int stepsPerEpoch, float baseRate)
    {
        double total = (double)Epochs * Math.Max(1, stepsPerEpoch);
        double t = Math.Min(step, total);
        return (float)(MinRate + ((baseRate - MinRate) * (1 + Math.Cos(Math.PI * t / total)) / 2));
    }
}

/// <summary>
/// Linear warm-up: <c>base·(step + 1)/warmupSteps</c> for the first <c>warmupSteps</c> steps, then
/// <c>then</c> (counting its steps from the end of the warm-up), or the base rate.
/// </summary>
public sealed class LinearWarmup : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="warmupSteps">Steps of warm-up.</param>
    /// <param name="then">The schedule after the warm-up; null for a constant rate.</param>
    public LinearWarmup(int warmupSteps, LearningRateSchedule? then = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(warmupSteps);
        WarmupSteps = warmupSteps;
        Then = then;
    }

    /// <summary>Steps of warm-up.</summary>
    public int WarmupSteps { get; }

    /// <summary>The schedule after the warm-up.</summary>
    public LearningRateSchedule? Then { get; }

    /// <inheritdoc/>
    public override float Rate(long step, int stepsPerEpoch, float baseRate) =>
        step < WarmupSteps
            ? baseRate * (step + 1) / WarmupSteps
            : Then?.Rate(step - WarmupSteps, stepsPerEpoch, baseRate) ?? baseRate;
}
