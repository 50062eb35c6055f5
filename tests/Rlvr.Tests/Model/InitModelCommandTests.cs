using System.Text.Json.Nodes;
using Rlvr.Generation;
using Rlvr.Model;
using Rlvr.Text;

namespace Rlvr.Tests.Model;

/// <summary><c>rlvr init-model</c> with a trained tokenizer and a shape of its own.</summary>
public class InitModelCommandTests
{
    static string TrainedTokenizer()
    {
        var dir = Fixtures.TempDir();
        TokenizerFolderWriter.Write(BpeTrainer.Train(Rlvr.Tests.Text.TokenizerOracle.MathTexts().Take(300), vocabSize: 320), dir);
        return dir;
    }

    [Fact]
    public void A_model_with_a_trained_tokenizer_and_a_custom_shape_loads_and_generates()
    {
        var tokenizerDir = TrainedTokenizer();
        var dir = Path.Combine(Fixtures.TempDir(), "model");
        var r = CliRunner.Run("init-model", "--config", "tiny", "--tokenizer", tokenizerDir, "--out", dir, "--seed", "3",
            "--layers", "3", "--hidden-size", "48", "--heads", "6", "--kv-heads", "2", "--intermediate-size", "80",
            "--max-position-embeddings", "256", "--rope-theta", "5000", "--tie-word-embeddings", "false");
        Assert.True(r.ExitCode == 0, r.Stderr);

        using var loaded = ModelFolder.Load(dir);
        var c = loaded.Config;
        Assert.Equal((320, 3, 48, 6, 2, 8, 80, 256, 5000.0, false),
            (c.VocabSize, c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.IntermediateSize, c.MaxPositionEmbeddings, c.RopeTheta, c.TieWordEmbeddings));
        var shapes = loaded.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.shape);
        Assert.Equal([320L, 48], shapes["model.embed_tokens.weight"]);
        Assert.Equal([320L, 48], shapes["lm_head.weight"]);
        Assert.Equal([16L, 48], shapes["model.layers.2.self_attn.k_proj.weight"]); // 2 KV heads x head dim 8
        Assert.Equal([80L, 48], shapes["model.layers.0.mlp.gate_proj.weight"]);
        Assert.DoesNotContain("model.layers.3.mlp.gate_proj.weight", shapes.Keys);

        // The tokenizer travelled with the model; the stop ids are its <|im_end|> and <|endoftext|>.
        var tokenizer = QwenTokenizer.Load(dir);
        Assert.Equal(320, tokenizer.VocabSize);
        Assert.Equal([319, 317], loaded.Generation.EosTokenIds);
        Assert.Equal(317, loaded.Generation.PadTokenId);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(319, (int)config["eos_token_id"]!);

        var prompt = tokenizer.Encode(ChatTemplate.ForModel(dir).Render([new ChatMessage("user", "What is $1+1$?")], addGenerationPrompt: true));
        Assert.Equal(318, prompt[0]); // <|im_start|>
        var completions = new Sampler(loaded, ids => tokenizer.Decode(ids, skipSpecialTokens: true))
            .Generate([prompt], 3, new SamplingParams { MaxNewTokens = 12, Seed = 7 });
        Assert.Equal(3, completions.Count);
        Assert.All(completions, x => Assert.All(x.TokenIds, id => Assert.InRange(id, 0, 319)));
        Assert.All(completions, x => Assert.True(x.TokenIds.Length is > 0 and <= 12));
    }

    [Theory]
    [InlineData(new[] { "--hidden-size", "50", "--heads", "4" }, "--hidden-size 50 is not divisible by --heads 4")]
    [InlineData(new[] { "--heads", "3" }, "--hidden-size 64 is not divisible by --heads 3 (the value not given")]
    [InlineData(new[] { "--hidden-size", "36", "--heads", "4" }, "head dim of 9")]
    [InlineData(new[] { "--heads", "8", "--kv-heads", "3" }, "--heads 8 is not a multiple of --kv-heads 3")]
    [InlineData(new[] { "--layers", "0" }, "--layers 0: must be positive")]
    [InlineData(new[] { "--rope-theta", "-1" }, "--rope-theta -1")]
    [InlineData(new[] { "--tokenizer", "/nonexistent/tok" }, "--tokenizer /nonexistent/tok")]
    public void Bad_shapes_exit_1_naming_the_options_and_write_nothing(string[] options, string message)
    {
        var dir = Path.Combine(Fixtures.TempDir(), "model");
        var r = CliRunner.Run(["init-model", "--config", "tiny", "--out", dir, .. options]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void Shape_options_override_only_what_they_name()
    {
        var c = Rlvr.Cli.Commands.InitModelCommand.WithShape(Qwen2Config.Tiny, new(Layers: 5, KvHeads: 4));
        Assert.Equal(Qwen2Config.Tiny with { NumHiddenLayers = 5, NumKeyValueHeads = 4 }, c);
    }
}
