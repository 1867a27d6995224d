// EXPECT: 6:2: region 'inner' opens inside region 'outer'; regions may not nest or overlap
__global__ void k(float *x)
{
	// avo:region outer
	x[0] = 1.f;
	// avo:region inner
	x[1] = 2.f;
	// avo:end
	// avo:end
}
