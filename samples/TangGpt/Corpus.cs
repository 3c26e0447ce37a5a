using System.IO.Compression;
using System.Reflection;
using System.Text;

namespace TangGpt;

/// <summary>
/// The Tang poems embedded in this program (36,835 poems, one a line) as a character-level
/// corpus: the vocabulary is every character of the text plus the newline that ends each poem,
/// sorted by code point (nanoGPT's <c>sorted(set(text))</c>); poem i is validation when i % 20 == 0.
/// </summary>
internal sealed class Corpus
{
    private readonly Dictionary<int, int> _ids;

    private Corpus(string[] poems, int[] characters)
    {
        Poems = poems;
        Characters = characters;
        _ids = new Dictionary<int, int>(characters.Length);
        for (int i = 0; i < characters.Length; i++)
        {
            _ids[characters[i]] = i;
        }

        var train = new List<int>();
        var validation = new List<int>();
        for (int i = 0; i < poems.Length; i++)
        {
            List<int> split = i % 20 == 0 ? validation : train;
            split.AddRange(Encode(poems[i]));
            split.Add(Newline);
        }

        Train = train.ToArray();
        Validation = validation.ToArray();
    }

    /// <summary>The poems, in the corpus's order.</summary>
    public string[] Poems { get; }

    /// <summary>Token id to Unicode code point.</summary>
    public int[] Characters { get; }

    /// <summary>The id of the newline that ends every poem.</summary>
    public int Newline => _ids['\n'];

    /// <summary>The training poems (i % 20 != 0), each followed by a newline.</summary>
    public int[] Train { get; }

    /// <summary>The validation poems (i % 20 == 0).</summary>
    public int[] Validation { get; }

    public static Corpus Load()
    {
        using Stream resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("tang-poems/poems.txt.gz")
            ?? throw new InvalidOperationException("The embedded corpus tang-poems/poems.txt.gz is missing.");
        using var gzip = new GZipStream(resource, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        string text = reader.ReadToEnd();
        string[] poems = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var characters = new SortedSet<int> { '\n' };
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (rune.Value != '\n')
            {
                characters.Add(rune.Value);
            }
        }

        return new Corpus(poems, characters.ToArray());
    }

    /// <summary>The ids of <paramref name="text"/>'s characters; a character outside the vocabulary is an error.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (!_ids.TryGetValue(rune.Value, out int id))
            {
                throw new ArgumentException($"'{rune}' does not occur in the Tang poems, so the model has no token for it.", nameof(text));
            }

            ids.Add(id);
        }

        return ids.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        foreach (int id in ids)
        {
            text.Append(char.ConvertFromUtf32(Characters[id]));
        }

        return text.ToString();
    }
}
