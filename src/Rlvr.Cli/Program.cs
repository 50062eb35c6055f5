using Rlvr.Cli;

// Before any torch call: MKL, libgomp and glibc read their settings once. Commands that sample without training
// take rlvr's decoding kernel where it is faster (Kernels.GemmPath); `rlvr serve` keeps the trainer's path, so that
// its rollouts equal the built-in sampler's token for token (docs/scale-out.md).
if (args is ["generate", ..] or ["eval", ..] or ["bench", "generate", ..]) Rlvr.Kernels.GemmPath.MarkSamplingProcess();
Rlvr.Model.NativeRuntime.Configure();

return Cli.Run(args);
