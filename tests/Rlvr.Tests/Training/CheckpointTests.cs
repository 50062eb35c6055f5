using Rlvr.Model;
using Rlvr.Training;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

/// <summary>Checkpoints complete by construction: manifest, optimizer state out of the model loaders' way,
/// atomic pruning, old layouts still read, and never non-finite weights.</summary>
public class CheckpointTests
{
    static (string Run, LoadedModel Policy, AdamW Optimizer) NewRun()
    {
        var run = Fixtures.TempDir();
        var policy = ModelFolder.Load(Fixtures.TinyQwen2);
        var optimizer = new AdamW(policy.Model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(), 0.9, 0.95, 1e-8, 0.01);
        // One real update, so the checkpoint has moments to save.
        policy.Model.NamedParameters().First().Parameter.sum().backward();
        Assert.True(optimizer.Update(1e-3));
        return (run, policy, optimizer);
    }

    [Fact]
    public void A_checkpoint_is_a_model_folder_engines_load_as_it_is_with_the_optimizer_below_it()
    {
        var (run, policy, optimizer) = NewRun();
        using var _ = policy;
        Checkpoint.Save(run, 1, policy, optimizer, keep: 0, Assets.QwenTokenizerDir);
        var folder = Checkpoint.Folder(run, 1);
        // vLLM and SGLang load every top-level *.safetensors as weights: only the model's may be there.
        Assert.Equal(["model.safetensors"], Directory.GetFiles(folder, "*.safetensors").Select(Path.GetFileName));
        Assert.True(File.Exists(Path.Combine(folder, "optimizer", "optimizer.safetensors")));
        Assert.True(File.Exists(Path.Combine(folder, "tokenizer.json")));
        Assert.Null(Checkpoint.Incomplete(folder));
        using var reloaded = ModelFolder.Load(folder);
        var restored = new AdamW(reloaded.Model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(), 0.9, 0.95, 1e-8, 0.01);
        Assert.Equal(1, Checkpoint.RestoreOptimizer(folder, restored));
        Assert.Equal(1, restored.Step);
        Assert.Equal(optimizer.StateTensors().Keys.Order(), restored.StateTensors().Keys.Order());
    }

    [Fact]
    public void Pruning_keeps_the_newest_and_leaves_no_half_deleted_folder()
    {
        var (run, policy, optimizer) = NewRun();
        using var _ = policy;
        for (int step = 1; step <= 4; step++) Checkpoint.Save(run, step, policy, optimizer, keep: 2, Assets.QwenTokenizerDir);
        Assert.Equal([3, 4], Checkpoint.Completed(run).Order());
        Assert.Equal(["step_000003", "step_000004"], Directory.GetDirectories(Path.Combine(run, "checkpoints")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_checkpoint_missing_a_file_or_with_a_truncated_one_does_not_count()
    {
        var (run, policy, optimizer) = NewRun();
        using var _ = policy;
        for (int step = 1; step <= 3; step++) Checkpoint.Save(run, step, policy, optimizer, keep: 0, Assets.QwenTokenizerDir);
        // As a kill in the middle of the old, file-by-file pruning would leave step 2; step 3 cut short by a full disk.
        File.Delete(Path.Combine(Checkpoint.Folder(run, 2), "optimizer", "optimizer.safetensors"));
        using (var f = File.OpenWrite(Path.Combine(Checkpoint.Folder(run, 3), "model.safetensors"))) f.SetLength(100);
        Assert.Equal([1], Checkpoint.Completed(run));
        Assert.Contains("optimizer/optimizer.safetensors is missing", Checkpoint.Incomplete(Checkpoint.Folder(run, 2)));
        Assert.Contains("model.safetensors has 100 bytes", Checkpoint.Incomplete(Checkpoint.Folder(run, 3)));
        Assert.Equal(1, Checkpoint.Latest(run));
    }

    [Fact]
    public void A_checkpoint_of_the_layout_before_manifests_still_resumes()
    {
        var (run, policy, optimizer) = NewRun();
        using var _ = policy;
        Checkpoint.Save(run, 5, policy, optimizer, keep: 0, Assets.QwenTokenizerDir);
        var folder = Checkpoint.Folder(run, 5);
        File.Move(Path.Combine(folder, "optimizer", "optimizer.safetensors"), Path.Combine(folder, Checkpoint.LegacyOptimizerFile));
        Directory.Delete(Path.Combine(folder, "optimizer"));
        File.Delete(Path.Combine(folder, Checkpoint.ManifestFile));
        Assert.Equal([5], Checkpoint.Completed(run));
        var restored = new AdamW(policy.Model.NamedParameters().Select(p => (p.Name, (Tensor)p.Parameter)).ToList(), 0.9, 0.95, 1e-8, 0.01);
        Assert.Equal(5, Checkpoint.RestoreOptimizer(folder, restored));
        // Without its trainer state it is not complete.
        File.Delete(Path.Combine(folder, Checkpoint.StateFile));
        Assert.Empty(Checkpoint.Completed(run));
    }

    [Fact]
    public void Non_finite_weights_are_never_saved()
    {
        var (run, policy, optimizer) = NewRun();
        using var _ = policy;
        using (no_grad()) policy.Model.NamedParameters().Last().Parameter[0].fill_(float.NaN);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Save(run, 1, policy, optimizer, keep: 0, Assets.QwenTokenizerDir));
        Assert.Contains(policy.Model.NamedParameters().Last().Name, e.Message);
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoints")));
    }

    [Fact]
    public void An_update_that_would_make_a_weight_or_moment_non_finite_is_not_applied()
    {
        var p = tensor(new[] { 1f, 2f }).requires_grad_();
        var adam = new AdamW([("p", p)], 0.9, 0.95, 1e-8, 0.0);
        (p * tensor(new[] { 1f, 1f })).sum().backward();
        Assert.True(adam.Update(0.1));
        var after = p.detach().clone();
        var moments = adam.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        adam.ZeroGrad();
        // A gradient of 1e20 squares to infinity in float32: the second moment would overflow.
        (p * tensor(new[] { 1e20f, 1f })).sum().backward();
        Assert.False(adam.Update(0.1));
        Assert.Equal(1, adam.Step);
        Assert.True(allclose(after, p.detach(), rtol: 0, atol: 0));
        foreach (var (name, m) in adam.StateTensors()) Assert.True(allclose(moments[name], m, rtol: 0, atol: 0), name);
    }
}
