using Microsoft.CodeAnalysis;

namespace NetGen.SourceGenerators;

/// <summary>
/// Every diagnostic NetGen reports. Ids: NG0xxx declarations, NG1xxx shapes, NG9xxx
/// configuration and arguments. Each has a page under docs/diagnostics/ (the help link).
/// </summary>
internal static class DiagnosticDescriptors
{
    public const string UsageCategory = "NetGen.Usage";
    public const string ShapesCategory = "NetGen.Shapes";

    // One place for the documentation address, so that moving the docs is a one-line change.
    private const string HelpBase = "https://github.com/netgen-dotnet/netgen/blob/main/docs/diagnostics/";

    /// <summary>NG0001: "'{0}' has NetGen layer attributes but is not partial; add the 'partial' modifier so that NetGen can generate its members".</summary>
    public static readonly DiagnosticDescriptor NotPartial = Create(
        "NG0001", "Network class is not partial",
        "'{0}' has NetGen layer attributes but is not partial; add the 'partial' modifier so that NetGen can generate its members",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0002: "Network '{0}' has no [Input] layer; start its layers with [Input(shape)], the shape of one sample".</summary>
    public static readonly DiagnosticDescriptor MissingInput = Create(
        "NG0002", "Network has no [Input]",
        "Network '{0}' has no [Input] layer; start its layers with [Input(shape)], the shape of one sample",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0003: "{0} at layer {1} of '{2}': [Input] must be the first layer and appear only once".</summary>
    public static readonly DiagnosticDescriptor InputNotFirst = Create(
        "NG0003", "[Input] is not the first layer",
        "{0} at layer {1} of '{2}': [Input] must be the first layer and appear only once",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0004: "The layer attributes of '{0}' are split across partial declarations; put them all on one declaration so that their order is defined".</summary>
    public static readonly DiagnosticDescriptor SplitDeclarations = Create(
        "NG0004", "Layer attributes on more than one partial declaration",
        "The layer attributes of '{0}' are split across partial declarations; put them all on one declaration so that their order is defined",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0005: "'{0}' has NetGen layer attributes but no [Network] or [Block] attribute; nothing is generated for it".</summary>
    public static readonly DiagnosticDescriptor LayersWithoutNetwork = Create(
        "NG0005", "Layer attributes without [Network]",
        "'{0}' has NetGen layer attributes but no [Network] or [Block] attribute; nothing is generated for it",
        UsageCategory, DiagnosticSeverity.Warning);

    /// <summary>NG0006: "Network '{0}' must be a non-generic, non-static class declared directly in a namespace".</summary>
    public static readonly DiagnosticDescriptor UnsupportedType = Create(
        "NG0006", "Unsupported network type",
        "Network '{0}' must be a non-generic, non-static class declared directly in a namespace",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0007: "{0} at layer {1} comes after the loss {2} at layer {3}; the loss must be the last layer".</summary>
    public static readonly DiagnosticDescriptor LayerAfterLoss = Create(
        "NG0007", "Layer after the loss",
        "{0} at layer {1} comes after the loss {2} at layer {3}; the loss must be the last layer",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0008: "{0} at layer {1} makes block '{2}' use itself ({3}); a block cannot contain itself".</summary>
    public static readonly DiagnosticDescriptor BlockCycle = Create(
        "NG0008", "A block uses itself",
        "{0} at layer {1} makes block '{2}' use itself ({3}); a block cannot contain itself",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0009: "{0} at layer {1} uses '{2}', which is not a [Block]; mark it with [Block], or use a class that has it".</summary>
    public static readonly DiagnosticDescriptor NotABlock = Create(
        "NG0009", "Not a block",
        "{0} at layer {1} uses '{2}', which is not a [Block]; mark it with [Block], or use a class that has it",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0010: "{0} at layer {1} cannot be part of a block: {2}".</summary>
    public static readonly DiagnosticDescriptor NotInBlock = Create(
        "NG0010", "[Input] or a loss inside a block",
        "{0} at layer {1} cannot be part of a block: {2}",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0011: "{0} at layer {1} is named '{2}', as another layer beside it; names must be unique (they name the parameters in saved files)".</summary>
    public static readonly DiagnosticDescriptor DuplicateName = Create(
        "NG0011", "Duplicate layer name",
        "{0} at layer {1} is named '{2}', as another layer beside it; names must be unique (they name the parameters in saved files)",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG0012: "'{0}' declares a member named '{1}', which NetGen generates for every network; rename it (NetGen generates nothing for '{0}' until then)".</summary>
    public static readonly DiagnosticDescriptor MemberTaken = Create(
        "NG0012", "Member name taken by the generated network",
        "'{0}' declares a member named '{1}', which NetGen generates for every network; rename it (NetGen generates nothing for '{0}' until then)",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG1001: "{0} at layer {1} needs {2}, but receives {3}".</summary>
    public static readonly DiagnosticDescriptor LossDoesNotFit = Create(
        "NG1001", "Loss does not fit the network's output",
        "{0} at layer {1} needs {2}, but receives {3}",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1002: "{0} at layer {1} is followed by {2}, which applies {3} itself; remove the {3} or it is applied twice".</summary>
    public static readonly DiagnosticDescriptor DoubleActivation = Create(
        "NG1002", "Activation applied twice by the loss",
        "{0} at layer {1} is followed by {2}, which applies {3} itself; remove the {3} or it is applied twice",
        ShapesCategory, DiagnosticSeverity.Warning);

    /// <summary>NG1003: "{0} at layer {1} normalises the features of a vector [features] or the channels of an image [C, H, W], but receives {2}".</summary>
    public static readonly DiagnosticDescriptor BatchNormInput = Create(
        "NG1003", "BatchNorm input is not a vector",
        "{0} at layer {1} normalises the features of a vector [features] or the channels of an image [C, H, W], but receives {2}",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1004: "{0} at layer {1} receives {2}; its {3} window does not fit the padded {4} input".</summary>
    public static readonly DiagnosticDescriptor WindowTooLarge = Create(
        "NG1004", "Kernel larger than the padded input",
        "{0} at layer {1} receives {2}; its {3} window does not fit the padded {4} input",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1005: "{0} at layer {1} receives {2}; its output would be {3}".</summary>
    public static readonly DiagnosticDescriptor EmptyOutput = Create(
        "NG1005", "Output side would be zero or less",
        "{0} at layer {1} receives {2}; its output would be {3}",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1006: "{0} at layer {1}: Same padding needs {2} rows and columns in total, which do not split evenly; NetGen pads {3} before and {4} after, as TensorFlow and PyTorch do".</summary>
    public static readonly DiagnosticDescriptor AsymmetricPadding = Create(
        "NG1006", "Same padding is asymmetric",
        "{0} at layer {1}: Same padding needs {2} rows and columns in total, which do not split evenly; NetGen pads {3} before and {4} after, as TensorFlow and PyTorch do",
        ShapesCategory, DiagnosticSeverity.Warning);

    /// <summary>NG1007: "{0} at layer {1} receives {2}: Dense acts on the last axis, giving {3}; insert [Flatten] to connect every value".</summary>
    public static readonly DiagnosticDescriptor DenseAfterImage = Create(
        "NG1007", "Dense after a [C, H, W] output",
        "{0} at layer {1} receives {2}: Dense acts on the last axis, giving {3}; insert [Flatten] to connect every value",
        ShapesCategory, DiagnosticSeverity.Warning);

    /// <summary>NG1008: "{0} at layer {1} needs a [C, H, W] input but receives {2}".</summary>
    public static readonly DiagnosticDescriptor NeedsImage = Create(
        "NG1008", "Layer needs a [C, H, W] input",
        "{0} at layer {1} needs a [C, H, W] input but receives {2}",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1009: "{0} at layer {1}: block '{2}' maps {3} to {4}, which cannot be added to its input; give the shortcut a projection that maps {3} to {4} (Projection = typeof(...), e.g. a 1x1 Conv2D with the block's stride and filters, then BatchNorm)".</summary>
    public static readonly DiagnosticDescriptor ResidualShape = Create(
        "NG1009", "Residual branch changes the shape",
        "{0} at layer {1}: block '{2}' maps {3} to {4}, which cannot be added to its input; give the shortcut a projection that maps {3} to {4} (Projection = typeof(...), e.g. a 1x1 Conv2D with the block's stride and filters, then BatchNorm)",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1010: "{0} at layer {1}: the projection '{2}' maps {3} to {4}, but block '{5}' gives {6}; both must give the same shape to be added".</summary>
    public static readonly DiagnosticDescriptor ProjectionShape = Create(
        "NG1010", "Residual projection gives another shape",
        "{0} at layer {1}: the projection '{2}' maps {3} to {4}, but block '{5}' gives {6}; both must give the same shape to be added",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1011: "{0} at layer {1}: the model dimension {2} of {3} is not divisible by {4} heads; choose heads that divide it (each head gets dimension / heads values)".</summary>
    public static readonly DiagnosticDescriptor HeadsDoNotDivide = Create(
        "NG1011", "Dimension not divisible by the heads",
        "{0} at layer {1}: the model dimension {2} of {3} is not divisible by {4} heads; choose heads that divide it (each head gets dimension / heads values)",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1012: "{0} at layer {1} needs a sequence [T, D] (positions by features), but receives {2}".</summary>
    public static readonly DiagnosticDescriptor NeedsSequence = Create(
        "NG1012", "Layer needs a sequence [T, D]",
        "{0} at layer {1} needs a sequence [T, D] (positions by features), but receives {2}",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1013: "{0} at layer {1} looks up token ids, but receives {2}; an Embedding must follow a token input, [Input(T, Kind = InputKind.Tokens)]".</summary>
    public static readonly DiagnosticDescriptor EmbeddingNeedsTokens = Create(
        "NG1013", "Embedding not fed by a token input",
        "{0} at layer {1} looks up token ids, but receives {2}; an Embedding must follow a token input, [Input(T, Kind = InputKind.Tokens)]",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1014: "{0} at layer {1} receives token ids {2}, which are not values; start the layers after a token input with [Embedding(vocabulary, dimension)]".</summary>
    public static readonly DiagnosticDescriptor TokensNeedEmbedding = Create(
        "NG1014", "Token input without an Embedding first",
        "{0} at layer {1} receives token ids {2}, which are not values; start the layers after a token input with [Embedding(vocabulary, dimension)]",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1015: "{0} at layer {1} has {2} positions, but the sequence {3} has {4}; give it the sequence's length or leave the length out".</summary>
    public static readonly DiagnosticDescriptor ContextLength = Create(
        "NG1015", "Position embedding length differs from the sequence's",
        "{0} at layer {1} has {2} positions, but the sequence {3} has {4}; give it the sequence's length or leave the length out",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1016: "{0} at layer {1} is tied to '{2}', whose weight is {3}, but its own weight would be {4}; tie it to an embedding of the same shape".</summary>
    public static readonly DiagnosticDescriptor TiedShape = Create(
        "NG1016", "Tied weights of different shapes",
        "{0} at layer {1} is tied to '{2}', whose weight is {3}, but its own weight would be {4}; tie it to an embedding of the same shape",
        ShapesCategory, DiagnosticSeverity.Error);

    /// <summary>NG1017: "{0} at layer {1} is tied to '{2}', but no Embedding layer before it has that name{3}".</summary>
    public static readonly DiagnosticDescriptor TiedNotFound = Create(
        "NG1017", "Tied weight not found",
        "{0} at layer {1} is tied to '{2}', but no Embedding layer before it has that name{3}",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG9001: "{0} at layer {1}: {2}".</summary>
    public static readonly DiagnosticDescriptor InvalidArgument = Create(
        "NG9001", "Invalid layer argument",
        "{0} at layer {1}: {2}",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>NG9999: "NetGen could not generate '{0}': {1}. This is a bug in NetGen; please report it.".</summary>
    public static readonly DiagnosticDescriptor GeneratorFailure = Create(
        "NG9999", "NetGen failed",
        "NetGen could not generate '{0}': {1}. This is a bug in NetGen; please report it.",
        UsageCategory, DiagnosticSeverity.Error);

    /// <summary>The descriptors the analyzer reports, in id order.</summary>
    public static readonly DiagnosticDescriptor[] AnalyzerDescriptors =
    {
        NotPartial, MissingInput, InputNotFirst, SplitDeclarations, LayersWithoutNetwork, UnsupportedType,
        LayerAfterLoss, BlockCycle, NotABlock, NotInBlock, DuplicateName, MemberTaken, LossDoesNotFit, DoubleActivation, BatchNormInput,
        WindowTooLarge, EmptyOutput, AsymmetricPadding, DenseAfterImage, NeedsImage, ResidualShape, ProjectionShape,
        HeadsDoNotDivide, NeedsSequence, EmbeddingNeedsTokens, TokensNeedEmbedding, ContextLength, TiedShape, TiedNotFound, InvalidArgument,
    };

    public static DiagnosticDescriptor? Find(string id)
    {
        foreach (DiagnosticDescriptor d in AnalyzerDescriptors)
        {
            if (d.Id == id)
            {
                return d;
            }
        }

        return null;
    }

    private static DiagnosticDescriptor Create(string id, string title, string message, string category, DiagnosticSeverity severity) =>
        new(id, title, message, category, severity, isEnabledByDefault: true, helpLinkUri: HelpBase + id + ".md");
}
