using System.CommandLine;
using System.Diagnostics;
using Rlvr.Math;

namespace Rlvr.Cli.Commands;

/// <summary>
/// <c>rlvr bench grade</c>: gradings per second of the math verifier on MATH-like pairs (gold solutions
/// against re-typeset answers, other problems' answers and whole solutions as responses), on one thread
/// and on all cores, and the corpus check of the verifier on MATH's 12,500 solutions.
/// </summary>
public static class BenchGrade
{
    public static Command Create()
    {
        var pairs = new Option<int>("--pairs") { Description = "gradings to time", DefaultValueFactory = _ => 50_000 }.AtLeast(1);
        var seed = new Option<int>("--seed") { Description = "seed for the choice of pairs", DefaultValueFactory = _ => 1 };
        var noCorpus = new Option<bool>("--no-corpus") { Description = "skip the corpus check (extraction, self-equality, re-typeset variants, near misses, shuffled pairs)" };
        var failures = new Option<int>("--show-failures") { Description = "corpus failures, shuffled matches and near misses to print", DefaultValueFactory = _ => 20 }.AtLeast(0);
        var cmd = new Command("grade", "Gradings per second of the math verifier on MATH-like pairs, and its corpus check on MATH.")
        {
            pairs, seed, noCorpus, failures,
        };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(pairs) < 1) throw new CliException("--pairs must be at least 1");
            var items = VerifierCorpus.LoadMath();
            var work = MakePairs(items, parse.GetValue(pairs), parse.GetValue(seed));
            Console.WriteLine($"{work.Count} MATH-like pairs from {items.Count} solutions");

            Time(work.Take(2000).ToList(), threads: 1); // warm-up (JIT, regex construction)
            var one = Time(work, threads: 1);
            Console.WriteLine($"1 thread:  {work.Count / one:F0} gradings/s ({1e6 * one / work.Count:F1} us each)");
            var all = Time(work, Environment.ProcessorCount);
            Console.WriteLine($"{Environment.ProcessorCount} threads: {work.Count / all:F0} gradings/s");
            const int evaluation = 1246 * 256;
            Console.WriteLine($"an evaluation of 1,246 problems x 256 samples: {evaluation / (work.Count / all):F0} s of grading on {Environment.ProcessorCount} threads");

            if (!parse.GetValue(noCorpus))
            {
                var report = VerifierCorpus.Check(items);
                Console.WriteLine(report);
                int show = parse.GetValue(failures);
                foreach (var f in report.Failures.Take(show)) Console.WriteLine("  failure: " + f);
                foreach (var m in report.ShuffledMatchExamples.Take(show)) Console.WriteLine("  shuffled match: " + m);
                foreach (var m in report.NearMissExamples.Take(show)) Console.WriteLine("  near miss graded correct: " + m);
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>Seconds to grade all pairs on the given number of threads.</summary>
    static double Time(List<(string Gold, string Prediction)> work, int threads)
    {
        var clock = Stopwatch.StartNew();
        if (threads == 1)
            foreach (var (g, p) in work) MathVerifier.Grade(g, p);
        else
            work.AsParallel().WithDegreeOfParallelism(threads).ForAll(w => MathVerifier.Grade(w.Gold, w.Prediction));
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Gold solutions paired with: their answer re-typeset (correct), another problem's answer (wrong),
    /// and a whole solution text as the response (the same or another problem's), in equal shares.
    /// </summary>
    static List<(string Gold, string Prediction)> MakePairs(List<CorpusItem> items, int count, int seed)
    {
        var rng = new Random(seed);
        var golds = items.Select(i => AnswerExtraction.ExtractGold(i.Solution)).ToArray();
        var work = new List<(string, string)>(count);
        while (work.Count < count)
        {
            int i = rng.Next(items.Count);
            if (golds[i] is not { } gold) continue;
            var other = items[rng.Next(items.Count)];
            switch (work.Count % 4)
            {
                case 0:
                    var variants = Retypeset.Variants(gold);
                    work.Add((items[i].Solution, variants[rng.Next(variants.Count)].Text));
                    break;
                case 1: work.Add((items[i].Solution, AnswerExtraction.ExtractGold(other.Solution) ?? "")); break;
                case 2: work.Add((items[i].Solution, items[i].Solution)); break;
                default: work.Add((items[i].Solution, other.Solution)); break;
            }
        }
        return work;
    }
}
