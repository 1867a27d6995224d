// EXPECT: 2:28: knob 'kStages': current value 9 is outside its range
constexpr int kStages = 9; // avo:knob 1..4
__global__ void k(float *x) { x[0] = kStages; }
