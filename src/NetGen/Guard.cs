using System;
using System.ComponentModel;

namespace NetGen;

/// <summary>
/// Argument checks used by generated code, so that every public entry point of a network
/// refuses bad input the same way, before anything is written.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Guard
{
    /// <summary>
    /// The batch size implied by <paramref name="length"/> values of <paramref name="sampleSize"/> each;
    /// throws when it is not a whole, non-zero number of samples or exceeds <paramref name="maxBatchSize"/>.
    /// </summary>
    public static int BatchSize(int length, int sampleSize, int maxBatchSize, string paramName)
    {
        if (length == 0 || length % sampleSize != 0)
        {
            throw new ArgumentException(
                $"'{paramName}' has {length} values, which is not a whole, non-zero number of samples of {sampleSize} values each.",
                paramName);
        }

        int batch = length / sampleSize;
        if (batch > maxBatchSize)
        {
            throw new ArgumentException(
                $"'{paramName}' holds a batch of {batch} samples; this network was built for at most {maxBatchSize} (maxBatchSize).",
                paramName);
        }

        return batch;
    }

    /// <summary>Throws unless <paramref name="length"/> equals <paramref name="expected"/>.</summary>
    public static void Length(int length, int expected, string paramName, string what)
    {
        if (length != expected)
        {
            throw new ArgumentException($"'{paramName}' has {length} values; {expected} were expected ({what}).", paramName);
        }
    }

    /// <summary>Throws unless every label lies in <c>[0, classes)</c>.</summary>
    public static void Labels(ReadOnlySpan<int> labels, int classes, string paramName)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(
                    paramName,
                    labels[i],
                    $"'{paramName}'[{i}] is {labels[i]}; class labels must lie in [0, {classes}).");
            }
        }
    }

    /// <summary>
    /// Throws unless a BatchNorm layer sees at least two values per feature in training (PyTorch
    /// refuses the same: a batch of one has no variance).
    /// </summary>
    public static void TrainingBatchNorm(int rows, string layer, string paramName)
    {
        if (rows < 2)
        {
            throw new ArgumentException(
                $"{layer} is a BatchNorm layer: in training it needs a batch of at least 2 samples to compute batch statistics, but the batch has {rows}. Use a larger batch, or Evaluate/Forward (inference, running statistics) for one sample.",
                paramName);
        }
    }

    /// <summary>The fewest samples per thread: at least 1.</summary>
    /// <param name="samples">The count.</param>
    /// <param name="name">The argument's name.</param>
    public static void MinSamplesPerThread(int samples, string name)
    {
        if (samples < 1)
        {
            throw new ArgumentOutOfRangeException(name, samples, $"MinSamplesPerThread must be at least 1, but is {samples}.");
        }
    }

    /// <summary>A thread count: 1 to <see cref="Workers.MaxThreads"/>.</summary>
    /// <param name="threads">The count.</param>
    /// <param name="name">The argument's name.</param>
    public static void Threads(int threads, string name)
    {
        if (threads < 1 || threads > Workers.MaxThreads)
        {
            throw new ArgumentOutOfRangeException(name, threads, $"Threads must lie in [1, {Workers.MaxThreads}] (Environment.ProcessorCount is {Environment.ProcessorCount} here), but is {threads}.");
        }
    }

    /// <summary>Throws unless <paramref name="maxBatchSize"/> is positive.</summary>
    public static void MaxBatchSize(int maxBatchSize, string paramName)
    {
        if (maxBatchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(paramName, maxBatchSize, $"'{paramName}' must be positive.");
        }
    }

    /// <summary>
    /// Throws unless every token id lies in <c>[0, vocabulary)</c>; the message names the sample and
    /// position of the first bad id.
    /// </summary>
    public static void Tokens(ReadOnlySpan<int> tokens, int vocabulary, int length, string paramName)
    {
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabulary)
            {
                throw new ArgumentOutOfRangeException(
                    paramName,
                    tokens[i],
                    $"'{paramName}'[{i}] (sample {i / length}, position {i % length}) is {tokens[i]}; token ids must lie in [0, {vocabulary}).");
            }
        }
    }

    /// <summary>Throws unless <paramref name="token"/> lies in <c>[0, vocabulary)</c>.</summary>
    public static void Token(int token, int vocabulary, string paramName)
    {
        if ((uint)token >= (uint)vocabulary)
        {
            throw new ArgumentOutOfRangeException(paramName, token, $"'{paramName}' is {token}; token ids must lie in [0, {vocabulary}).");
        }
    }

    /// <summary>
    /// The length of a buffer of <paramref name="perSample"/> values for each of
    /// <paramref name="maxBatchSize"/> samples; throws, naming maxBatchSize and the largest that
    /// fits, when it exceeds the largest array .NET allows.
    /// </summary>
    public static int BufferLength(int maxBatchSize, int perSample, string what, string paramName)
    {
        long length = (long)maxBatchSize * perSample;
        if (length > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                paramName,
                maxBatchSize,
                $"'{paramName}' is {maxBatchSize}: {perSample:N0} {what} per sample would need {length:N0} values, more than an array holds ({Array.MaxLength:N0}); use at most {Array.MaxLength / Math.Max(perSample, 1):N0}.");
        }

        return (int)length;
    }
}
