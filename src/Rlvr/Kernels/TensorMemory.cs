using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Rlvr.Kernels;

/// <summary>
/// Direct access to a CPU tensor's storage, for the kernels written here in C# (GEMM, the AdamW step). The pointer
/// is valid only while the tensor is alive and not resized: callers keep the tensor referenced (GC.KeepAlive) until
/// the kernel returns, because TorchSharp frees storage in finalizers.
/// </summary>
internal static unsafe partial class TensorMemory
{
    /// <summary>The first element of a CPU tensor of <paramref name="dtype"/>, contiguous unless the caller indexes it
    /// by its strides; anything else is refused.</summary>
    public static void* Pointer(Tensor t, ScalarType dtype, string what, bool contiguous = true)
    {
        if (t.device_type != TorchSharp.DeviceType.CPU) throw new ArgumentException($"{what}: a CPU tensor is needed, got {t.device}");
        if (t.dtype != dtype) throw new ArgumentException($"{what}: {dtype} is needed, got {t.dtype}");
        if (contiguous && !t.is_contiguous()) throw new ArgumentException($"{what}: a contiguous tensor is needed");
        return (void*)THSTensor_data(t.Handle);
    }

    public static float* Float32(Tensor t, string what) => (float*)Pointer(t, ScalarType.Float32, what);

    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr handle);
}
