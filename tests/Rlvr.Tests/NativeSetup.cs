using System.Runtime.CompilerServices;

namespace Rlvr.Tests;

static class NativeSetup
{
    /// <summary>Before any test touches torch, as the CLI does first thing: the native libraries read their settings
    /// (MKL_CBWR, OMP_WAIT_POLICY) once, when they load.</summary>
    [ModuleInitializer]
    internal static void Configure() => Rlvr.Model.NativeRuntime.Configure();
}
