namespace Rlvr.Training;

/// <summary>Which training problems each step uses: the problems in a seeded random order, epoch after
/// epoch (a fresh order each epoch), cut into consecutive groups. A pure function of (seed, step), so a
/// resumed run needs no data cursor beyond the step number.</summary>
public static class PromptSchedule
{
    /// <summary>Indices (into a dataset of <paramref name="count"/> problems) of the <paramref name="perStep"/> problems of 0-based <paramref name="step"/>.</summary>
    public static int[] ForStep(int count, int perStep, int seed, int step)
    {
        if (count <= 0) throw new ArgumentException("the training data is empty");
        var result = new int[perStep];
        long start = (long)step * perStep;
        int[]? order = null;
        long orderEpoch = -1;
        for (int i = 0; i < perStep; i++)
        {
            long position = start + i;
            long epoch = position / count;
            if (epoch != orderEpoch) { order = EpochOrder(count, seed, epoch); orderEpoch = epoch; }
            result[i] = order![position % count];
        }
        return result;
    }

    /// <summary>The permutation of epoch <paramref name="epoch"/> (Fisher-Yates with a seeded generator).</summary>
    public static int[] EpochOrder(int count, int seed, long epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        // HashCode.Combine is randomised per process; resumed runs need the same order in a new process.
        new Random(unchecked(seed * 1_000_003 + (int)epoch * 7_919 + 0x5eed)).Shuffle(order);
        return order;
    }
}
