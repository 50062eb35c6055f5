using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Tests.Model;
using static Rlvr.Tests.Generation.GenerationTestModels;

namespace Rlvr.Tests.Generation;

public class SamplerTests
{
    static readonly SamplingParams Greedy = new() { Temperature = 0, StopTokenIds = [] };

    /// <summary>Prompts of different lengths (1 to 13 tokens) in the Odd model's vocabulary.</summary>
    static readonly int[][] OddPrompts =
    [
        [5, 17, 42], [300], [9, 8, 7, 6, 5, 4, 3, 250, 251, 252, 100, 101, 102], [77, 78], [11, 12, 13, 14, 15, 16, 17],
        [200, 201, 202, 203, 204], [3, 1, 4, 1, 5, 9, 2, 6, 5], [60],
    ];

    [Fact]
    public void Greedy_with_the_cache_reproduces_the_fixture_batched_and_one_at_a_time()
    {
        var cases = TestModels.FixtureCases;
        var prompts = cases.Select(c => (IReadOnlyList<int>)c.InputIds).ToList();
        var p = Greedy with { MaxNewTokens = cases[0].GreedyIds.Length };
        foreach (var maxBatch in new[] { 64, 1 })
        {
            var completions = new Sampler(Fixture, maxBatch: maxBatch).Generate(prompts, 1, p);
            for (var i = 0; i < cases.Count; i++)
            {
                Assert.Equal(cases[i].GreedyIds.Select(x => (int)x), completions[i].TokenIds);
                Assert.Equal(FinishReason.Length, completions[i].FinishReason);
            }
        }
    }

    [Fact]
    public void Greedy_equals_full_recomputation_on_a_random_model_through_refills_and_shifts()
    {
        const int tokens = 9;
        var expected = OddPrompts.Select(prompt => GreedyByRecomputation(Odd, prompt, tokens)).ToArray();
        foreach (var maxBatch in new[] { 64, 3, 1 })
        {
            var sampler = new Sampler(Odd, maxBatch: maxBatch);
            var completions = sampler.Generate(OddPrompts, 1, Greedy with { MaxNewTokens = tokens });
            Assert.Equal(expected, Ids(completions));
            Assert.All(completions, c => Assert.All(c.SamplingLogProbs, lp => Assert.Equal(0f, lp)));
            if (maxBatch == 3) Assert.True(sampler.LastStats!.Shifts > 0, "rows refilled while others decode should have moved the cache");
        }
        // A prefill budget of 5 tokens: one prompt per chunk, long prompts prefilled in pieces through the cache.
        var pieces = new Sampler(Odd, maxBatch: 4) { PrefillTokens = 5 };
        Assert.Equal(expected, Ids(pieces.Generate(OddPrompts, 1, Greedy with { MaxNewTokens = tokens })));
        Assert.Equal(OddPrompts.Length, pieces.LastStats!.PrefilledPrompts);
    }

    [Fact]
    public void Sampling_does_not_depend_on_batch_size_and_the_cache_stays_exact()
    {
        // Stop tokens 1..24 end sequences at scattered lengths, so rows are refilled and compacted mid-run.
        var p = new SamplingParams { Temperature = 0.9, TopP = 0.95, MaxNewTokens = 30, StopTokenIds = Enumerable.Range(1, 24).ToList(), Seed = 11 };
        var reference = new Sampler(Odd, maxBatch: 64);
        var batched = reference.Generate(OddPrompts, 3, p);
        Assert.True(reference.LastStats!.Compactions > 0);
        Assert.Contains(batched, c => c.FinishReason == FinishReason.Stop);
        Assert.True(batched.Select(c => c.TokenIds.Length).Distinct().Count() > 3, "lengths should vary");
        foreach (var maxBatch in new[] { 5, 1 })
            Assert.Equal(Ids(batched), Ids(new Sampler(Odd, maxBatch: maxBatch).Generate(OddPrompts, 3, p)));

        // What the trainer relies on: the returned log-probs are the model's (temperature 1) for the same ids,
        // here by teacher-forced scoring of prompt + completion without a cache.
        var sequences = batched.Select(c => OddPrompts[c.PromptIndex].Concat(c.TokenIds).ToArray()).ToList();
        var scored = SequenceLogProbs.Compute(Odd.Model, sequences);
        for (var i = 0; i < batched.Count; i++)
        {
            var completion = scored[i].TakeLast(batched[i].TokenIds.Length).Select(x => (double)x).ToArray();
            TestModels.AssertClose(completion, batched[i].LogProbs, 1e-4, $"completion {i} log-probs");
        }
    }

    [Fact]
    public void Results_are_ordered_by_prompt_and_sample_and_follow_the_seed()
    {
        var p = new SamplingParams { MaxNewTokens = 6, StopTokenIds = [], Seed = 3 };
        var sampler = new Sampler(Odd);
        var a = sampler.Generate(OddPrompts, 2, p);
        Assert.Equal(OddPrompts.Length * 2, a.Count);
        Assert.Equal(Enumerable.Range(0, a.Count).Select(i => (i / 2, i % 2)), a.Select(c => (c.PromptIndex, c.SampleIndex)));
        Assert.Equal(Ids(a), Ids(sampler.Generate(OddPrompts, 2, p)));
        Assert.NotEqual(Ids(a), Ids(sampler.Generate(OddPrompts, 2, p with { Seed = 4 })));
        Assert.Contains(Enumerable.Range(0, OddPrompts.Length), i => !a[2 * i].TokenIds.SequenceEqual(a[2 * i + 1].TokenIds));
        // At temperature 1 without filters the sampling distribution is the model's.
        Assert.All(a, c => TestModels.AssertClose(c.LogProbs.Select(x => (double)x).ToArray(), c.SamplingLogProbs, 1e-5, "sampling log-probs"));
    }

    [Fact]
    public void Samples_of_a_prompt_share_one_prefill()
    {
        var sampler = new Sampler(Odd, maxBatch: 4);
        sampler.Generate(OddPrompts, 2, new SamplingParams { MaxNewTokens = 3, StopTokenIds = [] });
        var stats = sampler.LastStats!;
        Assert.Equal(OddPrompts.Length, stats.PrefilledPrompts);
        Assert.Equal(OddPrompts.Sum(x => x.Length - 1), stats.PrefilledTokens);
        Assert.Equal(OddPrompts.Length * 2 * 3, stats.GeneratedTokens);
    }

    [Theory]
    [InlineData(0.7, 0, 1.0)]
    [InlineData(1.0, 12, 1.0)]
    [InlineData(1.3, 0, 0.7)]
    [InlineData(0.8, 40, 0.85)]
    public void First_tokens_follow_the_sampling_distribution(double temperature, int topK, double topP)
    {
        const int samples = 20000;
        var prompt = OddPrompts[0];
        var logits = NextLogits(Odd, prompt);
        var expected = SamplingDistribution(logits, temperature, topK, topP);
        var p = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP, MaxNewTokens = 1, StopTokenIds = [], Seed = 5 };
        var completions = new Sampler(Odd, maxBatch: samples).Generate([prompt], samples, p);

        var counts = new int[logits.Length];
        foreach (var c in completions) counts[c.TokenIds[0]]++;
        for (var t = 0; t < counts.Length; t++)
            if (expected[t] == 0) Assert.True(counts[t] == 0, $"token {t} is outside top-k/top-p but was drawn {counts[t]} times");
        Assert.True(ChiSquareZ(counts, expected) < 4, $"z = {ChiSquareZ(counts, expected):F2} against softmax(logits / {temperature}) with top_k {topK}, top_p {topP}");
        // The test has power: the same counts reject the plain temperature-1 distribution.
        Assert.True(ChiSquareZ(counts, SamplingDistribution(logits, 1.0)) > 4);

        var raw = Softmax(logits);
        foreach (var c in completions.Take(200))
        {
            var token = c.TokenIds[0];
            Near(System.Math.Log(raw[token]), c.LogProbs[0]);
            Near(System.Math.Log(expected[token]), c.SamplingLogProbs[0]);
        }
    }

    /// <summary>
    /// Pearson's chi-square of observed counts against probabilities (bins with expected count below 5
    /// merged into one), as a standard normal deviate by the Wilson-Hilferty transform: above 4 rejects
    /// at p ≈ 3e-5.
    /// </summary>
    static double ChiSquareZ(int[] counts, double[] probs)
    {
        var total = counts.Sum();
        double chi = 0, restObserved = 0, restExpected = 0;
        var bins = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            var e = probs[i] * total;
            if (e >= 5) { chi += (counts[i] - e) * (counts[i] - e) / e; bins++; }
            else { restObserved += counts[i]; restExpected += e; }
        }
        if (restExpected > 0) { chi += (restObserved - restExpected) * (restObserved - restExpected) / restExpected; bins++; }
        double k = bins - 1;
        return (System.Math.Pow(chi / k, 1.0 / 3) - (1 - 2 / (9 * k))) / System.Math.Sqrt(2 / (9 * k));
    }

    [Fact]
    public void Stop_tokens_end_a_sequence_and_stay_in_its_ids()
    {
        var prompt = OddPrompts[2];
        var greedy = GreedyByRecomputation(Odd, prompt, 1)[0];
        var sampler = new Sampler(Odd, decode: Letters);

        var stopped = sampler.Generate([prompt], 1, Greedy with { StopTokenIds = [greedy], MaxNewTokens = 8 })[0];
        Assert.Equal([greedy], stopped.TokenIds);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal("", stopped.Text);     // the stop token is not part of the text

        var length = sampler.Generate([prompt], 1, Greedy with { MaxNewTokens = 5 })[0];
        Assert.Equal(5, length.TokenIds.Length);
        Assert.Equal(FinishReason.Length, length.FinishReason);
        Assert.Equal(Letters(length.TokenIds), length.Text);

        // min_new_tokens bans the stop token: the first draw is then the runner-up.
        var logits = NextLogits(Odd, prompt);
        logits[greedy] = double.NegativeInfinity;
        var runnerUp = Array.IndexOf(logits, logits.Max());
        var delayed = sampler.Generate([prompt], 1, Greedy with { StopTokenIds = [greedy], MinNewTokens = 3, MaxNewTokens = 8 })[0];
        Assert.Equal(runnerUp, delayed.TokenIds[0]);
        Assert.DoesNotContain(greedy, delayed.TokenIds.Take(3));
        Assert.True(delayed.TokenIds.Length >= 3);
    }

    [Theory]
    [InlineData(1.0, 1.0)]
    [InlineData(0.8, 0.9)]
    public void Min_new_tokens_removes_stop_tokens_from_the_sampling_distribution(double temperature, double topP)
    {
        var prompt = OddPrompts[0];
        var logits = NextLogits(Odd, prompt);
        var stops = Enumerable.Range(0, 40).ToList();   // 40 of 320 tokens
        var completions = new Sampler(Odd, maxBatch: 512).Generate([prompt], 2000,
            new SamplingParams { Temperature = temperature, TopP = topP, StopTokenIds = stops, MinNewTokens = 2, MaxNewTokens = 2, Seed = 9 });
        Assert.All(completions, c => Assert.DoesNotContain(c.TokenIds, t => t < 40));
        Assert.All(completions, c => Assert.Equal(FinishReason.Length, c.FinishReason));
        var banned = logits.Select((l, i) => i < 40 ? double.NegativeInfinity : l).ToArray();
        var expected = SamplingDistribution(banned, temperature, topP: topP);
        var raw = Softmax(logits);
        foreach (var c in completions.Take(50))
        {
            Near(System.Math.Log(expected[c.TokenIds[0]]), c.SamplingLogProbs[0]);
            Near(System.Math.Log(raw[c.TokenIds[0]]), c.LogProbs[0]);
        }
    }

    [Fact]
    public void Stop_strings_end_a_sequence_when_its_text_contains_them()
    {
        var p = new SamplingParams { MaxNewTokens = 40, StopTokenIds = [], StopStrings = ["cab"], Seed = 2 };
        var completions = new Sampler(Odd, decode: Letters).Generate(OddPrompts, 4, p);
        var stopped = completions.Where(c => c.FinishReason == FinishReason.Stop).ToList();
        Assert.NotEmpty(stopped);
        foreach (var c in completions)
        {
            var text = Letters(c.TokenIds);
            if (c.FinishReason == FinishReason.Stop)
            {
                Assert.EndsWith("cab", text);                                  // the last token completed it
                Assert.DoesNotContain("cab", Letters(c.TokenIds[..^1]));       // not earlier
                Assert.Equal(text[..^3], c.Text);                              // text is cut before it
            }
            else
            {
                Assert.Equal(40, c.TokenIds.Length);
                Assert.DoesNotContain("cab", text);
            }
        }
    }

    [Fact]
    public void The_text_is_cut_at_the_stop_string_the_last_token_completed()
    {
        // Tokens 0 mod 16 decode to "xyx": a stop string "x" completed by such a token occurs twice in it.
        static string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(t => t % 16 == 0 ? "xyx" : "abcd"[t % 4].ToString()));
        var p = new SamplingParams { MaxNewTokens = 60, StopTokenIds = [], StopStrings = ["x"], Seed = 8 };
        var completions = new Sampler(Odd, decode: Decode).Generate(OddPrompts, 4, p);
        var stopped = completions.Where(c => c.FinishReason == FinishReason.Stop).ToList();
        Assert.NotEmpty(stopped);
        Assert.All(stopped, c =>
        {
            Assert.Equal(0, c.TokenIds[^1] % 16);
            Assert.Equal(Decode(c.TokenIds[..^1]), c.Text);
        });
    }

    [Fact]
    public void Bad_input_is_refused_with_a_message()
    {
        var sampler = new Sampler(Odd);
        Assert.Contains("prompt 1 is empty", Assert.Throws<ArgumentException>(() => sampler.Generate([[1], []], 1, new SamplingParams())).Message);
        Assert.Contains("320", Assert.Throws<ArgumentException>(() => sampler.Generate([[320]], 1, new SamplingParams())).Message);
        Assert.Contains("top_p", Assert.Throws<ArgumentException>(() => sampler.Generate([[1]], 1, new SamplingParams { TopP = 0 })).Message);
        Assert.Contains("min_new_tokens", Assert.Throws<ArgumentException>(() => sampler.Generate([[1]], 1, new SamplingParams { MinNewTokens = 600 })).Message);
        Assert.Contains("decode", Assert.Throws<ArgumentException>(() => sampler.Generate([[1]], 1, new SamplingParams { StopStrings = ["x"] })).Message);
        Assert.Empty(sampler.Generate([], 3, new SamplingParams()));
    }

    static void Near(double expected, float actual) =>
        Assert.True(System.Math.Abs(expected - actual) < 1e-4, $"expected {expected}, got {actual}");

    /// <summary>A toy decoder: token id t is the letter "abcd"[t % 4].</summary>
    static string Letters(IReadOnlyList<int> ids) => string.Concat(ids.Select(t => "abcd"[t % 4]));
}
