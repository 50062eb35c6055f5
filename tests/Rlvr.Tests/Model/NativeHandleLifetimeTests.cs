using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Tests.Model;

/// <summary>
/// TorchSharp frees a tensor's or scalar's native memory in its finalizer and does not keep the object alive during
/// the native call that uses it; the build rewrites TorchSharp.dll so that it does (build/TorchSharpKeepAlive). Without
/// that, the loop below failed within its 2,000,000 calls (after 4 s; "Expected false to be true, but got false" from
/// c10::Scalar): `add_(Tensor)` makes a temporary Scalar 1 that a collection on another thread can finalize mid-call.
/// The same fault stopped the demo pipeline test in a parallel suite run.
/// </summary>
public class NativeHandleLifetimeTests
{
    [Fact]
    public void The_loaded_TorchSharp_is_the_rewritten_copy() =>
        Assert.NotNull(typeof(torch).Assembly.GetType("RlvrKeepAlivePatched"));

    [Fact]
    public void Temporaries_survive_collections_and_finalizers_on_another_thread()
    {
        const int Calls = 2_000_000;
        using var total = zeros(8);
        using var one = ones(8);
        double scaled = 0;
        var stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                var garbage = new byte[1 << 16][];
                for (int i = 0; i < garbage.Length; i++) garbage[i] = new byte[64];
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        });
        collector.Start();
        try
        {
            for (int i = 0; i < Calls; i++)
            {
                total.add_(one);                      // a Scalar made inside TorchSharp
                if (i % 16 == 0)
                {
                    using var sum = (one * 2.0).sum();   // a temporary tensor as `this`, a Scalar made here
                    scaled += sum.item<float>();
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        Assert.Equal(Calls, total[0].item<float>());
        Assert.Equal(Calls / 16 * 16.0, scaled);
    }
}
