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

    /// <summary>
    /// The seed whose prompt 0 has the streams of prompt <paramref name="promptIndex"/> under <paramref name="seed"/>:
    /// For(PromptSeed(seed, p), 0, s) == For(seed, p, s). A remote server given one prompt per request with this
    /// seed draws exactly what the built-in sampler draws for that prompt in a batch.
    /// </summary>
    public static ulong PromptSeed(ulong seed, int promptIndex) =>
        Unmix(Mix(seed + Golden) + (ulong)(uint)promptIndex * Golden) - Golden;

    /// <summary>A uniform in the open interval (0, 1) for step <paramref name="step"/>, with 53 random bits.</summary>
    public double Uniform(int step) => ((Mix(Key + (ulong)(step + 1) * Golden) >> 11) + 0.5) * (1.0 / (1UL << 53));

    /// <summary>The inverse of <see cref="Mix"/> (each xor-shift and odd multiplication undone in reverse order).</summary>
    static ulong Unmix(ulong z)
    {
        z ^= (z >> 31) ^ (z >> 62);
        z *= Inverse(0x94D049BB133111EB);
        z ^= (z >> 27) ^ (z >> 54);
        z *= Inverse(0xBF58476D1CE4E5B9);
        z ^= (z >> 30) ^ (z >> 60);
        return z;
    }

    /// <summary>Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration doubles the correct bits each round).</summary>
    static ulong Inverse(ulong a)
    {
        ulong x = a;
        for (int i = 0; i < 5; i++) x *= 2 - a * x;
        return x;
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
