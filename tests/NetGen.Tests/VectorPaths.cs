namespace NetGen.Tests;

/// <summary>
/// Runs a check on each of the kernels' paths in turn: 512-bit vectors (where accelerated), 256-bit
/// vectors, scalar, through MatMul's process-wide switches, restored afterwards. Only for tests in
/// MatMul's collection, which runs alone.
/// </summary>
internal static class VectorPaths
{
    private static readonly (bool Vectors, bool Wide)[] Paths = { (true, true), (true, false), (false, false) };

    public static void ForEach(Action<string> check)
    {
        bool saved = MatMul.UseVectors, saved512 = MatMul.Use512;
        try
        {
            foreach ((bool vectors, bool wide) in Paths)
            {
                MatMul.UseVectors = vectors && saved;
                MatMul.Use512 = wide && saved512;
                check($"(vectors {vectors}, 512 {wide})");
            }
        }
        finally
        {
            MatMul.UseVectors = saved;
            MatMul.Use512 = saved512;
        }
    }
}
