using SeekSharp.Bench;

// Benchmarks: end-to-end programs (tokens/s, GFLOP/s against a peer in the same run) and BenchmarkDotNet kernel suites.
// What each measures and how to read it: bench/README.md.
//   dotnet run -c Release --project bench/SeekSharp.Bench -- gemm [--sizes 512,2048] [--threads 2] [--seconds 3]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- forward (--preset NAME | --config FILE | --model DIR) [--prompt 128] [--generate 64] [--repeats 3] [--dtype f32|bf16|f16] [--quantize q8|q4] [--threads 2]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- train [--preset train-36m | --config FILE] [--batch-size 4] [--seq-len 256] [--steps 5] [--no-mtp] [--threads 2]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- train --peer torch [--steps 2] [--rounds 3] | train --peer torch --check
//   dotnet run -c Release --project bench/SeekSharp.Bench -- quant [--shapes 1024x512,...] [--m 1,16,128] [--threads 2] [--seconds 2] [--warm] | quant --accuracy
//   dotnet run -c Release --project bench/SeekSharp.Bench -- serve [--model DIR] [--streams 1,4,16] [--tokens 64] [--repeats 3] [--threads 2] [--speculative mtp]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- load [--model DIR] [--clients 32] [--parallel 16] [--tokens 32] [--threads 2]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- llama [--preset NAME | --model DIR] [--type f32|q8_0|q4_0] [--prompt 128] [--generate 64] [--threads 2] [--rounds 3]
//   dotnet run -c Release --project bench/SeekSharp.Bench -- peers [--threads 2] [--rounds 3] [--preset inference-800m] [--types f32,q8_0,q4_0] [--gemm-sizes 512,1024,2048] [--long-context 4096] [--skip gemm,inference,train,tokenizer,mtp]   (bench/peers.sh installs the peers first)
//   dotnet run -c Release --project bench/SeekSharp.Bench -- kernels [--full] [BenchmarkDotNet args: --list flat, --filter PATTERN, ...]
var verb = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToArray();
return verb switch
{
    "gemm" => GemmBench.Run(rest),
    "forward" => ForwardBench.Run(rest),
    "train" => TrainBench.Run(rest),
    "kernels" => KernelSuites.Run(rest),
    "quant" => QuantBench.Run(rest),
    "serve" => ServeBench.Run(rest),
    "load" => LoadBench.Run(rest),
    "llama" => LlamaBench.Run(rest),
    "peers" => PeersBench.Run(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: SeekSharp.Bench (gemm | forward | train | quant | serve | load | llama | peers | kernels) [options]; see bench/README.md");
    return 2;
}
