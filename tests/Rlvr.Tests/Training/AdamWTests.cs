using Rlvr.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Training;

public class AdamWTests
{
    static (Tensor A, Tensor B) Params()
    {
        var g = new Generator(7);
        return (randn(3, 4, generator: g).requires_grad_(), randn(5, generator: g).requires_grad_());
    }

    static Tensor Loss(Tensor a, Tensor b, int step) => (a.sum() * (step + 1)).square() + (b * b * b).sum() - a.mean() * b.mean();

    [Fact]
    public void Matches_torch_AdamW_over_several_steps()
    {
        var (a1, b1) = Params();
        var (a0, b0) = Params();
        TorchSharp.Modules.Parameter a2 = new(a0.detach()), b2 = new(b0.detach());
        var ours = new AdamW([("a", a1), ("b", b1)], 0.9, 0.95, 1e-8, 0.01);
        var theirs = optim.AdamW([a2, b2], lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.01);
        for (int step = 0; step < 5; step++)
        {
            ours.ZeroGrad(); theirs.zero_grad();
            Loss(a1, b1, step).backward();
            Loss(a2, b2, step).backward();
            ours.Update(1e-2);
            theirs.step();
        }
        Assert.True(allclose(a1, a2, rtol: 1e-5, atol: 1e-6));
        Assert.True(allclose(b1, b2, rtol: 1e-5, atol: 1e-6));
        Assert.Equal(5, ours.Step);
    }

    [Fact]
    public void Gradient_norm_and_clipping_follow_clip_grad_norm()
    {
        var a = tensor(new float[] { 1, 2 }).requires_grad_();
        var b = tensor(new float[] { 2 }).requires_grad_();
        var opt = new AdamW([("a", a), ("b", b)], 0.9, 0.95, 1e-8, 0);
        // grads 3*a^2... use a loss with known gradient: d/da (3a . [1,1]) = 3, d/db (4b) = 4 -> norm sqrt(9+9+16)
        ((a * 3).sum() + b.sum() * 4).backward();
        double norm = opt.GradNorm();
        Assert.Equal(System.Math.Sqrt(34), norm, 5);
        opt.ClipGradients(norm, 1.0);
        Assert.Equal(1.0, opt.GradNorm(), 4);
        Assert.Equal(3 / System.Math.Sqrt(34), a.grad!.data<float>()[0], 4);
    }

    [Fact]
    public void Saved_state_resumes_exactly()
    {
        var (a1, b1) = Params();
        var (a2, b2) = Params();
        var first = new AdamW([("a", a1), ("b", b1)], 0.9, 0.95, 1e-8, 0.01);
        for (int step = 0; step < 3; step++) { first.ZeroGrad(); Loss(a1, b1, step).backward(); first.Update(1e-2); }
        // A second optimizer restored from the first's state, on parameters copied from the first.
        using (no_grad()) { a2.copy_(a1); b2.copy_(b1); }
        var resumed = new AdamW([("a", a2), ("b", b2)], 0.9, 0.95, 1e-8, 0.01);
        resumed.LoadState(first.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.clone()), first.Step);
        for (int step = 3; step < 5; step++)
        {
            first.ZeroGrad(); Loss(a1, b1, step).backward(); first.Update(1e-2);
            resumed.ZeroGrad(); Loss(a2, b2, step).backward(); resumed.Update(1e-2);
        }
        Assert.True(a1.data<float>().SequenceEqual(a2.data<float>()));
        Assert.True(b1.data<float>().SequenceEqual(b2.data<float>()));
    }
}
