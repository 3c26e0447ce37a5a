using System.Collections.Generic;
using System.Globalization;
using System.IO;
using NetGen.IO;

namespace NetGen.Training;

// Checkpoints: the trainer's position after its last finished epoch, saved and restored with the
// network and the optimizer (NetGen.IO.Checkpoint).
public sealed partial class Trainer<TTarget>
{
    /// <summary>
    /// Saves a checkpoint to resume from (<see cref="LoadCheckpoint"/>): the network, the optimizer's
    /// state, and this trainer's position after its last finished epoch (order of the samples,
    /// random generators, steps). Call it between epochs: from the epoch progress callback, or
    /// after <see cref="Fit"/>.
    /// </summary>
    /// <param name="path">The file (safetensors), replaced atomically.</param>
    public void SaveCheckpoint(string path) => Checkpoint.Save(path, _network, _optimizer, new Part(this));

    /// <summary>
    /// Restores a checkpoint <see cref="SaveCheckpoint"/> wrote: the next <see cref="Fit"/> goes on
    /// with the epoch after the saved one and gives bitwise the run that never stopped (same
    /// options, data and thread count). The optimizer must be of the type, and have the settings,
    /// the run had.
    /// </summary>
    /// <param name="path">The checkpoint.</param>
    /// <exception cref="System.IO.InvalidDataException">Not a checkpoint of this network, optimizer and trainer; nothing changed.</exception>
    public void LoadCheckpoint(string path) => Checkpoint.Load(path, _network, _optimizer, new Part(this));

    // The trainer's share of a checkpoint: epochs done, steps, the two generators, the order.
    private sealed class Part(Trainer<TTarget> trainer) : CheckpointPart
    {
        private const string EpochsKey = "netgen.trainer.epochs", StepsKey = "netgen.trainer.steps", BaseRateKey = "netgen.trainer.base_rate",
            ShuffleKey = "netgen.trainer.shuffle", AugmentationKey = "netgen.trainer.augmentation", OrderName = "trainer.order";

        private (int[]? Order, uint[] Shuffle, uint[] Augmentation, int Epochs, long Steps, float BaseRate) _checked;

        public override void Save(SafeTensorsWriter writer, Dictionary<string, string> metadata)
        {
            int seed = trainer.Options.Seed;
            metadata[EpochsKey] = trainer.CompletedEpochs.ToString(CultureInfo.InvariantCulture);
            metadata[StepsKey] = trainer.Step.ToString(CultureInfo.InvariantCulture);
            metadata[BaseRateKey] = trainer._baseRate.ToString("R", CultureInfo.InvariantCulture);
            metadata[ShuffleKey] = Checkpoint.FormatState((trainer._random ?? new SeededRandom(seed)).GetState());
            metadata[AugmentationKey] = Checkpoint.FormatState((trainer._augmentationRandom ?? new SeededRandom(unchecked(seed ^ 0x0A06))).GetState());
            if (trainer._order is { } order)
            {
                writer.AddInt32s(OrderName, order);
            }
        }

        public override bool Owns(string tensor) => tensor == OrderName;

        public override void Check(SafeTensorsFile file)
        {
            long epochs = Checkpoint.Integer(file, EpochsKey);
            long steps = Checkpoint.Integer(file, StepsKey);
            uint[] shuffle = Checkpoint.State(file, ShuffleKey);
            uint[] augmentation = Checkpoint.State(file, AugmentationKey);
            int[]? order = file.ByName.TryGetValue(OrderName, out TensorEntry? entry) ? file.ReadInt32s(entry) : null;
            if (order is not null)
            {
                var seen = new bool[order.Length];
                foreach (int i in order)
                {
                    if ((uint)i >= (uint)order.Length || seen[i])
                    {
                        throw new InvalidDataException($"{file.Name}: '{OrderName}' is not an order of the samples (each index once).");
                    }

                    seen[i] = true;
                }
            }

            if (epochs > int.MaxValue)
            {
                throw new InvalidDataException($"{file.Name}: the checkpoint's '{EpochsKey}' is out of range.");
            }

            _checked = (order, shuffle, augmentation, (int)epochs, steps, Checkpoint.Rate(file, BaseRateKey));
        }

        public override void Apply(SafeTensorsFile file)
        {
            trainer._resume = (_checked.Order, _checked.Shuffle, _checked.Augmentation, _checked.Epochs);
            trainer.CompletedEpochs = _checked.Epochs;
            trainer.Step = _checked.Steps;
            trainer._baseRate = _checked.BaseRate;
        }
    }
}
