using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NetGen.CodeFixes;

/// <summary>NG1007 (Dense after a [C, H, W] output): inserts <c>[Flatten]</c> before the Dense attribute.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(InsertFlattenCodeFix))]
[Shared]
public sealed class InsertFlattenCodeFix : CodeFixProvider
{
    /// <summary>The title shown in the IDE's light bulb.</summary>
    public const string Title = "Insert [Flatten]";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("NG1007");

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root?.FindNode(context.Span)?.FirstAncestorOrSelf<AttributeSyntax>() is not { Parent: AttributeListSyntax } attribute)
        {
            return;
        }

        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            context.RegisterCodeFix(
                CodeAction.Create(Title, ct => InsertAsync(context.Document, root, attribute, ct), equivalenceKey: nameof(InsertFlattenCodeFix)),
                diagnostic);
        }
    }

    private static Task<Document> InsertAsync(Document document, SyntaxNode root, AttributeSyntax dense, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var list = (AttributeListSyntax)dense.Parent!;

        // Spell Flatten the way Dense is spelled: qualified if Dense is.
        NameSyntax name = dense.Name is QualifiedNameSyntax qualified
            ? SyntaxFactory.QualifiedName(qualified.Left, SyntaxFactory.IdentifierName("Flatten"))
            : SyntaxFactory.IdentifierName("Flatten");
        AttributeSyntax flatten = SyntaxFactory.Attribute(name);

        SyntaxNode newRoot;
        if (list.Attributes.Count == 1 && list.Parent is MemberDeclarationSyntax member)
        {
            // [Dense(10)] on its own line: a new line [Flatten] above it, with the same indentation.
            SyntaxTriviaList leading = list.GetLeadingTrivia();
            SyntaxTriviaList indentation = SyntaxFactory.TriviaList(leading.Reverse().TakeWhile(t => t.IsKind(SyntaxKind.WhitespaceTrivia)).Reverse());
            SyntaxTrivia endOfLine = list.GetTrailingTrivia().LastOrDefault(t => t.IsKind(SyntaxKind.EndOfLineTrivia));
            AttributeListSyntax flattenList = SyntaxFactory.AttributeList(SyntaxFactory.SingletonSeparatedList(flatten))
                .WithLeadingTrivia(leading)
                .WithTrailingTrivia(endOfLine == default ? SyntaxFactory.ElasticCarriageReturnLineFeed : endOfLine);
            int index = member.AttributeLists.IndexOf(list);
            SyntaxList<AttributeListSyntax> lists = member.AttributeLists
                .Replace(list, list.WithLeadingTrivia(indentation))
                .Insert(index, flattenList);
            newRoot = root.ReplaceNode(member, member.WithAttributeLists(lists));
        }
        else
        {
            // [Input(1, 8, 8), Conv2D(4, 3), Dense(10)]: Flatten before Dense in the same list.
            int index = list.Attributes.IndexOf(dense);
            newRoot = root.ReplaceNode(list, list.WithAttributes(list.Attributes.Insert(index, flatten)));
        }

        return Task.FromResult(document.WithSyntaxRoot(newRoot));
    }
}
