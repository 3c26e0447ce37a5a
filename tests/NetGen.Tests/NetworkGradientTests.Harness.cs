namespace NetGen.Tests;

// The harness: a generated network against the double-precision reference of its architecture.
public partial class NetworkGradientTests
{
    private static void CheckClassifier(ITrainableNetwork<int> net, Architecture arch, int batch, int checkEvery = 1, int? masksSeed = null)
    {
        float[] x = Reference.RandomFloats(batch * net.InputSize, 100);
        int[] labels = Enumerable.Range(0, batch).Select(i => (i * 7) % net.OutputSize).ToArray();
        double[] theta = Reference.ToDouble(net.Parameters);
        double[] xd = Reference.ToDouble(x);
        List<double[]> masks = Masks(arch, batch, net.InputSize, masksSeed);
        double LossOf() => Reference.SoftmaxCrossEntropy(Run(arch, theta, net.ParameterLayout, xd, masks), labels, net.OutputSize) + Penalty(arch, theta, net.ParameterLayout);

        float loss = net.ComputeGradients(x, labels);
        Assert.Equal(LossOf(), loss, 1e-5);
        CheckGradients(net, theta, LossOf, checkEvery);
        Reference.AssertClose(Reference.Activate(Activation.Softmax, Run(arch, theta, net.ParameterLayout, xd, masks), net.OutputSize), net.LastOutputs, 1e-6, 1e-5, "training probabilities");

        // Inference: no dropout, BatchNorm on the running statistics (checked elsewhere); without
        // either, the reference applies.
        if (masks.Count == 0 && !Flatten(arch.Ops).OfType<BatchNormOp>().Any())
        {
            var outputs = new float[batch * net.OutputSize];
            net.Forward(x, outputs);
            Reference.AssertClose(Reference.Activate(Activation.Softmax, Run(arch, theta, net.ParameterLayout, xd, masks), net.OutputSize), outputs, 1e-6, 1e-5, "probabilities");
        }
    }

    /// <summary>Every op, those inside residual branches and projections included.</summary>
    private static IEnumerable<Op> Flatten(IEnumerable<Op> ops) => ops.SelectMany(op => op is ResidualOp r
        ? Flatten(r.Branch).Concat(Flatten(r.Projection ?? Array.Empty<Op>()))
        : new[] { op });

    /// <summary>The dropout masks the network draws, in order: one value per element, 0 with probability rate.</summary>
    private static List<double[]> Masks(Architecture arch, int batch, int inputSize, int? seed)
    {
        var masks = new List<double[]>();
        if (seed is null)
        {
            return masks;
        }

        var random = new SeededRandom(seed.Value);
        int width = inputSize;
        foreach (Op op in arch.Ops)
        {
            switch (op)
            {
                case DenseOp d:
                    width = d.Out;
                    break;
                case DropoutOp drop:
                    float scale = 1f / (1f - (float)drop.Rate);
                    masks.Add(Enumerable.Range(0, batch * width).Select(_ => random.NextSingle() < (float)drop.Rate ? 0.0 : scale).ToArray());
                    break;
            }
        }

        return masks;
    }

    private static double Penalty(Architecture arch, double[] theta, IReadOnlyList<ParameterInfo> layout)
    {
        double total = 0;
        foreach (DenseOp d in arch.Ops.OfType<DenseOp>())
        {
            ParameterInfo w = layout.Single(q => q.Name == d.Name + ".weight");
            for (int i = w.Offset; i < w.Offset + w.Length; i++)
            {
                total += (d.L1 * Math.Abs(theta[i])) + (d.L2 * theta[i] * theta[i]);
            }
        }

        return total;
    }

    private static void CheckRegressor(ITrainableNetwork<float> net, Architecture arch, int batch, bool binaryTargets, int? masksSeed = null)
    {
        float[] x = Reference.RandomFloats(batch * net.InputSize, 200);
        float[] t = Reference.RandomFloats(batch * net.OutputSize, 201);
        if (binaryTargets)
        {
            t = t.Select(v => v > 0 ? 1f : 0f).ToArray();
        }

        double[] theta = Reference.ToDouble(net.Parameters);
        double[] xd = Reference.ToDouble(x);
        List<double[]> masks = Masks(arch, batch, net.InputSize, masksSeed);
        double LossOf()
        {
            double[] y = Run(arch, theta, net.ParameterLayout, xd, masks);
            return arch.Loss == Loss.BinaryCrossEntropy ? Reference.BinaryCrossEntropy(y, t) : Reference.MeanSquaredError(y, t);
        }

        float loss = net.ComputeGradients(x, t);
        Assert.Equal(LossOf(), loss, 1e-5);
        CheckGradients(net, theta, LossOf, 1);

        // Inference normalises with the running statistics: only without dropout and BatchNorm does the reference apply.
        if (masks.Count > 0 || Flatten(arch.Ops).OfType<BatchNormOp>().Any())
        {
            return;
        }

        var outputs = new float[batch * net.OutputSize];
        net.Forward(x, outputs);
        double[] raw = Run(arch, theta, net.ParameterLayout, xd, masks);
        double[] expected = arch.Loss == Loss.BinaryCrossEntropy ? Reference.Activate(Activation.Sigmoid, raw, 1) : raw;
        Reference.AssertClose(expected, outputs, 1e-6, 1e-5, "outputs");
    }

    private static void CheckGradients(INetwork net, double[] theta, Func<double> lossOf, int checkEvery)
    {
        Assert.Equal(net.ParameterCount, theta.Length);
        float[] gradients = net.Gradients.ToArray();
        for (int i = 0; i < theta.Length; i += checkEvery)
        {
            double fd = Reference.CentralDifference(lossOf, theta, i);
            string name = net.ParameterLayout.Last(p => p.Offset <= i).Name;
            double error = Math.Abs(gradients[i] - fd);
            Assert.True(error <= 1e-5 + (1e-3 * Math.Abs(fd)), $"gradient of {name} (parameter {i}): finite difference {fd:G9}, generated {gradients[i]:G9}");
        }
    }

    /// <summary>The reference forward pass, in double, reading parameters by their names.</summary>
    private static double[] Run(Architecture arch, double[] theta, IReadOnlyList<ParameterInfo> layout, double[] x, List<double[]>? masks = null)
    {
        int maskIndex = 0;
        double[] Slice(string name)
        {
            ParameterInfo p = layout.Single(q => q.Name == name);
            return theta.AsSpan(p.Offset, p.Length).ToArray();
        }

        int width = 0;
        double[] RunOps(IEnumerable<Op> ops, double[] x)
        {
            foreach (Op op in ops)
            {
                switch (op)
                {
                    case DenseOp d:
                        double[] w = Slice(d.Name + ".weight");
                        Assert.Equal(new[] { d.Out, d.In }, layout.Single(q => q.Name == d.Name + ".weight").Shape);
                        double[]? b = d.Bias ? Slice(d.Name + ".bias") : null;
                        x = Reference.Dense(x, w, b, x.Length / d.In, d.In, d.Out);
                        x = Reference.Activate(d.Activation, x, d.Out);
                        width = d.Out;
                        break;
                    case ActivationOp a:
                        x = Reference.Activate(a.Activation, x, width, a.Alpha);
                        break;
                    case DropoutOp:
                        double[] mask = masks![maskIndex++];
                        x = x.Select((v, i) => v * mask[i]).ToArray();
                        break;
                    case BatchNormOp bn:
                        x = Reference.BatchNormTraining(x, Slice(bn.Name + ".weight"), Slice(bn.Name + ".bias"), bn.Features, bn.Epsilon, bn.Spatial);
                        break;
                    case ConvOp conv:
                        x = ConvTests.Conv(x, Slice(conv.Name + ".weight"), conv.Bias ? Slice(conv.Name + ".bias") : null, x.Length / conv.Window.InputSize, conv.Window, conv.Filters);
                        x = Reference.Activate(conv.Activation, x, conv.Window.OutWidth);
                        width = conv.Window.OutWidth;
                        break;
                    case PoolOp pool:
                        x = ConvTests.Pool(x, x.Length / pool.Window.InputSize, pool.Window, pool.Max);
                        width = pool.Window.OutWidth;
                        break;
                    case GlobalPoolOp gap:
                        x = Enumerable.Range(0, x.Length / gap.Spatial).Select(i => x.Skip(i * gap.Spatial).Take(gap.Spatial).Average()).ToArray();
                        width = gap.Channels;
                        break;
                    case ResidualOp residual:
                        double[] branch = RunOps(residual.Branch, x);
                        double[] shortcut = residual.Projection is null ? x : RunOps(residual.Projection, x);
                        Assert.Equal(shortcut.Length, branch.Length);
                        x = branch.Select((v, i) => v + shortcut[i]).ToArray();
                        break;
                }
            }

            return x;
        }

        return RunOps(arch.Ops, x);
    }
}
