/* The pipeline tests' kernel: its true speed is a function of two knobs, best where the harness
 * says (harness.c). A=6 fails the edit check (#error: refused before any build); B=7 fails to
 * link (a compile failure): neither may take a device. */
#define A 0 // avo:knob 0..7
#define B 0 // avo:knob 0..7

#if A == 6
#error "A=6 does not build (on purpose: the pipeline must not give it a device)"
#endif

int synth_a(void)
{
	return A;
}

#if B == 7
int synth_missing(void); /* never defined */
#define EXTRA synth_missing()
#else
#define EXTRA 0
#endif

int synth_b(void)
{
	return B + 0 * EXTRA;
}
