using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace NetGen.SourceGenerators;

/// <summary>A layer that uses blocks: [Residual] (branch and projection) and [Repeat].</summary>
internal interface IUsesBlocks
{
    /// <summary>Each block used: its metadata name (empty when the type could not be read) and its name for messages.</summary>
    IEnumerable<BlockUse> Uses { get; }
}

/// <summary>A reference to a block by type.</summary>
/// <param name="MetadataName">The type's full metadata name; empty when it is not a named type.</param>
/// <param name="DisplayName">The type's name, for messages.</param>
internal sealed record BlockUse(string MetadataName, string DisplayName);

/// <summary>
/// The blocks of a compilation by metadata name, with the problems of their own attributes:
/// argument errors, [Input] or a loss inside a block, uses of types that are not blocks,
/// duplicate names and cycles. Those are reported on the block once; a network that uses a
/// block with errors simply is not generated.
/// </summary>
internal sealed class BlockCatalog
{
    private readonly Dictionary<string, NetworkSpec> _blocks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _hasErrors = new(StringComparer.Ordinal);

    public BlockCatalog(IEnumerable<NetworkSpec> blocks)
    {
        foreach (NetworkSpec block in blocks)
        {
            _blocks[block.MetadataName] = block;
        }
    }

    public static BlockCatalog Empty { get; } = new(Array.Empty<NetworkSpec>());

    public NetworkSpec? Find(string metadataName) => metadataName.Length == 0 ? null : _blocks.TryGetValue(metadataName, out NetworkSpec? spec) ? spec : null;

    /// <summary>The problems of <paramref name="block"/>'s own attributes (not of the blocks it uses).</summary>
    public List<Problem> OwnProblems(NetworkSpec block)
    {
        var problems = new List<Problem>(block.Problems);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < block.Layers.Length; i++)
        {
            LayerSpec layer = block.Layers[i];
            string at = i.ToString(CultureInfo.InvariantCulture) + " of block '" + block.Name + "'";
            problems.AddRange(Validation.Check(layer, at, this, network: false));
            if (layer.Name is { Length: > 0 } name && !names.Add(name))
            {
                problems.Add(Problem.Create(DiagnosticDescriptors.DuplicateName.Id, layer.AttributeIndex, layer.Display, at, name));
            }

            if (layer is IUsesBlocks user)
            {
                foreach (BlockUse use in user.Uses)
                {
                    List<string>? path = PathTo(use.MetadataName, block.MetadataName, new HashSet<string>(StringComparer.Ordinal));
                    if (path is not null)
                    {
                        string cycle = string.Join(" -> ", new[] { block.Name }.Concat(path.Select(p => _blocks[p].Name)));
                        problems.Add(Problem.Create(DiagnosticDescriptors.BlockCycle.Id, layer.AttributeIndex, layer.Display, at, block.Name, cycle));
                    }
                }
            }
        }

        return problems;
    }

    /// <summary>Whether <paramref name="metadataName"/> or a block it uses has an error, or uses itself.</summary>
    public bool HasErrors(string metadataName)
    {
        if (_hasErrors.TryGetValue(metadataName, out bool known))
        {
            return known;
        }

        NetworkSpec? block = Find(metadataName);
        _hasErrors[metadataName] = true; // a cycle back here is an error
        bool errors = block is null
            || OwnProblems(block).Any(p => DiagnosticDescriptors.Find(p.Id)?.DefaultSeverity == DiagnosticSeverity.Error)
            || block.Layers.OfType<IUsesBlocks>().SelectMany(u => u.Uses).Any(u => HasErrors(u.MetadataName));
        _hasErrors[metadataName] = errors;
        return errors;
    }

    // The blocks from `from` to `target` (both included), or null when `from` does not reach it.
    private List<string>? PathTo(string from, string target, HashSet<string> visited)
    {
        if (from == target)
        {
            return new List<string> { from };
        }

        NetworkSpec? block = Find(from);
        if (block is null || !visited.Add(from))
        {
            return null;
        }

        foreach (BlockUse use in block.Layers.OfType<IUsesBlocks>().SelectMany(u => u.Uses))
        {
            List<string>? rest = PathTo(use.MetadataName, target, visited);
            if (rest is not null)
            {
                rest.Insert(0, from);
                return rest;
            }
        }

        return null;
    }
}

/// <summary>The checks of one layer that need no shapes.</summary>
internal static class Validation
{
    public static IEnumerable<Problem> Check(LayerSpec layer, string at, BlockCatalog blocks, bool network)
    {
        if (layer.ArgumentError() is { } error)
        {
            yield return Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, error);
        }

        if (NameError(layer) is { } nameError)
        {
            yield return Problem.Create(DiagnosticDescriptors.InvalidArgument.Id, layer.AttributeIndex, layer.Display, at, nameError);
        }

        if (!network && (layer is InputSpec || layer.IsLoss))
        {
            string why = layer is InputSpec ? "a block's input shape comes from where it is used" : "the loss belongs to the network that uses the block";
            yield return Problem.Create(DiagnosticDescriptors.NotInBlock.Id, layer.AttributeIndex, layer.Display, at, why);
        }

        if (layer is IUsesBlocks user)
        {
            foreach (BlockUse use in user.Uses)
            {
                if (blocks.Find(use.MetadataName) is null)
                {
                    yield return Problem.Create(DiagnosticDescriptors.NotABlock.Id, layer.AttributeIndex, layer.Display, at, use.DisplayName);
                }
            }
        }
    }

    /// <summary>One segment of a dotted layer name: letters, digits and underscores, not empty.</summary>
    public static bool IsNameSegment(string segment) =>
        segment.Length > 0 && segment.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_');

    private static string? NameError(LayerSpec layer)
    {
        if (layer.Name is null)
        {
            return null;
        }

        if (layer.Name.Length == 0)
        {
            return layer is ResidualSpec ? null : "Name is empty; only a [Residual] may have an empty name (its layers then join the enclosing scope)";
        }

        foreach (string segment in layer.Name.Split('.'))
        {
            if (!IsNameSegment(segment))
            {
                return $"Name \"{layer.Name}\" must be dot-separated segments of letters, digits and underscores, as a PyTorch module path";
            }
        }

        return null;
    }
}
