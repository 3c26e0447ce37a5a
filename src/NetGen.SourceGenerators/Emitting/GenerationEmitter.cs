using System.Linq;

namespace NetGen.SourceGenerators;

/// <summary>
/// Incremental generation for a causal language model: each new token costs one position, not a
/// pass over the whole context, because the keys and values of earlier positions are kept (the
/// key/value cache, see <see cref="StepLayout"/>). Emitted only for networks that can do it.
/// </summary>
internal static class GenerationEmitter
{
    private const string Net = NetworkEmitter.Field;

    public static void EmitFacade(IndentedWriter w, string network, bool threads)
    {
        w.Line("/// <summary>Tokens in the generation context (the key/value cache): 0 after <see cref=\"ResetContext\"/>, at most <see cref=\"InputSize\"/>.</summary>");
        w.Line($"public int ContextPositions => {Net}.ContextPositions;");
        w.Line();
        w.Line("/// <summary>Empties the generation context: the next <see cref=\"Append\"/> is position 0.</summary>");
        FacadeEmitter.EmitGuarded(w, network, "public void ResetContext()", "ResetContext", $"{Net}.ResetContext();");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Incremental inference: appends <paramref name=\"token\"/> to the context at the next position and writes the");
        w.Line("/// logits of the token that follows it. The keys and values of earlier positions are cached, so a token costs");
        w.Line("/// one position. When the context is full (<see cref=\"InputSize\"/> tokens), it slides: the newest half is kept");
        w.Line("/// and recomputed, and the token goes after it. Inference mode (no dropout); allocates only on the first call.");
        if (threads)
        {
            w.Line("/// A dense product of at least twice 2^18 multiply-adds (an output layer over a large vocabulary) is split");
            w.Line("/// across <see cref=\"Threads\"/>, with the bits of one thread.");
        }

        w.Line("/// </summary>");
        w.Line("/// <param name=\"token\">A token id in [0, <see cref=\"Vocabulary\"/>).</param>");
        w.Line("/// <param name=\"logits\"><see cref=\"Vocabulary\"/> values: the unnormalised scores of the next token.</param>");
        FacadeEmitter.EmitGuarded(w, network, $"public void Append(int token, {Ex.Span} logits)", "Append", $"{Net}.Append(token, logits);");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Appends <paramref name=\"prompt\"/> to the context, then draws <c>output.Length</c> tokens one after the other");
        w.Line("/// with <paramref name=\"sampler\"/>, each appended in turn (so that a second call continues the text).");
        w.Line("/// Allocates nothing after the first call.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"prompt\">Token ids to start from; may be empty when the context is not.</param>");
        w.Line("/// <param name=\"output\">Receives the generated ids.</param>");
        w.Line("/// <param name=\"sampler\">Greedy, or temperature and top-k sampling, seeded.</param>");
        FacadeEmitter.EmitGuarded(w, network, "public void Generate(global::System.ReadOnlySpan<int> prompt, global::System.Span<int> output, global::NetGen.TokenSampler sampler)", "Generate", $"{Net}.Generate(prompt, output, sampler);");
        w.Line();
    }

    public static void EmitCore(IndentedWriter w, NetworkPlan plan, StepLayout s)
    {
        Tensor last = plan.Last!;
        w.Line("// Incremental generation: one row per tensor for the current position p, the queries, keys and");
        w.Line("// values of every position so far (the key/value cache), and the tokens of the context.");
        w.Line($"private const int StepSize = {s.Size};");
        w.Line("private float[]? _step;");
        w.Line("private int[]? _context;");
        w.Line("private int _positions;");
        w.Line();
        w.Line("public int ContextPositions => _positions;");
        w.Line();
        w.Line("public void ResetContext() => _positions = 0;");
        w.Line();
        using (w.Block($"public void Append(int token, {Ex.Span} logits)"))
        {
            w.Line($"{Ex.Guard}.Token(token, Vocabulary, nameof(token));");
            w.Line($"{Ex.Guard}.Length(logits.Length, Vocabulary, nameof(logits), \"one score per token of the vocabulary\");");
            w.Line("Advance(token);");
            w.Line("NextLogits.CopyTo(logits);");
        }

        w.Line();
        using (w.Block("public void Generate(global::System.ReadOnlySpan<int> prompt, global::System.Span<int> output, global::NetGen.TokenSampler sampler)"))
        {
            w.Line("global::System.ArgumentNullException.ThrowIfNull(sampler);");
            w.Line($"{Ex.Guard}.Tokens(prompt, Vocabulary, global::System.Math.Max(prompt.Length, 1), nameof(prompt));");
            using (w.Block("if (prompt.IsEmpty && _positions == 0)"))
            {
                w.Line("throw new global::System.ArgumentException(\"The context is empty: give a prompt of at least one token.\", nameof(prompt));");
            }

            using (w.Block("foreach (int token in prompt)"))
            {
                w.Line("Advance(token);");
            }

            using (w.Block("for (int i = 0; i < output.Length; i++)"))
            {
                w.Line("output[i] = sampler.Sample(NextLogits);");
                w.Line("Advance(output[i]);");
            }
        }

        w.Line();
        w.Line("// The logits after the newest position of the context.");
        w.Line($"private {Ex.Span} NextLogits => {s.Row(last, "(_positions - 1)")};");
        w.Line();
        using (w.Block("private void Advance(int token)"))
        {
            w.Line("_step ??= new float[StepSize];");
            w.Line("_context ??= new int[InputSize];");
            using (w.Block("if (_positions == InputSize)"))
            {
                w.Line("// The context is full: keep its newest half, recompute their cache, and go on after them.");
                w.Line("int keep = InputSize / 2;");
                w.Line("global::System.Array.Copy(_context, InputSize - keep, _context, 0, keep);");
                using (w.Block("for (int q = 0; q < keep; q++)"))
                {
                    w.Line("Step(_context[q], q);");
                }

                w.Line("_positions = keep;");
            }

            w.Line("_context[_positions] = token;");
            w.Line("Step(token, _positions++);");
        }

        w.Line();
        w.Line("// One position of the forward pass in inference mode: every op's row at position p.");
        using (w.Block("private void Step(int token, int p)"))
        {
            foreach (PlanOp op in plan.Ops)
            {
                w.Line($"// {op.Name}: {op.Display}");
                op.EmitStep(w, s);
            }
        }

        w.Line();
        w.Line($"private {Ex.Span} R(int offset, int length) => new(_step, offset, length);");
        w.Line();
    }
}
