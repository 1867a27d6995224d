/* A synthetic kernel for the gate tests: its true speed is a knob (1005: 0.5% faster,
 * 1050: 5% faster than the original 1000). */
#define SPEED 1000 // avo:knob 1000 1005 1050
#define PAD_A 0
#define PAD_B 0

int synth_speed(void)
{
	return SPEED;
}

int synth_pad(void)
{
	return PAD_A + PAD_B;
}
