using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace Rlvr.Text;

/// <summary>
/// The BPE step of a byte-level tokenizer: one pre-tokenized word to ids, exactly as HuggingFace's
/// <c>tokenizers</c> (<c>Word::merge_all</c>) does it. The word's UTF-8 bytes start as one symbol each, in a
/// linked list; every adjacent pair that has a merge rule goes into a priority queue keyed by (rank, position);
/// the lowest is merged, stale entries (a side already merged away, or the pair no longer giving the same
/// token) are skipped, and the two pairs the new symbol forms with its neighbours are queued. Each merge costs
/// O(log n), so a word of n bytes takes O(n log n), where a rescan of the whole word per merge would take
/// O(n²) (a 1,000,000-letter word: seconds instead of minutes). Words up to 256 chars are cached.
/// Safe to use from several threads.
/// </summary>
internal sealed class BytePairEncoding
{
    const int MaxCachedWordLength = 256;
    const int CacheCapacity = 200_000;

    readonly int[] byteIds;                              // byte -> id of its one-symbol token, -1 when the vocabulary lacks it
    readonly Dictionary<long, (int Rank, int Id)> merges; // (left id, right id) -> rank of the rule and id of the result
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cacheBySpan;

    /// <param name="source">For messages: the file the rules come from.</param>
    public BytePairEncoding(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<string> mergeRules, string source)
    {
        byteIds = new int[256];
        for (var b = 0; b < 256; b++) byteIds[b] = vocab.TryGetValue(ByteLevel.CharOf((byte)b).ToString(), out var id) ? id : -1;
        merges = new Dictionary<long, (int, int)>(mergeRules.Count);
        for (var rank = 0; rank < mergeRules.Count; rank++)
        {
            var rule = mergeRules[rank];
            var space = rule.IndexOf(' ');
            if (space <= 0 || space == rule.Length - 1 || rule.IndexOf(' ', space + 1) >= 0)
                throw new InvalidDataException($"{source}: merge {rank} \"{rule}\" is not two tokens separated by one space");
            var left = rule[..space];
            var right = rule[(space + 1)..];
            // A later rule for the same pair replaces an earlier one, as in HF (its merges become a hash map).
            merges[Key(IdOf(vocab, left, rule, source), IdOf(vocab, right, rule, source))] = (rank, IdOf(vocab, left + right, rule, source));
        }
        cacheBySpan = cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    static int IdOf(IReadOnlyDictionary<string, int> vocab, string token, string rule, string source) =>
        vocab.TryGetValue(token, out var id) ? id
            : throw new InvalidDataException($"{source}: merge \"{rule}\" uses \"{token}\", which is not in the vocabulary");

    static long Key(int left, int right) => (long)left << 32 | (uint)right;

    /// <summary>Appends the ids of one pre-tokenized word (normalized text) to <paramref name="ids"/>.</summary>
    public void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (cacheBySpan.TryGetValue(word, out var cached)) { ids.AddRange(cached); return; }
        var result = Merge(word);
        if (word.Length <= MaxCachedWordLength && cache.Count < CacheCapacity) cacheBySpan.TryAdd(word, result);
        ids.AddRange(result);
    }

    int[] Merge(ReadOnlySpan<char> word)
    {
        var byteCount = Encoding.UTF8.GetByteCount(word);
        var bytes = ArrayPool<byte>.Shared.Rent(byteCount);
        var symbols = new int[byteCount];
        var n = 0;
        try
        {
            Encoding.UTF8.GetBytes(word, bytes);
            // A byte the vocabulary lacks is dropped, as HF's BPE does when it has no unk token.
            for (var i = 0; i < byteCount; i++)
                if (byteIds[bytes[i]] is var id and >= 0) symbols[n++] = id;
        }
        finally { ArrayPool<byte>.Shared.Return(bytes); }
        if (n < 2) return n == symbols.Length ? symbols : symbols[..n];

        var prev = new int[n];
        var next = new int[n];   // n = none
        var removed = new bool[n];
        // Lowest rank first, then leftmost: the priority packs (rank, position) into one long.
        var queue = new PriorityQueue<(int Pos, int Id), long>(n);
        for (var i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1;
            if (i + 1 < n && merges.TryGetValue(Key(symbols[i], symbols[i + 1]), out var m)) queue.Enqueue((i, m.Id), Priority(m.Rank, i));
        }
        while (queue.TryDequeue(out var top, out _))
        {
            var pos = top.Pos;
            if (removed[pos] || next[pos] == n) continue;
            var right = next[pos];
            // Stale entry: the pair at pos no longer gives this token (one side has been merged since).
            if (!merges.TryGetValue(Key(symbols[pos], symbols[right]), out var current) || current.Id != top.Id) continue;
            symbols[pos] = top.Id;
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] < n) prev[next[right]] = pos;
            if (prev[pos] >= 0 && merges.TryGetValue(Key(symbols[prev[pos]], symbols[pos]), out var left))
                queue.Enqueue((prev[pos], left.Id), Priority(left.Rank, prev[pos]));
            if (next[pos] < n && merges.TryGetValue(Key(symbols[pos], symbols[next[pos]]), out var after))
                queue.Enqueue((pos, after.Id), Priority(after.Rank, pos));
        }
        var result = new List<int>();
        for (var i = 0; i < n; i = next[i]) result.Add(symbols[i]);
        return result.ToArray();
    }

    static long Priority(int rank, int pos) => (long)rank << 32 | (uint)pos;
}
