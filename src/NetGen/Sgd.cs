using System;
using System.Numerics.Tensors;

namespace NetGen;

/// <summary>
/// Plain stochastic gradient descent, <c>θ ← θ - lr·g</c> (PyTorch's <c>torch.optim.SGD</c>
/// with no momentum and no weight decay). Stateless; a step allocates nothing.
/// </summary>
public sealed class Sgd : IOptimizer
{
    private float _learningRate;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size; must be positive and finite.</param>
    public Sgd(float learningRate) => LearningRate = learningRate;

    /// <summary>Step size; may be changed between steps (learning-rate schedules).</summary>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value > 0f) || float.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be positive and finite.");
            }

            _learningRate = value;
        }
    }

    /// <inheritdoc/>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (gradients.Length != parameters.Length)
        {
            throw new ArgumentException($"'{nameof(gradients)}' has {gradients.Length} values; {parameters.Length} were expected (one per parameter).", nameof(gradients));
        }

        TensorPrimitives.MultiplyAdd(gradients, -_learningRate, parameters, parameters);
    }
}
