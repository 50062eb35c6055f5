using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

public class SafeTensorsTests
{
    /// <summary>A safetensors file assembled byte by byte, independently of the writer.</summary>
    static string HandBuilt(string header, byte[] data)
    {
        var path = Path.Combine(Fixtures.TempDir(), "hand.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static byte[] Data()
    {
        var data = new byte[14];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2f);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(8), 0x3F80);    // bf16 1.0
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(10), 0xC040);   // bf16 -3.0
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(12), 0x4248);   // f16 3.140625
        return data;
    }

    const string Header = """
        {"__metadata__":{"format":"pt"},
         "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
         "b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]},
         "c":{"dtype":"F16","shape":[1],"data_offsets":[12,14]}}
        """;

    [Fact]
    public void Reads_f32_bf16_and_f16_into_fp32_tensors()
    {
        using var file = SafeTensorsFile.Open(HandBuilt(Header, Data()));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(new[] { "a", "b", "c" }, file.Tensors.Keys.ToArray());
        using var a = torch.empty(2);
        using var b = torch.empty(1, 2);
        using var c = torch.empty(1);
        file.ReadInto("a", a);
        file.ReadInto("b", b);
        file.ReadInto("c", c);
        Assert.Equal(new[] { 1.5f, -2f }, TestModels.Floats(a));
        Assert.Equal(new[] { 1f, -3f }, TestModels.Floats(b));
        Assert.Equal(new[] { 3.140625f }, TestModels.Floats(c));
        using var raw = file.Read("b");
        Assert.Equal(ScalarType.BFloat16, raw.dtype);
    }

    [Fact]
    public void Writer_lays_out_header_and_bytes_as_the_format_says_and_rounds_bf16_to_nearest_even()
    {
        var path = Path.Combine(Fixtures.TempDir(), "w.safetensors");
        using var x = torch.tensor(new[] { 1f / 3, 1f, -2.5f });
        using var y = torch.tensor(new[] { 7f, 8f }).view(2, 1);
        SafeTensors.Write(path, [("x", x), ("y", y)], ScalarType.BFloat16);

        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + headerLength) % 8);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength).TrimEnd())!.AsObject();
        Assert.Equal("BF16", (string)header["x"]!["dtype"]!);
        Assert.Equal("[2,1]", header["y"]!["shape"]!.ToJsonString());
        Assert.Equal("[6,10]", header["y"]!["data_offsets"]!.ToJsonString());
        var data = bytes.AsSpan(8 + headerLength);
        Assert.Equal(10, data.Length);
        // 1/3 = 0x3EAAAAAB in fp32: the dropped half 0xAAAB is above 0x8000, so bf16 rounds up to 0x3EAB.
        Assert.Equal(0x3EAB, BinaryPrimitives.ReadUInt16LittleEndian(data));
        Assert.Equal(0x3F80, BinaryPrimitives.ReadUInt16LittleEndian(data[2..]));
        Assert.Equal(0xC020, BinaryPrimitives.ReadUInt16LittleEndian(data[4..]));   // -2.5
        Assert.Equal(0x40E0, BinaryPrimitives.ReadUInt16LittleEndian(data[6..]));   // 7
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));   // no temporary file left
    }

    [Fact]
    public void Tensors_larger_than_a_chunk_round_trip()
    {
        var path = Path.Combine(Fixtures.TempDir(), "big.safetensors");
        var rows = SafeTensors.ChunkBytes / (4 * 4096) * 2 + 3;   // a bit over two chunks of fp32
        using var big = torch.arange(rows * 4096, ScalarType.Float32).view(rows, 4096);
        SafeTensors.Write(path, [("big", big)]);
        Assert.Equal(8 + rows * 4096 * 4, new FileInfo(path).Length - HeaderBytes(path));
        using var file = SafeTensorsFile.Open(path);
        using var back = torch.zeros(rows, 4096);
        file.ReadInto("big", back);
        Assert.True(back.eq(big).all().item<bool>());
        File.Delete(path);   // 34 MB: do not leave it in /tmp
    }

    static long HeaderBytes(string path)
    {
        Span<byte> len = stackalloc byte[8];
        using var fs = File.OpenRead(path);
        fs.ReadExactly(len);
        return (long)BinaryPrimitives.ReadUInt64LittleEndian(len);
    }

    [Fact]
    public void Unknown_dtype_names_file_and_tensor()
    {
        var path = HandBuilt("""{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", new byte[2]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("tensor w", e.Message);
        Assert.Contains("F8_E4M3", e.Message);
    }

    [Fact]
    public void Truncated_file_names_the_tensor_that_does_not_fit()
    {
        var path = HandBuilt(Header, Data()[..13]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("tensor c", e.Message);
    }

    [Fact]
    public void Not_a_safetensors_file_is_reported_as_such()
    {
        var path = Path.Combine(Fixtures.TempDir(), "junk.safetensors");
        File.WriteAllText(path, "this is not a safetensors file at all");
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not a safetensors file", e.Message);
        Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(path + ".missing"));
    }

    [Fact]
    public void Shape_mismatch_names_the_tensor_and_both_shapes()
    {
        using var file = SafeTensorsFile.Open(HandBuilt(Header, Data()));
        using var wrong = torch.empty(2, 1);
        var e = Assert.Throws<InvalidDataException>(() => file.ReadInto("b", wrong));
        Assert.Contains("tensor b", e.Message);
        Assert.Contains("[1, 2]", e.Message);
        Assert.Contains("[2, 1]", e.Message);
    }

    [Fact]
    public void Byte_count_that_disagrees_with_dtype_and_shape_is_rejected()
    {
        var path = HandBuilt("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", new byte[8]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("tensor w", e.Message);
    }
}
