// Settings ONNX Runtime reads from the environment when it first initialises, applied
// before the runtime is loaded: this module is imported (for its effect) ahead of
// onnxruntime-node by the backend, the only module that loads the runtime.
//
// ORT_DISABLE_TELEMETRY: onnxruntime-node 1.30's Linux build starts Microsoft's 1DS
// telemetry client when the runtime first initialises. That client reads
// /proc/self/cmdline and matches it with a std::regex whose matcher recurses once per
// byte, so a command line of ~30 KB or more (a shell glob of a few hundred photos)
// overflows the main thread's 8 MiB stack: SIGSEGV before any model runs. groknet has no
// use for telemetry (it runs offline) and this keeps every process alive whatever its
// argv and stack size. Always set, even over a user's own value: any other value brings
// the crash back. (With CI=true in the environment the client stays off by itself, which
// is why CI runs never met the crash.) It also stops the runtime writing an empty /tmp/mat-debug-PID.log per process.
process.env.ORT_DISABLE_TELEMETRY = '1';

export {};
