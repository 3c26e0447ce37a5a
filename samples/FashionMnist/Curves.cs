using System.Globalization;
using System.Text;
using NetGen.Training;

namespace FashionMnist;

/// <summary>
/// The training curves as an SVG picture, written directly (no plotting library): loss on the
/// left, accuracy on the right, training and test per epoch.
/// </summary>
internal static class Curves
{
    private const int PanelWidth = 360, Height = 260, Left = 52, Right = 14, Top = 30, Bottom = 40;

    public static void Write(string path, IReadOnlyList<EpochReport> history, string title)
    {
        var svg = new StringBuilder();
        int width = 2 * PanelWidth;
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{Height}\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">{Escape(title)}</text>\n");
        Panel(svg, 0, "loss", history.Select(r => r.TrainLoss).ToArray(), history.Select(r => r.ValidationLoss ?? double.NaN).ToArray(), percent: false);
        Panel(svg, PanelWidth, "accuracy", history.Select(r => r.TrainAccuracy ?? double.NaN).ToArray(), history.Select(r => r.ValidationAccuracy ?? double.NaN).ToArray(), percent: true);
        svg.Append("</svg>\n");
        File.WriteAllText(path, svg.ToString());
    }

    private static void Panel(StringBuilder svg, int x0, string name, double[] train, double[] test, bool percent)
    {
        double[] all = train.Concat(test).Where(double.IsFinite).ToArray();
        double min = all.Min(), max = all.Max();
        if (max - min < 1e-9)
        {
            max = min + 1;
        }

        double pad = (max - min) * 0.05;
        min -= pad;
        max += pad;
        int w = PanelWidth - Left - Right, h = Height - Top - Bottom;
        double X(int epoch) => x0 + Left + (train.Length == 1 ? w / 2.0 : w * (epoch - 1) / (double)(train.Length - 1));
        double Y(double v) => Top + (h * (max - v) / (max - min));
        string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
        string Label(double v) => percent ? (v * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %" : v.ToString("0.000", CultureInfo.InvariantCulture);

        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x0 + Left}\" y=\"{Top}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#999\"/>\n");
        for (int k = 0; k <= 4; k++)
        {
            double v = min + ((max - min) * k / 4);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0 + Left}\" x2=\"{x0 + Left + w}\" y1=\"{F(Y(v))}\" y2=\"{F(Y(v))}\" stroke=\"#eee\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 + Left - 4}\" y=\"{F(Y(v) + 4)}\" text-anchor=\"end\">{Label(v)}</text>\n");
        }

        for (int e = 1; e <= train.Length; e++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(e))}\" y=\"{Top + h + 14}\" text-anchor=\"middle\">{e}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 + Left + (w / 2)}\" y=\"{Height - 8}\" text-anchor=\"middle\">epoch ({name})</text>\n");
        Line(svg, train, X, Y, "#1f77b4", "train");
        Line(svg, test, X, Y, "#d62728", "test");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 + Left + w - 4}\" y=\"{Top + 14}\" text-anchor=\"end\" fill=\"#1f77b4\">train</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 + Left + w - 4}\" y=\"{Top + 28}\" text-anchor=\"end\" fill=\"#d62728\">test</text>\n");
    }

    private static void Line(StringBuilder svg, double[] values, Func<int, double> x, Func<double, double> y, string colour, string name)
    {
        var points = string.Join(' ', values.Select((v, i) => (v, i)).Where(p => double.IsFinite(p.v))
            .Select(p => x(p.i + 1).ToString("0.#", CultureInfo.InvariantCulture) + "," + y(p.v).ToString("0.#", CultureInfo.InvariantCulture)));
        if (points.Length > 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{points}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"><title>{name}</title></polyline>\n");
        }
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}
