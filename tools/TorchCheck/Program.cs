// NetGen's Tang-poem GPT (samples/TangGpt) against nanoGPT's GPT written in TorchSharp, that is in
// libtorch, PyTorch's own C++ engine, with nanoGPT's modules and names (model.py: transformer.wte,
// transformer.wpe, transformer.h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj},
// transformer.ln_f, lm_head tied to wte). Four checks, each failing the run (exit code 1) past its
// bound:
//   1. NetGen's safetensors checkpoint loads into the libtorch model with load_state_dict(strict);
//   2. both give the same next-character probabilities on random tokens;
//   3. the same loss and the same gradient for every parameter (libtorch's autograd against
//      NetGen's generated backward pass);
//   4. back: after an AdamW step in libtorch, its state_dict written as safetensors loads into NetGen
//      (SafeTensors.Load), and both give the same probabilities again;
//   5. the sample CNN without dropout (Cnn.cs) likewise: checkpoint, training loss and gradients,
//      running statistics, inference.
// Run: tools/TorchCheck/run.sh (see README.md there for why it needs a newer libstdc++ on Debian 12).
using System.Globalization;
using System.Text;
using System.Text.Json;
using NetGen;
using NetGen.IO;
using TangGpt;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

const int Batch = 2, T = TangPoet.InputSize, V = TangPoet.Vocabulary, D = 128, Heads = 4, Layers = 4;
torch.set_num_threads(1);
var random = new Random(11);
int[] tokens = Enumerable.Range(0, Batch * T).Select(_ => random.Next(V)).ToArray();
int[] targets = Enumerable.Range(0, Batch * T).Select(_ => random.Next(V)).ToArray();
int failures = 0;

void Check(string what, double value, double bound, bool atLeast = false)
{
    bool ok = atLeast ? value >= bound : value <= bound;
    failures += ok ? 0 : 1;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(ok ? "ok  " : "FAIL")} {what}: {value:G3} ({(atLeast ? "at least" : "at most")} {bound:G3})"));
}

var net = new TangPoet(Batch, seed: 7);
string dir = Path.Combine(Path.GetTempPath(), "netgen-torchcheck");
Directory.CreateDirectory(dir);
string fromNetGen = Path.Combine(dir, "netgen.safetensors");
SafeTensors.Save(net, fromNetGen);

// 1. load_state_dict, strict: every name and shape must match, none missing or unexpected.
var gpt = new Gpt(V, T, D, Heads, Layers);
Dictionary<string, Tensor> state = ReadSafeTensors(fromNetGen);
var (missing, unexpected) = gpt.load_state_dict(state, strict: true);
Console.WriteLine($"load_state_dict(strict): {state.Count} tensors from NetGen's checkpoint, {missing.Count} missing, {unexpected.Count} unexpected");
Check("missing or unexpected names", missing.Count + unexpected.Count, 0);

// 2. probabilities.
float[] Probabilities()
{
    var outputs = new float[Batch * T * V];
    net.Forward(tokens, outputs);
    return outputs;
}

Tensor idx = torch.tensor(tokens.Select(t => (long)t).ToArray(), new long[] { Batch, T });
Tensor tgt = torch.tensor(targets.Select(t => (long)t).ToArray(), new long[] { Batch * T });
gpt.eval();
float[] torchProbabilities = torch.nn.functional.softmax(gpt.forward(idx), -1).data<float>().ToArray();
Check("log-probabilities, largest difference", MaxLogDifference(Probabilities(), torchProbabilities), 1e-5);

// 3. loss and gradients.
float loss = net.ComputeGradients(tokens, targets);
gpt.zero_grad();
Tensor torchLoss = torch.nn.functional.cross_entropy(gpt.forward(idx).view(-1, V), tgt);
torchLoss.backward();
Check("loss, relative difference", Math.Abs(loss - torchLoss.item<float>()) / Math.Abs(torchLoss.item<float>()), 1e-6);
(double worst, string worstName) = WorstGradient(gpt, net);
Check($"gradients, largest difference over the tensor's largest value (worst: {worstName})", worst, 1e-4);

// 4. back: one AdamW step in libtorch, its state_dict written as safetensors and loaded by NetGen.
var optimizer = torch.optim.AdamW(gpt.parameters(), lr: 0.01, weight_decay: 0.1);
optimizer.step();
string fromTorch = Path.Combine(dir, "torch.safetensors");
WriteSafeTensors(fromTorch, gpt.state_dict());
SafeTensors.Load(net, fromTorch);
float[] after = torch.nn.functional.softmax(gpt.forward(idx), -1).data<float>().ToArray();
Check("the step changed the model (largest log-probability change)", MaxLogDifference(after, torchProbabilities), 1e-2, atLeast: true);
Check("log-probabilities after loading libtorch's state_dict, largest difference", MaxLogDifference(Probabilities(), after), 1e-5);

// 5. The sample CNN without dropout (BatchNorm with its ReLU fused, convolutions, max pooling):
// NetGen's checkpoint into libtorch, a training step's loss and gradients with batch statistics,
// the running statistics it leaves, and inference with them.
{
    const int Images = 16;
    var cnn = new CheckedCnn(Images, seed: 5);
    float[] pixels = Enumerable.Range(0, Images * 784).Select(_ => (float)random.NextDouble()).ToArray();
    int[] labels = Enumerable.Range(0, Images).Select(_ => random.Next(10)).ToArray();
    string cnnFile = Path.Combine(dir, "cnn.safetensors");
    SafeTensors.Save(cnn, cnnFile);
    var torchCnn = new TorchCnn();
    Dictionary<string, Tensor> cnnState = ReadSafeTensors(cnnFile);
    var (cnnMissing, cnnUnexpected) = torchCnn.load_state_dict(cnnState, strict: true);
    Check($"CNN: load_state_dict(strict), {cnnState.Count} tensors: missing or unexpected names", cnnMissing.Count + cnnUnexpected.Count, 0);
    Tensor images = torch.tensor(pixels, new long[] { Images, 1, 28, 28 });
    Tensor classes = torch.tensor(labels.Select(l => (long)l).ToArray(), new long[] { Images });
    torchCnn.train();
    Tensor cnnLoss = torch.nn.functional.cross_entropy(torchCnn.forward(images), classes);
    cnnLoss.backward();
    float netLoss = cnn.ComputeGradients(pixels, labels);
    Check("CNN: training loss, relative difference", Math.Abs(netLoss - cnnLoss.item<float>()) / cnnLoss.item<float>(), 1e-6);
    (double cnnWorst, string cnnWorstName) = WorstGradient(torchCnn, cnn);
    Check($"CNN: gradients, largest difference over the tensor's largest value (worst: {cnnWorstName})", cnnWorst, 1e-4);
    double stateWorst = 0;
    foreach ((string name, Tensor buffer) in torchCnn.named_buffers().Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal) || b.name.EndsWith("running_var", StringComparison.Ordinal)))
    {
        ParameterInfo info = cnn.StateLayout.Single(i => i.Name == name);
        stateWorst = Math.Max(stateWorst, MaxDifference(cnn.State.Slice(info.Offset, info.Length).ToArray(), buffer.data<float>().ToArray()));
    }

    Check("CNN: running statistics after the training pass, largest difference", stateWorst, 1e-5);
    torchCnn.eval();
    float[] torchOut = torch.nn.functional.softmax(torchCnn.forward(images), -1).data<float>().ToArray();
    var cnnOut = new float[Images * 10];
    cnn.Forward(pixels, cnnOut);
    Check("CNN: inference log-probabilities with the running statistics, largest difference", MaxLogDifference(cnnOut, torchOut), 1e-5);
}

Console.WriteLine(failures == 0 ? "All checks passed." : $"{failures} check(s) failed.");
if (args.Contains("--speed"))
{
    Speed();
}

return failures == 0 ? 0 : 1;

// Training steps of the sample's configuration (batch 12 x 64 tokens, AdamW) in libtorch and in
// NetGen, one thread each, interleaved step by step so that a shared machine's slow spells fall on
// both; then generation: libtorch recomputing the whole context for every token (as nanoGPT's
// generate does) against NetGen's cached step.
static void Speed()
{
    const int B = 12;
    var random = new Random(5);
    int[] x = Enumerable.Range(0, B * T).Select(_ => random.Next(V)).ToArray();
    int[] y = Enumerable.Range(0, B * T).Select(_ => random.Next(V)).ToArray();
    var net = new TangPoet(B, seed: 3);
    var adamw = new NetGen.AdamW(1e-3f, beta2: 0.99f, weightDecay: 0.1f);
    adamw.SetGroups(ParameterGroup.DecayMatricesOnly(net.ParameterLayout, 0.1f));
    var gpt = new Gpt(V, T, D, Heads, Layers);
    gpt.train();
    var decay = gpt.named_parameters().Where(p => p.parameter.dim() >= 2).Select(p => p.parameter).ToList();
    var rest = gpt.named_parameters().Where(p => p.parameter.dim() < 2).Select(p => p.parameter).ToList();
    var torchAdamW = torch.optim.AdamW(
        new[] { new TorchSharp.Modules.AdamW.ParamGroup(decay, new TorchSharp.Modules.AdamW.Options { weight_decay = 0.1 }), new TorchSharp.Modules.AdamW.ParamGroup(rest, new TorchSharp.Modules.AdamW.Options { weight_decay = 0.0 }) },
        lr: 1e-3, beta1: 0.9, beta2: 0.99);
    Tensor idx = torch.tensor(x.Select(t => (long)t).ToArray(), new long[] { B, T });
    Tensor tgt = torch.tensor(y.Select(t => (long)t).ToArray(), new long[] { B * T });
    void TorchStep()
    {
        using var scope = torch.NewDisposeScope();
        torchAdamW.zero_grad();
        torch.nn.functional.cross_entropy(gpt.forward(idx).view(-1, V), tgt).backward();
        torchAdamW.step();
    }

    double Median(List<double> l)
    {
        l.Sort();
        return l[l.Count / 2];
    }

    (double mo, double mt) = Compare("training step, 12 x 64 tokens", () => net.TrainStep(x, y, adamw), TorchStep, 50);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  that is NetGen {B * T / mo * 1000:F0} tokens/s, libtorch {B * T / mt * 1000:F0} tokens/s"));

    // Generation of 64 tokens from one: libtorch's forward over the whole context so far for each new
    // token (no cache, as nanoGPT's generate), NetGen's cached Append.
    gpt.eval();
    var single = new TangPoet(1, seed: 3);
    var logits = new float[V];
    var torchTimes = new List<double>();
    var netTimes = new List<double>();
    for (int round = 0; round < 7; round++)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        using (torch.no_grad())
        {
            for (int t = 1; t <= T; t++)
            {
                using var scope = torch.NewDisposeScope();
                gpt.forward(idx.narrow(0, 0, 1).narrow(1, 0, t));
            }
        }

        torchTimes.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        start = System.Diagnostics.Stopwatch.GetTimestamp();
        single.ResetContext();
        for (int t = 0; t < T; t++)
        {
            single.Append(x[t], logits);
        }

        netTimes.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    double gt = Median(torchTimes), gn = Median(netTimes);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generation of {T} tokens, one thread: NetGen cached {T / gn * 1000:F0} tokens/s, libtorch recomputing the context {T / gt * 1000:F0} tokens/s: {gt / gn:F1}x"));

    // Issue 10's MLP (SGD, batch 256) and the CNN without dropout (Adam, batch 64), interleaved likewise.
    var mlp = new CheckedMlp(256, seed: 1);
    var torchMlp = new TorchMlp();
    float[] mx = Enumerable.Range(0, 256 * 784).Select(_ => (float)random.NextDouble()).ToArray();
    int[] my = Enumerable.Range(0, 256).Select(_ => random.Next(10)).ToArray();
    var sgd = new NetGen.Sgd(0.01f);
    var torchSgd = torch.optim.SGD(torchMlp.parameters(), 0.01);
    Tensor tmx = torch.tensor(mx, new long[] { 256, 784 });
    Tensor tmy = torch.tensor(my.Select(l => (long)l).ToArray(), new long[] { 256 });
    Compare("MLP 784-128-10, SGD, batch 256", () => mlp.TrainStep(mx, my, sgd), () =>
    {
        using var scope = torch.NewDisposeScope();
        torchSgd.zero_grad();
        torch.nn.functional.cross_entropy(torchMlp.forward(tmx), tmy).backward();
        torchSgd.step();
    }, 400);
    var cnn = new CheckedCnn(64, seed: 1);
    var torchCnn = new TorchCnn();
    torchCnn.train();
    float[] cx = Enumerable.Range(0, 64 * 784).Select(_ => (float)random.NextDouble()).ToArray();
    int[] cy = Enumerable.Range(0, 64).Select(_ => random.Next(10)).ToArray();
    var adam = new NetGen.Adam(1e-3f);
    var torchAdam = torch.optim.Adam(torchCnn.parameters(), 1e-3);
    Tensor tcx = torch.tensor(cx, new long[] { 64, 1, 28, 28 });
    Tensor tcy = torch.tensor(cy.Select(l => (long)l).ToArray(), new long[] { 64 });
    Compare("sample CNN without dropout, Adam, batch 64", () => cnn.TrainStep(cx, cy, adam), () =>
    {
        using var scope = torch.NewDisposeScope();
        torchAdam.zero_grad();
        torch.nn.functional.cross_entropy(torchCnn.forward(tcx), tcy).backward();
        torchAdam.step();
    }, 100);

    // Steps of each, interleaved, after 20 of each to warm; the medians.
    (double Ours, double Theirs) Compare(string what, Action ours, Action theirs, int steps)
    {
        var a = new List<double>();
        var b = new List<double>();
        for (int step = 0; step < steps + 20; step++)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            ours();
            double ta = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            start = System.Diagnostics.Stopwatch.GetTimestamp();
            theirs();
            double tb = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (step >= 20)
            {
                a.Add(ta);
                b.Add(tb);
            }
        }

        double ma = Median(a), mb = Median(b);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}, one thread, medians of {steps} interleaved steps: NetGen {ma:F3} ms, libtorch {mb:F3} ms: {mb / ma:F2}x"));
        return (ma, mb);
    }
}

// Over every parameter libtorch has (a tied one under each of its names), NetGen's gradient against
// libtorch's: the largest difference over the tensor's largest value, and the tensor it is in.
static (double Worst, string Name) WorstGradient(nn.Module module, INetwork network)
{
    float[] gradients = network.Gradients.ToArray();
    (double worst, string name) = (0, "");
    foreach ((string parameter, Parameter p) in module.named_parameters())
    {
        ParameterInfo info = network.ParameterLayout.Concat(network.TiedLayout).Single(i => i.Name == parameter);
        float[] theirs = p.grad!.data<float>().ToArray();
        double relative = MaxDifference(gradients.AsSpan(info.Offset, info.Length).ToArray(), theirs) / Math.Max(theirs.Max(Math.Abs), 1e-6);
        if (relative > worst)
        {
            (worst, name) = (relative, parameter);
        }
    }

    return (worst, name);
}

// Compared as logarithms: the probabilities are near 1/6,768, and a logarithm's difference is the
// relative difference of the probability, whatever its size.
static double MaxLogDifference(float[] a, float[] b)
{
    double max = 0;
    for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
    {
        max = Math.Max(max, Math.Abs(Math.Log(a[i]) - Math.Log(b[i])));
    }

    return a.Length == b.Length ? max : double.PositiveInfinity;
}

static double MaxDifference(float[] a, float[] b)
{
    if (a.Length != b.Length)
    {
        throw new InvalidOperationException($"{a.Length} values against {b.Length}");
    }

    double max = 0;
    for (int i = 0; i < a.Length; i++)
    {
        max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
    }

    return max;
}

// The safetensors format, read and written here independently of NetGen's reader and writer:
// an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, the data.
static Dictionary<string, Tensor> ReadSafeTensors(string path)
{
    byte[] bytes = File.ReadAllBytes(path);
    long headerLength = BitConverter.ToInt64(bytes, 0);
    using JsonDocument header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
    var tensors = new Dictionary<string, Tensor>();
    foreach (JsonProperty entry in header.RootElement.EnumerateObject())
    {
        if (entry.Name == "__metadata__")
        {
            continue;
        }

        long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        string dtype = entry.Value.GetProperty("dtype").GetString()!;
        if (dtype == "I64")
        {
            // BatchNorm's num_batches_tracked.
            long[] counts = new long[(offsets[1] - offsets[0]) / 8];
            Buffer.BlockCopy(bytes, (int)(8 + headerLength + offsets[0]), counts, 0, counts.Length * 8);
            tensors[entry.Name] = torch.tensor(counts, shape);
            continue;
        }

        if (dtype != "F32")
        {
            throw new InvalidDataException($"{entry.Name}: only F32 and I64 are read here");
        }

        float[] values = new float[(offsets[1] - offsets[0]) / 4];
        Buffer.BlockCopy(bytes, (int)(8 + headerLength + offsets[0]), values, 0, values.Length * 4);
        tensors[entry.Name] = torch.tensor(values, shape);
    }

    return tensors;
}

static void WriteSafeTensors(string path, Dictionary<string, Tensor> tensors)
{
    var header = new Dictionary<string, object>();
    var data = new MemoryStream();
    foreach ((string name, Tensor tensor) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
    {
        float[] values = tensor.detach().contiguous().data<float>().ToArray();
        long start = data.Length;
        byte[] raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        data.Write(raw);
        header[name] = new { dtype = "F32", shape = tensor.shape, data_offsets = new[] { start, data.Length } };
    }

    byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
    using FileStream file = File.Create(path);
    file.Write(BitConverter.GetBytes((long)json.Length));
    file.Write(json);
    data.Position = 0;
    data.CopyTo(file);
}

/// <summary>nanoGPT's GPT (model.py), bias = True, dropout 0, weight tying, with its module names.</summary>
internal sealed class Gpt : nn.Module<Tensor, Tensor>
{
    private readonly Transformer transformer;
    private readonly Linear lm_head;

    public Gpt(int vocabulary, int context, int dimension, int heads, int layers)
        : base("GPT")
    {
        transformer = new Transformer(vocabulary, context, dimension, heads, layers);
        lm_head = nn.Linear(dimension, vocabulary, hasBias: false);
        lm_head.weight = transformer.Wte.weight!; // self.transformer.wte.weight = self.lm_head.weight
        RegisterComponents();
    }

    public override Tensor forward(Tensor idx) => lm_head.forward(transformer.forward(idx));
}

/// <summary>nanoGPT's <c>transformer</c> ModuleDict: wte, wpe, h, ln_f.</summary>
internal sealed class Transformer : nn.Module<Tensor, Tensor>
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly ModuleList<Block> h;
    private readonly LayerNorm ln_f;

    public Transformer(int vocabulary, int context, int dimension, int heads, int layers)
        : base("transformer")
    {
        wte = nn.Embedding(vocabulary, dimension);
        wpe = nn.Embedding(context, dimension);
        h = nn.ModuleList(Enumerable.Range(0, layers).Select(_ => new Block(dimension, heads)).ToArray());
        ln_f = nn.LayerNorm(dimension);
        RegisterComponents();
    }

    public Embedding Wte => wte;

    public override Tensor forward(Tensor idx)
    {
        Tensor pos = torch.arange(idx.shape[1], dtype: ScalarType.Int64);
        Tensor x = wte.forward(idx) + wpe.forward(pos);
        foreach (Block block in h)
        {
            x = block.forward(x);
        }

        return ln_f.forward(x);
    }
}

/// <summary>nanoGPT's Block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
internal sealed class Block : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly Mlp mlp;

    public Block(int dimension, int heads)
        : base("Block")
    {
        ln_1 = nn.LayerNorm(dimension);
        attn = new CausalSelfAttention(dimension, heads);
        ln_2 = nn.LayerNorm(dimension);
        mlp = new Mlp(dimension);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        x = x + attn.forward(ln_1.forward(x));
        return x + mlp.forward(ln_2.forward(x));
    }
}

/// <summary>nanoGPT's CausalSelfAttention: one c_attn projection to q, k, v; causal softmax attention per head; c_proj.</summary>
internal sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_attn;
    private readonly Linear c_proj;
    private readonly int _dimension;
    private readonly int _heads;

    public CausalSelfAttention(int dimension, int heads)
        : base("CausalSelfAttention")
    {
        c_attn = nn.Linear(dimension, 3 * dimension);
        c_proj = nn.Linear(dimension, dimension);
        _dimension = dimension;
        _heads = heads;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], t = x.shape[1], hs = _dimension / _heads;
        Tensor[] qkv = c_attn.forward(x).split(_dimension, 2);
        Tensor q = qkv[0].view(b, t, _heads, hs).transpose(1, 2);
        Tensor k = qkv[1].view(b, t, _heads, hs).transpose(1, 2);
        Tensor v = qkv[2].view(b, t, _heads, hs).transpose(1, 2);
        Tensor att = q.matmul(k.transpose(-2, -1)) * (1.0 / Math.Sqrt(hs));
        Tensor future = torch.ones(t, t).triu(1).to(ScalarType.Bool).view(1, 1, t, t);
        att = torch.nn.functional.softmax(att.masked_fill(future, float.NegativeInfinity), -1);
        Tensor y = att.matmul(v).transpose(1, 2).contiguous().view(b, t, _dimension);
        return c_proj.forward(y);
    }
}

/// <summary>nanoGPT's MLP: c_fc, the exact GELU, c_proj.</summary>
internal sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear c_fc;
    private readonly Linear c_proj;

    public Mlp(int dimension)
        : base("MLP")
    {
        c_fc = nn.Linear(dimension, 4 * dimension);
        c_proj = nn.Linear(4 * dimension, dimension);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => c_proj.forward(torch.nn.functional.gelu(c_fc.forward(x)));
}
