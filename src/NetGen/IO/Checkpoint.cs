using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace NetGen.IO;

/// <summary>
/// Checkpoints to resume training from: one safetensors file with the network's parameters and
/// state (under the names <see cref="SafeTensors"/> writes, so that the file also loads as a
/// plain model), the optimizer's state (<c>optimizer.exp_avg</c>, <c>optimizer.exp_avg_sq</c>...,
/// one value per parameter, and its step count and learning rate in the metadata), the position
/// of the network's <see cref="INetwork.RandomSource"/> and its <see cref="INetwork.BatchesTracked"/>.
/// Restoring all of them and going on gives bitwise the run that never stopped. The trainers add
/// their own position (<see cref="Training.Trainer{TTarget}.SaveCheckpoint"/>,
/// <see cref="Training.LanguageModelTrainer.SaveCheckpoint"/>).
/// </summary>
/// <remarks>
/// The optimizer is created by the caller with the settings it had (its type is checked; its
/// hyper-parameters and parameter groups are configuration, not state, and are not saved).
/// Loading checks everything before anything changes: a file for another network, another
/// optimizer type or other optimizer settings (AMSGrad on or off, momentum or none) is refused with
/// an <see cref="InvalidDataException"/> and nothing is loaded.
/// </remarks>
public static class Checkpoint
{
    internal const string OptimizerPrefix = "optimizer.", KindKey = "netgen.checkpoint";
    private const string OptimizerKey = "netgen.optimizer", StepsKey = "netgen.optimizer.steps",
        RateKey = "netgen.optimizer.learning_rate", RandomKey = "netgen.random", BatchesKey = "netgen.batches_tracked";

    /// <summary>Saves <paramref name="network"/> and <paramref name="optimizer"/>'s state to <paramref name="path"/>, atomically.</summary>
    /// <exception cref="ArgumentException"><paramref name="optimizer"/> is not one of NetGen's optimizers (<see cref="Optimizer"/>).</exception>
    /// <exception cref="InvalidOperationException"><paramref name="optimizer"/> is bound to another network.</exception>
    public static void Save(string path, INetwork network, IOptimizer optimizer) => Save(path, network, optimizer, null);

    /// <summary>Restores what <see cref="Save(string, INetwork, IOptimizer)"/> wrote into <paramref name="network"/> and <paramref name="optimizer"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a checkpoint of this network and optimizer, or is damaged; nothing was changed.</exception>
    public static void Load(string path, INetwork network, IOptimizer optimizer) => Load(path, network, optimizer, null);

    internal static void Save(string path, INetwork network, IOptimizer optimizer, CheckpointPart? part)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(network);
        Optimizer bound = Bound(network, optimizer);
        SafeTensorsWriter writer = SafeTensors.Writer(network, SafeTensorsDtype.F32);
        foreach (KeyValuePair<string, float[]> buffer in bound.StateBuffers)
        {
            float[] values = buffer.Value;
            writer.AddFloats(OptimizerPrefix + buffer.Key, new[] { values.Length }, values.Length, () => values, SafeTensorsDtype.F32);
        }

        Dictionary<string, string> metadata = SafeTensors.Metadata(network, null);
        metadata[KindKey] = "1";
        metadata[OptimizerKey] = Name(bound);
        metadata[StepsKey] = bound.StepCount.ToString(CultureInfo.InvariantCulture);
        metadata[RateKey] = bound.LearningRate.ToString("R", CultureInfo.InvariantCulture);
        metadata[RandomKey] = FormatState(network.RandomSource.GetState());
        metadata[BatchesKey] = network.BatchesTracked.ToString(CultureInfo.InvariantCulture);
        part?.Save(writer, metadata);
        SafeTensors.WriteAtomically(path, stream => writer.Write(stream, metadata));
    }

    internal static void Load(string path, INetwork network, IOptimizer optimizer, CheckpointPart? part)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(network);
        Optimizer bound = Bound(network, optimizer);
        SafeTensorsFile file;
        using (FileStream stream = File.OpenRead(path))
        {
            file = SafeTensorsFile.Read(stream, path);
        }

        // Everything checked first: the network, the optimizer's type and buffers, the metadata.
        if (!file.Metadata.ContainsKey(KindKey))
        {
            throw new InvalidDataException($"{path}: not a NetGen checkpoint (it has no optimizer state); SafeTensors.Load reads its parameters.");
        }

        string savedWith = Text(file, OptimizerKey);
        if (savedWith != Name(bound))
        {
            throw new InvalidDataException($"{path}: the checkpoint holds the state of {savedWith}; this optimizer is {Name(bound)}. Resume with the optimizer the run used.");
        }

        long? counters = SafeTensors.CheckNetwork(network, file, name => name.StartsWith(OptimizerPrefix, StringComparison.Ordinal) || part?.Owns(name) == true);
        var buffers = bound.StateBuffers.ToList();
        var entries = new List<TensorEntry>(buffers.Count);
        foreach (KeyValuePair<string, float[]> buffer in buffers)
        {
            if (!file.ByName.TryGetValue(OptimizerPrefix + buffer.Key, out TensorEntry? entry))
            {
                throw new InvalidDataException($"{path}: the optimizer's '{buffer.Key}' is missing: the run used other settings (for example without momentum or AMSGrad).");
            }

            if (entry.Dtype != "F32" || entry.Shape.Length != 1 || entry.Shape[0] != buffer.Value.Length)
            {
                throw new InvalidDataException($"{path}: the optimizer's '{buffer.Key}' is {entry.Dtype} ({string.Join(", ", entry.Shape)}); this optimizer keeps F32 ({buffer.Value.Length}).");
            }

            entries.Add(entry);
        }

        foreach (TensorEntry entry in file.Entries)
        {
            if (entry.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal) && !buffers.Any(b => OptimizerPrefix + b.Key == entry.Name))
            {
                throw new InvalidDataException($"{path}: the checkpoint holds optimizer state '{entry.Name[OptimizerPrefix.Length..]}' that this optimizer does not keep: the run used other settings.");
            }
        }

        long steps = Integer(file, StepsKey);
        float rate = Rate(file, RateKey);
        uint[] random = State(file, RandomKey);
        long batches = Integer(file, BatchesKey);
        part?.Check(file);

        // Then everything applied.
        SafeTensors.LoadChecked(network, file, counters);
        for (int i = 0; i < buffers.Count; i++)
        {
            file.ReadFloats(entries[i], buffers[i].Value);
        }

        bound.RestoreStepCount(steps);
        bound.LearningRate = rate;
        network.RandomSource.SetState(random);
        network.BatchesTracked = batches;
        part?.Apply(file);
    }

    internal static string FormatState(uint[] state) => string.Join(",", state.Select(s => s.ToString("x8", CultureInfo.InvariantCulture)));

    internal static uint[] State(SafeTensorsFile file, string key)
    {
        string[] parts = Text(file, key).Split(',');
        var state = new uint[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!uint.TryParse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out state[i]))
            {
                throw Bad(file, key);
            }
        }

        return state.Length == 4 && state.Any(s => s != 0) ? state : throw Bad(file, key);
    }

    internal static float Rate(SafeTensorsFile file, string key) =>
        float.TryParse(Text(file, key), NumberStyles.Float, CultureInfo.InvariantCulture, out float rate) && rate >= 0 && float.IsFinite(rate) ? rate : throw Bad(file, key);

    internal static long Integer(SafeTensorsFile file, string key) =>
        long.TryParse(Text(file, key), NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : throw Bad(file, key);

    internal static string Text(SafeTensorsFile file, string key) =>
        file.Metadata.TryGetValue(key, out string? value) ? value : throw new InvalidDataException($"{file.Name}: the checkpoint's metadata has no '{key}'.");

    private static InvalidDataException Bad(SafeTensorsFile file, string key) =>
        new($"{file.Name}: the checkpoint's '{key}' ('{file.Metadata[key]}') is not valid.");

    private static string Name(Optimizer optimizer) => optimizer.GetType().FullName ?? optimizer.GetType().Name;

    private static Optimizer Bound(INetwork network, IOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (optimizer is not Optimizer bound)
        {
            throw new ArgumentException($"A checkpoint saves the state of NetGen's optimizers (classes derived from Optimizer); {optimizer.GetType().Name} is not one.", nameof(optimizer));
        }

        bound.Bind(network); // refuses an optimizer bound to another network; allocates its state once
        return bound;
    }
}

/// <summary>What a trainer adds to a checkpoint: its position in the run, checked with the rest before anything is restored.</summary>
internal abstract class CheckpointPart
{
    /// <summary>Adds the trainer's tensors and metadata.</summary>
    public abstract void Save(SafeTensorsWriter writer, Dictionary<string, string> metadata);

    /// <summary>Whether a tensor of the file is the trainer's.</summary>
    public abstract bool Owns(string tensor);

    /// <summary>Checks the trainer's part of the file; throws <see cref="InvalidDataException"/>, changing nothing.</summary>
    public abstract void Check(SafeTensorsFile file);

    /// <summary>Restores the checked part.</summary>
    public abstract void Apply(SafeTensorsFile file);
}
