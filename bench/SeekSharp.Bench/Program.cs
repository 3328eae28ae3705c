using SeekSharp.Bench;

// Benchmarks: end-to-end programs (tokens/s, GFLOP/s against a peer in the same run) and BenchmarkDotNet kernel suites.
//   dotnet run -c Release --project bench/SeekSharp.Bench -- gemm [--sizes 512,2048] [--threads 2]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- forward (--preset NAME | --config FILE | --model DIR) [--prompt 128] [--generate 64] [--dtype f32|bf16] [--quantize q8|q4] [--threads 2]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- train [--preset train-36m] [--batch-size 4] [--seq-len 256] [--no-mtp] [--threads 2]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- kernels [BenchmarkDotNet args]
var verb = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToArray();
return verb switch
{
    "gemm" => GemmBench.Run(rest),
    "forward" => ForwardBench.Run(rest),
    "train" => TrainBench.Run(rest),
    "kernels" => KernelSuites.Run(rest),
    "quant" => QuantBench.Run(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: SeekSharp.Bench (gemm | forward | train | kernels) [options]; see bench/README.md");
    return 2;
}
