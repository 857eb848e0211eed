// Facts meson found about the build machine (PGQUAY_HAVE_IO_URING, PGQUAY_VERSION, ...).
#pragma once
#include "pgquay_build_config.h"
