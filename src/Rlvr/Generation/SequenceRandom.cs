namespace Rlvr.Generation;

/// <summary>
/// The random stream of one sequence, counter-based: the uniform for step t is a pure function of
/// (seed, prompt index, sample index, t), so a completion does not depend on the batch size, on which
/// other sequences share its batch, or on the order they run in. Built on SplitMix64's finaliser
/// (Steele, Lea, Flood 2014), a bijective 64-bit mixer that passes BigCrush when fed a counter.
/// </summary>
public readonly record struct SequenceRandom(ulong Key)
{
    const ulong Golden = 0x9E3779B97F4A7C15;

    public static SequenceRandom For(ulong seed, int promptIndex, int sampleIndex) =>
        new(Mix(Mix(Mix(seed + Golden) + (ulong)(uint)promptIndex * Golden) + (ulong)(uint)sampleIndex));

    /// <summary>A uniform in the open interval (0, 1) for step <paramref name="step"/>, with 53 random bits.</summary>
    public double Uniform(int step) => ((Mix(Key + (ulong)(step + 1) * Golden) >> 11) + 0.5) * (1.0 / (1UL << 53));

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
