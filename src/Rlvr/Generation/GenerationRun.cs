using System.Diagnostics;
using Rlvr.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Generation;

/// <summary>
/// One <see cref="Sampler.Generate"/> call: the main KV cache, its rows ("slots"), the prompt-prefix
/// caches, and every sequence's tokens so far.
///
/// Cache layout: all rows share one fill length S (the model's cache appends at S), and a row's real
/// entries are the contiguous range [start, S): its prompt prefix, then one entry per decode step.
/// The attention mask shows a row only its own range; rotary positions count from the row's first
/// real token, so a row's values do not depend on where in the cache it sits. When S reaches the
/// cache's end, all rows move left by the smallest start (<see cref="KvCache.Shift"/>); a prompt
/// prefix longer than S moves them right first. Each row's range is at most
/// (longest prompt - 1 + max_new_tokens) long, which sizes the cache.
/// </summary>
internal sealed class GenerationRun : IDisposable
{
    const int Idle = -1;

    readonly Sampler sampler;
    readonly Qwen2ForCausalLM model;
    readonly IReadOnlyList<IReadOnlyList<int>> prompts;
    readonly int n;
    readonly SamplingParams p;
    readonly HashSet<int> stopIds;
    readonly Tensor? stopIdTensor;
    /// <summary>[rows, padded vocab]: each step's logits, reused so that no step allocates vocabulary-sized tensors (see <see cref="TokenSampling"/>).</summary>
    readonly Tensor logitsBuffer;
    readonly IProgress<GenerationProgress>? progress;
    readonly Sequence[] sequences;
    readonly KvCache cache;
    readonly int maxStopStringLength;

    // Per cache row; Idle rows compute garbage that is never read until they are refilled or compacted away.
    int[] sequenceOf;
    long[] start, nextToken, position;

    readonly List<PromptChunk> chunks = [];
    int nextSequence;           // sequences are started in (prompt, sample) order
    int prefilledPrompts;
    int done;

    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly Stopwatch prefillTime = new(), forwardTime = new(), samplingTime = new(), cacheTime = new();
    long prefilledTokens, paddedPrefillTokens, generatedTokens, decodeRows, peakPrefixBytes;
    int steps, shifts, compactions;
    readonly List<double> stepSeconds = [];

    public GenerationRun(Sampler sampler, IReadOnlyList<IReadOnlyList<int>> prompts, int n, SamplingParams p,
        IReadOnlyList<int> stopIds, IProgress<GenerationProgress>? progress)
    {
        this.sampler = sampler;
        model = sampler.Model.Model;
        this.prompts = prompts;
        this.n = n;
        this.p = p;
        this.stopIds = [.. stopIds];
        this.progress = progress;
        maxStopStringLength = p.StopStrings?.Max(s => s.Length) ?? 0;
        sequences = new Sequence[prompts.Count * n];
        for (var i = 0; i < sequences.Length; i++)
            sequences[i] = new Sequence(i / n, i % n, p.PromptSeeds is { } seeds
                ? SequenceRandom.For(seeds[i / n], 0, i % n) : SequenceRandom.For(p.Seed, i / n, i % n));

        var (rows, positions) = CacheShape(prompts, n, p.MaxNewTokens, sampler.MaxBatch);
        cache = KvCache.Create(model.Config, rows, positions, model.Device, model.DType);
        logitsBuffer = torch.zeros(rows, TokenSampling.PaddedWidth(model.Config.VocabSize), model.DType, model.Device).DetachFromDisposeScope();
        stopIdTensor = stopIds.Count > 0 && p.MinNewTokens > 0
            ? torch.tensor(stopIds.Select(i => (long)i).ToArray(), device: model.Device).DetachFromDisposeScope() : null;
        sequenceOf = Enumerable.Repeat(Idle, rows).ToArray();
        start = new long[rows];
        nextToken = new long[rows];
        position = new long[rows];
    }

    /// <summary>
    /// Rows and positions of the main cache: a row holds at most its prompt minus the last token plus
    /// max_new_tokens entries. With more sequences than rows, refilled rows start later than others: the
    /// cache gets room to spare so that a shift (a copy of the cache) is needed only every span/8 steps or more.
    /// </summary>
    public static (int Rows, int Positions) CacheShape(IReadOnlyList<IReadOnlyList<int>> prompts, int n, int maxNewTokens, int maxBatch)
    {
        var sequences = (long)prompts.Count * n;
        var rows = (int)System.Math.Min(maxBatch, sequences);
        var span = prompts.Max(x => x.Count) - 1 + maxNewTokens;
        return (rows, sequences <= rows ? span : span + System.Math.Max(16, span / 8));
    }

    public IReadOnlyList<Completion> Execute()
    {
        Refill();
        while (done < sequences.Length)
        {
            if (cache.Length == cache.MaxLength) MakeRoom();
            Step();
            if (nextSequence < sequences.Length) Refill();
            else if (IdleRows() >= System.Math.Max(1, cache.Batch / 8) && done < sequences.Length) Compact();
            Report();
        }
        return sequences.Select(s => s.Result!).ToList();
    }

    /// <summary>One decode step for every row: forward one token, draw the next, record it, retire finished sequences.</summary>
    void Step()
    {
        using var scope = torch.NewDisposeScope();
        var rows = cache.Batch;
        var length = cache.Length;
        for (var r = 0; r < rows; r++)
            if (sequenceOf[r] == Idle) { start[r] = length; nextToken[r] = 0; position[r] = 0; }

        var stepStart = forwardTime.Elapsed + samplingTime.Elapsed;
        forwardTime.Start();
        var device = model.Device;
        var ids = torch.tensor(nextToken, device: device).view(rows, 1);
        var positions = torch.tensor(position, device: device).view(rows, 1);
        var mask = torch.arange(length + 1, ScalarType.Int64, device).unsqueeze(0).ge(torch.tensor(start, device: device).unsqueeze(1));
        var hidden = model.Hidden(ids, positions, cache, mask);
        // The LM head (Logits) written into the buffer: x W^T with beta 0 ignores what the buffer held.
        var padded = logitsBuffer.narrow(0, 0, rows);
        var vocab = model.Config.VocabSize;
        var rowsHidden = hidden.view(rows, -1);
        if (Kernels.Gemm.Serves(rowsHidden, model.SamplingLmHeadWeight)) Kernels.Gemm.MultiplyInto(padded, rowsHidden, model.SamplingLmHeadWeight);
        else padded.narrow(1, 0, vocab).addmm_(rowsHidden, model.LmHeadWeight.t(), beta: 0, alpha: 1);
        forwardTime.Stop();

        samplingTime.Start();
        var uniforms = new double[rows];
        var banned = new bool[rows];
        for (var r = 0; r < rows; r++)
        {
            if (sequenceOf[r] == Idle) { uniforms[r] = 0.5; continue; }
            var s = sequences[sequenceOf[r]];
            uniforms[r] = s.Random.Uniform(s.Ids.Count);
            banned[r] = s.Ids.Count < p.MinNewTokens;
        }
        var drawn = TokenSampling.Draw(padded, vocab, p, torch.tensor(uniforms, device: device),
            stopIdTensor, stopIdTensor is null || !banned.Contains(true) ? null : torch.tensor(banned, device: device));
        var tokens = drawn.Tokens.cpu().data<long>().ToArray();
        var logProbs = drawn.LogProbs.cpu().data<float>().ToArray();
        var samplingLogProbs = drawn.SamplingLogProbs.cpu().data<float>().ToArray();
        var temperedLogProbs = drawn.TemperedLogProbs.cpu().data<float>().ToArray();
        for (var r = 0; r < rows; r++)
        {
            if (sequenceOf[r] == Idle) continue;
            var s = sequences[sequenceOf[r]];
            s.Append((int)tokens[r], logProbs[r], samplingLogProbs[r], temperedLogProbs[r]);
            generatedTokens++;
            if (Finished(s))
            {
                s.Complete(ToCompletion(s));
                sequenceOf[r] = Idle;
                done++;
            }
            else
            {
                nextToken[r] = tokens[r];
                position[r]++;
            }
        }
        samplingTime.Stop();
        stepSeconds.Add((forwardTime.Elapsed + samplingTime.Elapsed - stepStart).TotalSeconds);
        steps++;
        decodeRows += rows;
    }

    /// <summary>Sets the finish reason when the sequence is done: stop token, stop string, or length.</summary>
    bool Finished(Sequence s)
    {
        var count = s.Ids.Count;
        if (count >= p.MinNewTokens)
        {
            if (stopIds.Contains(s.Ids[^1])) { s.Finish = FinishReason.Stop; s.EndsWithStopToken = true; return true; }
            if (maxStopStringLength > 0)
            {
                // A stop string of c characters spans at most 4c byte-level tokens; it is new if it ends in
                // the last token (earlier ones would have stopped the sequence, min_new_tokens aside).
                var window = (int)System.Math.Min(count, 4L * maxStopStringLength + 1);
                var tail = sampler.Decode!(s.Ids.GetRange(count - window, window));
                foreach (var stop in p.StopStrings!)
                    if (tail.Contains(stop, StringComparison.Ordinal)) { s.Finish = FinishReason.Stop; s.StopString = stop; return true; }
            }
        }
        if (count >= p.MaxNewTokens) { s.Finish = FinishReason.Length; return true; }
        return false;
    }

    /// <summary>Starts pending sequences in the idle rows: prefill their prompts if not done yet, copy the prefixes in.</summary>
    void Refill()
    {
        var free = Enumerable.Range(0, (int)cache.Batch).Where(r => sequenceOf[r] == Idle).ToList();
        var take = System.Math.Min(free.Count, sequences.Length - nextSequence);
        if (take == 0) return;
        var starting = Enumerable.Range(nextSequence, take).ToArray();
        while (prefilledPrompts <= sequences[starting[^1]].PromptIndex) chunks.Add(Prefill(prefilledPrompts));

        cacheTime.Start();
        using var scope = torch.NewDisposeScope();
        var groups = starting.Select((s, i) => (Sequence: s, Row: free[i])).GroupBy(x => ChunkOf(sequences[x.Sequence].PromptIndex)).ToList();
        var needed = groups.Max(g => g.Key.Cache.Length);
        if (cache.Length < needed)
        {
            var offset = needed - cache.Length;
            cache.Shift(offset);
            for (var r = 0; r < start.Length; r++) start[r] += offset;
            shifts++;
        }
        var device = model.Device;
        foreach (var group in groups)
        {
            var chunk = group.Key;
            var sourceRows = group.Select(x => (long)(sequences[x.Sequence].PromptIndex - chunk.FirstPrompt)).ToArray();
            cache.CopyRowsFrom(chunk.Cache, torch.tensor(sourceRows, device: device), torch.tensor(group.Select(x => (long)x.Row).ToArray(), device: device));
            foreach (var (s, row) in group)
            {
                var prompt = prompts[sequences[s].PromptIndex];
                sequenceOf[row] = s;
                start[row] = cache.Length - (prompt.Count - 1);
                nextToken[row] = prompt[^1];
                position[row] = prompt.Count - 1;
                chunk.Unstarted--;
            }
        }
        nextSequence += take;
        foreach (var finished in chunks.Where(c => c.Unstarted == 0).ToList())
        {
            finished.Cache.Dispose();
            chunks.Remove(finished);
        }
        cacheTime.Stop();
    }

    PromptChunk ChunkOf(int prompt) => chunks.First(c => prompt >= c.FirstPrompt && prompt < c.FirstPrompt + c.Count);

    /// <summary>
    /// Prefills the prompts from <paramref name="first"/> on, as many as about one batch of sequences
    /// needs and <see cref="Sampler.PrefillTokens"/> allows, into a cache of their left-padded prefixes.
    /// </summary>
    PromptChunk Prefill(int first)
    {
        prefillTime.Start();
        var budget = System.Math.Max(1, sampler.PrefillTokens);
        var seqBudget = System.Math.Max(sampler.MaxBatch, n);
        int count = 0, width = 0;
        while (first + count < prompts.Count && (count == 0
            || ((count + 1) * n <= seqBudget && (long)(count + 1) * System.Math.Max(width, prompts[first + count].Count - 1) <= budget)))
        {
            width = System.Math.Max(width, prompts[first + count].Count - 1);
            count++;
        }
        var chunkCache = KvCache.Create(model.Config, count, System.Math.Max(width, 1), model.Device, model.DType);
        peakPrefixBytes = System.Math.Max(peakPrefixBytes, KvCache.BytesFor(model.Config, count, System.Math.Max(width, 1), model.DType));
        try
        {
            if (width > 0) PrefillLeftPadded(chunkCache, first, count, width, budget);
        }
        catch
        {
            chunkCache.Dispose();
            throw;
        }
        prefilledPrompts = first + count;
        prefillTime.Stop();
        Report();
        return new PromptChunk(first, count, count * n, chunkCache);
    }

    /// <summary>Runs prompts [first, first + count) minus their last token, left-padded to <paramref name="width"/>, into <paramref name="cache"/>.</summary>
    void PrefillLeftPadded(KvCache cache, int first, int count, int width, int budget)
    {
        var ids = new long[count * width];
        var positions = new long[count * width];
        var real = new bool[count * width];
        for (var i = 0; i < count; i++)
        {
            var prompt = prompts[first + i];
            var pad = width - (prompt.Count - 1);
            for (var t = pad; t < width; t++)
            {
                ids[i * width + t] = prompt[t - pad];
                positions[i * width + t] = t - pad;
                real[i * width + t] = true;
            }
            prefilledTokens += prompt.Count - 1;
        }
        paddedPrefillTokens += (long)count * width;
        using var scope = torch.NewDisposeScope();
        var device = model.Device;
        var idTensor = torch.tensor(ids, device: device).view(count, width);
        var positionTensor = torch.tensor(positions, device: device).view(count, width);
        var mask = torch.tensor(real, device: device).view(count, width);
        // Long prompts go through in pieces of the token budget (the cache carries the rest).
        var piece = System.Math.Max(1, budget / count);
        for (var t = 0; t < width; t += piece)
        {
            var len = System.Math.Min(piece, width - t);
            model.Hidden(idTensor.narrow(1, t, len), positionTensor.narrow(1, t, len), cache, mask.narrow(1, 0, t + len)).Dispose();
        }
    }

    /// <summary>The cache is full to its end: move every row left by the smallest start among the active rows.</summary>
    void MakeRoom()
    {
        cacheTime.Start();
        var offset = Enumerable.Range(0, start.Length).Where(r => sequenceOf[r] != Idle).Min(r => start[r]);
        if (offset == 0) throw new InvalidOperationException("KV cache full: a row spans the whole cache");   // cannot happen: rows span at most its size - 1
        cache.Shift(-offset);
        for (var r = 0; r < start.Length; r++) start[r] -= offset;
        shifts++;
        cacheTime.Stop();
    }

    /// <summary>Drops the idle rows (nothing left to start): later steps compute only live sequences.</summary>
    void Compact()
    {
        cacheTime.Start();
        var keep = Enumerable.Range(0, sequenceOf.Length).Where(r => sequenceOf[r] != Idle).ToArray();
        using (var indices = torch.tensor(keep.Select(r => (long)r).ToArray(), device: model.Device))
            cache.SelectRows(indices);
        sequenceOf = keep.Select(r => sequenceOf[r]).ToArray();
        start = keep.Select(r => start[r]).ToArray();
        nextToken = keep.Select(r => nextToken[r]).ToArray();
        position = keep.Select(r => position[r]).ToArray();
        compactions++;
        cacheTime.Stop();
    }

    int IdleRows() => sequenceOf.Count(s => s == Idle);

    void Report() => progress?.Report(new GenerationProgress(generatedTokens, prefilledTokens, done, sequences.Length, clock.Elapsed));

    Completion ToCompletion(Sequence s)
    {
        var ids = s.Ids.ToArray();
        var text = "";
        if (sampler.Decode is { } decode)
        {
            text = decode(s.EndsWithStopToken ? s.Ids.GetRange(0, ids.Length - 1) : s.Ids);
            if (s.StopString is { } stop) text = text[..StopStringStart(text, decode(s.Ids.GetRange(0, ids.Length - 1)).Length, stop)];
        }
        return new Completion(s.PromptIndex, s.SampleIndex, ids, [.. s.LogProbs], [.. s.SamplingLogProbs], text, s.Finish!.Value)
        {
            TemperedLogProbs = [.. s.TemperedLogProbs],
        };
    }

    /// <summary>
    /// Where the stop string that ended a sequence starts in its text: the first occurrence that reaches into the
    /// last token's text (<paramref name="textBefore"/> = length of the text without it; it may end in up to
    /// 3 U+FFFD for a character that the last token completes, hence the margin).
    /// </summary>
    static int StopStringStart(string text, int textBefore, string stop)
    {
        var at = text.IndexOf(stop, System.Math.Max(0, textBefore - stop.Length - 2), StringComparison.Ordinal);
        return at >= 0 ? at : System.Math.Max(0, text.LastIndexOf(stop, StringComparison.Ordinal));
    }

    public GenerationStats Stats() => new()
    {
        Sequences = sequences.Length,
        PrefilledPrompts = prefilledPrompts,
        PrefilledTokens = prefilledTokens,
        PaddedPrefillTokens = paddedPrefillTokens,
        GeneratedTokens = generatedTokens,
        DecodeSteps = steps,
        StepSeconds = stepSeconds,
        DecodeRows = decodeRows,
        PrefillSeconds = prefillTime.Elapsed.TotalSeconds,
        ForwardSeconds = forwardTime.Elapsed.TotalSeconds,
        SamplingSeconds = samplingTime.Elapsed.TotalSeconds,
        CacheSeconds = cacheTime.Elapsed.TotalSeconds,
        TotalSeconds = clock.Elapsed.TotalSeconds,
        CacheBytes = KvCache.BytesFor(model.Config, System.Math.Min(sampler.MaxBatch, sequences.Length), cache.MaxLength, model.DType),
        CacheRows = System.Math.Min(sampler.MaxBatch, sequences.Length),
        CachePositions = cache.MaxLength,
        PeakPrefixCacheBytes = peakPrefixBytes,
        Shifts = shifts,
        Compactions = compactions,
    };

    public void Dispose()
    {
        cache.Dispose();
        foreach (var c in chunks) c.Cache.Dispose();
        stopIdTensor?.Dispose();
        logitsBuffer.Dispose();
    }

    sealed class Sequence(int promptIndex, int sampleIndex, SequenceRandom random)
    {
        public int PromptIndex { get; } = promptIndex;
        public int SampleIndex { get; } = sampleIndex;
        public SequenceRandom Random { get; } = random;
        public List<int> Ids { get; private set; } = [];
        public List<float> LogProbs { get; private set; } = [];
        public List<float> SamplingLogProbs { get; private set; } = [];
        public List<float> TemperedLogProbs { get; private set; } = [];
        public FinishReason? Finish { get; set; }
        public bool EndsWithStopToken { get; set; }
        public string? StopString { get; set; }
        /// <summary>Set when the sequence finishes; its growing lists are dropped then (evaluation holds 1246 x n of these).</summary>
        public Completion? Result { get; private set; }

        public void Append(int id, float logProb, float samplingLogProb, float temperedLogProb)
        {
            Ids.Add(id);
            LogProbs.Add(logProb);
            SamplingLogProbs.Add(samplingLogProb);
            TemperedLogProbs.Add(temperedLogProb);
        }

        public void Complete(Completion result)
        {
            Result = result;
            Ids = [];
            LogProbs = [];
            SamplingLogProbs = [];
            TemperedLogProbs = [];
        }
    }

    /// <summary>Prefilled prompt prefixes [FirstPrompt, FirstPrompt + Count), kept until all their samples have started.</summary>
    sealed class PromptChunk(int firstPrompt, int count, int unstarted, KvCache cache)
    {
        public int FirstPrompt { get; } = firstPrompt;
        public int Count { get; } = count;
        public int Unstarted { get; set; } = unstarted;
        public KvCache Cache { get; } = cache;
    }
}
