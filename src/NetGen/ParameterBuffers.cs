using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace NetGen;

/// <summary>
/// Which network a parameter buffer belongs to, so that an optimizer stepped directly with
/// <c>Step(net.Parameters, net.Gradients)</c> can tell one network from another of the same size.
/// Generated networks register their buffer when constructed; the registry holds both weakly.
/// A lookup compares references at the moment of the call (the garbage collector may move the
/// buffer between calls, never during one), allocates nothing and takes no lock.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ParameterBuffers
{
    private static readonly object Gate = new();
    private static Entry[] _entries = Array.Empty<Entry>();

    /// <summary>Records that <paramref name="buffer"/> holds <paramref name="owner"/>'s parameters (generated code calls this).</summary>
    public static void Register(float[] buffer, object owner)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(owner);
        lock (Gate)
        {
            // Copy on write, dropping the entries whose network is gone: readers see a whole array.
            Entry[] old = _entries;
            var next = new Entry[old.Length + 1];
            int count = 0;
            foreach (Entry e in old)
            {
                if (e.Buffer.TryGetTarget(out _) && e.Owner.TryGetTarget(out _))
                {
                    next[count++] = e;
                }
            }

            next[count++] = new Entry(new WeakReference<float[]>(buffer), new WeakReference<object>(owner));
            Array.Resize(ref next, count);
            Volatile.Write(ref _entries, next);
        }
    }

    /// <summary>The network whose registered buffer <paramref name="parameters"/> is (the whole buffer), or null.</summary>
    internal static object? OwnerOf(ReadOnlySpan<float> parameters, out float[]? registered)
    {
        registered = null;
        if (parameters.IsEmpty)
        {
            return null;
        }

        ref float start = ref MemoryMarshal.GetReference(parameters);
        foreach (Entry e in Volatile.Read(ref _entries))
        {
            if (e.Buffer.TryGetTarget(out float[]? buffer) && buffer.Length == parameters.Length &&
                Unsafe.AreSame(ref MemoryMarshal.GetArrayDataReference(buffer), ref start) &&
                e.Owner.TryGetTarget(out object? owner))
            {
                registered = buffer;
                return owner;
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="parameters"/> is exactly <paramref name="buffer"/>.</summary>
    internal static bool IsBuffer(ReadOnlySpan<float> parameters, float[] buffer) =>
        buffer.Length == parameters.Length && Unsafe.AreSame(ref MemoryMarshal.GetArrayDataReference(buffer), ref MemoryMarshal.GetReference(parameters));

    /// <summary>The network class's name for messages (a generated network's implementation is nested in it).</summary>
    internal static string NameOf(object owner) => owner.GetType().DeclaringType?.Name ?? owner.GetType().Name;

    private readonly record struct Entry(WeakReference<float[]> Buffer, WeakReference<object> Owner);
}
