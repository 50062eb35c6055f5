using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Training;

/// <summary>
/// bitsandbytes' blockwise 8-bit dynamic quantization (Dettmers et al., "8-bit Optimizers via Block-wise
/// Quantization", 2022): each block of 2048 consecutive values is divided by its absolute maximum and
/// each result is stored as the index of the nearest value of a fixed 256-entry non-linear code.
/// </summary>
public static class BlockwiseQuantization
{
    public const long BlockSize = 2048;

    /// <summary>Tensors with fewer elements keep fp32 states (bitsandbytes' min_8bit_size).</summary>
    public const long MinElements = 4096;

    public static long Blocks(long numel) => (numel + BlockSize - 1) / BlockSize;

    /// <summary>
    /// bitsandbytes' <c>create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)</c>, sorted ascending.
    /// For exponent i = 0..6 the decade [0.1, 1] x 10^(i-6) is split into equal parts and their midpoints
    /// are code values: 2^i parts when signed (each also negated), 2^(i+1) when unsigned; then 0 and 1.
    /// So the code is dense near 1 and reaches down to about 1e-7 of the block's maximum.
    /// </summary>
    public static float[] DynamicCode(bool signed)
    {
        var data = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            int parts = signed ? 1 << i : 1 << (i + 1);
            double scale = System.Math.Pow(10, i - 6);
            for (int k = 0; k < parts; k++)
            {
                // midpoint of [b_k, b_k+1] with b = linspace(0.1, 1, parts + 1)
                double mean = 0.1 + 0.9 * (k + 0.5) / parts;
                data.Add(scale * mean);
                if (signed) data.Add(-scale * mean);
            }
        }
        data.Add(0);
        data.Add(1);
        return data.Select(d => (float)d).Order().ToArray();
    }

    /// <summary>The points halfway between consecutive code values (255), as fp32: the boundaries of nearest-value rounding.</summary>
    public static float[] Midpoints(float[] code) => code.Zip(code.Skip(1), (a, b) => (a + b) / 2).ToArray();

    static readonly float[] SignedCode = DynamicCode(signed: true), UnsignedCode = DynamicCode(signed: false);

    public static byte ZeroIndex(bool signed) => (byte)Array.IndexOf(signed ? SignedCode : UnsignedCode, 0f);

    /// <summary>
    /// Codes (uint8 [n]) and fp32 absmax per block ([ceil(n / 2048)]) of fp32 values [n]: each value maps to the
    /// nearest code value of x / absmax (the last block may be short). An all-zero block gets absmax 0 and the code of 0.
    /// </summary>
    public static (Tensor Codes, Tensor Absmax) Quantize(Tensor values, bool signed)
    {
        using var scope = NewDisposeScope();
        long n = values.numel(), blocks = Blocks(n);
        var flat = values.reshape(-1);
        var padded = n == blocks * BlockSize ? flat : nn.functional.pad(flat, [0, blocks * BlockSize - n]);
        var byBlock = padded.view(blocks, BlockSize);
        var absmax = byBlock.abs().amax([1]);
        var normalized = byBlock / absmax.clamp_min(float.Epsilon).unsqueeze(1);
        var code = signed ? SignedCode : UnsignedCode;
        // Nearest code value: the number of midpoints between consecutive code values below x.
        var midpoints = tensor(Midpoints(code), device: values.device);
        var normalizedFlat = normalized.reshape(-1);
        var index = bucketize(normalizedFlat, midpoints);
        if (signed)
        {
            // As bitsandbytes: a value never changes sign (a small negative one does not become 0 or positive).
            var codeTable = tensor(code, device: values.device);
            var quantized = codeTable.index_select(0, index);
            index = index.where(quantized.signbit().eq(normalizedFlat.signbit()), index.add(normalizedFlat.signbit().to(ScalarType.Int64).mul(-2).add(1)));
        }
        var codes = index.narrow(0, 0, n).to(ScalarType.Byte);
        return (codes.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    /// <summary>fp32 values [n] of codes [n] and per-block absmax: code value x absmax of the value's block.</summary>
    public static Tensor Dequantize(Tensor codes, Tensor absmax, bool signed)
    {
        using var scope = NewDisposeScope();
        long n = codes.numel(), blocks = Blocks(n);
        var table = tensor(signed ? SignedCode : UnsignedCode, device: codes.device);
        var normalized = table.index_select(0, codes.reshape(-1).to(ScalarType.Int64));
        var padded = n == blocks * BlockSize ? normalized : nn.functional.pad(normalized, [0, blocks * BlockSize - n]);
        var values = padded.view(blocks, BlockSize).mul_(absmax.unsqueeze(1)).view(-1).narrow(0, 0, n);
        return (n == blocks * BlockSize ? values : values.contiguous()).MoveToOuterDisposeScope();
    }
}
