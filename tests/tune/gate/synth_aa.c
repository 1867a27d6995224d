/* The A/A kernel of the gate tests: two knobs that change nothing give 200 variants, all
 * exactly as fast as the original. */
#define SPEED 1000
#define PAD_A 0 // avo:knob 0..19
#define PAD_B 0 // avo:knob 0..9

int synth_speed(void)
{
	return SPEED;
}

int synth_pad(void)
{
	return PAD_A + PAD_B;
}
