import BayesNetRuntime
print("AVX2+FMA: \(Runtime.hasAVX2FMA)")
