using System.Text.Json.Nodes;
using Rlvr.Model;

namespace Rlvr.Tests.Model;

public class Qwen2ConfigTests
{
    static Qwen2Config Parse(string json) => Qwen2Config.FromJson(JsonNode.Parse(json)!.AsObject(), "test.json");

    [Fact]
    public void Reads_the_transformers4_form_of_qwen25_05b()
    {
        var c = Qwen2Config.LoadNamedOrPath("qwen2.5-0.5b");
        Assert.Equal((151936, 896, 4864, 24, 14, 2, 64), (c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim));
        Assert.Equal(1000000.0, c.RopeTheta);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal([151645], c.EosTokenIds);
        Assert.Equal(151643, c.BosTokenId);
        Assert.Equal("float32", c.TorchDtype);
        Assert.Equal(7, c.QueriesPerKeyValue);
    }

    [Fact]
    public void Reads_the_transformers5_form_of_qwen25_15b()
    {
        var c = Qwen2Config.LoadNamedOrPath("qwen2.5-1.5b");
        Assert.Equal((1536, 8960, 28, 12, 2, 128), (c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim));
        Assert.Equal(1000000.0, c.RopeTheta);   // from rope_parameters
        Assert.Equal("float16", c.TorchDtype);  // from dtype
    }

    [Fact]
    public void Absent_keys_take_transformers_defaults()
    {
        var c = Parse("""{"model_type":"qwen2","hidden_size":64,"num_attention_heads":4,"intermediate_size":128,"num_hidden_layers":1,"vocab_size":50}""");
        Assert.Equal(4, c.NumKeyValueHeads);        // None means one KV head per query head
        Assert.Equal(16, c.HeadDim);
        Assert.False(c.TieWordEmbeddings);          // Qwen2Config's default
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Empty(c.EosTokenIds);
    }

    [Fact]
    public void Explicit_head_dim_and_eos_list_are_honoured()
    {
        var c = Parse("""{"hidden_size":48,"num_attention_heads":6,"num_key_value_heads":2,"head_dim":16,"eos_token_id":[7,8],"rope_theta":5e5,"rms_norm_eps":1e-5,"tie_word_embeddings":false}""");
        Assert.Equal(16, c.HeadDim);
        Assert.Equal([7, 8], c.EosTokenIds);
        Assert.Equal(5e5, c.RopeTheta);
        Assert.Equal(1e-5, c.RmsNormEps);
    }

    [Fact]
    public void Written_config_reads_back_to_the_same_values()
    {
        var c = TestModels.Odd;
        var back = Qwen2Config.FromJson(JsonNode.Parse(c.ToJson("bfloat16").ToJsonString())!.AsObject(), "roundtrip");
        Assert.Equal(c with { EosTokenIds = back.EosTokenIds, TorchDtype = "bfloat16" }, back);
        Assert.Equal(c.EosTokenIds, back.EosTokenIds);
    }

    [Theory]
    [InlineData("""{"model_type":"llama"}""", "model_type")]
    [InlineData("""{"rope_scaling":{"rope_type":"yarn","factor":4.0}}""", "yarn")]
    [InlineData("""{"rope_parameters":{"rope_type":"dynamic","rope_theta":1e6}}""", "dynamic")]
    [InlineData("""{"use_sliding_window":true}""", "use_sliding_window")]
    [InlineData("""{"hidden_size":"big"}""", "hidden_size")]
    [InlineData("""{"hidden_size":64,"num_attention_heads":5}""", "not divisible")]
    [InlineData("""{"num_attention_heads":6,"num_key_value_heads":4,"hidden_size":48}""", "multiple")]
    public void Unsupported_or_malformed_configs_are_rejected_with_the_key(string json, string mentioned)
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse(json));
        Assert.Contains("test.json", e.Message);
        Assert.Contains(mentioned, e.Message);
    }

    [Fact]
    public void Tiny_uses_the_real_vocabulary()
    {
        var tiny = Qwen2Config.LoadNamedOrPath("tiny");
        Assert.Equal(151936, tiny.VocabSize);
        Assert.Equal(2, tiny.NumHiddenLayers);
    }
}
