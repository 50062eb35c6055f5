using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>
/// Keys and values of the tokens seen so far, per layer, preallocated as [batch, kv_heads, max_len,
/// head_dim] so decoding never reallocates; attention reads only the filled part [0, Length).
/// Every row has the same <see cref="Length"/>: prompts of different lengths are left-padded, with
/// their positions and an attention mask telling the model which entries are real.
///
/// Memory: <see cref="BytesFor"/> = 2 (K and V) x layers x batch x kv_heads x max_len x head_dim x
/// element size, e.g. Qwen2.5-0.5B (24 layers, 2 KV heads, d 64) in fp32 at batch 64 x 1024 positions:
/// 2 x 24 x 64 x 2 x 1024 x 64 x 4 = 1.61 GB.
///
/// For the sampler: <see cref="CopyRowsFrom"/> copies a prefilled prompt into a free row (once per sample)
/// and <see cref="Shift"/> makes room, so freed rows take new samples while the others decode;
/// <see cref="SelectRows"/> drops finished rows (or reorders, or repeats them) in place.
/// The cache's tensors are not in any dispose scope: <see cref="Dispose"/> frees them.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys, values;

    public long Batch { get; private set; }
    public long MaxLength { get; }
    /// <summary>Positions filled so far (in every row).</summary>
    public long Length { get; private set; }
    public Device Device { get; }

    KvCache(Tensor[] keys, Tensor[] values, long batch, long maxLength, Device device)
    {
        this.keys = keys; this.values = values; Batch = batch; MaxLength = maxLength; Device = device;
    }

    public static long BytesFor(Qwen2Config config, long batch, long maxLength, ScalarType dtype = ScalarType.Float32) =>
        2L * config.NumHiddenLayers * batch * config.NumKeyValueHeads * maxLength * config.HeadDim * SafeTensors.ElementSize(dtype);

    /// <summary>An empty cache for <paramref name="batch"/> rows of up to <paramref name="maxLength"/> positions (prompt + generated).</summary>
    public static KvCache Create(Qwen2Config config, long batch, long maxLength, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (batch <= 0 || maxLength <= 0) throw new ArgumentException($"KV cache needs a positive batch and length, got {batch} x {maxLength}");
        device ??= torch.CPU;
        // Zeros, not empty: attention reads masked entries too (a row's padding, or what a refilled row left)
        // and weighs them by 0, which makes NaN of a NaN or infinity that recycled memory happened to hold.
        Tensor Alloc() => torch.zeros([batch, config.NumKeyValueHeads, maxLength, config.HeadDim], dtype, device).DetachFromDisposeScope();
        var layers = config.NumHiddenLayers;
        return new KvCache(Enumerable.Range(0, layers).Select(_ => Alloc()).ToArray(),
            Enumerable.Range(0, layers).Select(_ => Alloc()).ToArray(), batch, maxLength, device);
    }

    /// <summary>
    /// Writes one layer's new keys/values [B, kv_heads, T, d] at [Length, Length + T) and returns views
    /// of the filled part [B, kv_heads, Length + T, d]. <see cref="Advance"/> moves Length once all layers are done.
    /// </summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor newKeys, Tensor newValues)
    {
        var t = newKeys.shape[2];
        keys[layer].narrow(2, Length, t).copy_(newKeys);
        values[layer].narrow(2, Length, t).copy_(newValues);
        return (keys[layer].narrow(2, 0, Length + t), values[layer].narrow(2, 0, Length + t));
    }

    internal void Advance(long tokens) => Length += tokens;

    /// <summary>
    /// Keeps rows <paramref name="indices"/> (int64 [n], on the cache's device) in that order; an index
    /// may repeat. Layer by layer, so the extra memory is one layer's new tensors.
    /// </summary>
    public void SelectRows(Tensor indices)
    {
        if (indices.dim() != 1) throw new ArgumentException("row indices must be one-dimensional");
        using (torch.no_grad())
            for (var l = 0; l < keys.Length; l++)
            {
                keys[l] = Replace(keys[l], keys[l].index_select(0, indices));
                values[l] = Replace(values[l], values[l].index_select(0, indices));
            }
        Batch = indices.shape[0];
    }

    /// <summary>
    /// Copies rows <paramref name="sourceRows"/> of <paramref name="source"/>'s filled part [0, source.Length)
    /// into rows <paramref name="targetRows"/> of this cache at [Length - source.Length, Length), so both end
    /// at this cache's current length (the sampler's refill: a prefilled, left-padded prompt joins a batch
    /// that is already decoding). Needs Length >= source.Length.
    /// </summary>
    public void CopyRowsFrom(KvCache source, Tensor sourceRows, Tensor targetRows)
    {
        if (source.Length > Length)
            throw new ArgumentException($"cannot copy {source.Length} cached positions into a cache filled to {Length}");
        if (source.Length == 0) return;
        using var noGrad = torch.no_grad();
        for (var l = 0; l < keys.Length; l++)
            using (var scope = torch.NewDisposeScope())
            {
                keys[l].narrow(2, Length - source.Length, source.Length)
                    .index_copy_(0, targetRows, source.keys[l].narrow(2, 0, source.Length).index_select(0, sourceRows));
                values[l].narrow(2, Length - source.Length, source.Length)
                    .index_copy_(0, targetRows, source.values[l].narrow(2, 0, source.Length).index_select(0, sourceRows));
            }
    }

    /// <summary>
    /// Moves the filled part of every row by <paramref name="offset"/> positions: negative drops the first
    /// -offset positions (frees room at the end), positive inserts offset positions of garbage at the
    /// start (which an attention mask must hide). Length changes by offset. Rotary embeddings are already
    /// applied to cached keys, so moved entries stay valid.
    /// </summary>
    public void Shift(long offset)
    {
        if (offset == 0) return;
        if (Length + offset < 0 || Length + offset > MaxLength)
            throw new ArgumentException($"cannot shift a cache filled to {Length}/{MaxLength} by {offset}");
        var kept = offset < 0 ? Length + offset : Length;
        if (kept > 0)
        {
            using var noGrad = torch.no_grad();
            foreach (var t in keys.Concat(values))
                using (var moved = t.narrow(2, System.Math.Max(0, -offset), kept).clone())  // source and target overlap
                    t.narrow(2, System.Math.Max(0, offset), kept).copy_(moved);
        }
        Length += offset;
    }

    static Tensor Replace(Tensor old, Tensor replacement)
    {
        old.Dispose();
        return replacement.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
    }
}
