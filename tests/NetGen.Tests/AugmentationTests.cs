using NetGen.Training;

namespace NetGen.Tests;

/// <summary>Random flips and shifts: exactly a flip and a bounded shift with zero fill, seeded, applied by the trainer.</summary>
public class AugmentationTests
{
    private const int C = 2, H = 5, W = 6, Size = C * H * W;

    private static float Expected(float[] source, int n, int c, int y, int x, bool flip, int dx, int dy)
    {
        int sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
        return sy < 0 || sy >= H || sx < 0 || sx >= W ? 0f : source[(n * Size) + (((c * H) + sy) * W) + sx];
    }

    private static (bool Flip, int Dx, int Dy)? Match(float[] source, float[] result, int n, int maxShift)
    {
        foreach (bool flip in new[] { false, true })
        {
            for (int dy = -maxShift; dy <= maxShift; dy++)
            {
                for (int dx = -maxShift; dx <= maxShift; dx++)
                {
                    bool all = true;
                    for (int c = 0; c < C && all; c++)
                    {
                        for (int y = 0; y < H && all; y++)
                        {
                            for (int x = 0; x < W && all; x++)
                            {
                                all = result[(n * Size) + (((c * H) + y) * W) + x] == Expected(source, n, c, y, x, flip, dx, dy);
                            }
                        }
                    }

                    if (all)
                    {
                        return (flip, dx, dy);
                    }
                }
            }
        }

        return null;
    }

    [Fact]
    public void Every_sample_is_flipped_or_not_and_shifted_by_at_most_max_shift_with_zero_fill()
    {
        const int batch = 60;
        float[] source = Reference.RandomFloats(batch * Size, 5).Select(v => v + 3f).ToArray(); // no zeros in the images
        float[] result = (float[])source.Clone();
        new RandomFlipAndShift(C, H, W, maxShift: 2).Apply(result, batch, new SeededRandom(7));

        var seen = new List<(bool Flip, int Dx, int Dy)>();
        for (int n = 0; n < batch; n++)
        {
            (bool Flip, int Dx, int Dy)? match = Match(source, result, n, 2);
            Assert.True(match is not null, $"sample {n} is not a flip and shift of its input");
            seen.Add(match.Value);
        }

        Assert.Contains(seen, s => s.Flip);
        Assert.Contains(seen, s => !s.Flip);
        Assert.Contains(seen, s => s.Dx == -2);
        Assert.Contains(seen, s => s.Dy == 2);
        Assert.Contains(seen, s => s.Dx == 0 && s.Dy == 0);
    }

    [Fact]
    public void The_same_seed_gives_the_same_batch_and_no_shift_no_flip_is_the_identity()
    {
        float[] source = Reference.RandomFloats(8 * Size, 6);
        float[] a = (float[])source.Clone(), b = (float[])source.Clone(), same = (float[])source.Clone();
        new RandomFlipAndShift(C, H, W).Apply(a, 8, new SeededRandom(1));
        new RandomFlipAndShift(C, H, W).Apply(b, 8, new SeededRandom(1));
        new RandomFlipAndShift(C, H, W, maxShift: 0, flip: false).Apply(same, 8, new SeededRandom(1));
        Assert.Equal(a, b);
        Assert.NotEqual(source, a);
        Assert.Equal(source, same);
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomFlipAndShift(C, H, W, maxShift: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomFlipAndShift(0, H, W));
        var e = Assert.Throws<ArgumentException>(() => new RandomFlipAndShift(C, H, W).Apply(new float[Size], 2, new SeededRandom(1)));
        Assert.Equal("inputs", e.ParamName);
    }

    [Fact]
    public void The_trainer_augments_training_batches_reproducibly_and_leaves_the_shuffle_alone()
    {
        // A [1, 1, 5] "image": ThreeLayerNet's five inputs, flipped and shifted along the row.
        DataSet<int> data = TrainerTests.Blobs(64, 3);
        float[] Train(IBatchAugmentation? augmentation)
        {
            var net = new ThreeLayerNet(16, seed: 1);
            new Trainer<int>(net, new Sgd(0.1f), new TrainerOptions { BatchSize = 16, Epochs = 2, Seed = 4, Augmentation = augmentation }).Fit(data);
            return net.Parameters.ToArray();
        }

        float[] plain = Train(null), first = Train(new RandomFlipAndShift(1, 1, 5, maxShift: 1)), second = Train(new RandomFlipAndShift(1, 1, 5, maxShift: 1));
        Assert.Equal(first, second);
        Assert.NotEqual(plain, first);
        Assert.Equal(plain, Train(new RandomFlipAndShift(1, 1, 5, maxShift: 0, flip: false)));
    }
}
