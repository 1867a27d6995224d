// A macro of the file itself that breaks inside a region: the error names this file, not "a
// header included by" it (issue 17 point 9). Written for avo's tests.
#define SCALE(x) ((x) * undefined_scale)
#define K 4 // avo:knob 2 4

__global__ void k(float *o)
{
	// avo:region body
	o[0] = SCALE(K);
	// avo:end
}
