using Mono.Cecil;
using Mono.Cecil.Cil;
using Mono.Cecil.Rocks;

// TorchSharp (0.107) wraps native tensors and scalars in objects whose finalizers free the native memory, and
// passes their handles to native calls without keeping the objects alive. Once the JIT has read a handle, the
// object is no longer reachable: a GC on another thread during the native call queues its finalizer, which frees
// the memory the call is still reading. Temporaries are the common case (`t.add_(u)` makes a Scalar 1 inside
// TorchSharp; `(a * b).sum()` passes a temporary tensor as `this`). Under a parallel test run it failed within
// 10,000 calls with "Expected false to be true, but got false" from c10::Scalar; a use-after-free of a tensor can
// silently compute with freed memory instead.
//
// The fix, applied to the built copy of TorchSharp.dll: every method with a body keeps each of its reference-type
// arguments (with `this`) and reference-type locals alive until it returns (GC.KeepAlive before every `ret`, which
// costs no instructions), and a Scalar or Tensor made and consumed inside one expression (`ord.ToScalar().Handle`)
// is first stored in a local so that it is kept alive too. Idempotent: a patched assembly carries a marker type.
if (args.Length != 1) { Console.Error.WriteLine("usage: TorchSharpKeepAlive path/to/TorchSharp.dll"); return 2; }
var path = args[0];
const string Marker = "RlvrKeepAlivePatched";
byte[] original = File.ReadAllBytes(path);
using var module = ModuleDefinition.ReadModule(new MemoryStream(original), new ReaderParameters { ReadSymbols = false });
if (module.Types.Any(t => t.Name == Marker)) return 0;

var gc = new TypeReference("System", "GC", module, module.TypeSystem.CoreLibrary);
var keepAlive = new MethodReference("KeepAlive", module.TypeSystem.Void, gc) { HasThis = false };
keepAlive.Parameters.Add(new ParameterDefinition(module.TypeSystem.Object));

int methods = 0;
foreach (var type in module.GetTypes().ToList())
    foreach (var method in type.Methods.Where(m => m.HasBody))
        if (Patch(method)) methods++;

module.Types.Add(new TypeDefinition("", Marker, TypeAttributes.NotPublic | TypeAttributes.Sealed | TypeAttributes.Abstract, module.TypeSystem.Object));
var patched = new MemoryStream();
module.Write(patched);
var temp = path + ".keepalive.tmp";
File.WriteAllBytes(temp, patched.ToArray());
File.Move(temp, path, overwrite: true);
Console.WriteLine($"TorchSharpKeepAlive: {path}: {methods} methods keep their handles alive");
return 0;

bool Patch(MethodDefinition method)
{
    var body = method.Body;
    var il = body.Instructions;
    if (!il.Any(i => i.OpCode == OpCodes.Ret) || il.Any(i => i.OpCode == OpCodes.Tail)) return false;
    body.SimplifyMacros();

    // Handle-owning temporaries consumed in place: `call X (returns Scalar/Tensor); callvirt get_Handle`.
    var temporaries = new List<VariableDefinition>();
    foreach (var call in il.Where(i => (i.OpCode == OpCodes.Call || i.OpCode == OpCodes.Callvirt) && i.Operand is MethodReference m
                 && OwnsHandle(m.ReturnType) && i.Next is { } next && IsHandleGetter(next)).ToList())
    {
        var local = new VariableDefinition(((MethodReference)call.Operand).ReturnType);
        body.Variables.Add(local);
        temporaries.Add(local);
        var processor = body.GetILProcessor();
        processor.InsertAfter(call, Instruction.Create(OpCodes.Stloc, local));
        processor.InsertAfter(call, Instruction.Create(OpCodes.Dup));
    }

    var kept = new List<Instruction>();
    if (method.HasThis && !method.DeclaringType.IsValueType) kept.Add(Instruction.Create(OpCodes.Ldarg, body.ThisParameter));
    foreach (var p in method.Parameters.Where(p => IsObjectReference(p.ParameterType)))
        kept.Add(Instruction.Create(OpCodes.Ldarg, p));
    foreach (var v in body.Variables.Where(v => !v.IsPinned && IsObjectReference(v.VariableType)))
        kept.Add(Instruction.Create(OpCodes.Ldloc, v));
    if (kept.Count == 0) { body.OptimizeMacros(); return temporaries.Count > 0; }

    foreach (var ret in il.Where(i => i.OpCode == OpCodes.Ret).ToList())
    {
        // The ret instruction becomes the first load, so branches and handler ends that point at it stay right.
        var sequence = kept.SelectMany(load => new[] { Instruction.Create(load.OpCode, (dynamic)load.Operand), Instruction.Create(OpCodes.Call, keepAlive) })
            .Append(Instruction.Create(OpCodes.Ret)).ToList();
        ret.OpCode = sequence[0].OpCode;
        ret.Operand = sequence[0].Operand;
        var after = ret;
        foreach (var next in sequence.Skip(1))
        {
            body.GetILProcessor().InsertAfter(after, next);
            after = next;
        }
    }
    body.OptimizeMacros();
    return true;
}

static bool IsObjectReference(TypeReference type) =>
    !type.IsValueType && !type.IsByReference && !type.IsPointer && !type.IsGenericParameter && !type.IsFunctionPointer
    && !type.IsPinned && !type.IsRequiredModifier && !type.IsOptionalModifier && type.MetadataType != MetadataType.Void
    && !(type is GenericInstanceType g && g.ElementType.IsValueType) && !IsValueTypeByResolution(type);

static bool IsValueTypeByResolution(TypeReference type)
{
    if (type is ArrayType || type is GenericInstanceType) return false;
    try { return type.Resolve()?.IsValueType ?? false; } catch (AssemblyResolutionException) { return false; }
}

static bool OwnsHandle(TypeReference type) =>
    type.FullName is "TorchSharp.Scalar" or "TorchSharp.torch/Tensor";

static bool IsHandleGetter(Instruction i) =>
    (i.OpCode == OpCodes.Call || i.OpCode == OpCodes.Callvirt) && i.Operand is MethodReference m && m.Name == "get_Handle";
