using System;
using System.Text;

namespace NetGen.SourceGenerators;

/// <summary>A minimal indented writer: lines, and blocks that open and close their braces.</summary>
internal sealed class IndentedWriter
{
    private readonly StringBuilder _text = new();
    private int _depth;

    public IndentedWriter Line(string line = "")
    {
        if (line.Length > 0)
        {
            _text.Append(' ', _depth * 4);
        }

        _text.Append(line).Append('\n');
        return this;
    }

    /// <summary>Writes <paramref name="header"/>, an opening brace, and indents until the returned scope is disposed.</summary>
    public Scope Block(string header)
    {
        Line(header);
        Line("{");
        _depth++;
        return new Scope(this);
    }

    /// <summary>The depth, for the few shapes a block does not fit (the cases of a switch).</summary>
    public int Indent
    {
        get => _depth;
        set => _depth = value;
    }

    public override string ToString() => _text.ToString();

    internal readonly struct Scope : IDisposable
    {
        private readonly IndentedWriter _writer;

        public Scope(IndentedWriter writer) => _writer = writer;

        public void Dispose()
        {
            _writer._depth--;
            _writer.Line("}");
        }
    }
}
