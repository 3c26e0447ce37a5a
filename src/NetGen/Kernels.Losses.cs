using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>Losses: fused softmax cross-entropy, mean squared error and sigmoid binary cross-entropy.</summary>
public static partial class Kernels
{
    // ---------------------------------------------------------------- Losses

    /// <summary>
    /// Fused softmax and cross-entropy over <paramref name="rows"/> rows of logits: writes the
    /// probabilities and the gradient of the mean loss with respect to the logits,
    /// <c>(p - onehot(label)) / rows</c>, and returns the mean loss. Labels must already be checked.
    /// </summary>
    /// <param name="probabilities">[rows, classes], written.</param>
    /// <param name="dLogits">[rows, classes], written.</param>
    /// <param name="logits">[rows, classes].</param>
    /// <param name="labels">One label per row.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="classes">Classes.</param>
    /// <param name="meanOver">
    /// The count the loss is the mean over, when these rows are a shard of a larger batch: the
    /// gradient and the returned loss are divided by it instead of <paramref name="rows"/> (0: rows).
    /// </param>
    /// <param name="labelSmoothing">
    /// ε of PyTorch's <c>label_smoothing</c>: the target distribution is <c>(1 − ε)·onehot + ε/classes</c>,
    /// so the loss is <c>(1 − ε)·(−log p[label]) + ε·mean(−log p)</c> and the gradient
    /// <c>p − (1 − ε)·onehot − ε/classes</c> (over the mean's count). 0: plain cross-entropy.
    /// </param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SoftmaxCrossEntropy(Span<float> probabilities, Span<float> dLogits, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, int meanOver = 0, float labelSmoothing = 0f)
    {
        if (labelSmoothing != 0f)
        {
            if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
            {
                throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must lie in [0, 1].");
            }

            return SmoothedCrossEntropy(probabilities, dLogits, logits, labels, rows, classes, meanOver, labelSmoothing);
        }

        double total = 0;
        int over = meanOver > 0 ? meanOver : rows;
        float scale = 1f / over;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = logits.Slice(r * classes, classes);
            Span<float> p = probabilities.Slice(r * classes, classes);
            SoftmaxRow(p, x, out float max, out float sum);
            int label = labels[r];

            // -log softmax(x)[label] = log Σ e^(x - max) - (x[label] - max): no log of a tiny probability.
            total += Math.Log(sum) - (x[label] - max);
            Span<float> g = dLogits.Slice(r * classes, classes);
            TensorPrimitives.Multiply(p, scale, g);
            g[label] -= scale;
        }

        return (float)(total / over);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SmoothedCrossEntropy(Span<float> probabilities, Span<float> dLogits, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, int meanOver, float epsilon)
    {
        double total = 0;
        int over = meanOver > 0 ? meanOver : rows;
        float scale = 1f / over;
        float uniform = epsilon / classes * scale;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = logits.Slice(r * classes, classes);
            Span<float> p = probabilities.Slice(r * classes, classes);
            SoftmaxRow(p, x, out float max, out float sum);
            int label = labels[r];

            // −log p[k] = log Σ e^(x − max) − (x[k] − max); its mean over k uses the mean of x.
            double logSum = Math.Log(sum);
            double mean = TensorPrimitives.Sum(x) / (double)classes;
            total += ((1 - epsilon) * (logSum - (x[label] - max))) + (epsilon * (logSum - (mean - max)));
            Span<float> g = dLogits.Slice(r * classes, classes);
            TensorPrimitives.Multiply(p, scale, g);
            TensorPrimitives.Subtract(g, uniform, g);
            g[label] -= (1 - epsilon) * scale;
        }

        return (float)(total / over);
    }

    /// <summary>
    /// Mean squared error over all <paramref name="count"/> values: writes the gradient
    /// <c>2·(y - t) / count</c> and returns <c>Σ (y - t)² / count</c>.
    /// </summary>
    /// <param name="dPredictions">Written.</param>
    /// <param name="predictions">The outputs.</param>
    /// <param name="targets">The targets.</param>
    /// <param name="count">Values.</param>
    /// <param name="meanOver">The count of the whole batch when these values are a shard of it (0: <paramref name="count"/>).</param>
    public static float MeanSquaredError(Span<float> dPredictions, ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, int count, int meanOver = 0)
    {
        int over = meanOver > 0 ? meanOver : count;
        Span<float> g = dPredictions.Slice(0, count);
        TensorPrimitives.Subtract(predictions.Slice(0, count), targets.Slice(0, count), g);
        double loss = TensorPrimitives.SumOfSquares(g) / (double)over;
        TensorPrimitives.Multiply(g, 2f / over, g);
        return (float)loss;
    }

    /// <summary>
    /// Binary cross-entropy on logits, fused with the sigmoid, over <paramref name="count"/> values:
    /// writes the probabilities and the gradient <c>(σ(x) - t) / count</c>, and returns the mean of
    /// <c>max(x, 0) - x·t + log(1 + e^-|x|)</c> (stable for any x).
    /// </summary>
    /// <param name="probabilities">Written.</param>
    /// <param name="dLogits">Written.</param>
    /// <param name="logits">The logits.</param>
    /// <param name="targets">Targets in [0, 1].</param>
    /// <param name="count">Values.</param>
    /// <param name="meanOver">The count of the whole batch when these values are a shard of it (0: <paramref name="count"/>).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BinaryCrossEntropyWithLogits(Span<float> probabilities, Span<float> dLogits, ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int count, int meanOver = 0)
    {
        double total = 0;
        int over = meanOver > 0 ? meanOver : count;
        float scale = 1f / over;
        Span<float> p = probabilities.Slice(0, count);
        TensorPrimitives.Sigmoid(logits.Slice(0, count), p);
        for (int i = 0; i < count; i++)
        {
            float x = logits[i];
            float t = targets[i];
            total += Math.Max(x, 0f) - (x * t) + Math.Log(1 + Math.Exp(-Math.Abs(x)));
            dLogits[i] = (p[i] - t) * scale;
        }

        return (float)(total / over);
    }
}
