using System;

namespace NetGen.Training;

/// <summary>
/// Changes each training batch in place before the step (never the validation data): data
/// augmentation. The <see cref="Trainer{TTarget}"/> passes a seeded generator of its own, so that
/// a run stays reproducible and the shuffling is the same with or without augmentation.
/// Implementations allocate nothing per batch.
/// </summary>
public interface IBatchAugmentation
{
    /// <summary>Transforms the first <paramref name="batch"/> samples of <paramref name="inputs"/> in place.</summary>
    /// <param name="inputs">The batch, sample after sample.</param>
    /// <param name="batch">Samples in the batch.</param>
    /// <param name="random">The draws to use.</param>
    void Apply(Span<float> inputs, int batch, SeededRandom random);
}

/// <summary>
/// For [C, H, W] images: a random horizontal flip (probability 1/2) and a random shift of up to
/// <c>maxShift</c> pixels in each direction with zero fill, drawn per sample. The shift is the
/// "pad by maxShift, then crop at a random place" of torchvision's
/// <c>RandomCrop(size, padding=maxShift)</c>, and the flip its <c>RandomHorizontalFlip()</c>.
/// </summary>
public sealed class RandomFlipAndShift : IBatchAugmentation
{
    private readonly int _channels;
    private readonly int _height;
    private readonly int _width;
    private readonly int _maxShift;
    private readonly bool _flip;
    private readonly float[] _sample;

    /// <summary>Creates the augmentation for images of the given shape.</summary>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="maxShift">The largest shift, in pixels, up, down, left or right; 0 for none.</param>
    /// <param name="flip">Whether to flip horizontally half of the samples.</param>
    public RandomFlipAndShift(int channels, int height, int width, int maxShift = 2, bool flip = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegative(maxShift);
        _channels = channels;
        _height = height;
        _width = width;
        _maxShift = maxShift;
        _flip = flip;
        _sample = new float[checked(channels * height * width)];
    }

    /// <inheritdoc/>
    public void Apply(Span<float> inputs, int batch, SeededRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        int size = _sample.Length;
        if (batch < 0 || inputs.Length < (long)batch * size)
        {
            throw new ArgumentException($"'{nameof(inputs)}' has {inputs.Length} values, fewer than {batch} samples of {size} ([{_channels}, {_height}, {_width}]).", nameof(inputs));
        }

        for (int n = 0; n < batch; n++)
        {
            int dy = random.NextInt((2 * _maxShift) + 1) - _maxShift;
            int dx = random.NextInt((2 * _maxShift) + 1) - _maxShift;
            bool flip = _flip && random.NextSingle() < 0.5f;
            Span<float> image = inputs.Slice(n * size, size);
            image.CopyTo(_sample);
            Transform(image, flip, dx, dy);
        }
    }

    // image[c, y, x] = sample[c, y + dy, x' + dx] with x' = W - 1 - x when flipped; zero outside.
    private void Transform(Span<float> image, bool flip, int dx, int dy)
    {
        for (int c = 0; c < _channels; c++)
        {
            for (int y = 0; y < _height; y++)
            {
                Span<float> row = image.Slice(((c * _height) + y) * _width, _width);
                int sy = y + dy;
                if ((uint)sy >= (uint)_height)
                {
                    row.Clear();
                    continue;
                }

                ReadOnlySpan<float> source = _sample.AsSpan(((c * _height) + sy) * _width, _width);
                for (int x = 0; x < _width; x++)
                {
                    int sx = (flip ? _width - 1 - x : x) + dx;
                    row[x] = (uint)sx < (uint)_width ? source[sx] : 0f;
                }
            }
        }
    }
}
