namespace Rlvr.Training;

/// <summary>Learning rate as a function of the step: pure functions, so a resumed run continues on the same curve.</summary>
public static class LearningRateSchedule
{
    /// <summary>
    /// Linear warmup from 0 to <paramref name="peak"/> over <paramref name="warmup"/> steps, then cosine decay to
    /// <paramref name="minRatio"/> x peak at <paramref name="total"/> steps (TRL's and nanochat's shape).
    /// Steps count from 1: step <paramref name="warmup"/> gets the peak, step <paramref name="total"/> the floor.
    /// </summary>
    public static double WarmupCosine(int step, int total, int warmup, double peak, double minRatio)
    {
        if (warmup > 0 && step <= warmup) return peak * step / warmup;
        int decaySteps = total - warmup;
        if (decaySteps <= 0) return peak;
        double progress = System.Math.Clamp((step - warmup) / (double)decaySteps, 0, 1);
        double cosine = 0.5 * (1 + System.Math.Cos(System.Math.PI * progress));
        return peak * (minRatio + (1 - minRatio) * cosine);
    }
}
