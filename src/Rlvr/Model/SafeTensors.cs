using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>One tensor's entry in a safetensors header: dtype, shape and byte range in the data section.</summary>
public sealed record SafeTensorInfo(string Name, ScalarType DType, long[] Shape, long Begin, long End)
{
    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => SafeTensors.ShapeText(Shape);
}

/// <summary>
/// The safetensors format (https://huggingface.co/docs/safetensors): 8-byte little-endian header
/// length, a JSON header <c>{name: {dtype, shape, data_offsets}, "__metadata__": {...}}</c> padded with
/// spaces, then the raw little-endian tensor bytes.
/// </summary>
public static class SafeTensors
{
    /// <summary>Bytes moved per read or write: tensors are streamed in row chunks of about this size, so no whole-file or whole-tensor staging buffer is needed.</summary>
    internal const long ChunkBytes = 16L << 20;

    static readonly (string Name, ScalarType Type)[] DTypes =
    [
        ("F64", ScalarType.Float64), ("F32", ScalarType.Float32), ("F16", ScalarType.Float16), ("BF16", ScalarType.BFloat16),
        ("I64", ScalarType.Int64), ("I32", ScalarType.Int32), ("I16", ScalarType.Int16), ("I8", ScalarType.Int8),
        ("U8", ScalarType.Byte), ("BOOL", ScalarType.Bool),
    ];

    public static ScalarType? ParseDType(string name) =>
        DTypes.Where(d => d.Name == name).Select(d => (ScalarType?)d.Type).FirstOrDefault();

    public static string DTypeName(ScalarType type) =>
        DTypes.Where(d => d.Type == type).Select(d => d.Name).FirstOrDefault()
        ?? throw new ArgumentException($"dtype {type} cannot be stored in safetensors");

    internal static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    public static bool IsFloat(ScalarType type) => type is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;

    internal static string ShapeText(long[] shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> atomically (a temporary file renamed
    /// into place), converting each to <paramref name="dtype"/> when given (else keeping its own dtype),
    /// a row chunk at a time so a bf16 save of a large fp32 model needs no full converted copy.
    /// </summary>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, ScalarType? dtype = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        var meta = new JsonObject { ["format"] = "pt" };
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>()) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var (name, t) in tensors)
        {
            var type = dtype ?? t.dtype;
            var bytes = t.numel() * ElementSize(type);
            header[name] = new JsonObject
            {
                ["dtype"] = DTypeName(type),
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode?)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = (json.Length + 7) / 8 * 8;   // the data section starts 8-byte aligned, as the reference writer does

        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            fs.Write(len);
            fs.Write(json);
            for (var i = json.Length; i < padded; i++) fs.WriteByte((byte)' ');
            using (torch.no_grad())
                foreach (var (_, t) in tensors) WriteData(fs, t, dtype ?? t.dtype);
        });
    }

    static void WriteData(Stream fs, Tensor t, ScalarType type)
    {
        using var views = torch.NewDisposeScope();
        foreach (var (chunk, _) in RowChunks(t.detach(), ElementSize(type)))
            using (var scope = torch.NewDisposeScope())
            {
                var cpu = chunk.device_type == DeviceType.CPU && chunk.dtype == type && chunk.is_contiguous()
                    ? chunk : chunk.to(type, torch.CPU).contiguous();
                fs.Write(cpu.bytes);
            }
    }

    /// <summary>
    /// Views of <paramref name="t"/> along its first dimension of at most <see cref="ChunkBytes"/> each
    /// (at <paramref name="elementSize"/> bytes an element), with their row offsets. Scalars and small
    /// tensors come back whole.
    /// </summary>
    internal static IEnumerable<(Tensor Chunk, long Row)> RowChunks(Tensor t, long elementSize)
    {
        var bytes = t.numel() * elementSize;
        if (t.dim() == 0 || bytes <= ChunkBytes) { yield return (t, 0); yield break; }
        var rows = t.shape[0];
        var rowBytes = System.Math.Max(1, bytes / rows);
        var step = System.Math.Max(1, ChunkBytes / rowBytes);
        for (long r = 0; r < rows; r += step)
            yield return (t.narrow(0, r, System.Math.Min(step, rows - r)), r);
    }
}

/// <summary>
/// An open safetensors file. The header is parsed and checked on open; tensors are read one at a
/// time straight into their destination (a model parameter), converting bf16/f16 to the
/// destination's dtype a chunk at a time. Errors name the file and the tensor.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers above this size are not plausible (real ones are a few hundred KB).</summary>
    const long MaxHeaderBytes = 100L << 20;

    readonly SafeFileHandle handle;
    readonly long dataStart;

    public string Path { get; }
    /// <summary>Tensors in header order.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafeTensorsFile(string path, SafeFileHandle handle, long dataStart, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; this.handle = handle; this.dataStart = dataStart; Tensors = tensors; Metadata = metadata;
    }

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: safetensors file not found", path);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            var fileLength = RandomAccess.GetLength(handle);
            if (fileLength < 8) throw new InvalidDataException($"{path}: truncated safetensors file ({fileLength} bytes, no header)");
            Span<byte> len = stackalloc byte[8];
            ReadExactly(handle, len, 0, path, "the header length");
            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(len);
            if (headerLength > MaxHeaderBytes || 8 + (long)headerLength > fileLength)
                throw new InvalidDataException($"{path}: not a safetensors file or truncated (header length {headerLength}, file length {fileLength})");
            var headerBytes = new byte[headerLength];
            ReadExactly(handle, headerBytes, 8, path, "the header");
            var dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = ParseHeader(headerBytes, path, fileLength - dataStart);
            return new SafeTensorsFile(path, handle, dataStart, tensors, metadata);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(byte[] bytes, string path, long dataLength)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(bytes); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: malformed safetensors header: {e.Message}"); }
        if (node is not JsonObject header) throw new InvalidDataException($"{path}: safetensors header is not a JSON object");

        var tensors = new Dictionary<string, SafeTensorInfo>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, value) in header)
        {
            if (name == "__metadata__")
            {
                if (value is JsonObject meta)
                    foreach (var (k, v) in meta) metadata[k] = v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : v?.ToJsonString() ?? "";
                continue;
            }
            if (value is not JsonObject entry) throw new InvalidDataException($"{path}: tensor {name}: header entry is not an object");
            var dtypeName = entry["dtype"] is JsonValue d && d.TryGetValue<string>(out var dn) ? dn
                : throw new InvalidDataException($"{path}: tensor {name}: missing dtype");
            var dtype = SafeTensors.ParseDType(dtypeName)
                ?? throw new InvalidDataException($"{path}: tensor {name}: unknown or unsupported dtype \"{dtypeName}\"");
            var shape = LongArray(entry["shape"], path, name, "shape");
            var offsets = LongArray(entry["data_offsets"], path, name, "data_offsets");
            if (shape.Any(s => s < 0)) throw new InvalidDataException($"{path}: tensor {name}: negative dimension in shape {SafeTensors.ShapeText(shape)}");
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                throw new InvalidDataException($"{path}: tensor {name}: bad data_offsets {SafeTensors.ShapeText(offsets)}");
            var info = new SafeTensorInfo(name, dtype, shape, offsets[0], offsets[1]);
            if (info.End - info.Begin != info.Numel * SafeTensors.ElementSize(dtype))
                throw new InvalidDataException($"{path}: tensor {name}: data_offsets span {info.End - info.Begin} bytes but {dtypeName} {info.ShapeText} needs {info.Numel * SafeTensors.ElementSize(dtype)}");
            if (info.End > dataLength)
                throw new InvalidDataException($"{path}: truncated: tensor {name} ends at byte {info.End} of the data section but the file holds only {dataLength}");
            tensors[name] = info;
        }
        return (tensors, metadata);
    }

    static long[] LongArray(JsonNode? node, string path, string name, string key)
    {
        if (node is not JsonArray a) throw new InvalidDataException($"{path}: tensor {name}: missing {key}");
        return a.Select(n => n is JsonValue v && v.TryGetValue<long>(out var x) ? x
            : throw new InvalidDataException($"{path}: tensor {name}: {key} must hold integers")).ToArray();
    }

    SafeTensorInfo Info(string name) => Tensors.TryGetValue(name, out var info) ? info
        : throw new InvalidDataException($"{Path}: no tensor named {name}");

    /// <summary>
    /// Fills <paramref name="target"/> (any dtype, any device, e.g. a model parameter) with tensor
    /// <paramref name="name"/>. The shapes must agree. Bytes go straight into the target when it is a
    /// contiguous CPU tensor of the file's dtype; otherwise through a chunk-sized staging tensor.
    /// </summary>
    public void ReadInto(string name, Tensor target)
    {
        var info = Info(name);
        if (!info.Shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"{Path}: tensor {name} has shape {info.ShapeText} but the model expects {SafeTensors.ShapeText(target.shape)}");
        // Float types convert into each other (bf16 weights into an fp32 model); an integer or bool tensor where a
        // float is expected (or the reverse) is a broken or foreign file, even when the byte count happens to agree.
        if (torch.is_floating_point(target) != SafeTensors.IsFloat(info.DType))
            throw new InvalidDataException($"{Path}: tensor {name} is stored as {SafeTensors.DTypeName(info.DType)} but must be "
                + (torch.is_floating_point(target) ? "a float type (F32, BF16, F16 or F64)" : $"{SafeTensors.DTypeName(target.dtype)}"));
        var elementSize = SafeTensors.ElementSize(info.DType);
        var rowBytes = info.Shape.Length == 0 ? elementSize : info.Numel / System.Math.Max(1, info.Shape[0]) * elementSize;
        using var noGrad = torch.no_grad();
        using var views = torch.NewDisposeScope();
        foreach (var (chunk, row) in SafeTensors.RowChunks(target.detach(), elementSize))
            using (torch.NewDisposeScope())
            {
                var offset = dataStart + info.Begin + row * rowBytes;
                if (chunk.device_type == DeviceType.CPU && chunk.dtype == info.DType && chunk.is_contiguous())
                {
                    ReadExactly(handle, chunk.bytes, offset, Path, $"tensor {name}");
                    continue;
                }
                var staging = torch.empty(chunk.shape, info.DType);
                ReadExactly(handle, staging.bytes, offset, Path, $"tensor {name}");
                chunk.copy_(staging);
            }
    }

    /// <summary>Tensor <paramref name="name"/> as a new CPU tensor in the file's dtype.</summary>
    public Tensor Read(string name)
    {
        var info = Info(name);
        var t = torch.empty(info.Shape, info.DType);
        ReadInto(name, t);
        return t;
    }

    static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path, string what)
    {
        while (buffer.Length > 0)
        {
            var n = RandomAccess.Read(handle, buffer, offset);
            if (n == 0) throw new InvalidDataException($"{path}: truncated while reading {what}");
            buffer = buffer[n..];
            offset += n;
        }
    }

    public void Dispose() => handle.Dispose();
}
