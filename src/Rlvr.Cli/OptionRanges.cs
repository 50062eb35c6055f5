using System.CommandLine;
using System.Globalization;
using System.Numerics;

namespace Rlvr.Cli;

/// <summary>
/// The allowed range of a numeric option, checked while the command line is parsed: a value outside it is
/// a parse error naming the option and the range, reported before the command runs (so before any file
/// is written). Every numeric option of every command declares its range here with one call.
/// </summary>
public static class OptionRanges
{
    /// <summary>Values in [<paramref name="min"/>, <paramref name="max"/>] (finite, for floating-point options).</summary>
    public static Option<T> Range<T>(this Option<T> option, T min, T max) where T : INumber<T> =>
        option.Check(v => v >= min && v <= max, $"from {Text(min)} to {Text(max)}");

    /// <summary>Values >= <paramref name="min"/> (finite, for floating-point options).</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, T min) where T : INumber<T> =>
        option.Check(v => v >= min, $">= {Text(min)}");

    /// <summary>Values > <paramref name="min"/> and <= <paramref name="max"/>.</summary>
    public static Option<T> Above<T>(this Option<T> option, T min, T max) where T : INumber<T> =>
        option.Check(v => v > min && v <= max, $"in ({Text(min)}, {Text(max)}]");

    /// <summary>The same for an optional option (absent: not checked).</summary>
    public static Option<T?> Range<T>(this Option<T?> option, T min, T max) where T : struct, INumber<T> =>
        option.CheckOptional(v => v >= min && v <= max, $"from {Text(min)} to {Text(max)}");

    public static Option<T?> AtLeast<T>(this Option<T?> option, T min) where T : struct, INumber<T> =>
        option.CheckOptional(v => v >= min, $">= {Text(min)}");

    public static Option<T?> Above<T>(this Option<T?> option, T min, T max) where T : struct, INumber<T> =>
        option.CheckOptional(v => v > min && v <= max, $"in ({Text(min)}, {Text(max)}]");

    static Option<T> Check<T>(this Option<T> option, Func<T, bool> ok, string range) where T : INumber<T>
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;   // the default, which is in range
            var value = result.GetValueOrDefault<T>();
            if (!T.IsFinite(value) || !ok(value)) result.AddError(Message(option.Name, value, range));
        });
        return option;
    }

    static Option<T?> CheckOptional<T>(this Option<T?> option, Func<T, bool> ok, string range) where T : struct, INumber<T>
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T?>() is { } value && (!T.IsFinite(value) || !ok(value)))
                result.AddError(Message(option.Name, value, range));
        });
        return option;
    }

    /// <summary>The one wording of an out-of-range value, shared with <see cref="Rlvr.Training.TrainConfig.Validate"/>.</summary>
    static string Message<T>(string name, T value, string range) where T : INumber<T> =>
        $"{name}: {Text(value)} is out of range (allowed: {range})";

    static string Text<T>(T value) where T : INumber<T> => value.ToString(null, CultureInfo.InvariantCulture);
}
