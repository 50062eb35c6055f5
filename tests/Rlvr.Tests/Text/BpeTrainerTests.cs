using Rlvr.Text;

namespace Rlvr.Tests.Text;

/// <summary>The BPE trainer on corpora whose merges are worked out by hand.</summary>
public class BpeTrainerTests
{
    static string[] Merges(TrainedBpe bpe) => bpe.Merges.Select(m => m.Left + " " + m.Right).ToArray();

    [Fact]
    public void Merges_the_most_frequent_pair_first_and_breaks_ties_by_the_pair_strings()
    {
        // Words "ab", " ab", " ab", " cd" -> byte level ab, Ġab, Ġab, Ġcd. Pair counts: (a,b) 3, (Ġ,a) 2, (Ġ,c) 1, (c,d) 1.
        // 1st: a b (3). Then (Ġ,ab) 2: Ġ ab. Then (Ġ,c) and (c,d) tie at 1: "c" < "Ġ" (U+0063 < U+0120), so c d.
        var bpe = BpeTrainer.Train(["ab ab ab cd"], vocabSize: 256 + 3 + 3, minFrequency: 1);
        Assert.Equal(["a b", "Ġ ab", "c d"], Merges(bpe));
        Assert.Equal(["ab", "Ġab", "cd"], bpe.Tokens.Skip(256));
        Assert.Equal(262, bpe.VocabSize);
        Assert.Equal([(259, "<|endoftext|>"), (260, "<|im_start|>"), (261, "<|im_end|>")], bpe.AddedTokens.Select(t => (t.Id, t.Content)));
        Assert.All(bpe.AddedTokens, t => Assert.True(t.Special && !t.Normalized));
        Assert.Null(bpe.Corpus.StoppedBecause);
        Assert.Equal(4, bpe.Corpus.Words);
        Assert.Equal(3, bpe.Corpus.DistinctWords);
    }

    [Fact]
    public void Min_frequency_stops_merging_and_says_why()
    {
        var bpe = BpeTrainer.Train(["ab ab ab cd"], vocabSize: 1000, minFrequency: 2);
        Assert.Equal(["a b", "Ġ ab"], Merges(bpe));
        Assert.Contains("min-frequency 2", bpe.Corpus.StoppedBecause);
        Assert.Equal(256 + 2 + 3, bpe.VocabSize);
    }

    [Fact]
    public void A_run_of_one_symbol_merges_left_to_right_without_overlap()
    {
        var bpe = BpeTrainer.Train(["aaaa aaaa aaa aaa"], vocabSize: 256 + 3 + 3, minFrequency: 1);
        // Words: "aaaa", " aaaa", " aaa", " aaa" (the space joins the word after it): Ġ pairs come into play.
        // (a,a): 3 + 3 + 2 + 2 = 10 -> a a. Then words aa aa | Ġ aa aa | Ġ aa a | Ġ aa a:
        // (Ġ,aa) 3, (aa,aa) 2, (aa,a) 2 -> Ġ aa. Then aa aa | Ġaa aa | Ġaa a | Ġaa a: (Ġaa,a) 2, (Ġaa,aa) 1, (aa,aa) 1 -> Ġaa a.
        Assert.Equal(["a a", "Ġ aa", "Ġaa a"], Merges(bpe));
    }

    [Fact]
    public void Digits_are_never_merged_because_the_split_regex_isolates_each_one()
    {
        var bpe = BpeTrainer.Train(["12345 12345 2024 2024 2024"], vocabSize: 1000, minFrequency: 1);
        Assert.Empty(bpe.Merges);
        Assert.Contains("no pair", bpe.Corpus.StoppedBecause);
        Assert.Equal(259, bpe.VocabSize);
    }

    [Fact]
    public void Special_tokens_in_the_corpus_are_cut_out_before_counting()
    {
        var texts = Enumerable.Repeat("<|im_start|>user\nhi<|im_end|><|endoftext|>", 50).ToArray();
        var bpe = BpeTrainer.Train(texts, vocabSize: 300, minFrequency: 1);
        Assert.DoesNotContain(bpe.Tokens, t => t.Length > 1 && t.Contains('|'));
        Assert.Contains("hi", bpe.Tokens);
    }

    [Fact]
    public void The_byte_alphabet_comes_first_in_GPT2_order_as_in_the_Qwen_vocabulary()
    {
        var bpe = BpeTrainer.Train(["x"], vocabSize: 300);
        var qwen = TokenizerOracle.Qwen;
        for (var id = 0; id < 256; id++) Assert.Equal(id, qwen.TokenId(bpe.Tokens[id]));
    }

    [Fact]
    public void The_same_corpus_in_another_order_gives_the_same_tokenizer()
    {
        var texts = TokenizerOracle.MathTexts().Take(400).ToList();
        var a = BpeTrainer.Train(texts, vocabSize: 700);
        var b = BpeTrainer.Train(Enumerable.Reverse(texts).ToList(), vocabSize: 700);
        Assert.Equal(700, a.VocabSize);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(a.Merges, b.Merges);
    }

    [Fact]
    public void A_merge_count_never_grows_as_training_goes_on_for_a_fixed_corpus()
    {
        // Greedy BPE merges the most frequent pair each time; re-counting each learned merge's pair on the words as
        // they stood just before it gives non-increasing counts. Checked independently by replaying the merges.
        var texts = TokenizerOracle.MathTexts().Take(200).ToList();
        var bpe = BpeTrainer.Train(texts, vocabSize: 500);
        var words = new List<List<string>>(); // every occurrence of every word, as symbols
        foreach (var text in texts.Select(t => t.Normalize()))
            for (var i = 0; i < text.Length;)
            {
                var end = Qwen2PreTokenizer.PieceEnd(text, i);
                words.Add(System.Text.Encoding.UTF8.GetBytes(text[i..end]).Select(x => ByteLevel.CharOf(x).ToString()).ToList());
                i = end;
            }
        long previous = long.MaxValue;
        foreach (var (left, right) in bpe.Merges)
        {
            long count = 0;
            foreach (var w in words)
            {
                for (var i = 0; i + 1 < w.Count; i++) if (w[i] == left && w[i + 1] == right) count++;
                for (var i = 0; i + 1 < w.Count; i++)
                    if (w[i] == left && w[i + 1] == right) { w[i] = left + right; w.RemoveAt(i + 1); }
            }
            Assert.True(count <= previous, $"merge {left} {right}: {count} occurrences after one with {previous}");
            Assert.True(count >= 2, $"merge {left} {right}: {count} occurrences, under the default min frequency 2");
            previous = count;
        }
    }

    [Fact]
    public void A_vocab_size_without_room_for_bytes_and_special_tokens_is_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train(["x"], vocabSize: 258));
        Assert.Contains("259", e.Message);
    }
}
