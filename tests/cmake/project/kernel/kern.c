#include "app.h"
#include "kern.h"

#define SCALE 1 // avo:knob 1 2 3

int kern_value(void)
{
	return SCALE * (FIXTURE_BASE + KERN_EXTRA);
}
