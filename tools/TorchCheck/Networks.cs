using NetGen;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

/// <summary>The sample CNN (samples/FashionMnist) without its dropout, so that both sides compute the same function in training.</summary>
[Network]
[Input(1, 28, 28)]
[Conv2D(16, 3, Padding = NetGen.Padding.Same, UseBias = false)]
[BatchNorm]
[ReLU]
[MaxPool2D(2)]
[Conv2D(32, 3, Padding = NetGen.Padding.Same, UseBias = false)]
[BatchNorm]
[ReLU]
[MaxPool2D(2)]
[Flatten]
[Dense(128, Activation = Activation.ReLU)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class CheckedCnn;

/// <summary>Issue 10's MLP: 784-128 (ReLU)-10, for the speed comparison.</summary>
[Network]
[Input(784)]
[Dense(128, Activation = Activation.ReLU)]
[Dense(10)]
[SoftmaxCrossEntropy]
public partial class CheckedMlp;

/// <summary>The MLP in TorchSharp.</summary>
internal sealed class TorchMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense1;
    private readonly Linear dense2;

    public TorchMlp()
        : base("CheckedMlp")
    {
        dense1 = nn.Linear(784, 128);
        dense2 = nn.Linear(128, 10);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => dense2.forward(nn.functional.relu(dense1.forward(x)));
}

/// <summary>The same CNN in TorchSharp, with the same module names.</summary>
internal sealed class TorchCnn : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d batchnorm1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d batchnorm2;
    private readonly Linear dense1;
    private readonly Linear dense2;

    public TorchCnn()
        : base("CheckedCnn")
    {
        conv1 = nn.Conv2d(1, 16, 3, padding: 1, bias: false);
        batchnorm1 = nn.BatchNorm2d(16);
        conv2 = nn.Conv2d(16, 32, 3, padding: 1, bias: false);
        batchnorm2 = nn.BatchNorm2d(32);
        dense1 = nn.Linear(1568, 128);
        dense2 = nn.Linear(128, 10);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        x = nn.functional.max_pool2d(nn.functional.relu(batchnorm1.forward(conv1.forward(x))), 2);
        x = nn.functional.max_pool2d(nn.functional.relu(batchnorm2.forward(conv2.forward(x))), 2);
        return dense2.forward(nn.functional.relu(dense1.forward(x.flatten(1))));
    }
}
