using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

public class Qwen2ForCausalLMTests
{
    const double Tolerance = 1e-4;

    [Fact]
    public void Fixture_log_probs_and_last_logits_match_the_reference_implementation()
    {
        using var loaded = ModelFolder.Load(Fixtures.TinyQwen2);
        foreach (var c in TestModels.FixtureCases)
        {
            TestModels.AssertClose(c.TokenLogprobs, TestModels.LogProbs(loaded.Model, c.InputIds), Tolerance, $"log-probs of a {c.InputIds.Length}-token case");
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var ids = torch.tensor(c.InputIds.Select(i => (long)i).ToArray()).unsqueeze(0);
            var hidden = loaded.Model.Hidden(ids, torch.arange(c.InputIds.Length).unsqueeze(0));
            var (values, indices) = loaded.Model.Logits(hidden[0, c.InputIds.Length - 1]).topk(5);
            Assert.Equal(c.Top5Ids, indices.data<long>().ToArray());
            TestModels.AssertClose(c.Top5Values, TestModels.Floats(values), Tolerance, "top-5 logits");
        }
    }

    [Fact]
    public void Batched_scoring_with_padding_matches_the_reference()
    {
        using var loaded = ModelFolder.Load(Fixtures.TinyQwen2);
        var cases = TestModels.FixtureCases;
        var scores = SequenceLogProbs.Compute(loaded.Model, cases.Select(c => c.InputIds).ToList(), batchSize: 3);
        for (var i = 0; i < cases.Count; i++)
            TestModels.AssertClose(cases[i].TokenLogprobs, scores[i], Tolerance, $"case {i}");
    }

    [Fact]
    public void Greedy_decoding_with_the_kv_cache_reproduces_the_reference_continuations()
    {
        using var loaded = ModelFolder.Load(Fixtures.TinyQwen2);
        var model = loaded.Model;
        using var noGrad = torch.no_grad();
        foreach (var c in TestModels.FixtureCases)
        {
            using var scope = torch.NewDisposeScope();
            long n = c.InputIds.Length;
            using var cache = KvCache.Create(model.Config, 1, n + c.GreedyIds.Length);
            var hidden = model.Hidden(torch.tensor(c.InputIds.Select(i => (long)i).ToArray()).unsqueeze(0), torch.arange(n).unsqueeze(0), cache);
            var generated = new List<long>();
            for (var step = 0; step < c.GreedyIds.Length; step++)
            {
                var next = model.Logits(hidden[0, hidden.shape[1] - 1]).argmax().item<long>();
                generated.Add(next);
                hidden = model.Hidden(torch.tensor(new[] { next }).view(1, 1), torch.tensor(new[] { n + step }).view(1, 1), cache);
            }
            Assert.Equal(c.GreedyIds, generated);
            Assert.Equal(n + c.GreedyIds.Length, cache.Length);
        }
    }

    [Fact]
    public void The_naive_oracle_itself_reproduces_the_fixture_reference()
    {
        using var loaded = ModelFolder.Load(Fixtures.TinyQwen2);
        var c = TestModels.FixtureCases[2];
        var (logProbs, _) = NaiveQwen2.Run(loaded.Model, c.InputIds);
        TestModels.AssertClose(c.TokenLogprobs, logProbs.Select(x => (float)x).ToArray(), Tolerance, "oracle log-probs");
    }

    [Fact]
    public void Untied_gqa_model_with_explicit_head_dim_matches_a_naive_double_precision_forward()
    {
        using var model = TestModels.Random(TestModels.Odd, seed: 7);
        int[] ids = [5, 17, 300, 2, 99, 99, 41, 250, 8, 13, 0, 319];
        var (expected, lastLogits) = NaiveQwen2.Run(model, ids);
        TestModels.AssertClose(expected, TestModels.LogProbs(model, ids), Tolerance, "log-probs");
        // The oracle's log-probs are far from uniform, so the comparison has teeth.
        Assert.True(expected.Max() - expected.Min() > 1.0);

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var hidden = model.Hidden(torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0), torch.arange(ids.Length).unsqueeze(0));
        TestModels.AssertClose(lastLogits, TestModels.Floats(model.Logits(hidden[0, ids.Length - 1])), Tolerance, "last logits");
    }

    [Fact]
    public void Left_padded_batch_with_cache_gives_each_row_what_it_gets_alone()
    {
        using var model = TestModels.Random(TestModels.Odd, seed: 3);
        int[][] prompts = [[3, 4, 5, 6, 7, 8], [9, 10], [11, 12, 13, 14]];
        long[][] continuation = [[20, 21, 22], [23, 24, 25], [26, 27, 28]];
        var width = prompts.Max(p => p.Length);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();

        // Left padding: pad id 0, real tokens at positions 0.., mask 0 on padding.
        var idData = new long[prompts.Length * width];
        var positionData = new long[prompts.Length * width];
        var maskData = new long[prompts.Length * (width + 3)];
        for (var r = 0; r < prompts.Length; r++)
        {
            var pad = width - prompts[r].Length;
            for (var t = 0; t < prompts[r].Length; t++) { idData[r * width + pad + t] = prompts[r][t]; positionData[r * width + pad + t] = t; }
            for (var t = pad; t < width + 3; t++) maskData[r * (width + 3) + t] = 1;
        }
        var ids = torch.tensor(idData).view(prompts.Length, width);
        var positions = torch.tensor(positionData).view(prompts.Length, width);
        var mask = torch.tensor(maskData).view(prompts.Length, width + 3);
        using var cache = KvCache.Create(model.Config, prompts.Length, width + 3);
        Tensor Last(Tensor hidden) => model.Logits(hidden.select(1, hidden.shape[1] - 1));
        var lastLogits = new List<Tensor> { Last(model.Hidden(ids, positions, cache, mask.narrow(1, 0, width))) };
        for (var step = 0; step < 3; step++)
        {
            var stepIds = torch.tensor(continuation.Select(c => c[step]).ToArray()).unsqueeze(1);
            var stepPositions = torch.tensor(prompts.Select(p => (long)(p.Length + step)).ToArray()).unsqueeze(1);
            lastLogits.Add(Last(model.Hidden(stepIds, stepPositions, cache, mask.narrow(1, 0, width + step + 1))));
        }

        for (var r = 0; r < prompts.Length; r++)
        {
            // Alone, without cache or padding: the logits after the prompt and after each continuation token.
            var alone = prompts[r].Select(i => (long)i).Concat(continuation[r]).ToArray();
            var hidden = model.Hidden(torch.tensor(alone).unsqueeze(0), torch.arange(alone.Length).unsqueeze(0));
            for (var step = 0; step <= 3; step++)
            {
                var expected = TestModels.Floats(model.Logits(hidden[0, prompts[r].Length - 1 + step]));
                TestModels.AssertClose(expected.Select(f => (double)f).ToArray(), TestModels.Floats(lastLogits[step][r]), Tolerance, $"row {r} step {step}");
            }
        }
    }

    [Fact]
    public void Cache_rows_can_be_repeated_and_selected()
    {
        using var model = TestModels.Random(TestModels.Small, seed: 5);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        long[][] prompts = [[1, 2, 3, 4], [5, 6, 7, 8]];
        using var cache = KvCache.Create(model.Config, 2, 8);
        model.Hidden(torch.tensor(prompts.SelectMany(p => p).ToArray()).view(2, 4), torch.arange(4).unsqueeze(0).expand(2, 4), cache);

        cache.SelectRows(torch.tensor(new long[] { 0, 0, 0, 1, 1, 1 }));   // rows: p0 p0 p0 p1 p1 p1
        Assert.Equal(6, cache.Batch);
        long[] next = [10, 11, 12, 13, 14, 15];
        var afterRepeat = model.Hidden(torch.tensor(next).unsqueeze(1), torch.full(6, 1, 4, ScalarType.Int64), cache);

        cache.SelectRows(torch.tensor(new long[] { 4, 1 }));   // keep (p1, 14) and (p0, 11)
        Assert.Equal(2, cache.Batch);
        var afterSelect = model.Hidden(torch.tensor(new long[] { 20, 21 }).unsqueeze(1), torch.full(2, 1, 5, ScalarType.Int64), cache);

        (long[] Ids, Tensor Last)[] expectations =
        [
            ([1, 2, 3, 4, 12], afterRepeat[2, 0]),
            ([5, 6, 7, 8, 13], afterRepeat[3, 0]),
            ([5, 6, 7, 8, 14, 20], afterSelect[0, 0]),
            ([1, 2, 3, 4, 11, 21], afterSelect[1, 0]),
        ];
        foreach (var (seq, last) in expectations)
        {
            var alone = model.Hidden(torch.tensor(seq).unsqueeze(0), torch.arange(seq.Length).unsqueeze(0))[0, seq.Length - 1];
            TestModels.AssertClose(TestModels.Floats(alone).Select(f => (double)f).ToArray(), TestModels.Floats(last), 1e-5, string.Join(",", seq));
        }
    }

    [Fact]
    public void Kv_cache_memory_is_two_times_layers_batch_heads_length_dim_times_four_bytes()
    {
        var qwen05 = Qwen2Config.LoadNamedOrPath("qwen2.5-0.5b");
        Assert.Equal(1_610_612_736L, KvCache.BytesFor(qwen05, 64, 1024));   // 2 x 24 x 64 x 2 x 1024 x 64 x 4
    }

    [Fact]
    public void Cache_overflow_is_an_error_not_a_silent_overwrite()
    {
        using var model = TestModels.Random(TestModels.Small);
        using var noGrad = torch.no_grad();
        using var cache = KvCache.Create(model.Config, 1, 3);
        var e = Assert.Throws<ArgumentException>(() => model.Hidden(torch.ones(1, 4, ScalarType.Int64), torch.arange(4).unsqueeze(0), cache));
        Assert.Contains("cannot add", e.Message);
    }

    [Fact]
    public void Gradient_checkpointing_gives_the_same_gradients()
    {
        using var model = TestModels.Random(TestModels.Odd, seed: 11);
        var ids = torch.tensor(Enumerable.Range(0, 2 * 9).Select(i => (long)(i * 37 % 320)).ToArray()).view(2, 9);
        var positions = torch.arange(9).unsqueeze(0).expand(2, 9);

        Dictionary<string, float[]> Gradients(bool checkpointing)
        {
            model.zero_grad();
            model.GradientCheckpointing = checkpointing;
            using (var scope = torch.NewDisposeScope())
            {
                var hidden = model.Hidden(ids, positions);
                var logProbs = TokenLogProbs.Compute(hidden.narrow(1, 0, 8), model.LmHeadWeight, ids.narrow(1, 1, 8)).LogProbs;
                logProbs.mean().neg().backward();
            }
            return model.NamedParameters().ToDictionary(p => p.Name, p => TestModels.Floats(p.Parameter.grad!));
        }

        var plain = Gradients(false);
        var checkpointed = Gradients(true);
        Assert.Equal(TestModels.Odd.NumHiddenLayers * 12 + 3, plain.Count);
        foreach (var (name, grad) in plain)
        {
            Assert.True(grad.Any(g => g != 0), $"{name} got no gradient");
            TestModels.AssertClose(grad.Select(g => (double)g).ToArray(), checkpointed[name], 1e-6, name);
        }
    }
}
