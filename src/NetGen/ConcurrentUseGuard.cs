using System;
using System.ComponentModel;
using System.Threading;

namespace NetGen;

/// <summary>
/// Makes concurrent use of one network loud: a network owns its activations, so two threads in it
/// at once would overwrite each other's and return wrong results. Each public method of a
/// generated network enters the guard (one interlocked exchange, no lock) and a second thread
/// that enters while the first is inside gets an <see cref="InvalidOperationException"/>.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ConcurrentUseGuard
{
    private int _busy;
    private string? _method;

    /// <summary>Enters <paramref name="method"/>, or throws when another call is inside; dispose the result to leave.</summary>
    /// <param name="method">The public method being entered, for the message.</param>
    /// <param name="network">The network's class name, for the message.</param>
    /// <returns>The scope of the call (a struct: <c>using</c> it allocates nothing).</returns>
    public Scope Enter(string method, string network)
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            throw new InvalidOperationException(
                $"{network}.{method} was called while {_method ?? "another call"} is running on this network on another thread. " +
                "A network is not thread-safe: its activations are its own. Use one network per thread, or CreateInferenceContext() " +
                "for concurrent inference on shared parameters.");
        }

        _method = method;
        return new Scope(this);
    }

    private void Exit()
    {
        _method = null;
        Volatile.Write(ref _busy, 0);
    }

    /// <summary>One call inside the guard; disposing it leaves.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly ConcurrentUseGuard _guard;

        internal Scope(ConcurrentUseGuard guard) => _guard = guard;

        /// <summary>Leaves the guard.</summary>
        public void Dispose() => _guard.Exit();
    }
}
