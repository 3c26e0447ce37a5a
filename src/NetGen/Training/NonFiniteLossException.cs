using System;
using System.Collections.Generic;

namespace NetGen;

/// <summary>
/// Training met a loss (or gradient norm) that is NaN or infinite and stopped before the optimizer
/// step, so the parameters keep their last finite values. A NaN or infinite input or target, or a
/// learning rate too high for the network, are the usual causes. The trainers add where it
/// happened: the epoch or iteration, the batch, and the batch's samples in the data set.
/// </summary>
public sealed class NonFiniteLossException : ArithmeticException
{
    /// <summary>Creates the exception for a direct call (TrainStep).</summary>
    public NonFiniteLossException(float value)
        : this($"The loss is {value}: the step stopped before the optimizer, so the parameters keep their last values. Look for NaN or infinite values in the inputs and targets, or lower the learning rate.", value, null, null, Array.Empty<int>())
    {
    }

    /// <summary>Creates the exception with where it happened.</summary>
    /// <param name="message">The message.</param>
    /// <param name="value">The non-finite loss or gradient norm.</param>
    /// <param name="epoch">The epoch (or iteration), 1-based, when known.</param>
    /// <param name="batch">The batch within the epoch, 0-based, when known.</param>
    /// <param name="samples">The indices in the data set of the batch's samples (or the windows' first tokens).</param>
    public NonFiniteLossException(string message, float value, int? epoch, int? batch, IReadOnlyList<int> samples)
        : base(message)
    {
        Value = value;
        Epoch = epoch;
        Batch = batch;
        Samples = samples ?? Array.Empty<int>();
    }

    /// <summary>The non-finite value: the loss, or the gradient norm when the loss was finite.</summary>
    public float Value { get; }

    /// <summary>The epoch (Trainer) or iteration (LanguageModelTrainer), 1-based; null from TrainStep.</summary>
    public int? Epoch { get; }

    /// <summary>The batch within the epoch, 0-based; null from TrainStep.</summary>
    public int? Batch { get; }

    /// <summary>The batch's samples, as indices into the training set; empty from TrainStep.</summary>
    public IReadOnlyList<int> Samples { get; }
}
