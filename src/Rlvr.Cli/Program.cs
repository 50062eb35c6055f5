using Rlvr.Cli;

// Before any torch call: MKL, libgomp and glibc read their settings once. Commands that sample without training
// take rlvr's decoding kernel where it is faster (Kernels.GemmPath).
if (args is ["generate", ..] or ["eval", ..] or ["serve", ..] or ["bench", "generate", ..]) Rlvr.Kernels.GemmPath.MarkSamplingProcess();
Rlvr.Model.NativeRuntime.Configure();

return Cli.Run(args);
