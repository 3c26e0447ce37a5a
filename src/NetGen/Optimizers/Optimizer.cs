using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetGen;

/// <summary>
/// Base of NetGen's optimizers: they act on a network's flat parameter and gradient buffers.
/// State (moments, accumulators) is allocated once, by <see cref="Bind(int)"/> or by the first
/// <see cref="Step"/>; a step allocates nothing. Update rules and defaults are PyTorch's
/// (torch.optim), as documented there; <c>maximize</c>, <c>foreach</c>, <c>fused</c> and
/// <c>capturable</c> are not offered.
/// </summary>
public abstract class Optimizer : IOptimizer
{
    private float _learningRate;

    /// <summary>Validates and stores the shared hyper-parameters.</summary>
    protected Optimizer(float learningRate, float weightDecay)
    {
        LearningRate = learningRate;
        if (!(weightDecay >= 0f) || float.IsInfinity(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be non-negative and finite.");
        }

        WeightDecay = weightDecay;
    }

    /// <inheritdoc/>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0f) || float.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be non-negative and finite.");
            }

            _learningRate = value;
        }
    }

    /// <summary>Weight decay λ (L2 penalty added to the gradient; decoupled in <see cref="AdamW"/>).</summary>
    public float WeightDecay { get; }

    /// <summary>Steps taken since binding or <see cref="Reset"/> (PyTorch's <c>step</c>, t).</summary>
    public long StepCount { get; private set; }

    /// <summary>The parameter count the state was allocated for; 0 while unbound.</summary>
    public int ParameterCount { get; private set; }

    /// <summary>Allocates the state for <paramref name="parameterCount"/> parameters, once.</summary>
    /// <exception cref="InvalidOperationException">Already bound to a different count.</exception>
    public void Bind(int parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        if (ParameterCount == parameterCount)
        {
            return;
        }

        if (ParameterCount != 0)
        {
            throw new InvalidOperationException($"This optimizer is bound to {ParameterCount} parameters and cannot step {parameterCount}; create one optimizer per network.");
        }

        AllocateState(parameterCount);
        ParameterCount = parameterCount;
    }

    /// <summary>Allocates the state for <paramref name="network"/>'s parameters.</summary>
    public void Bind(INetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        Bind(network.ParameterCount);
    }

    /// <summary>Forgets the state (moments, accumulators, step count), keeping its memory.</summary>
    public void Reset()
    {
        StepCount = 0;
        ClearState();
    }

    /// <inheritdoc/>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (gradients.Length != parameters.Length)
        {
            throw new ArgumentException($"'{nameof(gradients)}' has {gradients.Length} values; {parameters.Length} were expected (one per parameter).", nameof(gradients));
        }

        if (parameters.IsEmpty)
        {
            return;
        }

        if (ParameterCount != parameters.Length)
        {
            Bind(parameters.Length);
        }

        StepCount++;
        Update(parameters, gradients, StepCount);
    }

    /// <summary>Allocates the state arrays.</summary>
    protected abstract void AllocateState(int parameterCount);

    /// <summary>Zeroes the state arrays (or sets their initial values).</summary>
    protected abstract void ClearState();

    /// <summary>Step <paramref name="t"/> (1-based) of the update rule.</summary>
    protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long t);

    internal static void CheckRange(float value, float min, float maxExclusive, string name)
    {
        if (!(value >= min && value < maxExclusive))
        {
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must lie in [{min}, {maxExclusive}).");
        }
    }

    internal static void CheckPositive(float value, string name)
    {
        if (!(value > 0f) || float.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be positive and finite.");
        }
    }

    internal static ref float Ref(Span<float> span) => ref MemoryMarshal.GetReference(span);

    internal static ref float Ref(ReadOnlySpan<float> span) => ref MemoryMarshal.GetReference(span);

    internal static int VectorEnd(int n) => Vector256.IsHardwareAccelerated ? n - (n % Vector256<float>.Count) : 0;
}
