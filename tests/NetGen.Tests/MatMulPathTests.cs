namespace NetGen.Tests;

/// <summary>
/// The matrix products on each path (512-bit tiles, 256-bit tiles, scalar), forced in turn through
/// MatMul's process-wide switches: alone, so that no test running beside it computes with a
/// switched path (a reproducibility test compares runs bit for bit).
/// </summary>
[Collection(nameof(MatMulPathTests))]
public class MatMulPathTests
{
    [Fact]
    public void A_dot_product_has_its_bits_in_any_block()
    {
        // A·Bᵀ of few rows by 512-bit dot products in 3x8 blocks, k in chunks: against double, and the same values
        // in another product where they fall in other blocks (A's rows from the fourth, B's from the ninth).
        const int k = 2100; // three chunks of k, the last 4 steps one by one
        float[] a = Reference.RandomFloats(9 * k, 11), b = Reference.RandomFloats(16 * k, 12);
        var whole = new float[9 * 16];
        MatMul.MultiplyTransposed(whole, a, b, 9, 16, k, accumulate: false);
        var expected = new double[9 * 16];
        for (int i = 0; i < expected.Length; i++)
        {
            for (int p = 0; p < k; p++)
            {
                expected[i] += (double)a[((i / 16) * k) + p] * b[((i % 16) * k) + p];
            }
        }

        Reference.AssertClose(expected, whole, 1e-5, 1e-5, "A·Bᵀ over k in chunks");
        var corner = new float[6 * 8];
        MatMul.MultiplyTransposed(corner, a.AsSpan(3 * k), b.AsSpan(8 * k), 6, 8, k, accumulate: false);
        for (int i = 0; i < 6; i++)
        {
            for (int j = 0; j < 8; j++)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(whole[((i + 3) * 16) + j + 8]), BitConverter.SingleToInt32Bits(corner[(i * 8) + j]));
            }
        }
    }

    // Two and three rows (a batch of 2 or 3: the rows in pairs against four of B, which they read once for both,
    // then one alone): each row's values have the bits of that row multiplied alone, written or added to C.
    [Theory]
    [InlineData(2, 4, 8)]
    [InlineData(2, 13, 37)] // three columns left to single dot products; k with a scalar rest
    [InlineData(3, 7, 5)] // k shorter than a vector
    [InlineData(3, 128, 784)] // the MLP's first layer
    public void Below_four_rows_a_row_of_A_times_B_transposed_has_its_bits_alone(int m, int n, int k)
    {
        float[] a = Reference.RandomFloats(m * k, 11), b = Reference.RandomFloats(n * k, 12), c0 = Reference.RandomFloats(m * n, 13);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] c = (float[])c0.Clone();
            MatMul.MultiplyTransposed(c, a, b, m, n, k, accumulate);
            for (int i = 0; i < m; i++)
            {
                float[] row = c0.AsSpan(i * n, n).ToArray();
                MatMul.MultiplyTransposed(row, a.AsSpan(i * k, k), b, 1, n, k, accumulate);
                Assert.True(row.AsSpan().SequenceEqual(c.AsSpan(i * n, n)), $"row {i} of {m}, accumulate {accumulate}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(KernelTests.Sizes), MemberType = typeof(KernelTests))]
    public void MatMul_matches_naive_products_on_vector_and_scalar_paths(int m, int n, int k)
    {
        bool saved = MatMul.UseVectors, saved512 = MatMul.Use512;
        try
        {
            // 512-bit tiles (where accelerated), 256-bit tiles, scalar.
            foreach ((bool vectors, bool wide) in new[] { (true, true), (true, false), (false, false) })
            {
                MatMul.UseVectors = vectors && saved;
                MatMul.Use512 = wide && saved512;
                float[] a = Reference.RandomFloats(m * k, 1);
                float[] bt = Reference.RandomFloats(n * k, 2);
                float[] b = Reference.RandomFloats(k * n, 3);
                float[] at = Reference.RandomFloats(k * m, 4);
                float[] c0 = Reference.RandomFloats(m * n, 5);

                // C = A·Bᵀ, then accumulated once more.
                var expected = new double[m * n];
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        for (int p = 0; p < k; p++)
                        {
                            expected[(i * n) + j] += (double)a[(i * k) + p] * bt[(j * k) + p];
                        }
                    }
                }

                var c = new float[m * n];
                MatMul.MultiplyTransposed(c, a, bt, m, n, k, accumulate: false);
                Reference.AssertClose(expected, c, 1e-5, 1e-5, $"A·Bᵀ (vectors {vectors}, 512 {wide})");
                float[] acc = (float[])c0.Clone();
                MatMul.MultiplyTransposed(acc, a, bt, m, n, k, accumulate: true);
                Reference.AssertClose(expected.Select((e, i) => e + c0[i]).ToArray(), acc, 1e-5, 1e-5, $"C + A·Bᵀ (vectors {vectors}, 512 {wide})");

                // C = A·B and C += Aᵀ·B through strides.
                var nn = new double[m * n];
                var tn = new double[m * n];
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        for (int p = 0; p < k; p++)
                        {
                            nn[(i * n) + j] += (double)a[(i * k) + p] * b[(p * n) + j];
                            tn[(i * n) + j] += (double)at[(p * m) + i] * b[(p * n) + j];
                        }

                        tn[(i * n) + j] += c0[(i * n) + j];
                    }
                }

                MatMul.Multiply(c, a, k, 1, b, m, n, k, accumulate: false);
                Reference.AssertClose(nn, c, 1e-5, 1e-5, $"A·B (vectors {vectors}, 512 {wide})");
                acc = (float[])c0.Clone();
                MatMul.Multiply(acc, at, 1, m, b, m, n, k, accumulate: true);
                Reference.AssertClose(tn, acc, 1e-5, 1e-5, $"C + Aᵀ·B (vectors {vectors}, 512 {wide})");
            }
        }
        finally
        {
            MatMul.UseVectors = saved;
            MatMul.Use512 = saved512;
        }
    }

    [Theory]
    [InlineData(128, 784, 256)] // the MLP's weight gradient at batch 256
    [InlineData(70, 560, 300)] // 8-, 4- and 1-row tiles; k past a panel's 128 steps and KC; 17 strips (eight pairs and one) and 16 columns left
    public void Multiply_through_panels_of_B_has_the_bits_of_B_read_in_place(int m, int n, int k)
    {
        // The panels are taken with 512-bit tiles (where accelerated); elsewhere this checks that they are not.
        Assert.Equal(MatMul.UseVectors && MatMul.Use512, MatMul.CopiesPanels(m, n, k));
        Assert.False(MatMul.CopiesPanels(10, 128, 256)); // too few rows to share a copy
        Assert.False(MatMul.CopiesPanels(144, 2940, 32)); // a block of B of 64 KB: read in place
        float[] a = Reference.RandomFloats(m * k, 21), b = Reference.RandomFloats(k * n, 22), c0 = Reference.RandomFloats(m * n, 23);
        foreach ((int rowStride, int colStride) in new[] { (k, 1), (1, m) })
        {
            var expected = new double[m * n];
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    expected[(i * n) + j] = c0[(i * n) + j];
                    for (int p = 0; p < k; p++)
                    {
                        expected[(i * n) + j] += (double)a[(i * rowStride) + (p * colStride)] * b[(p * n) + j];
                    }
                }
            }

            foreach (bool accumulate in new[] { false, true })
            {
                float[] panels = (float[])c0.Clone(), inPlace = (float[])c0.Clone();
                MatMul.Multiply(panels, a, rowStride, colStride, b, m, n, k, accumulate);
                try
                {
                    MatMul.MultiplyPanels = false;
                    MatMul.Multiply(inPlace, a, rowStride, colStride, b, m, n, k, accumulate);
                }
                finally
                {
                    MatMul.MultiplyPanels = true;
                }

                Assert.True(inPlace.AsSpan().SequenceEqual(panels), $"{m}x{n}x{k}, strides ({rowStride}, {colStride}), accumulate {accumulate}");
                if (accumulate)
                {
                    Reference.AssertClose(expected, panels, 1e-5, 1e-5, $"C + op(A)·B, strides ({rowStride}, {colStride})");
                }
            }
        }
    }

    [Fact]
    public void Multiply_copying_tiles_of_a_transposed_A_has_the_bits_of_reading_it_in_place()
    {
        // Aᵀ·B with A's rows 1,046 apart (a weight gradient dYᵀ·X with that many outputs): A copied 32 rows at a time,
        // then 8 (4- and single-row tiles read in place); 3 strips of 32 and 4 columns left; k past KC.
        const int m = 1046, n = 100, k = 300;
        Assert.False(MatMul.CopiesPanels(m, n, k));
        float[] a = Reference.RandomFloats(k * m, 24), b = Reference.RandomFloats(k * n, 25), c0 = Reference.RandomFloats(m * n, 26);
        float[] accumulated = (float[])c0.Clone();
        foreach (bool accumulate in new[] { false, true })
        {
            float[] copied = (float[])c0.Clone(), inPlace = (float[])c0.Clone();
            MatMul.Multiply(copied, a, 1, m, b, m, n, k, accumulate);
            try
            {
                MatMul.PackATiles = false;
                MatMul.Multiply(inPlace, a, 1, m, b, m, n, k, accumulate);
            }
            finally
            {
                MatMul.PackATiles = true;
            }

            Assert.True(inPlace.AsSpan().SequenceEqual(copied), $"accumulate {accumulate}");
            accumulated = copied;
        }

        // And against double, in rows of each kind of tile.
        foreach (int i in new[] { 0, 7, 8, 31, 32, 1023, 1031, 1039, 1043, 1045 })
        {
            for (int j = 0; j < n; j += 33)
            {
                double expected = c0[(i * n) + j];
                for (int p = 0; p < k; p++)
                {
                    expected += (double)a[(p * m) + i] * b[(p * n) + j];
                }

                Assert.True(Math.Abs(accumulated[(i * n) + j] - expected) <= 1e-4 * Math.Max(1, Math.Abs(expected)), $"C[{i}, {j}] = {accumulated[(i * n) + j]}, expected {expected}");
            }
        }
    }
}

[CollectionDefinition(nameof(MatMulPathTests), DisableParallelization = true)]
public class MatMulPathCollection
{
}
