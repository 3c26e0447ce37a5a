using System.Reflection;

namespace NetGen.Tests;

/// <summary>
/// The kernels' path switches (MatMul.UseVectors, ConvKernels.ImplicitProducts...) are process-wide: a test that sets
/// one while others run makes them compute on another path, and tests that compare runs bit for bit see them differ
/// (the 2x2 pooling test did so from ConvTests for a week: the likely cause of the tiny GPT's one failed run-to-run
/// comparison).
/// Every method that sets a static property of NetGen's, or calls VectorPaths.ForEach, must belong to a class in
/// MatMul's collection, which runs alone.
/// </summary>
public class TestIsolationTests
{
    [Fact]
    public void Every_test_that_switches_a_kernel_path_is_in_the_collection_that_runs_alone()
    {
        Assembly netgen = typeof(MatMul).Assembly;
        MethodInfo forEach = typeof(VectorPaths).GetMethod(nameof(VectorPaths.ForEach))!;
        var setters = new List<string>();
        var outside = new List<string>();
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (Type type in typeof(TestIsolationTests).Assembly.GetTypes().Where(t => t != typeof(VectorPaths))) // it checks its callers
        {
            foreach (MethodBase method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                foreach (MethodBase called in Calls(method))
                {
                    bool switches = called == forEach || (called.IsStatic && called.IsSpecialName && called.Name.StartsWith("set_", StringComparison.Ordinal) && called.DeclaringType?.Assembly == netgen);
                    if (!switches)
                    {
                        continue;
                    }

                    setters.Add($"{type.Name}.{method.Name}: {called.DeclaringType!.Name}.{called.Name}");
                    if (!InCollection(type))
                    {
                        outside.Add($"{type.FullName}.{method.Name} calls {called.DeclaringType!.Name}.{called.Name}");
                    }
                }
            }
        }

        Assert.NotEmpty(setters); // the scan finds the switches the path tests set
        Assert.Empty(outside);
    }

    // The class, or the class a lambda's closure or iterator is nested in, carries [Collection(nameof(MatMulPathTests))].
    private static bool InCollection(Type? type)
    {
        for (; type is not null; type = type.DeclaringType)
        {
            if (type.GetCustomAttributesData().Any(a => a.AttributeType == typeof(CollectionAttribute) && Equals(a.ConstructorArguments[0].Value, nameof(MatMulPathTests))))
            {
                return true;
            }
        }

        return false;
    }

    // The methods a method's IL calls (call and callvirt, opcodes 0x28 and 0x6F, each followed by a 4-byte token),
    // found by reading every byte as a possible opcode: a byte of an operand that reads as one resolves to another
    // method or to none, so a call may be listed that is not there, never one missed.
    private static IEnumerable<MethodBase> Calls(MethodBase method)
    {
        byte[]? il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }

        for (int i = 0; i + 4 < il.Length; i++)
        {
            if (il[i] != 0x28 && il[i] != 0x6F)
            {
                continue;
            }

            MethodBase? called = null;
            try
            {
                called = method.Module.ResolveMethod(BitConverter.ToInt32(il, i + 1), method.DeclaringType?.GetGenericArguments(), method.IsGenericMethod ? method.GetGenericArguments() : null);
            }
            catch (ArgumentException)
            {
            }

            if (called is not null)
            {
                yield return called;
            }
        }
    }
}
