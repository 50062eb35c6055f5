using Rlvr.Text;

namespace Rlvr.Tests.Training;

/// <summary>A resumed run keeps its tokenizer after the checkpoint it resumed from is pruned, also when the run
/// folder was written by an older rlvr (optimizer state at the checkpoint's top level, no manifest, no tokenizer copy).</summary>
public class ResumeTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void A_resumed_old_layout_run_keeps_its_tokenizer_in_every_later_checkpoint()
    {
        var run = Path.Combine(Fixtures.TempDir(), "run");
        string[] args = ["--rollout-batch-size", "2", "--rollouts-per-prompt", "2", "--max-new-tokens", "4", "--eval-every", "0",
            "--save-every", "1", "--keep-checkpoints", "1", "--lr", "1e-3"];
        var first = CliRunner.Run(["train", "--model", tiny.ModelDir, "--out", run, "--steps", "1", .. args]);
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);

        // Back to the layout of older run folders.
        var checkpoint = Path.Combine(run, "checkpoints", "step_000001");
        File.Move(Path.Combine(checkpoint, "optimizer", "optimizer.safetensors"), Path.Combine(checkpoint, "optimizer.safetensors"));
        Directory.Delete(Path.Combine(checkpoint, "optimizer"));
        File.Delete(Path.Combine(checkpoint, "manifest.json"));
        Directory.Delete(Path.Combine(run, "tokenizer"), recursive: true);

        var resumed = CliRunner.Run("train", "--resume", run, "--steps", "3");
        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);
        Assert.Contains("from the checkpoint at step 1", resumed.Stdout);
        var last = Path.Combine(run, "checkpoints", "step_000003");
        Assert.Equal(["step_000003"], Directory.GetDirectories(Path.Combine(run, "checkpoints")).Select(Path.GetFileName));
        Assert.True(File.Exists(Path.Combine(last, "manifest.json")));
        Assert.True(File.Exists(Path.Combine(last, "optimizer", "optimizer.safetensors")));
        Assert.Equal(QwenTokenizer.Load(tiny.ModelDir).Encode("1 + 1 = 2"), QwenTokenizer.Load(last).Encode("1 + 1 = 2"));
        Assert.True(File.Exists(Path.Combine(run, "tokenizer", "tokenizer.json")));
    }
}
