using System.Globalization;
using System.Reflection;
using FashionMnist;
using NetGen;
using NetGen.Data;
using NetGen.IO;
using NetGen.Training;

// Trains a NetGen MLP on Fashion-MNIST and prints per-epoch progress.
//
//   dotnet run -c Release --project samples/FashionMnist [-- options]     (--help lists them)
//
// Data: --data DIR (IDX files, gzip'd or not), else /usr/share/datasets/fashion-mnist when
// present (Debian's dataset-fashion-mnist), else the subset embedded in this program.
var options = Options.Parse(args, out int exitCode);
if (options is null)
{
    return exitCode; // 0 after --help, 2 after a bad option
}

if (options.DataDirectory is { } folder && folder != Options.EmbeddedMarker && !Directory.Exists(folder))
{
    Console.Error.WriteLine($"error: --data {folder}: no such folder. It should hold the four Fashion-MNIST IDX files (train-images-idx3-ubyte.gz, ...); 'apt-get install dataset-fashion-mnist' puts them in /usr/share/datasets/fashion-mnist, or leave --data out to use the embedded subset.");
    return 2;
}

Dataset data = Dataset.Load(options.DataDirectory, options.Limit);
Console.WriteLine($"Fashion-MNIST from {data.Source}: {data.Train.Count:N0} training and {data.Test.Count:N0} test images");

ITrainableNetwork<int> net = options.Model switch
{
    "dropout" => new FashionMlpDropout(options.BatchSize, options.Seed),
    "batchnorm" => new FashionMlpBatchNorm(options.BatchSize, options.Seed),
    "cnn" => new FashionCnn(options.BatchSize, options.Seed),
    "resnet" => new FashionResNet(options.BatchSize, options.Seed),
    _ => new FashionMlp(options.BatchSize, options.Seed),
};
Console.WriteLine(net.Summary);

IOptimizer optimizer = options.Optimizer switch
{
    "momentum" => new Sgd(options.LearningRate, momentum: 0.9f, weightDecay: options.WeightDecay ?? 0f),
    "nesterov" => new Sgd(options.LearningRate, momentum: 0.9f, weightDecay: options.WeightDecay ?? 0f, nesterov: true),
    "adagrad" => new Adagrad(options.LearningRate, weightDecay: options.WeightDecay ?? 0f),
    "rmsprop" => new RmsProp(options.LearningRate, weightDecay: options.WeightDecay ?? 0f),
    "adam" => new Adam(options.LearningRate, weightDecay: options.WeightDecay ?? 0f),
    "adamw" => new AdamW(options.LearningRate, weightDecay: options.WeightDecay ?? 0.01f),
    _ => new Sgd(options.LearningRate, weightDecay: options.WeightDecay ?? 0f),
};

// Progress inside an epoch: a line rewritten in place on a terminal, plain lines every 10 s
// when the output goes to a file or a pipe.
bool live = !Console.IsOutputRedirected;
const int LineWidth = 96;
var trainer = new Trainer<int>(net, optimizer, new TrainerOptions
{
    BatchProgress = new SynchronousProgress<BatchReport>(r =>
    {
        string line = $"  epoch {r.Epoch}/{r.Epochs}: batch {r.Batch:N0}/{r.Batches:N0}, loss {r.TrainLoss:F4}, {r.SamplesPerSecond:N0} samples/s, {r.EpochRemaining.TotalSeconds:F0} s left in the epoch";
        if (live)
        {
            Console.Write("\r" + line.PadRight(LineWidth));
        }
        else if (r.Batch < r.Batches)
        {
            Console.WriteLine(line);
        }
    }),
    BatchProgressInterval = TimeSpan.FromSeconds(live ? 0.5 : 10),
    BatchSize = options.BatchSize,
    Epochs = options.Epochs,
    Seed = options.Seed,
    Threads = options.Threads,
    DropLast = options.Model is "batchnorm" or "cnn" or "resnet",
    Schedule = options.Cosine ? new CosineDecay(options.Epochs) : null,
    Augmentation = options.Augment ? new RandomFlipAndShift(channels: 1, height: 28, width: 28, maxShift: 2) : null,
});

Console.WriteLine($"{optimizer.GetType().Name} ({options.Optimizer}), learning rate {options.LearningRate.ToString(CultureInfo.InvariantCulture)}{(options.WeightDecay is { } wd ? $", weight decay {wd.ToString(CultureInfo.InvariantCulture)}" : string.Empty)}{(options.Cosine ? " with cosine decay" : string.Empty)}{(options.Augment ? ", random flips and shifts of up to 2 pixels" : string.Empty)}, batch {options.BatchSize}, {options.Epochs} epochs, seed {options.Seed}, {options.Threads} thread{(options.Threads == 1 ? "" : "s")}");
Console.WriteLine("epoch   loss    train acc  test loss  test acc  samples/s   elapsed");
IReadOnlyList<EpochReport> history = trainer.Fit(data.Train, data.Test, new SynchronousProgress<EpochReport>(r => Console.WriteLine(
    (live ? "\r" + new string(' ', LineWidth) + "\r" : string.Empty) +
    $"{r.Epoch,5}  {r.TrainLoss,7:F4}  {r.TrainAccuracy,9:P2}  {r.ValidationLoss,9:F4}  {r.ValidationAccuracy,8:P2}  {r.SamplesPerSecond,9:N0}  {r.Elapsed.TotalSeconds,7:F1}s")));

EpochReport last = history[^1];
if (options.SavePath is { } savePath)
{
    SafeTensors.Save(net, savePath, new Dictionary<string, string> { ["model"] = net.GetType().Name });
    Console.WriteLine($"Saved the parameters and state to {savePath} (safetensors).");
}

if (options.OnnxPath is { } onnxPath)
{
    Onnx.Save(net, onnxPath);
    Console.WriteLine($"Saved the model to {onnxPath} (ONNX opset 17: input float [batch, {string.Join(", ", net.InputShape)}], output class probabilities [batch, 10]).");
}

Console.WriteLine($"Test accuracy {last.ValidationAccuracy:P2} after {options.Epochs} epochs in {last.Elapsed.TotalSeconds:F1}s.");
PrintPerClassAccuracy(net, data.Test, options.BatchSize);
if (options.PlotPath is { } plot)
{
    Curves.Write(plot, history, $"{options.Model}, {options.Optimizer}, batch {options.BatchSize}: test accuracy {last.ValidationAccuracy:P2}");
    Console.WriteLine($"Wrote the training curves to {plot}.");
}
if (options.MinimumAccuracy is { } minimum && last.ValidationAccuracy < minimum)
{
    Console.Error.WriteLine($"Test accuracy {last.ValidationAccuracy:P2} is below the required {minimum:P2}.");
    return 1;
}

return 0;

// Which classes the network confuses: the test accuracy of each class, and what it is most often taken for.
static void PrintPerClassAccuracy(ITrainableNetwork<int> net, DataSet<int> test, int batch)
{
    string[] names = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };
    var confusion = new int[10, 10];
    var outputs = new float[batch * 10];
    for (int start = 0; start < test.Count; start += batch)
    {
        int n = Math.Min(batch, test.Count - start);
        net.Forward(test.Inputs.AsSpan(start * test.InputSize, n * test.InputSize), outputs.AsSpan(0, n * 10));
        for (int i = 0; i < n; i++)
        {
            confusion[test.Targets[start + i], System.Numerics.Tensors.TensorPrimitives.IndexOfMax(outputs.AsSpan(i * 10, 10))]++;
        }
    }

    Console.WriteLine("class          test accuracy  most often taken for");
    for (int c = 0; c < 10; c++)
    {
        int total = 0, worst = -1;
        for (int p = 0; p < 10; p++)
        {
            total += confusion[c, p];
            if (p != c && (worst < 0 || confusion[c, p] > confusion[c, worst]))
            {
                worst = p;
            }
        }

        Console.WriteLine($"{names[c],-13}  {(double)confusion[c, c] / Math.Max(total, 1),13:P1}  {names[worst]} ({confusion[c, worst]})");
    }
}

internal sealed record Options(
    string? DataDirectory, string Model, string Optimizer, int Epochs, int BatchSize, float LearningRate, bool Cosine, int Seed, int? Limit, double? MinimumAccuracy, string? SavePath, bool Augment, string? PlotPath, int Threads, float? WeightDecay, string? OnnxPath)
{
    public const string EmbeddedMarker = "<embedded>";

    private static readonly Dictionary<string, float> DefaultRates = new()
    {
        ["sgd"] = 0.1f, ["momentum"] = 0.01f, ["nesterov"] = 0.01f, ["adagrad"] = 0.01f, ["rmsprop"] = 0.0005f, ["adam"] = 0.001f, ["adamw"] = 0.001f,
    };

    private const string Usage = """
        Options:
          --data DIR          Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist
                              when present, else the embedded 10,000/2,000 subset)
          --embedded          use the embedded subset even when the full set is installed
          --model NAME        mlp (default), dropout, batchnorm, cnn, resnet
          --optimizer NAME    sgd (default; adam for cnn; nesterov, lr 0.1, weight decay 5e-4 for resnet),
                              momentum, nesterov, adagrad, rmsprop, adam, adamw
          --lr X              learning rate (default per optimizer: sgd 0.1, momentum and nesterov 0.01,
                              adagrad 0.01, rmsprop 0.0005, adam and adamw 0.001)
          --weight-decay X    the optimizer's weight decay (default 0; adamw 0.01): L2 added to the gradient,
                              decoupled for adamw, as PyTorch's weight_decay
          --schedule NAME     cosine (default: the rate decays to 0 over the run) or constant
          --epochs N          epochs (default 10)
          --batch N           mini-batch size (default 64)
          --seed N            seed for initialisation, dropout, shuffling and augmentation (default 1)
          --threads N         split each batch across N threads (default 1; the same N gives the same result)
          --augment           flip half of the training images and shift them by up to 2 pixels
          --limit N           train on the first N images only (quick runs)
          --min-accuracy X    exit with code 1 if the final test accuracy is below X (0-1)
          --save FILE         save the trained parameters and state (safetensors)
          --export-onnx FILE  save the trained model as ONNX (opset 17), for ONNX Runtime and other consumers
          --plot FILE         write the loss and accuracy curves as an SVG picture (default training.svg;
                              --plot none to skip)
        """;

    public static Options? Parse(string[] args, out int exitCode)
    {
        exitCode = 2;
        string? data = null;
        string model = "mlp";
        string? optimizer = null;
        int epochs = 10, batch = 64, seed = 1, threads = 1;
        float? lr = null, weightDecay = null;
        bool cosine = true;
        int? limit = null;
        double? minimum = null;
        string? save = null, onnx = null;
        bool augment = false;
        string? plot = "training.svg";
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                int Int() => int.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new FormatException($"{args[i - 1]} {args[i]}: not a whole number");
                float Float() => float.TryParse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : throw new FormatException($"{args[i - 1]} {args[i]}: not a number");
                switch (args[i])
                {
                    case "--data": data = Next(); break;
                    case "--embedded": data = EmbeddedMarker; break;
                    case "--model": model = Next(); break;
                    case "--optimizer": optimizer = Next(); break;
                    case "--epochs": epochs = Int(); break;
                    case "--batch": batch = Int(); break;
                    case "--lr": lr = Float(); break;
                    case "--weight-decay": weightDecay = Float(); break;
                    case "--schedule": cosine = Next() switch { "cosine" => true, "constant" => false, var other => throw new FormatException($"unknown schedule {other}") }; break;
                    case "--seed": seed = Int(); break;
                    case "--threads": threads = Int(); break;
                    case "--limit": limit = Int(); break;
                    case "--min-accuracy": minimum = Float(); break;
                    case "--save": save = Next(); break;
                    case "--export-onnx": onnx = Next(); break;
                    case "--augment": augment = true; break;
                    case "--plot": plot = Next() is "none" ? null : args[i]; break;
                    case "--help" or "-h": Console.WriteLine(Usage); exitCode = 0; return null;
                    default: throw new FormatException($"unknown option {args[i]}");
                }
            }

            if (model is not ("mlp" or "dropout" or "batchnorm" or "cnn" or "resnet"))
            {
                throw new FormatException($"unknown model {model}");
            }

            // The convolutional models train as their README figures did unless told otherwise: the
            // CNN with Adam; the ResNet with SGD, Nesterov momentum 0.9, rate 0.1 and weight decay
            // 5e-4 (the recipe of the ResNet paper's CIFAR runs; Adam reached about a point less).
            if (optimizer is null && model == "resnet")
            {
                optimizer = "nesterov";
                lr ??= 0.1f;
                weightDecay ??= 5e-4f;
            }

            optimizer ??= model is "cnn" ? "adam" : "sgd";
            if (!DefaultRates.ContainsKey(optimizer))
            {
                throw new FormatException($"unknown optimizer {optimizer}");
            }

            if (epochs <= 0 || batch <= 1 || lr <= 0 || limit <= 0 || weightDecay < 0)
            {
                throw new FormatException("epochs, lr and limit must be positive, batch at least 2 and weight decay not negative");
            }

            if (threads is < 1 or > Workers.MaxThreads)
            {
                throw new FormatException($"--threads {threads}: must lie in [1, {Workers.MaxThreads}]");
            }
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return null;
        }

        return new Options(data, model, optimizer!, epochs, batch, lr ?? DefaultRates[optimizer], cosine, seed, limit, minimum, save, augment, plot, threads, weightDecay, onnx);
    }
}

internal sealed class Dataset
{
    private const string DebianDirectory = "/usr/share/datasets/fashion-mnist";
    private const int ImageSize = 28 * 28;

    private Dataset(string source, DataSet<int> train, DataSet<int> test)
    {
        Source = source;
        Train = train;
        Test = test;
    }

    public string Source { get; }

    public DataSet<int> Train { get; }

    public DataSet<int> Test { get; }

    public static Dataset Load(string? directory, int? limit)
    {
        directory ??= Directory.Exists(DebianDirectory) ? DebianDirectory : null;
        if (directory == Options.EmbeddedMarker)
        {
            directory = null;
        }

        Func<string, IdxTensor> read = directory is null
            ? name => Idx.Read(Assembly.GetExecutingAssembly().GetManifestResourceStream("fashion-mnist/" + name + ".gz")!, name)
            : name => Idx.Read(Find(directory, name));
        IdxTensor trainImages = read("train-images-idx3-ubyte"), trainLabels = read("train-labels-idx1-ubyte");
        IdxTensor testImages = read("t10k-images-idx3-ubyte"), testLabels = read("t10k-labels-idx1-ubyte");
        if (trainImages.ItemSize != ImageSize || trainImages.Count != trainLabels.Count || testImages.Count != testLabels.Count)
        {
            throw new InvalidDataException("The images must be 28x28 and the label files must match the image files.");
        }

        var train = new DataSet<int>(Idx.ToUnitFloats(trainImages), Idx.ToLabels(trainLabels), ImageSize);
        if (limit is int n && n < train.Count)
        {
            train = train.Take(n);
        }

        return new Dataset(directory ?? "the embedded subset", train, new DataSet<int>(Idx.ToUnitFloats(testImages), Idx.ToLabels(testLabels), ImageSize));
    }

    private static string Find(string directory, string name)
    {
        foreach (string candidate in new[] { name + ".gz", name, name.Replace("-idx", ".idx", StringComparison.Ordinal) })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException($"{name}(.gz) not found in {directory}");
    }
}
