#include "avo_astedit.h"
#include "avo_base.h"
/* Implemented by the astedit issue. */
