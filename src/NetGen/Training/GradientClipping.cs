using System;
using System.Numerics.Tensors;

namespace NetGen.Training;

/// <summary>Gradient clipping.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales <paramref name="gradients"/> so that their global L2 norm is at most
    /// <paramref name="maxNorm"/>, as PyTorch's <c>clip_grad_norm_</c>: the factor is
    /// <c>maxNorm / (norm + 1e-6)</c>, applied when below 1.
    /// </summary>
    /// <returns>The norm before clipping.</returns>
    public static float ClipByGlobalNorm(Span<float> gradients, float maxNorm)
    {
        float norm = TensorPrimitives.Norm(gradients);
        float factor = maxNorm / (norm + 1e-6f);
        if (factor < 1f)
        {
            TensorPrimitives.Multiply(gradients, factor, gradients);
        }

        return norm;
    }

    // The checks both trainers make of their options against the network.
    internal static void CheckOptions(INetwork network, int batchSize, float? maxGradientNorm, string paramName)
    {
        if (batchSize > network.MaxBatchSize)
        {
            throw new ArgumentException($"The batch size {batchSize} exceeds the network's MaxBatchSize {network.MaxBatchSize}.", paramName);
        }

        if (maxGradientNorm is { } max && !(max > 0f))
        {
            throw new ArgumentException("MaxGradientNorm must be positive.", paramName);
        }
    }
}
