using TorchSharp;
using static TorchSharp.torch;

namespace Rlvr.Model;

/// <summary>The <c>--device</c> option: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
public static class ModelDevice
{
    public static Device Parse(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return torch.CPU;
        if (t == "cuda" || (t.StartsWith("cuda:") && int.TryParse(t[5..], out var index) && index >= 0))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException($"device {text}: CUDA is not available (this build uses libtorch-cpu; add the TorchSharp-cuda-linux package on a machine with an NVIDIA GPU)");
            var device = torch.device(t);
            if (device.index >= torch.cuda.device_count())
                throw new ArgumentException($"device {text}: only {torch.cuda.device_count()} CUDA device(s)");
            return device;
        }
        throw new FormatException($"unknown device \"{text}\" (expected cpu, cuda or cuda:N)");
    }
}
