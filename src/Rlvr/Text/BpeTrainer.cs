using System.Text;

namespace Rlvr.Text;

/// <summary>A byte-level BPE tokenizer learned by <see cref="BpeTrainer"/>, ready to be written as a HuggingFace folder.</summary>
/// <param name="Tokens">The BPE vocabulary in id order: the 256 byte symbols (ids 0..255, in the order of their
/// byte-level characters, as in GPT-2's and Qwen2's vocabularies), then one token per merge that made a new string.</param>
/// <param name="Merges">Merge rules, highest priority (learned first) first.</param>
/// <param name="AddedTokens">The special tokens, with the ids right after <paramref name="Tokens"/>.</param>
/// <param name="Corpus">What the corpus held, for the user.</param>
public sealed record TrainedBpe(
    IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges, IReadOnlyList<AddedToken> AddedTokens,
    BpeCorpusStats Corpus)
{
    /// <summary>Every id the tokenizer has: BPE tokens plus added tokens (the embedding rows a model needs).</summary>
    public int VocabSize => Tokens.Count + AddedTokens.Count;
}

/// <param name="Texts">Texts read.</param>
/// <param name="Chars">UTF-16 characters read.</param>
/// <param name="Words">Pre-tokenized words (regex pieces), counting repeats.</param>
/// <param name="DistinctWords">Different words.</param>
/// <param name="StoppedBecause">Why merging stopped before the vocabulary size was reached, or null when it was reached.</param>
public sealed record BpeCorpusStats(long Texts, long Chars, long Words, int DistinctWords, string? StoppedBecause);

/// <summary>
/// Learns a byte-level BPE vocabulary of the GPT-2/Qwen2 kind from texts. Each text goes through the same
/// pipeline as encoding in <see cref="QwenTokenizer"/> (special tokens cut out, NFC, Qwen2's split regex,
/// UTF-8 bytes in the byte-level alphabet), so the words counted are exactly the words the tokenizer will
/// see. Then the most frequent adjacent pair of symbols, over all words weighted by their counts, is merged
/// into a new symbol, again and again, as HuggingFace's BpeTrainer does: pair counts are kept up to date
/// incrementally (only the words holding the merged pair are rescanned) and the best pair comes from a
/// priority queue whose stale entries are re-queued when popped. Ties are broken by the pair's strings
/// (ordinal, left then right), so the result depends only on the corpus and the options.
/// </summary>
public static class BpeTrainer
{
    /// <summary>The ChatML special tokens every trained tokenizer gets, in id order after the BPE vocabulary.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    /// <summary>Smallest <c>vocabSize</c>: the 256 byte symbols plus the special tokens.</summary>
    public static int MinVocabSize => 256 + SpecialTokens.Count;

    /// <param name="texts">The corpus; each text is read once.</param>
    /// <param name="vocabSize">Every id of the result, special tokens included (<see cref="TrainedBpe.VocabSize"/>): merges are
    /// learned until the BPE vocabulary has <c>vocabSize - 3</c> tokens.</param>
    /// <param name="minFrequency">A pair seen fewer times than this is never merged (training may then stop short of <paramref name="vocabSize"/>).</param>
    public static TrainedBpe Train(IEnumerable<string> texts, int vocabSize, int minFrequency = 2)
    {
        if (vocabSize < MinVocabSize)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"must be at least {MinVocabSize} (256 bytes + {SpecialTokens.Count} special tokens)");
        if (minFrequency < 1) throw new ArgumentOutOfRangeException(nameof(minFrequency), minFrequency, "must be at least 1");

        var (wordCounts, stats) = CountWords(texts);
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.CharOf((byte)b).ToString()).Order(StringComparer.Ordinal).ToList();
        var learner = new MergeLearner(tokens, wordCounts);
        var stopped = learner.Run(vocabSize - SpecialTokens.Count, minFrequency);

        var added = SpecialTokens.Select((t, i) => new AddedToken(tokens.Count + i, t, Special: true)).ToList();
        return new TrainedBpe(tokens, learner.Merges, added, stats with { StoppedBecause = stopped });
    }

    /// <summary>The words of the corpus as encoding cuts them, with their counts, in byte-level form ("Ġthe").</summary>
    static (Dictionary<string, long> Counts, BpeCorpusStats Stats) CountWords(IEnumerable<string> texts)
    {
        var specials = new AddedTokenMatcher(SpecialTokens.Select((t, i) => new AddedToken(i, t, Special: true)));
        var pieces = new Dictionary<string, long>(StringComparer.Ordinal);
        long textCount = 0, chars = 0, words = 0;
        foreach (var text in texts)
        {
            textCount++;
            chars += text.Length;
            foreach (var (token, raw) in specials.Split(QwenTokenizer.ReplaceLoneSurrogates(text)))
            {
                if (token != null) continue;
                var normalized = HfNfc.Normalize(raw);
                for (var i = 0; i < normalized.Length;)
                {
                    var end = Qwen2PreTokenizer.PieceEnd(normalized, i);
                    var word = normalized[i..end];
                    pieces[word] = pieces.GetValueOrDefault(word) + 1;
                    words++;
                    i = end;
                }
            }
        }
        var counts = new Dictionary<string, long>(pieces.Count, StringComparer.Ordinal);
        foreach (var (piece, n) in pieces)
        {
            var byteLevel = ToByteLevel(piece);
            counts[byteLevel] = counts.GetValueOrDefault(byteLevel) + n;
        }
        return (counts, new BpeCorpusStats(textCount, chars, words, counts.Count, null));
    }

    static string ToByteLevel(string piece)
    {
        var bytes = Encoding.UTF8.GetBytes(piece);
        var chars = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) chars[i] = ByteLevel.CharOf(bytes[i]);
        return new string(chars);
    }

    /// <summary>The merge loop over a word-frequency table.</summary>
    sealed class MergeLearner
    {
        readonly List<string> tokens;
        readonly Dictionary<string, int> ids;
        readonly List<int>[] words;   // each distinct word as symbol ids
        readonly long[] wordCounts;
        readonly Dictionary<(int, int), long> pairCounts = new();
        readonly Dictionary<(int, int), HashSet<int>> wordsWithPair = new(); // may also list words that lost the pair
        readonly PriorityQueue<(int A, int B), (long Count, int A, int B)> queue;

        public List<(string Left, string Right)> Merges { get; } = new();

        public MergeLearner(List<string> tokens, Dictionary<string, long> counts)
        {
            this.tokens = tokens;
            ids = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
            words = new List<int>[counts.Count];
            wordCounts = new long[counts.Count];
            var w = 0;
            foreach (var (word, n) in counts)
            {
                words[w] = word.Select(c => ids[c.ToString()]).ToList();
                wordCounts[w] = n;
                for (var i = 0; i + 1 < word.Length; i++)
                {
                    var pair = (words[w][i], words[w][i + 1]);
                    pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + n;
                    WordsWith(pair).Add(w);
                }
                w++;
            }
            queue = new PriorityQueue<(int A, int B), (long Count, int A, int B)>(new PairOrder(tokens));
            foreach (var (pair, n) in pairCounts) Enqueue(pair, n);
        }

        void Enqueue((int A, int B) pair, long count) => queue.Enqueue(pair, (count, pair.A, pair.B));

        HashSet<int> WordsWith((int, int) pair)
        {
            if (!wordsWithPair.TryGetValue(pair, out var set)) wordsWithPair[pair] = set = new HashSet<int>();
            return set;
        }

        /// <summary>Merges until the vocabulary has <paramref name="target"/> tokens; returns why it stopped early, or null.</summary>
        public string? Run(int target, int minFrequency)
        {
            while (tokens.Count < target)
            {
                if (!queue.TryDequeue(out var pair, out var top))
                    return $"no pair of symbols left to merge (every word is a single token) at {tokens.Count} BPE tokens";
                var count = pairCounts.GetValueOrDefault(pair);
                if (count != top.Count)
                {
                    // Stale entry: the pair's count changed since it was queued.
                    if (count > 0) Enqueue(pair, count);
                    continue;
                }
                if (count < minFrequency)
                    return $"the most frequent pair left occurs {count} time(s), under --min-frequency {minFrequency}, at {tokens.Count} BPE tokens";
                Merge(pair);
            }
            return null;
        }

        void Merge((int A, int B) pair)
        {
            var (a, b) = pair;
            var merged = tokens[a] + tokens[b];
            Merges.Add((tokens[a], tokens[b]));
            // A string already in the vocabulary (reached by another split) keeps its id, as in HF's trainer.
            if (!ids.TryGetValue(merged, out var id))
            {
                id = tokens.Count;
                tokens.Add(merged);
                ids[merged] = id;
            }

            var delta = new Dictionary<(int, int), long>();
            foreach (var w in wordsWithPair[pair])
            {
                var s = words[w];
                var n = wordCounts[w];
                for (var i = 0; i + 1 < s.Count; i++) Add(delta, (s[i], s[i + 1]), -n);
                // Left to right, non-overlapping: "a a a" with (a, a) becomes "aa a", as encoding does.
                var j = 0;
                for (var i = 0; i < s.Count; i++)
                {
                    if (i + 1 < s.Count && s[i] == a && s[i + 1] == b) { s[j++] = id; i++; }
                    else s[j++] = s[i];
                }
                s.RemoveRange(j, s.Count - j);
                for (var i = 0; i + 1 < s.Count; i++)
                {
                    var p = (s[i], s[i + 1]);
                    Add(delta, p, n);
                    if (p.Item1 == id || p.Item2 == id) WordsWith(p).Add(w);
                }
            }
            wordsWithPair.Remove(pair);
            foreach (var (p, d) in delta)
            {
                if (d == 0) continue;
                var now = pairCounts.GetValueOrDefault(p) + d;
                if (now == 0) pairCounts.Remove(p);
                else pairCounts[p] = now;
                // A pair that lost occurrences is re-queued when its stale entry comes up.
                if (d > 0) Enqueue(p, now);
            }
        }

        static void Add(Dictionary<(int, int), long> delta, (int, int) pair, long n) => delta[pair] = delta.GetValueOrDefault(pair) + n;

        /// <summary>Higher count first; equal counts by the left token's string, then the right one's (ordinal).</summary>
        sealed class PairOrder(List<string> tokens) : IComparer<(long Count, int A, int B)>
        {
            public int Compare((long Count, int A, int B) x, (long Count, int A, int B) y)
            {
                var c = y.Count.CompareTo(x.Count);
                if (c == 0) c = string.CompareOrdinal(tokens[x.A], tokens[y.A]);
                return c != 0 ? c : string.CompareOrdinal(tokens[x.B], tokens[y.B]);
            }
        }
    }
}
