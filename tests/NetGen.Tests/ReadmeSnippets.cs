// Every ```csharp block of README.md, compiled: ReadmeTests checks that each block's lines are
// lines of this file, in order. Where a block uses values it does not declare (images, net),
// they are the parameters of the method around it.
using NetGen;
using NetGen.Data;
using NetGen.IO;
using NetGen.Training;

#pragma warning disable SA1402, SA1649, CA1812 // several small types, as the README shows them

namespace NetGen.Tests.Readme
{
    // --- The opening example.
    [Network]
    [Input(784)]
    [Dense(128, Activation = Activation.ReLU)]
    [Dense(10)]
    [SoftmaxCrossEntropy]
    public partial class FashionMlp;

    public static class Opening
    {
        public static void Use(float[] images, int[] labels, float[] probabilities)
        {
            var net = new FashionMlp(maxBatchSize: 64, seed: 1);   // every buffer allocated here, once
            float loss = net.TrainStep(images, labels, new Sgd(learningRate: 0.05f)); // forward, loss, backward, update
            net.Forward(images, probabilities);                    // inference; batch = images.Length / 784
            _ = loss;
        }
    }

    // --- Use NetGen in your project.
    [Network]
    [Input(784)]
    [Dense(128, Activation = Activation.ReLU)]
    [Dense(10)]
    [SoftmaxCrossEntropy]
    public partial class Classifier;

    // Program.cs: FashionDemo.Run(args.Length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist");
    public static class FashionDemo
    {
        public static void Run(string folder)
        {
            DataSet<int> Load(string images, string labels) => new(
                Idx.ToUnitFloats(Idx.Read(Path.Combine(folder, images))), // bytes to [0, 1]
                Idx.ToLabels(Idx.Read(Path.Combine(folder, labels))),
                Classifier.InputSize);
            DataSet<int> train = Load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
            DataSet<int> test = Load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");

            var net = new Classifier(maxBatchSize: 64, seed: 1);
            var trainer = new Trainer<int>(net, new Adam(1e-3f), new TrainerOptions { BatchSize = 64, Epochs = 5 });
            trainer.Fit(train, test, new SynchronousProgress<EpochReport>(r =>
                Console.WriteLine($"epoch {r.Epoch}: loss {r.TrainLoss:F4}, test accuracy {r.ValidationAccuracy:P2}")));
            Console.WriteLine($"test accuracy {trainer.Evaluate(test).Accuracy:P2}");
            SafeTensors.Save(net, "classifier.safetensors");
        }
    }

    // --- Blocks and residual networks.
    [Block]
    [Conv2D(32, 3, Stride = 2, PaddingPixels = 1, UseBias = false, Name = "conv1")]
    [BatchNorm(Name = "bn1")] [ReLU(Name = "relu")]
    [Conv2D(32, 3, PaddingPixels = 1, UseBias = false, Name = "conv2")]
    [BatchNorm(Name = "bn2")]
    public partial class BasicBlock32Down;                  // torchvision's BasicBlock, stride 2

    [Block]
    [Conv2D(32, 1, Stride = 2, UseBias = false, Name = "0")] [BatchNorm(Name = "1")]
    public partial class Downsample32;                      // torchvision's downsample

    [Network]
    [Input(16, 14, 14)]
    [Residual(typeof(BasicBlock32Down), Projection = typeof(Downsample32), Name = "layer2.0")]
    [ReLU]
    [GlobalAveragePool] [Dense(10)] [SoftmaxCrossEntropy]
    public partial class Net;   // parameters: layer2.0.conv1.weight, ..., layer2.0.downsample.0.weight, ...

    // --- Sequences, the Transformer and a small GPT.
    [Block] [LayerNorm(Name = "ln_1")] [MultiHeadAttention(4, Name = "attn", InitStd = 0.02, OutputInitStd = 0.00707)]
    public partial class Attention;

    [Block] [LayerNorm(Name = "ln_2")] [Dense(512, Activation = Activation.GeluExact, Name = "mlp.c_fc", InitStd = 0.02)]
    [Dense(128, Name = "mlp.c_proj", InitStd = 0.00707)]
    public partial class Mlp;

    [Block] [Residual(typeof(Attention), Name = "")] [Residual(typeof(Mlp), Name = "")]
    public partial class DecoderBlock;

    [Network]
    [Input(64, Kind = InputKind.Tokens)]
    [Embedding(6768, 128, Name = "transformer.wte", InitStd = 0.02)]
    [PositionalEmbedding(Name = "transformer.wpe", InitStd = 0.02)]
    [Repeat(typeof(DecoderBlock), 4, Name = "transformer.h")]
    [LayerNorm(Name = "transformer.ln_f")]
    [Dense(6768, UseBias = false, TiedTo = "transformer.wte", Name = "lm_head")]
    [SoftmaxCrossEntropy]
    public partial class TangPoet;

    // --- Training loop.
    public static class TrainingLoop
    {
        public static IReadOnlyList<EpochReport> Use(ITrainableNetwork<int> net, DataSet<int> train, DataSet<int> validation)
        {
            var trainer = new Trainer<int>(net, new Adam(1e-3f), new TrainerOptions
            {
                BatchSize = 64, Epochs = 10, Seed = 1,            // seeded shuffling: a run is reproducible
                Schedule = new LinearWarmup(500, new CosineDecay(10)), // or StepDecay(everyEpochs, gamma)
                MaxGradientNorm = 1f,                              // clip by global norm, as clip_grad_norm_
                Augmentation = new RandomFlipAndShift(1, 28, 28),  // optional: random flips and shifts of training images
            });
            var history = trainer.Fit(train, validation, new SynchronousProgress<EpochReport>(Console.WriteLine));
            return history;
        }
    }
}
