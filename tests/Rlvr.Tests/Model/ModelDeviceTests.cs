using Rlvr.Model;
using TorchSharp;

namespace Rlvr.Tests.Model;

public class ModelDeviceTests
{
    [Fact]
    public void Cpu_parses_and_unknown_names_are_rejected()
    {
        Assert.Equal(DeviceType.CPU, ModelDevice.Parse("cpu").type);
        Assert.Equal(DeviceType.CPU, ModelDevice.Parse(" CPU ").type);
        var e = Assert.Throws<FormatException>(() => ModelDevice.Parse("gpu0"));
        Assert.Contains("cpu, cuda or cuda:N", e.Message);
        Assert.Throws<FormatException>(() => ModelDevice.Parse("cuda:x"));
    }

    [Fact]
    public void Cuda_without_a_gpu_says_why()
    {
        if (torch.cuda.is_available()) return;   // only meaningful on a CPU-only build or machine
        var e = Assert.Throws<ArgumentException>(() => ModelDevice.Parse("cuda:0"));
        Assert.Contains("CUDA is not available", e.Message);
    }
}
