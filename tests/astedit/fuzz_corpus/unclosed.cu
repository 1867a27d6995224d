// EXPECT: 4:2: region 'body' is not closed (no '// avo:end' follows)
__global__ void k(float *x)
{
	// avo:region body
	x[0] = 1.f;
}
