// Pattern from real code (written for avo's tests): two template specializations name a
// knob `stages`, two kernels name one `UNROLL`, and a value is written `= (3);`.
template <int N> struct Cfg;
template <> struct Cfg<64> {
	static constexpr int stages = (3); // avo:knob 2 3 4
};
template <> struct Cfg<128> {
	static constexpr int stages = 2; // avo:knob 1 2 3
};

__global__ void scale_a(float *o, int n)
{
	constexpr int UNROLL = 4; // avo:knob 1 2 4
	int i = blockIdx.x * blockDim.x + threadIdx.x;
#pragma unroll
	for (int u = 0; u < UNROLL; u++)
		if (i * UNROLL + u < n)
			o[i * UNROLL + u] *= Cfg<64>::stages;
}

__global__ void scale_b(float *o, int n)
{
	constexpr int UNROLL = 2; // avo:knob 1 2 4
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	// avo:region body
	for (int u = 0; u < UNROLL; u++)
		if (i * UNROLL + u < n)
			o[i * UNROLL + u] += Cfg<128>::stages;
	// avo:end
}
