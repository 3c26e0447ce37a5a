namespace NetGen.Tests;

/// <summary>
/// Runs a check on each of the kernels' paths in turn: 512-bit vectors (where accelerated), 256-bit
/// vectors, scalar, through MatMul's process-wide switches, restored afterwards. Only for tests in
/// MatMul's collection, which runs alone.
/// </summary>
internal static class VectorPaths
{
    private static readonly (bool Vectors, bool Wide)[] Paths = { (true, true), (true, false), (false, false) };

    public static void ForEach(object test, Action<string> check)
    {
        CheckCollection(test);
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

    /// <summary>
    /// Refuses a test class outside MatMul's collection: a test that ran beside the others while it switched the
    /// paths (ConvTests' 2x2 pooling test did, from 2026-11-29 to 2026-12-06) made them compute part of their work
    /// on another path, where a test that compares two runs bit for bit would see them differ (the likely cause of
    /// the tiny GPT's one failed comparison, which 19 full runs did not repeat). The class is given, not found on
    /// the stack: a test method may be inlined into xUnit's invocation stub.
    /// </summary>
    private static void CheckCollection(object test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (!test.GetType().GetCustomAttributesData().Any(a => a.AttributeType == typeof(CollectionAttribute) && Equals(a.ConstructorArguments[0].Value, nameof(MatMulPathTests))))
        {
            throw new InvalidOperationException($"VectorPaths switches MatMul's paths for the whole process: {test.GetType().Name} must be in MatMul's collection ([Collection(nameof(MatMulPathTests))]), which runs alone.");
        }
    }
}
