using Rlvr.Cli;

// Before any torch call: MKL and glibc read their settings once.
Rlvr.Model.NativeRuntime.Configure();

return Cli.Run(args);
