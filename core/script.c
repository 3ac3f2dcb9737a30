/* script.c — see tb.h (being written) */
#include "tb.h"
