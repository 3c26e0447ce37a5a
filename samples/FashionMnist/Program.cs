using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Reflection;
using FashionMnist;
using NetGen;
using NetGen.Data;

// Trains a NetGen MLP on Fashion-MNIST and prints per-epoch progress.
//
//   dotnet run -c Release --project samples/FashionMnist [-- options]
//
// Data: --data DIR (IDX files, gzip'd or not), else /usr/share/datasets/fashion-mnist when
// present (Debian's dataset-fashion-mnist), else the subset embedded in this program.
var options = Options.Parse(args);
if (options is null)
{
    return 2;
}

Dataset data = Dataset.Load(options.DataDirectory, options.Limit);
Console.WriteLine($"Fashion-MNIST from {data.Source}: {data.TrainCount:N0} training and {data.TestCount:N0} test images");
Console.WriteLine(FashionMlp.Summary);

var net = new FashionMlp(maxBatchSize: Math.Max(options.BatchSize, Dataset.EvalBatch), seed: options.Seed);
var sgd = new Sgd(options.LearningRate);
var random = new SeededRandom(options.Seed);
int[] order = Enumerable.Range(0, data.TrainCount).ToArray();
var inputs = new float[options.BatchSize * FashionMlp.InputSize];
var labels = new int[options.BatchSize];
var total = Stopwatch.StartNew();
double testAccuracy = 0;

Console.WriteLine($"SGD, learning rate {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize}, {options.Epochs} epochs, seed {options.Seed}");
Console.WriteLine("epoch   loss    train acc  test acc  samples/s   elapsed");
for (int epoch = 1; epoch <= options.Epochs; epoch++)
{
    random.Shuffle(order);
    var clock = Stopwatch.StartNew();
    double lossSum = 0;
    int batches = 0;
    for (int start = 0; start + options.BatchSize <= order.Length; start += options.BatchSize)
    {
        for (int i = 0; i < options.BatchSize; i++)
        {
            int sample = order[start + i];
            data.TrainImages.AsSpan(sample * FashionMlp.InputSize, FashionMlp.InputSize).CopyTo(inputs.AsSpan(i * FashionMlp.InputSize));
            labels[i] = data.TrainLabels[sample];
        }

        lossSum += net.TrainStep(inputs, labels, sgd);
        batches++;
    }

    double seconds = clock.Elapsed.TotalSeconds;
    double trainAccuracy = Dataset.Accuracy(net, data.TrainImages, data.TrainLabels);
    testAccuracy = Dataset.Accuracy(net, data.TestImages, data.TestLabels);
    Console.WriteLine(
        $"{epoch,5}  {lossSum / batches,7:F4}  {trainAccuracy,9:P2}  {testAccuracy,8:P2}  {batches * options.BatchSize / seconds,9:N0}  {total.Elapsed.TotalSeconds,7:F1}s");
}

Console.WriteLine($"Test accuracy {testAccuracy:P2} after {options.Epochs} epochs in {total.Elapsed.TotalSeconds:F1}s.");
if (options.MinimumAccuracy is { } minimum && testAccuracy < minimum)
{
    Console.Error.WriteLine($"Test accuracy {testAccuracy:P2} is below the required {minimum:P2}.");
    return 1;
}

return 0;

internal sealed record Options(string? DataDirectory, int Epochs, int BatchSize, float LearningRate, int Seed, int? Limit, double? MinimumAccuracy)
{
    public const string EmbeddedMarker = "<embedded>";

    private const string Usage = """
        Options:
          --data DIR          Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist
                              when present, else the embedded 10,000/2,000 subset)
          --embedded          use the embedded subset even when the full set is installed
          --epochs N          epochs (default 10)
          --batch N           mini-batch size (default 64)
          --lr X              SGD learning rate (default 0.1)
          --seed N            seed for initialisation and shuffling (default 1)
          --limit N           train on the first N images only (quick runs)
          --min-accuracy X    exit with code 1 if the final test accuracy is below X (0-1)
        """;

    public static Options? Parse(string[] args)
    {
        string? data = null;
        int epochs = 10, batch = 64, seed = 1;
        float lr = 0.1f;
        int? limit = null;
        double? minimum = null;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--data": data = Next(); break;
                    case "--embedded": data = EmbeddedMarker; break;
                    case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--lr": lr = float.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--limit": limit = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--min-accuracy": minimum = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--help" or "-h": Console.WriteLine(Usage); return null;
                    default: throw new FormatException($"unknown option {args[i]}");
                }
            }

            if (epochs <= 0 || batch <= 0 || !(lr > 0) || limit <= 0)
            {
                throw new FormatException("epochs, batch, lr and limit must be positive");
            }
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return null;
        }

        return new Options(data, epochs, batch, lr, seed, limit, minimum);
    }
}

internal sealed class Dataset
{
    public const int EvalBatch = 256;
    private const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    private Dataset(string source, float[] trainImages, int[] trainLabels, float[] testImages, int[] testLabels)
    {
        Source = source;
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
    }

    public string Source { get; }

    public float[] TrainImages { get; }

    public int[] TrainLabels { get; }

    public float[] TestImages { get; }

    public int[] TestLabels { get; }

    public int TrainCount => TrainLabels.Length;

    public int TestCount => TestLabels.Length;

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
        if (trainImages.ItemSize != FashionMlp.InputSize || trainImages.Count != trainLabels.Count || testImages.Count != testLabels.Count)
        {
            throw new InvalidDataException("The images must be 28x28 and the label files must match the image files.");
        }

        float[] trainX = Idx.ToUnitFloats(trainImages);
        int[] trainY = Idx.ToLabels(trainLabels);
        if (limit is int n && n < trainY.Length)
        {
            trainX = trainX.AsSpan(0, n * FashionMlp.InputSize).ToArray();
            trainY = trainY.AsSpan(0, n).ToArray();
        }

        return new Dataset(directory ?? "the embedded subset", trainX, trainY, Idx.ToUnitFloats(testImages), Idx.ToLabels(testLabels));
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

    public static double Accuracy(FashionMlp net, float[] images, int[] labels)
    {
        var probabilities = new float[EvalBatch * FashionMlp.OutputSize];
        int correct = 0;
        for (int start = 0; start < labels.Length; start += EvalBatch)
        {
            int n = Math.Min(EvalBatch, labels.Length - start);
            net.Forward(images.AsSpan(start * FashionMlp.InputSize, n * FashionMlp.InputSize), probabilities.AsSpan(0, n * FashionMlp.OutputSize));
            for (int i = 0; i < n; i++)
            {
                if (TensorPrimitives.IndexOfMax(probabilities.AsSpan(i * FashionMlp.OutputSize, FashionMlp.OutputSize)) == labels[start + i])
                {
                    correct++;
                }
            }
        }

        return (double)correct / labels.Length;
    }
}
